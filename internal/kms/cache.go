package kms

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trent-kms/trent/internal/ciphertext"
	"github.com/trent-kms/trent/internal/keyspec"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/store"
)

// liveKey is a key ready for cryptographic use: its record, and its
// material unwrapped (symmetric keys: every version) or parsed (every other
// spec: the private or HMAC key). It is immutable once made.
type liveKey struct {
	*Key
	arn     string
	secrets map[ciphertext.MaterialID][]byte
	private *keyspec.Key
	loaded  time.Time
}

// ARN is the key's ARN, made once rather than on every request.
func (k *liveKey) ARN() string { return k.arn }

// keyCache keeps recently used keys live, so that the data plane neither
// decodes a key record nor unwraps and parses its material on every
// request: for an RSA or ML-DSA key, parsing alone costs more than the
// operation.
//
// Every committed change to a key evicts it (Service.changeKey and the
// deletion sweep), so on one node the cache is never staler than the
// microseconds between a commit and its eviction. Entries also expire after
// ttl, which bounds how long a change made by another node sharing the
// store goes unseen here. The cache holds unwrapped key material in memory,
// like an HSM session would; it never writes it anywhere.
type keyCache struct {
	ttl time.Duration
	max int

	mu      sync.RWMutex
	entries map[string]*liveKey
	// generation changes with every eviction; a key loaded from the store is
	// only cached if no eviction happened while it was being loaded, so a
	// reader that read the old record cannot put it back after a change.
	generation atomic.Uint64
}

func newKeyCache(ttl time.Duration, max int) *keyCache {
	return &keyCache{ttl: ttl, max: max, entries: make(map[string]*liveKey)}
}

// get returns the live key with this ID, or nil if it is not cached or too old.
func (c *keyCache) get(id string, now time.Time) *liveKey {
	c.mu.RLock()
	lk := c.entries[id]
	c.mu.RUnlock()
	if lk == nil || now.Sub(lk.loaded) > c.ttl || now.Before(lk.loaded) {
		return nil
	}
	return lk
}

// put caches lk, unless an eviction happened since generation was read.
func (c *keyCache) put(lk *liveKey, generation uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.generation.Load() != generation {
		return
	}
	if len(c.entries) >= c.max {
		for id := range c.entries { // evict an arbitrary entry
			delete(c.entries, id)
			break
		}
	}
	c.entries[lk.ID] = lk
}

// evict forgets key id; call it after a change to the key has been committed.
func (c *keyCache) evict(id string) {
	c.mu.Lock()
	c.generation.Add(1)
	delete(c.entries, id)
	c.mu.Unlock()
}

// liveKeyByID returns the key with this ID ready for use, from the cache or
// else from the store. A missing key is store.ErrNotFound.
func (s *Service) liveKeyByID(id string) (*liveKey, error) {
	now := s.now()
	if lk := s.cache.get(id, now); lk != nil {
		return lk, nil
	}
	generation := s.cache.generation.Load()
	var k *Key
	err := s.store.View(func(tx store.Tx) (err error) {
		k, err = getKey(tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	lk, err := s.makeLive(k, now)
	if err != nil {
		return nil, err
	}
	s.cache.put(lk, generation)
	return lk, nil
}

// makeLive unwraps (and for asymmetric and HMAC keys parses) a key's material.
func (s *Service) makeLive(k *Key, now time.Time) (*liveKey, error) {
	lk := &liveKey{Key: k, arn: k.ARN(), loaded: now}
	if k.KeySpec == kmsapi.KeySpecSymmetricDefault {
		lk.secrets = make(map[ciphertext.MaterialID][]byte, len(k.Materials))
		for i := range k.Materials {
			secret, err := s.unwrap(k, &k.Materials[i])
			if err != nil {
				return nil, err
			}
			lk.secrets[k.Materials[i].ID] = secret
		}
		return lk, nil
	}
	cur := k.current()
	if cur == nil {
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
// checks that call may perform action on it.
func (s *Service) liveKeyFor(call *Call, id string, action string) (*liveKey, error) {
	var keyID string
	var err error
	if isAlias(id) {
		err = s.store.View(func(tx store.Tx) (err error) {
			keyID, err = s.resolveID(tx, call, id, keyIDOrAlias)
			return err
		})
	} else {
		keyID, err = s.resolveID(nil, call, id, keyIDOrAlias)
	}
	if err != nil {
		return nil, err
	}
	lk, err := s.liveKeyByID(keyID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, keyNotFound(call, id, keyID)
	}
	if err != nil {
		return nil, err
	}
	return lk, s.checkFound(call, id, lk.Key, action)
}
