package sealed

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/trent-kms/trent/internal/rootkey"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/bolt"
	"github.com/trent-kms/trent/internal/store/storetest"
)

type env struct {
	dir  string
	root *rootkey.File
}

func newEnv(t *testing.T) *env {
	dir := t.TempDir()
	root, err := rootkey.LoadOrCreateFile(filepath.Join(dir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	return &env{dir: dir, root: root}
}

func (e *env) raw(t *testing.T) *bolt.Store {
	t.Helper()
	b, err := bolt.Open(filepath.Join(e.dir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *env) open(t *testing.T) (*Store, Status) {
	t.Helper()
	s, status, err := Open(e.raw(t), e.root, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, status
}

func TestContract(t *testing.T) {
	var mu sync.Mutex
	envs := map[store.Store]*env{}
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) store.Store {
			e := newEnv(t)
			s, status := e.open(t)
			if status != New {
				t.Fatalf("status of a new store = %v", status)
			}
			mu.Lock()
			envs[s] = e
			mu.Unlock()
			return s
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			mu.Lock()
			e := envs[s]
			mu.Unlock()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2, status := e.open(t)
			if status != Sealed {
				t.Fatalf("status on reopen = %v, want Sealed", status)
			}
			return s2
		},
	})
}

// put writes one sealed record and returns the raw value stored for it.
func put(t *testing.T, s *Store, table store.Table, key, value string) []byte {
	t.Helper()
	if err := s.Update(func(tx store.Tx) error { return tx.Put(table, key, []byte(value)) }); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	s.raw.View(func(tx store.Tx) error {
		v, err := tx.Get(table, key)
		raw = bytes.Clone(v)
		return err
	})
	return raw
}

func get(s *Store, table store.Table, key string) (string, error) {
	var out string
	err := s.View(func(tx store.Tx) error {
		v, err := tx.Get(table, key)
		out = string(v)
		return err
	})
	return out, err
}

// TestTamperedRecordsAreRefused changes records underneath the sealed
// store in every way someone with write access to the file could.
func TestTamperedRecordsAreRefused(t *testing.T) {
	s, _ := newEnv(t).open(t)
	defer s.Close()
	orig := put(t, s, store.Keys, "us-east-1/k1", `{"account":"111122223333","keySpec":"SYMMETRIC_DEFAULT"}`)
	put(t, s, store.Keys, "us-east-1/k2", `{"account":"444455556666"}`)
	if !strings.Contains(string(orig), "111122223333") {
		t.Fatal("the sealed record does not hold its payload in clear: the test cannot edit it")
	}
	rawPut := func(table store.Table, key string, v []byte) {
		if err := s.raw.Update(func(tx store.Tx) error { return tx.Put(table, key, v) }); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]func(){
		"relabelled": func() {
			rawPut(store.Keys, "us-east-1/k1", bytes.Replace(orig, []byte("SYMMETRIC_DEFAULT"), []byte("HMAC_256\"      "), 1))
		},
		"re-accounted": func() {
			rawPut(store.Keys, "us-east-1/k1", bytes.Replace(orig, []byte("111122223333"), []byte("444455556666"), 1))
		},
		"bit flipped in the tag": func() {
			v := bytes.Clone(orig)
			v[5] ^= 1
			rawPut(store.Keys, "us-east-1/k1", v)
		},
		"truncated": func() { rawPut(store.Keys, "us-east-1/k1", orig[:20]) },
		"unsealed":  func() { rawPut(store.Keys, "us-east-1/k1", orig[1+tagSize:]) },
		"moved to another key": func() {
			var other []byte
			s.raw.View(func(tx store.Tx) error {
				v, err := tx.Get(store.Keys, "us-east-1/k2")
				other = bytes.Clone(v)
				return err
			})
			rawPut(store.Keys, "us-east-1/k1", other)
		},
		"moved to another table": func() {
			v := put(t, s, store.Aliases, "us-east-1/k1", "an alias")
			rawPut(store.Keys, "us-east-1/k1", v)
		},
	}
	for name, tamper := range cases {
		tamper()
		_, err := get(s, store.Keys, "us-east-1/k1")
		var te *TamperError
		if !errors.As(err, &te) || !errors.Is(err, ErrTampered) || te.Key != "us-east-1/k1" {
			t.Errorf("%s: Get = %v, want a TamperError naming the record", name, err)
		}
		err = s.View(func(tx store.Tx) error {
			return tx.Scan(store.Keys, "", "", func(string, []byte) (bool, error) { return true, nil })
		})
		if !errors.Is(err, ErrTampered) {
			t.Errorf("%s: Scan = %v, want ErrTampered", name, err)
		}
		rawPut(store.Keys, "us-east-1/k1", orig)
		if v, err := get(s, store.Keys, "us-east-1/k1"); err != nil || !strings.Contains(v, "SYMMETRIC_DEFAULT") {
			t.Fatalf("%s: restoring the original record: %q, %v", name, v, err)
		}
	}
	// The secret's own record is out of reach of sealed transactions.
	if err := s.Update(func(tx store.Tx) error { return tx.Put(store.Meta, SecretKey, []byte("x")) }); err == nil {
		t.Fatal("a sealed transaction overwrote the store secret")
	}
}

func TestWrongRootKeyIsRefusedAtOpen(t *testing.T) {
	e := newEnv(t)
	s, _ := e.open(t)
	put(t, s, store.Keys, "k", "v")
	s.Close()
	other, err := rootkey.LoadOrCreateFile(filepath.Join(t.TempDir(), "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	raw := e.raw(t)
	defer raw.Close()
	_, _, err = Open(raw, other, nil)
	if err == nil || !strings.Contains(err.Error(), "written under root key "+e.root.ID()) || !strings.Contains(err.Error(), other.ID()) {
		t.Fatalf("Open with another root key: %v", err)
	}
}

func TestMissingSecretIsRefused(t *testing.T) {
	e := newEnv(t)
	s, _ := e.open(t)
	put(t, s, store.Keys, "k", "v")
	s.raw.Update(func(tx store.Tx) error { return tx.Delete(store.Meta, SecretKey) })
	s.Close()
	raw := e.raw(t)
	defer raw.Close()
	if _, _, err := Open(raw, e.root, nil); err == nil || !strings.Contains(err.Error(), "secret is missing") {
		t.Fatalf("Open without the secret: %v", err)
	}
}

func TestTamperedSecretIsRefused(t *testing.T) {
	e := newEnv(t)
	s, _ := e.open(t)
	s.raw.Update(func(tx store.Tx) error {
		v, _ := tx.Get(store.Meta, SecretKey)
		v = bytes.Replace(v, []byte(`"wrapped":"A`), []byte(`"wrapped":"B`), 1)
		return tx.Put(store.Meta, SecretKey, v)
	})
	s.Close()
	raw := e.raw(t)
	defer raw.Close()
	if _, _, err := Open(raw, e.root, nil); err == nil {
		t.Fatal("Open accepted a tampered store secret")
	}
}

func TestKeysAreStableAndSeparate(t *testing.T) {
	e := newEnv(t)
	s, _ := e.open(t)
	a, b := s.Key("purpose a"), s.Key("purpose b")
	if bytes.Equal(a, b) || len(a) != 32 {
		t.Fatalf("keys for two purposes: %x %x", a, b)
	}
	s.Close()
	s, status := e.open(t)
	defer s.Close()
	if status != Sealed || !bytes.Equal(s.Key("purpose a"), a) {
		t.Fatal("the derived key changed across a reopen")
	}
	other, _ := newEnv(t).open(t)
	defer other.Close()
	if bytes.Equal(other.Key("purpose a"), a) {
		t.Fatal("two stores derive the same key")
	}
}

func TestLegacyStoreMigrates(t *testing.T) {
	e := newEnv(t)
	raw := e.raw(t)
	raw.Update(func(tx store.Tx) error {
		tx.Put(store.Keys, "k1", []byte(`{"id":"k1"}`))
		return tx.Put(store.KeysByAcc, "a/r/k1", nil)
	})
	s, status, err := Open(raw, e.root, nil)
	if err != nil || status != Legacy {
		t.Fatalf("Open of a legacy store: %v, %v", status, err)
	}
	if err := s.Update(func(store.Tx) error { return nil }); err == nil {
		t.Fatal("an unmigrated legacy store accepted an Update")
	}
	err = s.Migrate(func(legacy, sealed store.Tx) error {
		v, err := legacy.Get(store.Keys, "k1")
		if err != nil {
			return err
		}
		if err := sealed.Put(store.Keys, "us-east-1/k1", bytes.Clone(v)); err != nil {
			return err
		}
		if err := legacy.Delete(store.Keys, "k1"); err != nil {
			return err
		}
		return sealed.Put(store.KeysByAcc, "a/r/k1", nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, status = e.open(t)
	defer s.Close()
	if v, err := get(s, store.Keys, "us-east-1/k1"); status != Sealed || err != nil || v != `{"id":"k1"}` {
		t.Fatalf("after migration: %v %q %v", status, v, err)
	}
}

// racingStore runs other before its first Update: another process opening
// the same (shared) store at the same moment.
type racingStore struct {
	store.Store
	once  sync.Once
	other func()
}

func (r *racingStore) Update(fn func(store.Tx) error) error {
	r.once.Do(r.other)
	return r.Store.Update(fn)
}

// TestConcurrentFirstOpenSharesOneSecret: two processes opening an empty
// shared store at once end up with the same secret; the second never
// replaces the first's.
func TestConcurrentFirstOpenSharesOneSecret(t *testing.T) {
	e := newEnv(t)
	raw := e.raw(t)
	defer raw.Close()
	var first *Store
	racing := &racingStore{Store: raw, other: func() {
		s, status, err := Open(raw, e.root, nil)
		if err != nil || status != New {
			t.Fatalf("the other process: %v %v", status, err)
		}
		first = s
	}}
	second, status, err := Open(racing, e.root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if status != Sealed || !bytes.Equal(first.Key("x"), second.Key("x")) {
		t.Fatalf("the second opener: status %v, same secret %v", status, bytes.Equal(first.Key("x"), second.Key("x")))
	}
}

// TestStoreSecretMovesToANewRootKey: a ring whose previous key wrapped the
// store secret opens the store, RewrapSecret moves the secret to the
// primary without changing it (records still authenticate), and then the
// new root key alone opens the store while the old one alone is refused.
func TestStoreSecretMovesToANewRootKey(t *testing.T) {
	e := newEnv(t)
	s, _ := e.open(t)
	put(t, s, store.Keys, "k", "v")
	derived := s.Key("purpose")
	s.Close()
	next, err := rootkey.LoadOrCreateFile(filepath.Join(t.TempDir(), "next.key"))
	if err != nil {
		t.Fatal(err)
	}
	ring, err := rootkey.NewRing(next, e.root)
	if err != nil {
		t.Fatal(err)
	}
	s, status, err := OpenRing(e.raw(t), ring, nil)
	if err != nil || status != Sealed || s.RootKeyID() != e.root.ID() {
		t.Fatalf("OpenRing with the old key as previous: %v, %v, %s", status, err, s.RootKeyID())
	}
	moved, err := s.RewrapSecret(ring)
	if err != nil || !moved || s.RootKeyID() != next.ID() {
		t.Fatalf("RewrapSecret: %v, %v, %s", moved, err, s.RootKeyID())
	}
	if moved, err := s.RewrapSecret(ring); err != nil || moved {
		t.Fatalf("second RewrapSecret: %v, %v", moved, err)
	}
	if v, err := get(s, store.Keys, "k"); err != nil || v != "v" {
		t.Fatalf("a record after the rewrap: %q, %v", v, err)
	}
	if !bytes.Equal(s.Key("purpose"), derived) {
		t.Fatal("the derived keys changed with the rewrap")
	}
	var rec secretRecord
	s.raw.View(func(tx store.Tx) error {
		v, err := tx.Get(store.Meta, SecretKey)
		if err == nil {
			err = json.Unmarshal(v, &rec)
		}
		return err
	})
	if rec.RootKey != next.ID() {
		t.Fatalf("the secret record names %s", rec.RootKey)
	}
	s.Close()

	raw := e.raw(t)
	s, _, err = Open(raw, next, nil)
	if err != nil {
		t.Fatalf("Open with the new key alone: %v", err)
	}
	if v, err := get(s, store.Keys, "k"); err != nil || v != "v" {
		t.Fatalf("a record with the new key alone: %q, %v", v, err)
	}
	s.Close()
	raw = e.raw(t)
	defer raw.Close()
	oldOnly, _ := rootkey.NewRing(e.root)
	_, _, err = OpenRing(raw, oldOnly, nil)
	if err == nil || !strings.Contains(err.Error(), "this store was written under root key "+next.ID()) ||
		!strings.Contains(err.Error(), "the configured root key is "+e.root.ID()) {
		t.Fatalf("OpenRing with the old key alone: %v", err)
	}
}

// TestUnknownSecretKeyNamesTheRing: a ring lacking the secret's root key
// is refused with every ID it holds.
func TestUnknownSecretKeyNamesTheRing(t *testing.T) {
	e := newEnv(t)
	s, _ := e.open(t)
	s.Close()
	a, _ := rootkey.LoadOrCreateFile(filepath.Join(t.TempDir(), "a.key"))
	b, _ := rootkey.LoadOrCreateFile(filepath.Join(t.TempDir(), "b.key"))
	ring, _ := rootkey.NewRing(a, b)
	raw := e.raw(t)
	defer raw.Close()
	_, _, err := OpenRing(raw, ring, nil)
	if err == nil || !strings.Contains(err.Error(), "written under root key "+e.root.ID()) ||
		!strings.Contains(err.Error(), "the configured root keys are "+a.ID()+", "+b.ID()) {
		t.Fatalf("OpenRing: %v", err)
	}
}

// TestRewrapSecretChecksTheSecret: RewrapSecret refuses to replace a
// secret record that does not hold the secret this Store uses.
func TestRewrapSecretChecksTheSecret(t *testing.T) {
	e := newEnv(t)
	s, _ := e.open(t)
	next, _ := rootkey.LoadOrCreateFile(filepath.Join(t.TempDir(), "next.key"))
	ring, _ := rootkey.NewRing(next, e.root)
	// Another valid record, of another secret, under the old key.
	other, err := e.root.Wrap(bytes.Repeat([]byte{7}, 32), []byte(secretAAD))
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := json.Marshal(secretRecord{Version: 1, RootKey: e.root.ID(), Wrapped: other})
	s.raw.Update(func(tx store.Tx) error { return tx.Put(store.Meta, SecretKey, rec) })
	if moved, err := s.RewrapSecret(ring); err == nil || moved || !strings.Contains(err.Error(), "not the one this process opened") {
		t.Fatalf("RewrapSecret over another secret: %v, %v", moved, err)
	}
	s.Close()
}
