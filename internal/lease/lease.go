// Package lease is a lease kept in a store: a record naming who holds it
// and until when, taken and renewed in a transaction of the store, so that
// processes sharing a store (several trent nodes on one database) agree on
// which of them does a piece of work, through the store interface alone.
//
// A lease is advisory: a holder paused past the end of its lease may still
// be working when another takes it over. Work done under a lease must
// therefore be safe to overlap (trent's scheduled work re-checks each job
// in its own transaction); the lease only keeps the nodes from all doing
// the same work at once.
package lease

import (
	"errors"
	"fmt"
	"time"

	json "github.com/go-json-experiment/json"

	"github.com/trent-kms/trent/internal/store"
)

// Lease is one named lease.
type Lease struct {
	Store  store.Store
	Table  store.Table   // where the record is kept
	Key    string        // the record's key
	Holder string        // who is asking: unique per process
	TTL    time.Duration // how long a lease lasts once taken or renewed
}

type record struct {
	Holder string    `json:"holder"`
	Until  time.Time `json:"until"`
}

// Take takes the lease for l.Holder, or renews it if l.Holder holds it, as
// of now; it reports false if another holder has it and its lease has not
// ended.
func (l *Lease) Take(now time.Time) (bool, error) {
	var ok bool
	err := l.Store.Update(func(tx store.Tx) error {
		ok = false // set afresh on every run: the store may run this twice
		v, err := tx.Get(l.Table, l.Key)
		switch {
		case err == nil:
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("lease %s: decoding: %w", l.Key, err)
			}
			if r.Holder != l.Holder && now.Before(r.Until) {
				return nil
			}
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		v, err = json.Marshal(record{Holder: l.Holder, Until: now.Add(l.TTL)})
		if err != nil {
			return err
		}
		ok = true
		return tx.Put(l.Table, l.Key, v)
	})
	return ok, err
}
