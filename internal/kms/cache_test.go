package kms

import (
	"context"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/keycache"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/testclock"
)

// TestCacheSeesOtherWritersAfterTTL: a change written to the store by
// someone else (another node sharing the database) takes effect once the
// cached entry expires.
func TestCacheSeesOtherWritersAfterTTL(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(time.Now())
	s, db := newTestServiceWith(t, t.TempDir(), Config{Now: clock.Now, KeyCacheTTL: 5 * time.Second})
	defer db.Close()
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
		k, err := getKey(tx, call.Region, id)
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
	clock.Advance(6 * time.Second)
	if err := encrypt(); err == nil || err.(*kmsapi.Error).Code != kmsapi.DisabledException {
		t.Fatalf("after the TTL: %v, want DisabledException", err)
	}
}

// TestCacheSweeperWipesExpiredKeys: with nothing asking for a key, the
// sweeper still removes it once its TTL has passed, and its material is
// overwritten.
func TestCacheSweeperWipesExpiredKeys(t *testing.T) {
	ctx := context.Background()
	const ttl = 100 * time.Millisecond
	s, db := newTestServiceWith(t, t.TempDir(), Config{KeyCacheTTL: ttl})
	defer db.Close()
	call := devCall
	out, err := s.CreateKey(ctx, &call, &kmsapi.CreateKeyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Encrypt(ctx, &call, &kmsapi.EncryptRequest{KeyId: out.KeyMetadata.KeyId, Plaintext: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	lk := s.cache.Get(keycache.Name{Region: call.Region, ID: out.KeyMetadata.GetKeyId()}, time.Now())
	if lk == nil {
		t.Fatal("the key is not cached after Encrypt")
	}
	secrets := lk.secrets
	lk.Release()
	for _, sk := range secrets {
		if sk.Wiped() {
			t.Fatal("a cached key's material is already wiped")
		}
	}
	deadline := time.Now().Add(ttl + ttl/10 + 50*time.Millisecond)
	for s.cache.Len() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := s.cache.Len(); n != 0 {
		t.Fatalf("the cache holds %d keys %v after they were loaded, TTL %v", n, ttl+ttl/10+50*time.Millisecond, ttl)
	}
	for id, sk := range secrets {
		if !sk.Wiped() {
			t.Fatalf("material %s was not wiped when its key left the cache", id)
		}
	}
}

// TestEvictionWaitsForRequestsInFlight: a key evicted while a request is
// using it keeps its material until the request releases it.
func TestEvictionWaitsForRequestsInFlight(t *testing.T) {
	ctx := context.Background()
	s, db := newTestService(t, t.TempDir())
	defer db.Close()
	call := devCall
	out, err := s.CreateKey(ctx, &call, &kmsapi.CreateKeyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	id := out.KeyMetadata.GetKeyId()
	lk, err := s.liveKeyByID(call.Region, id) // a request in flight
	if err != nil {
		t.Fatal(err)
	}
	// A change to the key evicts it meanwhile.
	if _, err := s.ScheduleKeyDeletion(ctx, &call, &kmsapi.ScheduleKeyDeletionRequest{KeyId: new(id)}); err != nil {
		t.Fatal(err)
	}
	for _, sk := range lk.secrets {
		if sk.Wiped() {
			t.Fatal("an evicted key was wiped while a request still held it")
		}
	}
	if _, _, _, err := s.open(&call, mustEncrypt(t, s, lk), nil, lk, "kms:Decrypt"); err != nil {
		t.Fatalf("the request in flight cannot use its key: %v", err)
	}
	lk.Release()
	for _, sk := range lk.secrets {
		if !sk.Wiped() {
			t.Fatal("the key was not wiped when the last request released it")
		}
	}
	if s.cache.Len() != 0 {
		t.Fatal("the evicted key is still cached")
	}
}

func mustEncrypt(t *testing.T, s *Service, lk *liveKey) []byte {
	t.Helper()
	blob, _, err := s.seal(lk, []byte("in flight"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return blob
}
