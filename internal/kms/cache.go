package kms

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/trent-kms/trent/internal/ciphertext"
	"github.com/trent-kms/trent/internal/grant"
	"github.com/trent-kms/trent/internal/keycache"
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
// it gets the key until it calls Release. The material is wiped when the
// last reference goes, so a key evicted while a request is using it stays
// intact until that request is done, and not a moment longer.
type liveKey struct {
	*Key
	arn     string
	secrets map[ciphertext.MaterialID]*ciphertext.Key
	private *keyspec.Key
	policy  *policy.Policy // the key policy, parsed
	grants  []*grant.Grant
	loaded  time.Time
	refs    atomic.Int32
}

// ARN is the key's ARN, made once rather than on every request.
func (k *liveKey) ARN() string { return k.arn }

// knownGrants are the key's grants as loaded with it.
func (k *liveKey) knownGrants() ([]*grant.Grant, error) { return k.grants, nil }

// CacheName, LoadedAt, Retain and Release make a liveKey a keycache.Entry.
func (k *liveKey) CacheName() keycache.Name { return keycache.Name{Region: k.Region, ID: k.ID} }
func (k *liveKey) LoadedAt() time.Time      { return k.loaded }
func (k *liveKey) Retain()                  { k.refs.Add(1) }

// Release drops one reference; the last one wipes the material.
func (k *liveKey) Release() {
	if k.refs.Add(-1) == 0 {
		for _, sk := range k.secrets {
			sk.Wipe()
		}
		if k.private != nil {
			k.private.Wipe()
		}
	}
}

// runSweeper sweeps the cache every ttl/10 until stop is closed, then
// empties it.
func (s *Service) runSweeper(stop <-chan struct{}) {
	t := time.NewTicker(max(s.cache.TTL()/10, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-stop:
			s.cache.Clear()
			return
		case <-t.C:
			s.cache.Sweep(s.now())
		}
	}
}

// liveKeyByID returns the key with this ID in region ready for use, from
// the cache or else from the store, with a reference the caller must
// release. A missing key is store.ErrNotFound.
func (s *Service) liveKeyByID(region, id string) (*liveKey, error) {
	now := s.now()
	if lk := s.cache.Get(keycache.Name{Region: region, ID: id}, now); lk != nil {
		return lk, nil
	}
	generation := s.cache.Generation(keycache.Name{Region: region, ID: id})
	var k *Key
	var grants []*grant.Grant
	err := s.store.View(func(tx store.Tx) (err error) {
		k, err = getKey(tx, region, id)
		if err != nil {
			return err
		}
		grants, err = grant.OfKey(tx, region, id)
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
	s.cache.Put(lk, generation)
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
				lk.Release()
				return nil, err
			}
			ck, err := ciphertext.NewKey(secret)
			clear(secret)
			if err != nil {
				lk.Release()
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
	var grants func() ([]*grant.Grant, error)
	if len(lk.grants) > 0 {
		grants = lk.knownGrants
	}
	if _, err := s.checkFoundARN(call, id, lk.Key, lk.arn, action, lk.policy, grants); err != nil {
		lk.Release()
		return nil, err
	}
	// Throttled only once allowed: a caller refused a key (another
	// account's, perhaps) must not learn from the quota that it exists.
	if err := call.admitKey(lk.Key); err != nil {
		lk.Release()
		return nil, err
	}
	return lk, nil
}

// CacheStats reports how many data-plane key lookups the cache answered
// and how many read the store, for metrics.
func (s *Service) CacheStats() (hits, misses uint64) {
	return s.cache.Stats()
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
			s.cache.Clear()
		case store.Keys, store.Grants:
			// "region/key ID" and "region/key ID/grant ID"
			region, rest, ok := strings.Cut(key, "/")
			id, _, _ := strings.Cut(rest, "/")
			if !ok || id == "" {
				s.cache.Clear()
				return
			}
			s.cache.Evict(region, id)
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
