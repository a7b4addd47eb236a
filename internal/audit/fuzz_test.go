package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzVerify feeds arbitrary files to the verifier, seeded with a real
// log: it must never panic, and must report a problem for anything but
// what trent wrote (a random edit of a real log is never accepted whole
// unless it changed nothing that is checked).
func FuzzVerify(f *testing.F) {
	e := newLogEnv(f)
	l, err := OpenFile(e.path, Options{RootKey: e.root})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 5 {
		l.Record(event(i))
	}
	l.Close()
	seed, _ := os.ReadFile(e.path)
	f.Add(seed)
	f.Add([]byte("{}\n"))
	f.Add([]byte(`{"chain":{"seq":1,"prev":"00"}}` + "\n"))
	unwrap := e.unwrapper()
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "log")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := Verify([]string{path}, unwrap)
		if err != nil {
			t.Fatal(err)
		}
		if r.Problem == nil && !bytes.Equal(data, seed) && r.Authenticated == 7 {
			// Every line up to the final checkpoint authenticated: the
			// chain pins each of those lines' bytes.
			lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
			orig := bytes.Split(bytes.TrimSuffix(seed, []byte("\n")), []byte("\n"))
			for i := range min(len(lines), len(orig)) {
				if !bytes.Equal(lines[i], orig[i]) {
					t.Fatalf("line %d changed, yet every line up to the checkpoint verified", i+1)
				}
			}
		}
	})
}
