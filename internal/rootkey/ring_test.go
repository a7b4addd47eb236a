package rootkey

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRing(t *testing.T) {
	oldKey, _ := newTestFile(t)
	newKey, _ := newTestFile(t)

	if _, err := NewRing(newKey, oldKey, newKey); err == nil || !strings.Contains(err.Error(), "configured twice") {
		t.Fatalf("duplicate key: %v", err)
	}
	if _, err := NewRing(nil); err == nil {
		t.Fatal("nil primary accepted")
	}

	aad := []byte("key 1 material 1")
	oldRing, _ := NewRing(oldKey)
	oldID, w, err := oldRing.Wrap([]byte("secret"), aad)
	if err != nil || oldID != oldKey.ID() {
		t.Fatalf("Wrap: %s, %v", oldID, err)
	}

	r, err := NewRing(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if r.Primary() != Wrapper(newKey) {
		t.Fatal("wrong primary")
	}
	if pt, err := r.Unwrap(oldID, w, aad); err != nil || string(pt) != "secret" {
		t.Fatalf("Unwrap by the old key's ID: %q, %v", pt, err)
	}
	// The recorded ID decides: the primary is not tried for an old blob.
	if _, err := r.Unwrap(newKey.ID(), w, aad); err != ErrUnwrap {
		t.Fatalf("old blob under the new key's ID: %v", err)
	}

	// Rewrap moves it to the primary; a second rewrap changes nothing.
	id, w2, err := r.Rewrap(oldID, w, aad)
	if err != nil || id != newKey.ID() {
		t.Fatalf("Rewrap: %s, %v", id, err)
	}
	id3, w3, err := r.Rewrap(id, w2, aad)
	if err != nil || id3 != id || !bytes.Equal(w3, w2) {
		t.Fatalf("second Rewrap: %s, %v", id3, err)
	}
	if _, _, err := r.Rewrap(oldID, w, []byte("other aad")); err != ErrUnwrap {
		t.Fatalf("Rewrap with the wrong aad: %v", err)
	}
	newOnly, _ := NewRing(newKey)
	if pt, err := newOnly.Unwrap(id, w2, aad); err != nil || string(pt) != "secret" {
		t.Fatalf("Unwrap after rewrap: %q, %v", pt, err)
	}

	// A blob naming a root key the ring lacks: a configuration error,
	// clear and distinct from ErrUnwrap, per request and at Check.
	_, err = newOnly.Unwrap(oldID, w, aad)
	if !errors.Is(err, ErrUnknownRootKey) || errors.Is(err, ErrUnwrap) || !strings.Contains(err.Error(), oldID) {
		t.Fatalf("unknown root key: %v", err)
	}
	if err := r.Check([]string{oldID, newKey.ID(), oldID}); err != nil {
		t.Fatalf("Check: %v", err)
	}
	err = newOnly.Check([]string{newKey.ID(), oldID, "file:0000000000000000", oldID})
	if !errors.Is(err, ErrUnknownRootKey) || !strings.Contains(err.Error(), "root keys file:0000000000000000, "+oldID) && !strings.Contains(err.Error(), "root keys "+oldID+", file:0000000000000000") {
		t.Fatalf("Check with two missing keys: %v", err)
	}
	if strings.Count(err.Error(), oldID) != 1 {
		t.Fatalf("Check names a missing key twice: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

// liar is a root key whose Wrap output does not unwrap to what it was
// given: a token that misbehaves.
type liar struct{ *File }

func (l liar) Wrap(plaintext, aad []byte) ([]byte, error) {
	other := append([]byte{}, plaintext...)
	if len(other) > 0 {
		other[0] ^= 1
	}
	return l.File.Wrap(other, aad)
}

func (l liar) ID() string { return "file:liar" }

// Rewrap checks the new blob before handing it out: one that does not
// unwrap to the same bytes is refused, and the old blob stays good.
func TestRingRewrapVerifies(t *testing.T) {
	oldKey, _ := newTestFile(t)
	bad, _ := newTestFile(t)
	aad := []byte("aad")
	oldRing, _ := NewRing(oldKey)
	id, w, err := oldRing.Wrap([]byte("material"), aad)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRing(liar{bad}, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if r.PrimaryID() != "file:liar" || !r.Has(oldKey.ID()) || r.Has("file:0000000000000000") ||
		len(r.Previous()) != 1 || r.Previous()[0] != oldKey.ID() || len(r.Keys()) != 2 || r.Keys()[1] != Wrapper(oldKey) {
		t.Fatalf("ring accessors: %s %v %v", r.PrimaryID(), r.Previous(), r.Keys())
	}
	_, _, err = r.Rewrap(id, w, aad)
	if !errors.Is(err, ErrRewrapMismatch) || !strings.Contains(err.Error(), "other bytes") {
		t.Fatalf("Rewrap with a lying primary: %v", err)
	}
	if pt, err := r.Unwrap(id, w, aad); err != nil || string(pt) != "material" {
		t.Fatalf("old blob after a refused rewrap: %q, %v", pt, err)
	}
	// A primary whose blobs do not unwrap at all.
	r2, _ := NewRing(unwrapsNothing{bad}, oldKey)
	if _, _, err := r2.Rewrap(id, w, aad); !errors.Is(err, ErrRewrapMismatch) || !strings.Contains(err.Error(), "does not unwrap") {
		t.Fatalf("Rewrap with a primary that cannot unwrap: %v", err)
	}
}

type unwrapsNothing struct{ *File }

func (u unwrapsNothing) Unwrap(wrapped, aad []byte) ([]byte, error) { return nil, ErrUnwrap }

func TestCreateFileRefusesAnExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "root.key")
	f, err := CreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	g, err := OpenFile(path)
	if err != nil || g.ID() != f.ID() {
		t.Fatalf("OpenFile after CreateFile: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 || st.Size() != KeySize {
		t.Fatalf("created file: %v %v", st, err)
	}
	if _, err := CreateFile(path); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second CreateFile: %v", err)
	}
	if h, err := OpenFile(path); err != nil || h.ID() != f.ID() {
		t.Fatalf("the key changed: %v", err)
	}
}
