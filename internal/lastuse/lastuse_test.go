package lastuse

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/bolt"
)

// TestTwoProcesses: two trackers on one store (two trent nodes) keep the
// later use, whichever flushes last; a deleted key's use is not written.
func TestTwoProcesses(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, err := Open(db, t0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(db, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !b.Start().Equal(t0) {
		t.Fatalf("the second tracker starts at %v, want the store's %v", b.Start(), t0)
	}
	k, gone := Key{"us-east-1", "k"}, Key{"us-east-1", "gone"}
	exists := func(_ store.Tx, key Key) (bool, error) { return key != gone, nil }
	b.Note(k, Use{Operation: kmsapi.KeyLastUsageTrackingOperationDecrypt, Time: t0.Add(2 * time.Minute), RequestID: "late"})
	a.Note(k, Use{Operation: kmsapi.KeyLastUsageTrackingOperationEncrypt, Time: t0.Add(time.Minute), RequestID: "early"})
	a.Note(k, Use{Operation: kmsapi.KeyLastUsageTrackingOperationSign, Time: t0, RequestID: "earlier"}) // older: ignored
	a.Note(gone, Use{Time: t0})
	if err := b.Flush(db, exists); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(db, exists); err != nil {
		t.Fatal(err)
	}
	db.View(func(tx store.Tx) error {
		for _, tr := range []*Tracker{a, b} {
			u, err := tr.Last(tx, k)
			if err != nil || u == nil || u.RequestID != "late" {
				t.Fatalf("last use %+v, %v; want the later one", u, err)
			}
		}
		if u, err := a.Last(tx, gone); err != nil || u != nil {
			t.Fatalf("a deleted key's use was written: %+v, %v", u, err)
		}
		return nil
	})
}
