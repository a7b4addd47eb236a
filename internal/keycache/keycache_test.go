package keycache

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// entry counts its references and records when the last one went.
type entry struct {
	name   Name
	loaded time.Time
	refs   atomic.Int32
	wiped  atomic.Bool
}

func newEntry(region, id string, loaded time.Time) *entry {
	e := &entry{name: Name{region, id}, loaded: loaded}
	e.refs.Store(1) // the loader's
	return e
}

func (e *entry) CacheName() Name     { return e.name }
func (e *entry) LoadedAt() time.Time { return e.loaded }
func (e *entry) Retain()             { e.refs.Add(1) }
func (e *entry) Release() {
	switch n := e.refs.Add(-1); {
	case n == 0:
		e.wiped.Store(true)
	case n < 0:
		panic(fmt.Sprintf("%v released once too often", e.name))
	}
}

func TestRefusesStaleLoads(t *testing.T) {
	c := New[*entry](time.Minute, 10)
	now := time.Now()
	k := Name{"r", "k"}
	generation := c.Generation(k)
	c.Evict("r", "k") // a change committed while the loader was reading
	c.Put(newEntry("r", "k", now), generation)
	if c.Get(k, now) != nil {
		t.Fatal("a key loaded before an eviction was cached after it")
	}
	c.Put(newEntry("r", "k", now), c.Generation(k))
	if e := c.Get(k, now); e == nil {
		t.Fatal("a fresh load was not cached")
	} else {
		e.Release()
	}
	if c.Get(k, now.Add(time.Minute+time.Second)) != nil {
		t.Fatal("an entry older than the TTL was returned")
	}
	if c.Get(k, now.Add(-time.Second)) != nil {
		t.Fatal("an entry loaded after now (the clock went back) was returned")
	}
	// "Anything may have changed" (a store watcher reconnecting) also
	// keeps loads that were in flight out.
	generation = c.Generation(k)
	c.Clear()
	c.Put(newEntry("r", "k", now), generation)
	if c.Get(k, now) != nil {
		t.Fatal("a key loaded before the cache was cleared was cached after it")
	}
	for i := range 20 {
		id := string(rune('a' + i))
		c.Put(newEntry("r", id, now), c.Generation(Name{"r", id}))
	}
	if c.Len() > 10 {
		t.Fatalf("cache holds %d entries, limit 10", c.Len())
	}
	if hits, misses := c.Stats(); hits != 1 || misses != 4 {
		t.Fatalf("stats: %d hits, %d misses; want 1 and 4", hits, misses)
	}
}

// TestReleasesEveryEntryItDrops: whatever removes an entry (eviction,
// expiry, replacement, room, clear), the cache's reference is dropped
// exactly once, and an entry still in use by a request is wiped only when
// that request releases it.
func TestReleasesEveryEntryItDrops(t *testing.T) {
	now := time.Now()
	c := New[*entry](time.Minute, 2)
	load := func(id string, at time.Time) *entry {
		e := newEntry("r", id, at)
		c.Put(e, c.Generation(Name{"r", id}))
		e.Release() // the loader is done with it
		return e
	}

	evicted := load("a", now)
	inUse := c.Get(Name{"r", "a"}, now)
	c.Evict("r", "a")
	if evicted.wiped.Load() {
		t.Fatal("an evicted entry was wiped while a request still used it")
	}
	inUse.Release()
	if !evicted.wiped.Load() {
		t.Fatal("an evicted entry was not wiped when its last user released it")
	}

	replaced := load("b", now)
	load("b", now)
	if !replaced.wiped.Load() {
		t.Fatal("a replaced entry was not wiped")
	}

	old := load("c", now.Add(-2*time.Minute))
	c.Sweep(now)
	if !old.wiped.Load() {
		t.Fatal("an expired entry was not wiped by the sweep")
	}
	if c.Len() != 1 {
		t.Fatalf("after the sweep: %d entries, want 1 (b)", c.Len())
	}

	// EvictAll: b (still cached) and f, and a name never cached.
	f := load("f", now)
	c.EvictAll([]Name{{"r", "b"}, {"r", "f"}, {"r", "absent"}})
	if !f.wiped.Load() || c.Len() != 0 {
		t.Fatalf("after EvictAll: f wiped %v, %d entries", f.wiped.Load(), c.Len())
	}

	// Full (2 entries): a third makes room by dropping one.
	load("d", now)
	load("e", now)
	if c.Len() != 2 {
		t.Fatalf("%d entries, limit 2", c.Len())
	}

	var left []*entry
	c.Each(func(e *entry) { left = append(left, e) })
	c.Clear()
	for _, e := range left {
		if !e.wiped.Load() {
			t.Fatalf("%v was not wiped by Clear", e.name)
		}
	}
	if c.Len() != 0 {
		t.Fatal("entries left after Clear")
	}
}

// TestConcurrentUse: readers, loaders, evictions and sweeps at once; run
// with -race. Every reference taken is given back: after Clear, every
// entry is wiped and none was released once too often (Release panics).
func TestConcurrentUse(t *testing.T) {
	c := New[*entry](time.Millisecond, 8)
	var (
		mu  sync.Mutex
		all []*entry
		wg  sync.WaitGroup
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				id := fmt.Sprint(i % 16)
				name := Name{"r", id}
				now := time.Now()
				if e := c.Get(name, now); e != nil {
					e.Release()
					continue
				}
				g := c.Generation(name)
				e := newEntry("r", id, now)
				mu.Lock()
				all = append(all, e)
				mu.Unlock()
				c.Put(e, g)
				e.Release()
				switch {
				case i%7 == w:
					c.Evict("r", id)
				case i%50 == 0:
					c.Sweep(time.Now())
				}
			}
		}()
	}
	wg.Wait()
	c.Clear()
	for _, e := range all {
		if !e.wiped.Load() || e.refs.Load() != 0 {
			t.Fatalf("%v: %d references left after Clear", e.name, e.refs.Load())
		}
	}
}
