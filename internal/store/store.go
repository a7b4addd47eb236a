// Package store is trent's persistence: a small transactional key-value
// interface. Each backend lives in its own subpackage (store/bolt, the
// embedded default; store/postgres, shared by several trent processes), so
// a database driver never reaches other importers; store/sealed
// authenticates every record of any backend.
//
// The service keeps every record it owns (keys, aliases, ...) as an opaque
// value under a string key in one of a few tables. That is all a backend has
// to offer, so a distributed database plugs in by implementing Store and Tx
// and nothing else. Key material reaches a Store only after it has been
// wrapped under the root key: a backend never sees a secret.
package store

import (
	"context"
	"errors"
)

// Table names a group of records, like a bucket or an SQL table.
type Table string

// The tables trent uses. A backend creates them all when it opens.
const (
	Keys         Table = "keys"           // region/key ID → key record
	KeysByAcc    Table = "keys-index"     // account/region/key ID → empty, for listing
	Aliases      Table = "aliases"        // account/region/alias name → alias record
	AliasesByKey Table = "aliases-by-key" // region/key ID/alias name → empty, to count and drop a key's aliases
	Schedule     Table = "schedule"       // date/region/key ID → empty: when a key next needs the scheduler, in date order
	Grants       Table = "grants"         // region/key ID/grant ID → grant record
	GrantIndex   Table = "grant-index"    // by name, by retiring principal, and counts per key
	LastUsage    Table = "last-usage"     // region/key ID → the key's last cryptographic use
	ImportParams Table = "import-params"  // region/key ID/token ID → wrapping key of an import token
	Meta         Table = "meta"           // the store's own records: format version, wrapped store secret, scheduler lease

	// Deletions is where trent 0.1 kept its deletion schedule (date/region/key
	// ID); the service moves its entries into Schedule when it starts.
	Deletions Table = "deletions"
)

// Tables lists every table, for backends that must create them up front.
var Tables = []Table{Keys, KeysByAcc, Aliases, AliasesByKey, Schedule, Grants, GrantIndex, LastUsage, ImportParams, Meta, Deletions}

// ErrNotFound is returned by Tx.Get for a key that is not in the table.
var ErrNotFound = errors.New("store: not found")

// Store is a transactional key-value store.
//
// View runs fn in a read-only transaction; Update runs fn in a read-write
// transaction that commits if fn returns nil and rolls back otherwise.
// Update transactions are serializable: a backend that can run them
// concurrently must retry or fail them on conflict, never interleave them.
//
// A backend may run fn more than once: to retry after a conflict, or to
// group concurrent Updates into one commit. So fn must act only through
// its Tx, and whatever it records outside (a result, a counter) must be
// set afresh on every run.
type Store interface {
	View(fn func(Tx) error) error
	Update(fn func(Tx) error) error
	Close() error
}

// Tx is one transaction. Values passed to and returned from a Tx are only
// valid until the transaction ends: copy what you keep.
type Tx interface {
	// Get returns the value stored under key, or ErrNotFound.
	Get(t Table, key string) ([]byte, error)
	// Put stores value under key, replacing any earlier value.
	Put(t Table, key string, value []byte) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(t Table, key string) error
	// Scan calls fn for every key that starts with prefix and sorts after
	// the key after (all such keys if after is empty), in ascending byte
	// order, until fn returns false or an error.
	Scan(t Table, prefix, after string, fn func(key string, value []byte) (more bool, err error)) error
}

// Scrubber is a Store that can erase what deleted records leave behind in
// its files (free pages, old row versions), so that deleted key material
// cannot be recovered from them even with the root key. The deletion sweep
// calls Scrub after it has deleted keys. A Store that is not a Scrubber
// gives no such guarantee; its documentation says what an operator must do.
type Scrubber interface {
	Scrub() error
}

// Watcher is a Store shared by several processes that reports records
// changed by any of them, so that each can keep a cache coherent.
type Watcher interface {
	// Watch calls fn for every record a committed transaction changed (in
	// any process), until ctx ends. When its notification channel
	// connects or reconnects, and after each failed attempt to, it calls
	// fn("", "") meaning "anything may have changed: drop everything
	// cached". fn runs on one goroutine, one call at a time; it must not
	// block for long.
	Watch(ctx context.Context, fn func(t Table, key string)) error
}
