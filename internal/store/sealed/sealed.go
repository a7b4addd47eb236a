// Package sealed authenticates every record of a store.Store, so that a
// record changed, moved or forged by someone who can write the data
// directory but does not hold the root key is refused rather than used.
//
// # Store secret
//
// Each store has a random 256-bit secret, made when the store is first
// opened, wrapped under the root key and kept in the store's Meta table
// under the key SecretKey:
//
//	{"version":1,"rootKey":"<root key ID>","wrapped":"<base64 of rootkey Wrap output>"}
//
// with the additional data "trent store secret v1". Opening a store unwraps
// it, which is also how trent notices at start that it was given a root
// key other than the one the store was written with. Keys for each purpose
// are derived from the secret with HKDF-SHA256 (Key).
//
// # Record format
//
// Every other value is stored as
//
//	0x01 ‖ tag (32) ‖ payload
//	tag = HMAC-SHA256(K, "trent record v1" ‖ 0x00 ‖ u16 len(table) ‖ table ‖ u32 len(key) ‖ key ‖ payload)
//
// where K = Key("trent record mac v1"), lengths big-endian. The tag binds a
// payload to its table and key, so a record copied under another key (a key
// record moved to another ID, an alias pointed elsewhere, an index entry
// made up) fails like a changed one. Deleting a record, or putting back an
// older authentic version of it, cannot be detected this way: see
// docs/security.md.
package sealed

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/trent-kms/trent/internal/rootkey"
	"github.com/trent-kms/trent/internal/store"
)

// SecretKey is the key of the wrapped store secret in store.Meta. It is the
// one record a sealed Tx will neither read nor write.
const SecretKey = "store-secret"

const (
	recordVersion = 0x01
	tagSize       = sha256.Size
	secretAAD     = "trent store secret v1"
	recordLabel   = "trent record v1"
)

// ErrTampered matches every error about a record that fails authentication.
var ErrTampered = errors.New("store: record failed authentication")

// TamperError names a record that failed authentication.
type TamperError struct {
	Table store.Table
	Key   string
}

func (e *TamperError) Error() string {
	return fmt.Sprintf("store: record %s/%q failed authentication: it was changed outside trent, or the store is damaged", e.Table, e.Key)
}

func (e *TamperError) Is(target error) bool { return target == ErrTampered }

// Status says what Open found.
type Status int

const (
	// New: the store was empty; a secret was made and stored.
	New Status = iota
	// Sealed: the store's secret was unwrapped; its records are sealed.
	Sealed
	// Legacy: the store holds records written before records were sealed
	// and has no secret yet. Call Migrate before anything else.
	Legacy
)

// Store is a store.Store whose records are sealed. It is safe for
// concurrent use.
type Store struct {
	raw    store.Store
	secret []byte
	macs   sync.Pool // of hash.Hash keyed with the record MAC key
	// pending is the wrapped secret of a Legacy store, stored by Migrate.
	pending []byte
	// rootID is the root key that wraps the secret, as last seen.
	rootID atomic.Pointer[string]
}

var _ store.Store = (*Store)(nil)

type secretRecord struct {
	Version int    `json:"version"`
	RootKey string `json:"rootKey"`
	Wrapped []byte `json:"wrapped"`
}

// Open unwraps raw's store secret with root, or makes one if raw is empty.
// rand is the source of a new secret (nil: crypto/rand). It fails if the
// secret was wrapped by another root key or does not unwrap, and if the
// store has sealed records but no secret.
func Open(raw store.Store, root rootkey.Wrapper, rand io.Reader) (*Store, Status, error) {
	ring, err := rootkey.NewRing(root)
	if err != nil {
		return nil, 0, err
	}
	return OpenRing(raw, ring, rand)
}

// OpenRing is Open with a ring of root keys: the secret is unwrapped by
// the key of the ring that wrapped it (its record names it), and a new
// secret is wrapped by the ring's primary. A secret wrapped by a root key
// the ring lacks is refused, naming it.
func OpenRing(raw store.Store, ring *rootkey.Ring, rand io.Reader) (*Store, Status, error) {
	var rec []byte
	var legacy, empty bool
	err := raw.View(func(tx store.Tx) error {
		v, err := tx.Get(store.Meta, SecretKey)
		if err == nil {
			rec = bytes.Clone(v)
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		legacy, empty, err = inspect(tx)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if rec != nil {
		s, err := unwrapSecret(raw, ring, rec)
		return s, Sealed, err
	}
	if !empty && !legacy {
		return nil, 0, errors.New("store: records are sealed but the store secret is missing: the data directory was tampered with or damaged; restore it from a backup")
	}
	secret := make([]byte, 32)
	if rand == nil {
		rand = crand.Reader
	}
	if _, err := io.ReadFull(rand, secret); err != nil {
		return nil, 0, fmt.Errorf("store: making the store secret: %w", err)
	}
	rootID, wrapped, err := ring.Wrap(secret, []byte(secretAAD))
	if err != nil {
		return nil, 0, fmt.Errorf("store: wrapping the store secret: %w", err)
	}
	record, err := json.Marshal(secretRecord{Version: 1, RootKey: rootID, Wrapped: wrapped})
	if err != nil {
		return nil, 0, err
	}
	s := newStore(raw, secret, rootID)
	if legacy {
		s.pending = record
		return s, Legacy, nil
	}
	// Another process sharing the store (PostgreSQL) may have made the
	// secret since the look above: then use its secret, never replace it,
	// or the records it sealed would no longer authenticate.
	err = raw.Update(func(tx store.Tx) error {
		if _, err := tx.Get(store.Meta, SecretKey); err == nil {
			return errSecretMade
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.Put(store.Meta, SecretKey, record)
	})
	if errors.Is(err, errSecretMade) {
		return OpenRing(raw, ring, rand)
	}
	if err != nil {
		return nil, 0, err
	}
	return s, New, nil
}

// errSecretMade: another process made the store secret first.
var errSecretMade = errors.New("store: the store secret was made meanwhile")

// inspect tells an empty store from one written before sealing, whose key
// records are plain JSON objects.
func inspect(tx store.Tx) (legacy, empty bool, err error) {
	empty = true
	for _, t := range store.Tables {
		err := tx.Scan(t, "", "", func(_ string, v []byte) (bool, error) {
			empty = false
			if t == store.Keys && len(v) > 0 && v[0] == '{' {
				legacy = true
			}
			return false, nil
		})
		if err != nil {
			return false, false, err
		}
	}
	return legacy, empty, nil
}

func decodeSecretRecord(rec []byte) (secretRecord, error) {
	var r secretRecord
	if err := json.Unmarshal(rec, &r); err != nil || r.Version != 1 {
		return r, errors.New("store: the store secret record is malformed: the data directory was tampered with or damaged")
	}
	return r, nil
}

func unwrapSecret(raw store.Store, ring *rootkey.Ring, rec []byte) (*Store, error) {
	r, err := decodeSecretRecord(rec)
	if err != nil {
		return nil, err
	}
	if !ring.Has(r.RootKey) {
		configured := "the configured root key is " + ring.PrimaryID()
		if ids := ring.IDs(); len(ids) > 1 {
			configured = "the configured root keys are " + strings.Join(ids, ", ")
		}
		return nil, fmt.Errorf("store: this store was written under root key %s, but %s: configure the root key the store was created with (as root_key, or in root_key.previous while its material is rewrapped)", r.RootKey, configured)
	}
	secret, err := ring.Unwrap(r.RootKey, r.Wrapped, []byte(secretAAD))
	if err != nil {
		return nil, fmt.Errorf("store: root key %s does not unwrap the store secret: the data directory was tampered with or damaged, or the root key could not be used (%v)", r.RootKey, err)
	}
	return newStore(raw, secret, r.RootKey), nil
}

func newStore(raw store.Store, secret []byte, rootID string) *Store {
	s := &Store{raw: raw, secret: secret}
	s.rootID.Store(&rootID)
	macKey := s.Key("trent record mac v1")
	s.macs.New = func() any { return hmac.New(sha256.New, macKey) }
	return s
}

// Key derives a 32-byte key for purpose from the store secret. Every node
// sharing the store derives the same key.
func (s *Store) Key(purpose string) []byte {
	k, err := hkdf.Key(sha256.New, s.secret, nil, purpose, 32)
	if err != nil {
		panic(err) // only for lengths HKDF-SHA256 cannot produce
	}
	return k
}

// Migrate runs fn once, in one transaction of the raw store, to rewrite a
// Legacy store: fn reads the old records through legacy and writes their
// sealed form through sealed (the same transaction). The store secret is
// stored in the same transaction, so a crash leaves the store either wholly
// legacy or wholly migrated.
func (s *Store) Migrate(fn func(legacy, sealed store.Tx) error) error {
	if s.pending == nil {
		return errors.New("store: Migrate called on a store that is not legacy")
	}
	err := s.raw.Update(func(tx store.Tx) error {
		if err := fn(tx, sealedTx{tx, s}); err != nil {
			return err
		}
		return tx.Put(store.Meta, SecretKey, s.pending)
	})
	if err == nil {
		s.pending = nil
	}
	return err
}

// Raw is the store underneath, for what works on the backend itself
// (store.Scrubber).
func (s *Store) Raw() store.Store { return s.raw }

// RootKeyID is the ID of the root key that wraps the store secret, as read
// at open or set by RewrapSecret.
func (s *Store) RootKeyID() string { return *s.rootID.Load() }

// RewrapSecret moves the store secret to the ring's primary root key if
// another key of the ring wraps it, and reports whether it did. The new
// wrapping is checked (rootkey.Ring.Rewrap) and must unwrap to the secret
// this Store holds; the record is replaced only if it is still the one
// that was read, so a process sharing the store that rewraps it at the
// same time is not overwritten (RewrapSecret then reads the record again).
// The secret itself does not change, so neither do the record tags or the
// keys derived from it.
func (s *Store) RewrapSecret(ring *rootkey.Ring) (bool, error) {
	for attempt := 0; ; attempt++ {
		var rec []byte
		err := s.raw.View(func(tx store.Tx) error {
			v, err := tx.Get(store.Meta, SecretKey)
			rec = bytes.Clone(v)
			return err
		})
		if err != nil {
			return false, fmt.Errorf("store: reading the store secret: %w", err)
		}
		r, err := decodeSecretRecord(rec)
		if err != nil {
			return false, err
		}
		if r.RootKey == ring.PrimaryID() {
			s.rootID.Store(&r.RootKey)
			return false, nil
		}
		secret, err := ring.Unwrap(r.RootKey, r.Wrapped, []byte(secretAAD))
		if err != nil {
			return false, fmt.Errorf("store: unwrapping the store secret with root key %s: %w", r.RootKey, err)
		}
		same := hmac.Equal(secret, s.secret)
		clear(secret)
		if !same {
			return false, errors.New("store: the store secret in the store is not the one this process opened: the data directory was tampered with or damaged")
		}
		newID, wrapped, err := ring.Rewrap(r.RootKey, r.Wrapped, []byte(secretAAD))
		if err != nil {
			return false, fmt.Errorf("store: rewrapping the store secret: %w", err)
		}
		next, err := json.Marshal(secretRecord{Version: 1, RootKey: newID, Wrapped: wrapped})
		if err != nil {
			return false, err
		}
		err = s.raw.Update(func(tx store.Tx) error {
			v, err := tx.Get(store.Meta, SecretKey)
			if err != nil {
				return err
			}
			if !bytes.Equal(v, rec) {
				return errSecretChanged
			}
			return tx.Put(store.Meta, SecretKey, next)
		})
		if errors.Is(err, errSecretChanged) && attempt < 3 {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("store: storing the rewrapped store secret: %w", err)
		}
		s.rootID.Store(&newID)
		return true, nil
	}
}

// errSecretChanged: the secret record changed between read and write.
var errSecretChanged = errors.New("store: the store secret record changed meanwhile")

func (s *Store) View(fn func(store.Tx) error) error {
	return s.raw.View(func(tx store.Tx) error { return fn(sealedTx{tx, s}) })
}

func (s *Store) Update(fn func(store.Tx) error) error {
	if s.pending != nil {
		return errors.New("store: the store must be migrated before use")
	}
	return s.raw.Update(func(tx store.Tx) error { return fn(sealedTx{tx, s}) })
}

func (s *Store) Close() error { return s.raw.Close() }

// tag computes the record tag of payload under (table, key) into out.
func (s *Store) tag(out []byte, table store.Table, key string, payload []byte) []byte {
	m := s.macs.Get().(hash.Hash)
	m.Reset()
	var lens [6]byte
	m.Write([]byte(recordLabel))
	m.Write([]byte{0})
	binary.BigEndian.PutUint16(lens[:2], uint16(len(table)))
	m.Write(lens[:2])
	m.Write([]byte(table))
	binary.BigEndian.PutUint32(lens[2:], uint32(len(key)))
	m.Write(lens[2:])
	m.Write([]byte(key))
	m.Write(payload)
	out = m.Sum(out)
	s.macs.Put(m)
	return out
}

func (s *Store) seal(table store.Table, key string, payload []byte) []byte {
	v := make([]byte, 1, 1+tagSize+len(payload))
	v[0] = recordVersion
	v = s.tag(v, table, key, payload)
	return append(v, payload...)
}

func (s *Store) open(table store.Table, key string, v []byte) ([]byte, error) {
	if len(v) < 1+tagSize || v[0] != recordVersion {
		return nil, &TamperError{table, key}
	}
	var want [tagSize]byte
	if !hmac.Equal(s.tag(want[:0], table, key, v[1+tagSize:]), v[1:1+tagSize]) {
		return nil, &TamperError{table, key}
	}
	return v[1+tagSize:], nil
}

type sealedTx struct {
	tx store.Tx
	s  *Store
}

func reserved(t store.Table, key string) error {
	if t == store.Meta && key == SecretKey {
		return errors.New("store: the store secret is not a record")
	}
	return nil
}

func (t sealedTx) Get(table store.Table, key string) ([]byte, error) {
	if err := reserved(table, key); err != nil {
		return nil, err
	}
	v, err := t.tx.Get(table, key)
	if err != nil {
		return nil, err
	}
	return t.s.open(table, key, v)
}

func (t sealedTx) Put(table store.Table, key string, value []byte) error {
	if err := reserved(table, key); err != nil {
		return err
	}
	return t.tx.Put(table, key, t.s.seal(table, key, value))
}

func (t sealedTx) Delete(table store.Table, key string) error {
	if err := reserved(table, key); err != nil {
		return err
	}
	return t.tx.Delete(table, key)
}

func (t sealedTx) Scan(table store.Table, prefix, after string, fn func(string, []byte) (bool, error)) error {
	return t.tx.Scan(table, prefix, after, func(key string, v []byte) (bool, error) {
		if table == store.Meta && key == SecretKey {
			return true, nil
		}
		payload, err := t.s.open(table, key, v)
		if err != nil {
			return false, err
		}
		return fn(key, payload)
	})
}
