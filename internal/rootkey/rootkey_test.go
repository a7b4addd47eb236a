package rootkey

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func newTestFile(t *testing.T) (*File, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "root.key")
	f, err := LoadOrCreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return f, path
}

func TestRoundTrip(t *testing.T) {
	f, _ := newTestFile(t)
	for _, n := range []int{0, 1, 32, 1000} {
		pt := make([]byte, n)
		rand.Read(pt)
		aad := []byte("key 1234 material abcd")
		w, err := f.Wrap(pt, aad)
		if err != nil {
			t.Fatal(err)
		}
		if len(w) != n+WrapOverhead {
			t.Fatalf("len(wrapped) = %d, want %d", len(w), n+WrapOverhead)
		}
		if w[0] != 0x01 {
			t.Fatalf("version byte = %#x", w[0])
		}
		// Only long plaintexts: a byte or two turns up in random output by chance.
		if n >= 16 && bytes.Contains(w, pt) {
			t.Fatal("wrapped blob contains the plaintext")
		}
		got, err := f.Unwrap(w, aad)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Unwrap = %x, %v; want %x", got, err, pt)
		}
		// nil and empty aad are the same for GCM.
		w, _ = f.Wrap(pt, nil)
		if _, err := f.Unwrap(w, []byte{}); err != nil {
			t.Fatalf("nil vs empty aad: %v", err)
		}
	}
	a, _ := f.Wrap([]byte("x"), nil)
	b, _ := f.Wrap([]byte("x"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("Wrap is deterministic")
	}
}

func TestAADMismatch(t *testing.T) {
	f, _ := newTestFile(t)
	w, _ := f.Wrap([]byte("material"), []byte("aad-1"))
	for _, aad := range [][]byte{nil, []byte("aad-2"), []byte("aad-1\x00"), []byte("AAD-1")} {
		if _, err := f.Unwrap(w, aad); err != ErrUnwrap {
			t.Errorf("aad %q: err = %v, want ErrUnwrap", aad, err)
		}
	}
}

func TestTamper(t *testing.T) {
	f, _ := newTestFile(t)
	aad := []byte("aad")
	w, _ := f.Wrap([]byte("some key material"), aad)
	for i := range len(w) * 8 {
		mod := bytes.Clone(w)
		mod[i/8] ^= 1 << (i % 8)
		if _, err := f.Unwrap(mod, aad); err != ErrUnwrap {
			t.Fatalf("flip bit %d: err = %v, want ErrUnwrap", i, err)
		}
	}
	for n := range len(w) {
		if _, err := f.Unwrap(w[:n], aad); err != ErrUnwrap {
			t.Fatalf("truncated to %d: err = %v", n, err)
		}
	}
	if _, err := f.Unwrap(append(bytes.Clone(w), 0), aad); err != ErrUnwrap {
		t.Fatalf("extended: err = %v", err)
	}
	// Another root key cannot unwrap.
	g, _ := newTestFile(t)
	if _, err := g.Unwrap(w, aad); err != ErrUnwrap {
		t.Fatalf("other root key: err = %v", err)
	}
	if f.ID() == g.ID() {
		t.Fatal("two random root keys have the same ID")
	}
}

func TestCreateMakes0600(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "sub")
	path := filepath.Join(dir, "root.key")
	if _, err := LoadOrCreateFile(path); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || st.Size() != KeySize {
		t.Fatalf("created file mode %v size %d", st.Mode(), st.Size())
	}
	dst, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if dst.Mode().Perm() != 0o700 {
		t.Fatalf("created directory mode %v, want 0700", dst.Mode().Perm())
	}
}

func TestReopenSameKey(t *testing.T) {
	f, path := newTestFile(t)
	w, _ := f.Wrap([]byte("material"), []byte("aad"))
	for name, open := range map[string]func(string) (*File, error){
		"OpenFile":         OpenFile,
		"LoadOrCreateFile": LoadOrCreateFile,
	} {
		g, err := open(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if g.ID() != f.ID() {
			t.Fatalf("%s: ID %s, want %s", name, g.ID(), f.ID())
		}
		if pt, err := g.Unwrap(w, []byte("aad")); err != nil || string(pt) != "material" {
			t.Fatalf("%s: Unwrap = %q, %v", name, pt, err)
		}
	}
}

func TestID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "root.key")
	key := bytes.Repeat([]byte{0x42}, KeySize)
	if err := os.WriteFile(path, key, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	id := f.ID()
	if !strings.HasPrefix(id, "file:") || len(id) != len("file:")+16 {
		t.Fatalf("ID = %q", id)
	}
	if strings.Contains(id, hex.EncodeToString(key[:8])) {
		t.Fatal("ID contains key bytes")
	}
	// Pinned so that a change of the ID scheme is noticed: it is stored
	// next to every wrapped blob. Computed as
	// sha256("trent rootkey file id v1\x00" || 0x42*32)[:8].
	if id != wantID42 {
		t.Fatalf("ID = %s, want %s", id, wantID42)
	}
}

func TestRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // WriteFile is subject to the umask
			t.Fatal(err)
		}
		return p
	}
	key := make([]byte, KeySize)
	rand.Read(key)
	cases := []struct {
		name, path, want string
	}{
		{"0644", write("world.key", key, 0o644), "group or others"},
		{"0640", write("group.key", key, 0o640), "group or others"},
		{"0602", write("wwrite.key", key, 0o602), "group or others"},
		{"31 bytes", write("short.key", key[:31], 0o600), "exactly 32 bytes"},
		{"33 bytes", write("long.key", append(bytes.Clone(key), 0), 0o600), "exactly 32 bytes"},
		{"empty", write("empty.key", nil, 0o600), "exactly 32 bytes"},
		{"directory", dir, "not a regular file"},
	}
	for _, c := range cases {
		for fname, open := range map[string]func(string) (*File, error){"OpenFile": OpenFile, "LoadOrCreateFile": LoadOrCreateFile} {
			f, err := open(c.path)
			if err == nil {
				t.Errorf("%s %s: accepted", fname, c.name)
				continue
			}
			if f != nil {
				t.Errorf("%s %s: non-nil File with error", fname, c.name)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.path) {
				t.Errorf("%s %s: error %q should mention %q and the path", fname, c.name, err, c.want)
			}
			if strings.Contains(err.Error(), hex.EncodeToString(key[:4])) || bytes.Contains([]byte(err.Error()), key[:4]) {
				t.Errorf("%s %s: error contains key bytes", fname, c.name)
			}
		}
	}
	// A refused file is left alone, never replaced by a new key.
	p := filepath.Join(dir, "short.key")
	if b, _ := os.ReadFile(p); !bytes.Equal(b, key[:31]) {
		t.Fatal("refused file was modified")
	}
}

func TestOpenFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.key")
	if _, err := OpenFile(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("OpenFile created the file")
	}
}

func TestConcurrentCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "root.key")
	var wg sync.WaitGroup
	ids := make([]string, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Go(func() {
			f, err := LoadOrCreateFile(path)
			errs[i] = err
			if err == nil {
				ids[i] = f.ID()
			}
		})
	}
	wg.Wait()
	// A loser may see the winner's file before it is fully written and
	// refuse it (clear error, no new key); everyone who succeeds must
	// agree on the key.
	var first string
	for i, id := range ids {
		if errs[i] != nil {
			t.Logf("creator %d: %v", i, errs[i])
			continue
		}
		if first == "" {
			first = id
		} else if id != first {
			t.Fatalf("concurrent creators got different keys: %s vs %s", first, id)
		}
	}
	if first == "" {
		t.Fatal("no creator succeeded")
	}
}

func TestConcurrentWrap(t *testing.T) {
	f, _ := newTestFile(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			aad := []byte{byte(i)}
			for range 100 {
				w, err := f.Wrap([]byte("m"), aad)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := f.Unwrap(w, aad); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

const wantID42 = "file:e26a72f65e755cc9"
