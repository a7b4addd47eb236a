// Package bolt is trent's embedded store backend: a single bbolt file.
package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trent-kms/trent/internal/store"
)

// Store is the embedded default backend: a single bbolt file. bbolt is a
// copy-on-write B+tree with fsync'd, atomic commits, so a crash at any
// point leaves either the old or the new state of a transaction on disk.
//
// Copy-on-write also means that a deleted or overwritten record stays in
// the file, in pages bbolt has freed but not yet reused. Scrub overwrites
// those pages with zeros.
type Store struct {
	db   *bolt.DB
	path string
	// scrub excludes every transaction while Scrub runs: a page that is
	// free for bbolt's writer may still be read by an open reader.
	scrub sync.RWMutex
}

var (
	_ store.Store    = (*Store)(nil)
	_ store.Scrubber = (*Store)(nil)
)

// ErrLocked: another process (a running trent) has the store file open;
// bbolt allows one process at a time.
var ErrLocked = errors.New("another process has it open (a running trent?)")

// Open opens (creating if needed) the store file at path, with mode 0600.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// The timeout turns "another trent holds the lock" into an error instead of a hang.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("store: opening %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, t := range store.Tables {
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
	return &Store{db: db, path: path}, nil
}

func (b *Store) View(fn func(store.Tx) error) error {
	b.scrub.RLock()
	defer b.scrub.RUnlock()
	return b.db.View(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

// Update runs fn in a write transaction that bbolt may share with other
// concurrent Updates (bolt.DB.Batch); see store.Store for what that asks of fn.
func (b *Store) Update(fn func(store.Tx) error) error {
	b.scrub.RLock()
	defer b.scrub.RUnlock()
	return b.db.Batch(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

func (b *Store) Close() error { return b.db.Close() }

// Scrub overwrites every page bbolt has freed with zeros and syncs the
// file, so that nothing a deleted or replaced record held can be read from
// the file afterwards. It waits for transactions in flight and holds off
// new ones while it runs: a scan of the page table, a write per run of free
// pages, one fsync.
//
// It is safe because bbolt never reads a free page: with no reader open,
// every page it has freed is unreachable from the current meta page, and
// the older meta page, which could still name some of them, is only used if
// the current one is torn, which the fsync at commit rules out.
func (b *Store) Scrub() error {
	b.scrub.Lock()
	defer b.scrub.Unlock()
	f, err := os.OpenFile(b.path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("store: scrub: %w", err)
	}
	defer f.Close()
	pageSize := int64(b.db.Info().PageSize)
	zeros := make([]byte, 64*pageSize)
	// A write transaction: it excludes bbolt's own writer, and opening it
	// releases every page freed by earlier transactions (no reader is
	// open), so the free list is complete.
	return b.db.Update(func(tx *bolt.Tx) error {
		pages := int(tx.Size() / pageSize)
		runStart, runLen := 0, 0
		flush := func() error {
			for runLen > 0 {
				n := min(runLen, len(zeros)/int(pageSize))
				if _, err := f.WriteAt(zeros[:int64(n)*pageSize], int64(runStart)*pageSize); err != nil {
					return err
				}
				runStart += n
				runLen -= n
			}
			return nil
		}
		for id := 2; id < pages; id++ { // pages 0 and 1 are the meta pages
			info, err := tx.Page(id)
			if err != nil {
				return err
			}
			if info != nil && info.Type == "free" {
				if runLen == 0 {
					runStart = id
				}
				runLen++
				continue
			}
			if err := flush(); err != nil {
				return err
			}
		}
		if err := flush(); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("store: scrub: %w", err)
		}
		return nil
	})
}

type boltTx struct{ tx *bolt.Tx }

func (t boltTx) bucket(table store.Table) (*bolt.Bucket, error) {
	bk := t.tx.Bucket([]byte(table))
	if bk == nil {
		return nil, fmt.Errorf("store: no table %q", table)
	}
	return bk, nil
}

func (t boltTx) Get(table store.Table, key string) ([]byte, error) {
	bk, err := t.bucket(table)
	if err != nil {
		return nil, err
	}
	v := bk.Get([]byte(key))
	if v == nil {
		return nil, store.ErrNotFound
	}
	return v, nil
}

func (t boltTx) Put(table store.Table, key string, value []byte) error {
	bk, err := t.bucket(table)
	if err != nil {
		return err
	}
	if value == nil {
		value = []byte{} // bbolt reads a nil value back as "absent"
	}
	return bk.Put([]byte(key), value)
}

func (t boltTx) Delete(table store.Table, key string) error {
	bk, err := t.bucket(table)
	if err != nil {
		return err
	}
	return bk.Delete([]byte(key))
}

func (t boltTx) Scan(table store.Table, prefix, after string, fn func(string, []byte) (bool, error)) error {
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
