package bolt

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) store.Store {
			s, err := Open(filepath.Join(t.TempDir(), "trent.db"))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			path := s.(*Store).path
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	})
}

// TestScrubErasesDeletedValues writes distinctive values, overwrites some
// and deletes others, and checks that after Scrub none of the old bytes
// are anywhere in the file, while the live ones still read back.
func TestScrubErasesDeletedValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trent.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	secret := func() []byte {
		b := make([]byte, 48)
		rand.Read(b)
		return b
	}
	var doomed, kept [][]byte
	for i := range 300 {
		v := secret()
		if err := s.Update(func(tx store.Tx) error { return tx.Put(store.Keys, fmt.Sprint("k", i), v) }); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			kept = append(kept, v)
		} else {
			doomed = append(doomed, v)
		}
	}
	for i := range 300 {
		switch i % 3 {
		case 1:
			s.Update(func(tx store.Tx) error { return tx.Delete(store.Keys, fmt.Sprint("k", i)) })
		case 2:
			s.Update(func(tx store.Tx) error { return tx.Put(store.Keys, fmt.Sprint("k", i), []byte("replaced")) })
		}
	}
	before, _ := os.ReadFile(path)
	found := 0
	for _, v := range doomed {
		if bytes.Contains(before, v) {
			found++
		}
	}
	if found == 0 {
		t.Fatal("no deleted value left in the file before Scrub: the test shows nothing")
	}
	if err := s.Scrub(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	for i, v := range doomed {
		if bytes.Contains(after, v) {
			t.Fatalf("deleted value %d still in the file after Scrub", i)
		}
	}
	for i, v := range kept {
		if !bytes.Contains(after, v) {
			t.Fatalf("live value %d is gone from the file", i)
		}
	}
	// The store is intact: every live record reads back, after a reopen too.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.View(func(tx store.Tx) error {
		for i := range 300 {
			v, err := tx.Get(store.Keys, fmt.Sprint("k", i))
			switch i % 3 {
			case 0:
				if err != nil || !bytes.Equal(v, kept[i/3]) {
					return fmt.Errorf("k%d = %x, %v", i, v, err)
				}
			case 1:
				if err != store.ErrNotFound {
					return fmt.Errorf("deleted k%d: %v", i, err)
				}
			case 2:
				if string(v) != "replaced" {
					return fmt.Errorf("k%d = %q", i, v)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestScrubWhileBusy runs Scrub while readers and writers are at work: no
// transaction may fail or read a zeroed page.
func TestScrubWhileBusy(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	value := bytes.Repeat([]byte("v"), 200)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("w%d-%d", w, i%50)
				err := s.Update(func(tx store.Tx) error {
					if i%2 == 0 {
						return tx.Put(store.Keys, key, value)
					}
					return tx.Delete(store.Keys, key)
				})
				if err == nil {
					err = s.View(func(tx store.Tx) error {
						return tx.Scan(store.Keys, "", "", func(k string, v []byte) (bool, error) {
							if !bytes.Equal(v, value) {
								return false, fmt.Errorf("read %q = %q", k, v)
							}
							return true, nil
						})
					})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range 20 {
		if err := s.Scrub(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestOpenWhileOpenIsErrLocked: a second process (here a second open)
// gets ErrLocked after the timeout, not a hang or an obscure error.
func TestOpenWhileOpenIsErrLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trent.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(path); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second Open: %v", err)
	}
}
