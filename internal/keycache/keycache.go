// Package keycache keeps recently used keys ready for use, so that the data
// plane neither decodes a key record nor unwraps and parses its material on
// every request: for an RSA or ML-DSA key, parsing alone costs more than the
// operation.
//
// What it guarantees:
//
//   - Staleness is bounded by the owner's evictions and by the TTL. The
//     owner evicts a key after every committed change to it, so a reader
//     that loaded the old record before the change cannot put it back after
//     it (the generation check of Put). Entries also expire after the TTL,
//     which bounds how long a change that was never evicted here (made by
//     another process sharing the store) goes unseen.
//   - Unwrapped material does not outlive its entry. Sweep, run every TTL/10
//     by the owner, removes expired entries, so no key stays cached longer
//     than 1.1 × TTL after it was loaded. Every entry removed (swept,
//     evicted, replaced, or dropped for room) is released, and an Entry
//     wipes its material when its last reference goes: the cache holds one
//     reference, and each request using the entry holds one until it is
//     done with it.
package keycache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// Name names a cached key: its region and ID (the replicas of a
// multi-Region key share the ID).
type Name struct{ Region, ID string }

// Entry is what a Cache holds: a key ready for use, with a reference count.
// The cache calls Retain for every reference it hands out or keeps, and
// Release for every one it drops.
type Entry interface {
	CacheName() Name
	// LoadedAt is when the entry was read from the store: the TTL runs
	// from then.
	LoadedAt() time.Time
	Retain()
	Release()
}

// Cache is a bounded cache of entries, safe for concurrent use.
type Cache[E Entry] struct {
	ttl time.Duration
	max int

	mu      sync.RWMutex
	entries map[Name]E
	// generations change with every eviction: an entry loaded from the
	// store is only cached if no eviction of it happened while it was being
	// loaded. Keys share the counters (by a hash of their name), so that
	// evictions of other keys (on a busy store, every change any node
	// makes) rarely keep a load out of the cache.
	generations [generationStripes]atomic.Uint64
	seed        maphash.Seed

	hits, misses atomic.Uint64
}

const generationStripes = 64

// New makes a cache whose entries expire ttl after they were loaded and
// that holds at most max entries.
func New[E Entry](ttl time.Duration, max int) *Cache[E] {
	return &Cache[E]{ttl: ttl, max: max, entries: make(map[Name]E), seed: maphash.MakeSeed()}
}

// TTL is how long an entry is served after it was loaded.
func (c *Cache[E]) TTL() time.Duration { return c.ttl }

func (c *Cache[E]) stripe(name Name) *atomic.Uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(name.Region)
	h.WriteByte(0)
	h.WriteString(name.ID)
	return &c.generations[h.Sum64()%generationStripes]
}

// Generation is what Put needs to know whether name was evicted since: read
// it before loading the key from the store.
func (c *Cache[E]) Generation(name Name) uint64 { return c.stripe(name).Load() }

func (c *Cache[E]) expired(e E, now time.Time) bool {
	loaded := e.LoadedAt()
	return now.Sub(loaded) > c.ttl || now.Before(loaded)
}

// Get returns the entry cached under name with a reference for the caller
// (who must Release it), or the zero E if none is cached or it is too old.
func (c *Cache[E]) Get(name Name, now time.Time) E {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[name]
	if !ok || c.expired(e, now) {
		c.misses.Add(1)
		var none E
		return none
	}
	c.hits.Add(1)
	// Taken under the lock: an eviction, which drops the cache's reference,
	// cannot happen between the lookup and this.
	e.Retain()
	return e
}

// Put caches e, taking a reference for the cache, unless an eviction of it
// happened since generation was read (Generation). When the cache is full,
// an arbitrary entry makes room.
func (c *Cache[E]) Put(e E, generation uint64) {
	var dropped []E
	name := e.CacheName()
	c.mu.Lock()
	if c.stripe(name).Load() == generation {
		if old, ok := c.entries[name]; ok {
			dropped = append(dropped, old)
		} else if len(c.entries) >= c.max {
			for n, old := range c.entries {
				delete(c.entries, n)
				dropped = append(dropped, old)
				break
			}
		}
		e.Retain()
		c.entries[name] = e
	}
	c.mu.Unlock()
	for _, old := range dropped {
		old.Release()
	}
}

// Evict forgets the key; call it after a change to the key was committed.
func (c *Cache[E]) Evict(region, id string) {
	name := Name{region, id}
	c.mu.Lock()
	c.stripe(name).Add(1)
	e, ok := c.entries[name]
	delete(c.entries, name)
	c.mu.Unlock()
	if ok {
		e.Release()
	}
}

// EvictAll evicts each named key; call it after the transaction that
// changed them committed (or failed: an eviction too many is harmless).
func (c *Cache[E]) EvictAll(names []Name) {
	for _, n := range names {
		c.Evict(n.Region, n.ID)
	}
}

// Sweep removes every entry older than the TTL.
func (c *Cache[E]) Sweep(now time.Time) {
	var dropped []E
	c.mu.Lock()
	for name, e := range c.entries {
		if c.expired(e, now) {
			delete(c.entries, name)
			dropped = append(dropped, e)
		}
	}
	c.mu.Unlock()
	for _, e := range dropped {
		e.Release()
	}
}

// Clear removes every entry, and keeps out every load begun before it:
// for when anything may have changed.
func (c *Cache[E]) Clear() {
	c.mu.Lock()
	for i := range c.generations {
		c.generations[i].Add(1)
	}
	old := c.entries
	c.entries = make(map[Name]E)
	c.mu.Unlock()
	for _, e := range old {
		e.Release()
	}
}

// Len is the number of entries cached.
func (c *Cache[E]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// Each calls fn for every entry cached, under the cache's read lock: fn
// must not call the cache.
func (c *Cache[E]) Each(fn func(E)) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, e := range c.entries {
		fn(e)
	}
}

// Stats reports how many lookups found an entry and how many did not.
func (c *Cache[E]) Stats() (hits, misses uint64) { return c.hits.Load(), c.misses.Load() }
