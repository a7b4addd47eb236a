// Package lastuse tracks when each key was last used, off the request's
// path: a use is noted in memory (a map write under a mutex), and Flush
// writes the latest use of each key to the store (table store.LastUsage),
// keeping whichever use is later when several processes share the store.
// GetKeyLastUsage reads the store and what this process has not written
// yet.
package lastuse

import (
	"errors"
	"fmt"
	"sync"
	"time"

	json "github.com/go-json-experiment/json"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/store"
)

// Key names a key: its region and ID (the copies of a multi-Region key in
// other regions are other keys, used apart).
type Key struct{ Region, ID string }

func (k Key) record() string { return k.Region + "/" + k.ID }

// Use is one use of a key, as GetKeyLastUsage reports it.
type Use struct {
	Operation kmsapi.KeyLastUsageTrackingOperation `json:"operation"`
	Time      time.Time                            `json:"time"`
	RequestID string                               `json:"requestId,omitempty"`
	EventID   string                               `json:"eventId,omitempty"`
}

// Tracker holds the uses noted since the last flush.
type Tracker struct {
	mu      sync.Mutex
	pending map[Key]Use
	// start is when the store began tracking use: keys made before it may
	// have been used earlier, unrecorded.
	start time.Time
}

// startKey is the record in store.Meta of when tracking began.
const startKey = "last usage tracking start"

// Open returns a tracker for st, recording now as the start of tracking
// if the store has none yet.
func Open(st store.Store, now time.Time) (*Tracker, error) {
	t := &Tracker{pending: make(map[Key]Use)}
	err := st.Update(func(tx store.Tx) error {
		v, err := tx.Get(store.Meta, startKey)
		if err == nil {
			return json.Unmarshal(v, &t.start)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		t.start = now.UTC()
		v, err = json.Marshal(t.start)
		if err != nil {
			return err
		}
		return tx.Put(store.Meta, startKey, v)
	})
	if err != nil {
		return nil, fmt.Errorf("last usage: %w", err)
	}
	return t, nil
}

// Start is when the store began tracking use.
func (t *Tracker) Start() time.Time { return t.start }

// Note records a use of k, keeping the later one.
func (t *Tracker) Note(k Key, u Use) {
	t.mu.Lock()
	if old, ok := t.pending[k]; !ok || !u.Time.Before(old.Time) {
		t.pending[k] = u
	}
	t.mu.Unlock()
}

// Last returns the last use of k: the later of the stored one (read in
// tx) and one noted here but not flushed yet; nil if there is none.
func (t *Tracker) Last(tx store.Tx, k Key) (*Use, error) {
	u, err := stored(tx, k)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	p, ok := t.pending[k]
	t.mu.Unlock()
	if ok && (u == nil || p.Time.After(u.Time)) {
		u = &p
	}
	return u, nil
}

// Flush writes the uses noted since the last flush to st, skipping keys
// that no longer exist (exists says, in the transaction). On failure the
// uses are kept for the next flush.
func (t *Tracker) Flush(st store.Store, exists func(store.Tx, Key) (bool, error)) error {
	t.mu.Lock()
	batch := t.pending
	t.pending = make(map[Key]Use, len(batch))
	t.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := st.Update(func(tx store.Tx) error {
		for k, u := range batch {
			if ok, err := exists(tx, k); err != nil || !ok {
				if err != nil {
					return err
				}
				continue
			}
			if old, err := stored(tx, k); err != nil {
				return err
			} else if old != nil && old.Time.After(u.Time) {
				continue // another process saw a later use
			}
			v, err := json.Marshal(u)
			if err != nil {
				return err
			}
			if err := tx.Put(store.LastUsage, k.record(), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for k, u := range batch {
			t.Note(k, u)
		}
		return fmt.Errorf("writing the last use of keys: %w", err)
	}
	return nil
}

// Forget removes the stored use of a key being deleted, in its
// transaction.
func Forget(tx store.Tx, k Key) error { return tx.Delete(store.LastUsage, k.record()) }

func stored(tx store.Tx, k Key) (*Use, error) {
	v, err := tx.Get(store.LastUsage, k.record())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	u := new(Use)
	if err := json.Unmarshal(v, u); err != nil {
		return nil, err
	}
	return u, nil
}
