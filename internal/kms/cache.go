package kms

import (
	"context"
	"errors"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trent-kms/trent/internal/ciphertext"
	"github.com/trent-kms/trent/internal/keyspec"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

// liveKey is a key ready for cryptographic use: its record, and its
// material unwrapped (symmetric keys: every version) or parsed (every other
// spec: the private or HMAC key). It is immutable once made, until wiped.
//
// A liveKey is reference counted: the cache holds one reference while the
// key is cached, and every request that uses it holds one from the moment
// it gets the key until it calls release. The material is wiped when the
// last reference goes, so a key evicted while a request is using it stays
// intact until that request is done, and not a moment longer.
type liveKey struct {
	*Key
	arn     string
	secrets map[ciphertext.MaterialID]*ciphertext.Key
	private *keyspec.Key
	policy  *policy.Policy // the key policy, parsed
	grants  []*Grant
	loaded  time.Time
	refs    atomic.Int32
}

// ARN is the key's ARN, made once rather than on every request.
func (k *liveKey) ARN() string { return k.arn }

// knownGrants are the key's grants as loaded with it.
func (k *liveKey) knownGrants() ([]*Grant, error) { return k.grants, nil }

// release drops one reference; the last one wipes the material.
func (k *liveKey) release() {
	if k.refs.Add(-1) == 0 {
		for _, sk := range k.secrets {
			sk.Wipe()
		}
		if k.private != nil {
			k.private.Wipe()
		}
	}
}

// keyCache keeps recently used keys live, so that the data plane neither
// decodes a key record nor unwraps and parses its material on every
// request: for an RSA or ML-DSA key, parsing alone costs more than the
// operation.
//
// Every committed change to a key evicts it (Service.changeKey and the
// deletion sweep), so on one node the cache is never staler than the
// microseconds between a commit and its eviction. Entries also expire
// after ttl, which bounds how long a change made by another node sharing
// the store goes unseen here, and how long unwrapped material stays in
// memory: a sweeper removes expired entries every ttl/10, so no key stays
// cached longer than 1.1 × ttl after it was loaded (plus the time requests
// already using it take to finish). Removed entries are wiped (liveKey).
type keyCache struct {
	ttl time.Duration
	max int

	mu      sync.RWMutex
	entries map[cacheKey]*liveKey
	// generations change with every eviction: a key loaded from the store
	// is only cached if no eviction of it happened while it was being
	// loaded, so a reader that read the old record cannot put it back after
	// a change. Keys share generationStripes counters (by a hash of their
	// name), so that evictions of other keys (on a busy store, every change
	// any node makes) rarely keep a load out of the cache.
	generations [generationStripes]atomic.Uint64
	seed        maphash.Seed

	// hits and misses count lookups, for metrics.
	hits, misses atomic.Uint64
}

const generationStripes = 64

// stripe is the generation counter of a key.
func (c *keyCache) stripe(name cacheKey) *atomic.Uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(name.region)
	h.WriteByte(0)
	h.WriteString(name.id)
	return &c.generations[h.Sum64()%generationStripes]
}

// generation is what put needs to know whether name was evicted since.
func (c *keyCache) generation(name cacheKey) uint64 { return c.stripe(name).Load() }

// cacheKey names a cached key: its region and ID (the replicas of a
// multi-Region key share the ID).
type cacheKey struct{ region, id string }

func newKeyCache(ttl time.Duration, max int) *keyCache {
	return &keyCache{ttl: ttl, max: max, entries: make(map[cacheKey]*liveKey), seed: maphash.MakeSeed()}
}

func (c *keyCache) expired(lk *liveKey, now time.Time) bool {
	return now.Sub(lk.loaded) > c.ttl || now.Before(lk.loaded)
}

// get returns the live key cached under name with a reference for the
// caller, or nil if it is not cached or too old.
func (c *keyCache) get(name cacheKey, now time.Time) *liveKey {
	c.mu.RLock()
	defer c.mu.RUnlock()
	lk := c.entries[name]
	if lk == nil || c.expired(lk, now) {
		c.misses.Add(1)
		return nil
	}
	c.hits.Add(1)
	// Taken under the lock: an eviction, which drops the cache's reference,
	// cannot happen between the lookup and this.
	lk.refs.Add(1)
	return lk
}

// put caches lk, taking a reference for the cache, unless an eviction of
// it happened since generation was read.
func (c *keyCache) put(lk *liveKey, generation uint64) {
	var dropped []*liveKey
	name := cacheKey{lk.Region, lk.ID}
	c.mu.Lock()
	if c.stripe(name).Load() == generation {
		if old := c.entries[name]; old != nil {
			dropped = append(dropped, old)
		} else if len(c.entries) >= c.max {
			for n, e := range c.entries { // evict an arbitrary entry
				delete(c.entries, n)
				dropped = append(dropped, e)
				break
			}
		}
		lk.refs.Add(1)
		c.entries[name] = lk
	}
	c.mu.Unlock()
	for _, e := range dropped {
		e.release()
	}
}

// evict forgets the key; call it after a change to the key has been committed.
func (c *keyCache) evict(region, id string) {
	name := cacheKey{region, id}
	c.mu.Lock()
	c.stripe(name).Add(1)
	lk := c.entries[name]
	delete(c.entries, name)
	c.mu.Unlock()
	if lk != nil {
		lk.release()
	}
}

// sweep removes every entry older than the TTL.
func (c *keyCache) sweep(now time.Time) {
	var dropped []*liveKey
	c.mu.Lock()
	for name, lk := range c.entries {
		if c.expired(lk, now) {
			delete(c.entries, name)
			dropped = append(dropped, lk)
		}
	}
	c.mu.Unlock()
	for _, lk := range dropped {
		lk.release()
	}
}

// clear removes every entry.
func (c *keyCache) clear() {
	c.mu.Lock()
	for i := range c.generations {
		c.generations[i].Add(1)
	}
	old := c.entries
	c.entries = make(map[cacheKey]*liveKey)
	c.mu.Unlock()
	for _, lk := range old {
		lk.release()
	}
}

func (c *keyCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// runSweeper sweeps the cache every ttl/10 until stop is closed, then
// empties it.
func (s *Service) runSweeper(stop <-chan struct{}) {
	t := time.NewTicker(max(s.cache.ttl/10, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-stop:
			s.cache.clear()
			return
		case <-t.C:
			s.cache.sweep(s.now())
		}
	}
}

// liveKeyByID returns the key with this ID in region ready for use, from
// the cache or else from the store, with a reference the caller must
// release. A missing key is store.ErrNotFound.
func (s *Service) liveKeyByID(region, id string) (*liveKey, error) {
	now := s.now()
	if lk := s.cache.get(cacheKey{region, id}, now); lk != nil {
		return lk, nil
	}
	generation := s.cache.generation(cacheKey{region, id})
	var k *Key
	var grants []*Grant
	err := s.store.View(func(tx store.Tx) (err error) {
		k, err = getKey(tx, region, id)
		if err != nil {
			return err
		}
		grants, err = grantsOf(tx, region, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	lk, err := s.makeLive(k, now)
	if err != nil {
		return nil, err
	}
	lk.grants = grants
	lk.policy = s.keyPolicy(k)
	s.cache.put(lk, generation)
	return lk, nil
}

// makeLive unwraps (and for asymmetric and HMAC keys parses) a key's
// material. The result holds one reference, the caller's.
func (s *Service) makeLive(k *Key, now time.Time) (*liveKey, error) {
	lk := &liveKey{Key: k, arn: k.ARN(), loaded: now}
	lk.refs.Store(1)
	if k.KeySpec == kmsapi.KeySpecSymmetricDefault {
		lk.secrets = make(map[ciphertext.MaterialID]*ciphertext.Key, len(k.Materials))
		for i := range k.Materials {
			if !k.Materials[i].present() {
				continue // imported material deleted, expired or not yet imported
			}
			secret, err := s.unwrap(k, &k.Materials[i])
			if err != nil {
				lk.release()
				return nil, err
			}
			ck, err := ciphertext.NewKey(secret)
			clear(secret)
			if err != nil {
				lk.release()
				return nil, err
			}
			lk.secrets[k.Materials[i].ID] = ck
		}
		return lk, nil
	}
	cur := k.current()
	if cur == nil || !cur.present() {
		return lk, nil
	}
	secret, err := s.unwrap(k, cur)
	if err != nil {
		return nil, err
	}
	defer clear(secret)
	lk.private, err = keyspec.Parse(k.KeySpec, secret)
	return lk, err
}

// liveKeyFor finds the key id names, as seen by call, ready for use, and
// checks that call may perform action on it. The caller must release the
// key.
func (s *Service) liveKeyFor(call *Call, id string, action string) (*liveKey, error) {
	var keyID string
	var err error
	if isAlias(id) {
		err = s.store.View(func(tx store.Tx) (err error) {
			keyID, err = s.resolveID(tx, call, id, keyIDOrAlias, action)
			return err
		})
	} else {
		keyID, err = s.resolveID(nil, call, id, keyIDOrAlias, action)
	}
	if err != nil {
		return nil, err
	}
	lk, err := s.liveKeyByID(call.Region, keyID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, keyNotFound(call, id, keyID, action)
	}
	if err != nil {
		return nil, err
	}
	var grants func() ([]*Grant, error)
	if len(lk.grants) > 0 {
		grants = lk.knownGrants
	}
	if _, err := s.checkFoundARN(call, id, lk.Key, lk.arn, action, lk.policy, grants); err != nil {
		lk.release()
		return nil, err
	}
	return lk, nil
}

// CacheStats reports how many data-plane key lookups the cache answered
// and how many read the store, for metrics.
func (s *Service) CacheStats() (hits, misses uint64) {
	return s.cache.hits.Load(), s.cache.misses.Load()
}

// watchStore keeps the key cache coherent with changes other processes
// make to a shared store (store.Watcher, which the PostgreSQL store is): a
// key record or grant changed anywhere evicts the key here, normally
// within milliseconds of the commit, and "anything may have changed" (the
// watcher's connection (re)established or lost) empties the cache. The TTL
// still bounds staleness if notifications stop without the watcher
// noticing. It returns when stop is closed.
func (s *Service) watchStore(w store.Watcher, stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-stop
		cancel()
	}()
	err := w.Watch(ctx, func(t store.Table, key string) {
		switch t {
		case "":
			s.cache.clear()
		case store.Keys, store.Grants:
			// "region/key ID" and "region/key ID/grant ID"
			region, rest, ok := strings.Cut(key, "/")
			id, _, _ := strings.Cut(rest, "/")
			if !ok || id == "" {
				s.cache.clear()
				return
			}
			s.cache.evict(region, id)
		}
	})
	if err != nil && ctx.Err() == nil {
		s.logger.Error("watching the store for changes by other processes stopped; cached keys now expire only after their TTL", "err", err)
	}
}

// watcherOf finds a store.Watcher in st or the stores it wraps.
func watcherOf(st store.Store) store.Watcher {
	for st != nil {
		if w, ok := st.(store.Watcher); ok {
			return w
		}
		r, ok := st.(interface{ Raw() store.Store })
		if !ok {
			return nil
		}
		st = r.Raw()
	}
	return nil
}
