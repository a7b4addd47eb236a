package kms

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/store"
)

// countingStore counts the write transactions a service makes.
type countingStore struct {
	store.Store
	updates atomic.Int64
}

func (c *countingStore) Update(fn func(store.Tx) error) error {
	c.updates.Add(1)
	return c.Store.Update(fn)
}

// TestLastUsageOffTheHotPath: a stream of cryptographic operations makes no
// write transaction at all; the flusher writes each key's last use once per
// interval (here, at Close), and GetKeyLastUsage then reports the latest.
func TestLastUsageOffTheHotPath(t *testing.T) {
	ctx := context.Background()
	first, db := newTestService(t, t.TempDir())
	counted := &countingStore{Store: db}
	s, err := New(Config{Store: counted, RootKey: first.root, ScheduleInterval: -1, UsageFlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	call := devCall
	ids := []string{createKey(t, s, call, &kmsapi.CreateKeyRequest{}), createKey(t, s, call, &kmsapi.CreateKeyRequest{})}
	counted.updates.Store(0)
	var blob []byte
	for i := range 300 {
		c := call
		c.RequestID = "req-" + strconv.Itoa(i)
		blob = encrypt(t, s, c, ids[i%2], "x")
		decrypt(t, s, c, blob)
	}
	if n := counted.updates.Load(); n != 0 {
		t.Fatalf("600 cryptographic operations made %d write transactions", n)
	}
	if err := s.Close(); err != nil { // flushes
		t.Fatal(err)
	}
	if n := counted.updates.Load(); n != 1 {
		t.Fatalf("the flush of two keys' last use made %d write transactions, want 1", n)
	}
	out := must[*kmsapi.GetKeyLastUsageResponse](t)(first.GetKeyLastUsage(ctx, &call, &kmsapi.GetKeyLastUsageRequest{KeyId: new(ids[1])}))
	if u := out.KeyLastUsage; u == nil || u.GetOperation() != kmsapi.KeyLastUsageTrackingOperationDecrypt || u.GetKmsRequestId() != "req-299" {
		t.Fatalf("the last use after the flush: %+v", out.KeyLastUsage)
	}
}
