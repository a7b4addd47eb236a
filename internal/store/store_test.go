package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
)

func openTestBolt(t *testing.T) (*Bolt, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trent.db")
	b, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	return b, path
}

func TestBoltPersistsAcrossReopen(t *testing.T) {
	b, path := openTestBolt(t)
	if err := b.Update(func(tx Tx) error { return tx.Put(Keys, "k1", []byte("v1")) }); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.View(func(tx Tx) error {
		v, err := tx.Get(Keys, "k1")
		if err != nil {
			return err
		}
		if string(v) != "v1" {
			return fmt.Errorf("got %q", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBoltFailedUpdateRollsBack(t *testing.T) {
	b, _ := openTestBolt(t)
	defer b.Close()
	boom := errors.New("boom")
	err := b.Update(func(tx Tx) error {
		if err := tx.Put(Keys, "k", []byte("v")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want %v", err, boom)
	}
	err = b.View(func(tx Tx) error {
		_, err := tx.Get(Keys, "k")
		return err
	})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after rolled-back Put: %v, want ErrNotFound", err)
	}
}

func TestBoltDeleteAndMissing(t *testing.T) {
	b, _ := openTestBolt(t)
	defer b.Close()
	err := b.Update(func(tx Tx) error {
		if err := tx.Put(Aliases, "a", []byte("1")); err != nil {
			return err
		}
		if err := tx.Delete(Aliases, "a"); err != nil {
			return err
		}
		if err := tx.Delete(Aliases, "never-there"); err != nil {
			return fmt.Errorf("deleting a missing key: %w", err)
		}
		if _, err := tx.Get(Aliases, "a"); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("Get after Delete: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBoltScanPrefixAndAfter(t *testing.T) {
	b, _ := openTestBolt(t)
	defer b.Close()
	keys := []string{"a/1", "a/2", "a/3", "ab/1", "b/1"}
	err := b.Update(func(tx Tx) error {
		for _, k := range keys {
			if err := tx.Put(KeysByAcc, k, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	scan := func(prefix, after string, limit int) []string {
		var got []string
		err := b.View(func(tx Tx) error {
			return tx.Scan(KeysByAcc, prefix, after, func(k string, _ []byte) (bool, error) {
				got = append(got, k)
				return len(got) < limit, nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, tc := range []struct {
		prefix, after string
		limit         int
		want          string
	}{
		{"a/", "", 10, "[a/1 a/2 a/3]"},
		{"a/", "a/1", 10, "[a/2 a/3]"},
		{"a/", "a/3", 10, "[]"},
		{"a/", "", 2, "[a/1 a/2]"},
		{"a", "", 10, "[a/1 a/2 a/3 ab/1]"},
		{"", "ab/1", 10, "[b/1]"},
		{"c/", "", 10, "[]"},
	} {
		if got := fmt.Sprint(scan(tc.prefix, tc.after, tc.limit)); got != tc.want {
			t.Errorf("Scan(%q, after %q, limit %d) = %s, want %s", tc.prefix, tc.after, tc.limit, got, tc.want)
		}
	}
}

// TestBoltConcurrentUpdatesAllCommit: Updates grouped into shared commits
// (bbolt's Batch) each land, and a failing one does not take others down.
func TestBoltConcurrentUpdatesAllCommit(t *testing.T) {
	b, _ := openTestBolt(t)
	defer b.Close()
	const n = 200
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- b.Update(func(tx Tx) error {
				if i%10 == 0 {
					return fmt.Errorf("refused %d", i)
				}
				return tx.Put(Keys, fmt.Sprint("k", i), []byte{byte(i)})
			})
		}()
	}
	failed := 0
	for range n {
		if <-errs != nil {
			failed++
		}
	}
	if failed != n/10 {
		t.Fatalf("%d Updates failed, want %d", failed, n/10)
	}
	err := b.View(func(tx Tx) error {
		for i := range n {
			_, err := tx.Get(Keys, fmt.Sprint("k", i))
			if (i%10 == 0) != errors.Is(err, ErrNotFound) {
				return fmt.Errorf("key k%d: %v", i, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
