package store

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bolt is the embedded default backend: a single bbolt file. bbolt is a
// copy-on-write B+tree with fsync'd, atomic commits, so a crash at any
// point leaves either the old or the new state of a transaction on disk.
type Bolt struct {
	db *bolt.DB
}

// OpenBolt opens (creating if needed) the store file at path, with mode 0600.
func OpenBolt(path string) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// The timeout turns "another trent holds the lock" into an error instead of a hang.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, t := range Tables {
			if _, err := tx.CreateBucketIfNotExists([]byte(t)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: initialising %s: %w", path, err)
	}
	// Group commit: concurrent Updates within this window share one
	// transaction and one fsync, which is what bounds CreateKey.
	db.MaxBatchDelay = 2 * time.Millisecond
	return &Bolt{db: db}, nil
}

func (b *Bolt) View(fn func(Tx) error) error {
	return b.db.View(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

// Update runs fn in a write transaction that bbolt may share with other
// concurrent Updates (bolt.DB.Batch); see Store for what that asks of fn.
func (b *Bolt) Update(fn func(Tx) error) error {
	return b.db.Batch(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

func (b *Bolt) Close() error { return b.db.Close() }

type boltTx struct{ tx *bolt.Tx }

func (t boltTx) bucket(table Table) (*bolt.Bucket, error) {
	bk := t.tx.Bucket([]byte(table))
	if bk == nil {
		return nil, fmt.Errorf("store: no table %q", table)
	}
	return bk, nil
}

func (t boltTx) Get(table Table, key string) ([]byte, error) {
	bk, err := t.bucket(table)
	if err != nil {
		return nil, err
	}
	v := bk.Get([]byte(key))
	if v == nil {
		return nil, ErrNotFound
	}
	return v, nil
}

func (t boltTx) Put(table Table, key string, value []byte) error {
	bk, err := t.bucket(table)
	if err != nil {
		return err
	}
	return bk.Put([]byte(key), value)
}

func (t boltTx) Delete(table Table, key string) error {
	bk, err := t.bucket(table)
	if err != nil {
		return err
	}
	return bk.Delete([]byte(key))
}

func (t boltTx) Scan(table Table, prefix, after string, fn func(string, []byte) (bool, error)) error {
	bk, err := t.bucket(table)
	if err != nil {
		return err
	}
	c := bk.Cursor()
	p := []byte(prefix)
	var k, v []byte
	if after != "" && after >= prefix {
		k, v = c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, v = c.Next()
		}
	} else {
		k, v = c.Seek(p)
	}
	for ; k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		more, err := fn(string(k), v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}
