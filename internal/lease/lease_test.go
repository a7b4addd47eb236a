package lease

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/bolt"
)

func TestLease(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a := &Lease{Store: db, Table: store.Meta, Key: "l", Holder: "a", TTL: time.Minute}
	b := &Lease{Store: db, Table: store.Meta, Key: "l", Holder: "b", TTL: time.Minute}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	take := func(l *Lease, at time.Time, want bool) {
		t.Helper()
		ok, err := l.Take(at)
		if err != nil || ok != want {
			t.Fatalf("%s takes at %v: %v, %v; want %v", l.Holder, at, ok, err, want)
		}
	}
	take(a, t0, true)
	take(b, t0.Add(time.Second), false)
	take(a, t0.Add(30*time.Second), true) // renewed: until t0+90s
	take(b, t0.Add(80*time.Second), false)
	take(b, t0.Add(90*time.Second), true) // a's lease ended
	take(a, t0.Add(91*time.Second), false)

	// Many takers at once, on a free lease: exactly one wins.
	var wg sync.WaitGroup
	wins := make(chan string, 20)
	at := t0.Add(time.Hour)
	for i := range 20 {
		l := &Lease{Store: db, Table: store.Meta, Key: "race", Holder: string(rune('a' + i)), TTL: time.Minute}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := l.Take(at); err != nil {
				t.Error(err)
			} else if ok {
				wins <- l.Holder
			}
		}()
	}
	wg.Wait()
	close(wins)
	if n := len(wins); n != 1 {
		t.Fatalf("%d takers won a free lease at once, want 1", n)
	}
}
