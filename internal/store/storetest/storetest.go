// Package storetest is the contract every store.Store backend must meet,
// as a test suite each backend runs against itself.
package storetest

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/trent-kms/trent/internal/store"
)

// Backend opens a backend for one test. Open returns a new, empty store;
// Reopen closes s and opens the same data again.
type Backend struct {
	Open   func(t *testing.T) store.Store
	Reopen func(t *testing.T, s store.Store) store.Store
}

// Run runs the whole contract against b.
func Run(t *testing.T, b Backend) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"PersistsAcrossReopen", persistsAcrossReopen},
		{"FailedUpdateRollsBack", failedUpdateRollsBack},
		{"DeleteAndMissing", deleteAndMissing},
		{"EmptyValues", emptyValues},
		{"ScanPrefixAndAfter", scanPrefixAndAfter},
		{"ScanStopsOnError", scanStopsOnError},
		{"TablesAreSeparate", tablesAreSeparate},
		{"ConcurrentUpdatesAllCommit", concurrentUpdatesAllCommit},
		{"UpdatesAreSerializable", updatesAreSerializable},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
	}
}

func mustUpdate(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func persistsAcrossReopen(t *testing.T, b Backend) {
	s := b.Open(t)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Put(store.Keys, "k1", []byte("v1")) })
	s = b.Reopen(t, s)
	defer s.Close()
	err := s.View(func(tx store.Tx) error {
		v, err := tx.Get(store.Keys, "k1")
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

func failedUpdateRollsBack(t *testing.T, b Backend) {
	s := b.Open(t)
	defer s.Close()
	boom := errors.New("boom")
	err := s.Update(func(tx store.Tx) error {
		if err := tx.Put(store.Keys, "k", []byte("v")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want %v", err, boom)
	}
	err = s.View(func(tx store.Tx) error {
		_, err := tx.Get(store.Keys, "k")
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after rolled-back Put: %v, want ErrNotFound", err)
	}
}

func deleteAndMissing(t *testing.T, b Backend) {
	s := b.Open(t)
	defer s.Close()
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Put(store.Aliases, "a", []byte("1")); err != nil {
			return err
		}
		if err := tx.Delete(store.Aliases, "a"); err != nil {
			return err
		}
		if err := tx.Delete(store.Aliases, "never-there"); err != nil {
			return fmt.Errorf("deleting a missing key: %w", err)
		}
		if _, err := tx.Get(store.Aliases, "a"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Get after Delete: %v", err)
		}
		return nil
	})
}

// emptyValues: index tables store empty values, which must read back as
// present and empty, not as missing.
func emptyValues(t *testing.T, b Backend) {
	s := b.Open(t)
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Put(store.KeysByAcc, "nil", nil); err != nil {
			return err
		}
		return tx.Put(store.KeysByAcc, "empty", []byte{})
	})
	s = b.Reopen(t, s)
	defer s.Close()
	err := s.View(func(tx store.Tx) error {
		for _, k := range []string{"nil", "empty"} {
			v, err := tx.Get(store.KeysByAcc, k)
			if err != nil || len(v) != 0 {
				return fmt.Errorf("Get(%q) = %q, %v; want empty, nil", k, v, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func scanPrefixAndAfter(t *testing.T, b Backend) {
	s := b.Open(t)
	defer s.Close()
	keys := []string{"a/1", "a/2", "a/3", "ab/1", "b/1", "a/\xff"}
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, k := range keys {
			if err := tx.Put(store.KeysByAcc, k, []byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
	scan := func(prefix, after string, limit int) []string {
		var got []string
		err := s.View(func(tx store.Tx) error {
			return tx.Scan(store.KeysByAcc, prefix, after, func(k string, v []byte) (bool, error) {
				if string(v) != k {
					return false, fmt.Errorf("value of %q is %q", k, v)
				}
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
		{"a/", "", 10, "[a/1 a/2 a/3 a/\xff]"},
		{"a/", "a/1", 10, "[a/2 a/3 a/\xff]"},
		{"a/", "a/3", 10, "[a/\xff]"},
		{"a/", "", 2, "[a/1 a/2]"},
		{"a", "", 10, "[a/1 a/2 a/3 a/\xff ab/1]"},
		{"", "ab/1", 10, "[b/1]"},
		{"c/", "", 10, "[]"},
		{"a/", "a/0", 1, "[a/1]"},
	} {
		if got := fmt.Sprint(scan(tc.prefix, tc.after, tc.limit)); got != tc.want {
			t.Errorf("Scan(%q, after %q, limit %d) = %q, want %q", tc.prefix, tc.after, tc.limit, got, tc.want)
		}
	}
}

func scanStopsOnError(t *testing.T, b Backend) {
	s := b.Open(t)
	defer s.Close()
	mustUpdate(t, s, func(tx store.Tx) error {
		for i := range 5 {
			if err := tx.Put(store.Keys, strconv.Itoa(i), nil); err != nil {
				return err
			}
		}
		return nil
	})
	stop := errors.New("stop")
	calls := 0
	err := s.View(func(tx store.Tx) error {
		return tx.Scan(store.Keys, "", "", func(string, []byte) (bool, error) {
			calls++
			return true, stop
		})
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Scan returned %v after %d calls, want %v after 1", err, calls, stop)
	}
}

func tablesAreSeparate(t *testing.T, b Backend) {
	s := b.Open(t)
	defer s.Close()
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, table := range store.Tables {
			if err := tx.Put(table, "same", []byte(table)); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.View(func(tx store.Tx) error {
		for _, table := range store.Tables {
			v, err := tx.Get(table, "same")
			if err != nil || string(v) != string(table) {
				return fmt.Errorf("table %s holds %q, %v", table, v, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// concurrentUpdatesAllCommit: Updates that a backend groups into shared
// commits each land, and a failing one does not take others down.
func concurrentUpdatesAllCommit(t *testing.T, b Backend) {
	s := b.Open(t)
	defer s.Close()
	const n = 200
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- s.Update(func(tx store.Tx) error {
				if i%10 == 0 {
					return fmt.Errorf("refused %d", i)
				}
				return tx.Put(store.Keys, fmt.Sprint("k", i), []byte{byte(i)})
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
	err := s.View(func(tx store.Tx) error {
		for i := range n {
			_, err := tx.Get(store.Keys, fmt.Sprint("k", i))
			if (i%10 == 0) != errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("key k%d: %v", i, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// updatesAreSerializable: concurrent read-modify-write transactions on one
// record lose no increment.
func updatesAreSerializable(t *testing.T, b Backend) {
	s := b.Open(t)
	defer s.Close()
	const workers, rounds = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				err := s.Update(func(tx store.Tx) error {
					n := 0
					v, err := tx.Get(store.Meta, "counter")
					if err == nil {
						n, err = strconv.Atoi(string(v))
					}
					if err != nil && !errors.Is(err, store.ErrNotFound) {
						return err
					}
					return tx.Put(store.Meta, "counter", []byte(strconv.Itoa(n+1)))
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	err := s.View(func(tx store.Tx) error {
		v, err := tx.Get(store.Meta, "counter")
		if err != nil {
			return err
		}
		if string(v) != strconv.Itoa(workers*rounds) {
			return fmt.Errorf("counter = %s, want %d", v, workers*rounds)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
