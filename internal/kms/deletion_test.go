package kms

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/testclock"
)

// TestDeletionSchedule: the sweep deletes exactly the keys whose window has
// ended, a cancelled or rescheduled deletion leaves no stale schedule entry,
// and the schedule is empty once every due key is gone.
func TestDeletionSchedule(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, db := newTestServiceWith(t, t.TempDir(), Config{Now: clock.Now})
	defer db.Close()
	call := devCall
	ids := make([]string, 4)
	for i := range ids {
		out, err := s.CreateKey(ctx, &call, &kmsapi.CreateKeyRequest{})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = out.KeyMetadata.GetKeyId()
	}
	schedule := func(id string, days int32) {
		t.Helper()
		if _, err := s.ScheduleKeyDeletion(ctx, &call, &kmsapi.ScheduleKeyDeletionRequest{KeyId: new(id), PendingWindowInDays: new(days)}); err != nil {
			t.Fatal(err)
		}
	}
	schedule(ids[0], 7)
	schedule(ids[1], 10)
	schedule(ids[2], 7)
	if _, err := s.CancelKeyDeletion(ctx, &call, &kmsapi.CancelKeyDeletionRequest{KeyId: new(ids[2])}); err != nil {
		t.Fatal(err)
	}
	schedule(ids[3], 30)
	if _, err := s.CancelKeyDeletion(ctx, &call, &kmsapi.CancelKeyDeletionRequest{KeyId: new(ids[3])}); err != nil {
		t.Fatal(err)
	}
	schedule(ids[3], 8) // rescheduled: only the new date counts

	exists := func(id string) bool {
		err := db.View(func(tx store.Tx) error { _, err := tx.Get(store.Keys, keyStoreKey(call.Region, id)); return err })
		return !errors.Is(err, store.ErrNotFound)
	}
	sweep := func(at time.Time, wantDeleted int, wantLeft ...string) {
		t.Helper()
		clock.Set(at)
		n, err := s.RunScheduledWork(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != wantDeleted {
			t.Fatalf("at %s: deleted %d keys, want %d", at, n, wantDeleted)
		}
		for i, id := range ids {
			if want := slices.Contains(wantLeft, id); exists(id) != want {
				t.Fatalf("at %s: key %d exists=%v, want %v", at, i, !want, want)
			}
		}
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sweep(start.Add(7*24*time.Hour-time.Second), 0, ids...)
	sweep(start.Add(7*24*time.Hour), 1, ids[1], ids[2], ids[3])
	sweep(start.Add(8*24*time.Hour), 1, ids[1], ids[2])
	sweep(start.Add(30*24*time.Hour), 1, ids[2])

	entries := 0
	db.View(func(tx store.Tx) error {
		return tx.Scan(store.Schedule, "", "", func(string, []byte) (bool, error) { entries++; return true, nil })
	})
	if entries != 0 {
		t.Fatalf("%d stale entries left in the schedule", entries)
	}
}
