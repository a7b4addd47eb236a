package rootkey

import (
	"bytes"
	"errors"
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
