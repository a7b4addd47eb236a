package kms

import (
	"context"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/store"
)

func TestKeyCacheRefusesStaleLoads(t *testing.T) {
	c := newKeyCache(time.Minute, 10)
	now := time.Now()
	generation := c.generation.Load()
	c.evict("k") // a change committed while the loader was reading
	c.put(&liveKey{Key: &Key{ID: "k"}, loaded: now}, generation)
	if c.get("k", now) != nil {
		t.Fatal("a key loaded before an eviction was cached after it")
	}
	c.put(&liveKey{Key: &Key{ID: "k"}, loaded: now}, c.generation.Load())
	if c.get("k", now) == nil {
		t.Fatal("a fresh load was not cached")
	}
	if c.get("k", now.Add(time.Minute+time.Second)) != nil {
		t.Fatal("an entry older than the TTL was returned")
	}
	for i := range 20 {
		c.put(&liveKey{Key: &Key{ID: string(rune('a' + i))}, loaded: now}, c.generation.Load())
	}
	if len(c.entries) > 10 {
		t.Fatalf("cache holds %d entries, limit 10", len(c.entries))
	}
}

// TestCacheSeesOtherWritersAfterTTL: a change written to the store by
// someone else (another node sharing the database) takes effect once the
// cached entry expires.
func TestCacheSeesOtherWritersAfterTTL(t *testing.T) {
	ctx := context.Background()
	s, db := newTestService(t, t.TempDir())
	defer db.Close()
	clock := time.Now()
	s.now = func() time.Time { return clock }
	s.cache.ttl = 5 * time.Second
	call := devCall
	out, err := s.CreateKey(ctx, &call, &kmsapi.CreateKeyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	id := out.KeyMetadata.GetKeyId()
	encrypt := func() error {
		_, err := s.Encrypt(ctx, &call, &kmsapi.EncryptRequest{KeyId: new(id), Plaintext: []byte("x")})
		return err
	}
	if err := encrypt(); err != nil { // now cached
		t.Fatal(err)
	}
	// Another node disables the key, writing the store directly.
	err = db.Update(func(tx store.Tx) error {
		k, err := getKey(tx, id)
		if err != nil {
			return err
		}
		k.State = kmsapi.KeyStateDisabled
		return putKey(tx, k)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := encrypt(); err != nil {
		t.Fatalf("within the TTL the cached key still works here: %v", err)
	}
	clock = clock.Add(6 * time.Second)
	if err := encrypt(); err == nil || err.(*kmsapi.Error).Code != kmsapi.DisabledException {
		t.Fatalf("after the TTL: %v, want DisabledException", err)
	}
}
