package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/postgres/pgtest"
)

// deliveryBound is the delay within which a committed change must reach
// another Store's Watch in these tests. It is generous for a loaded
// machine; the delays measured are logged (and given in docs/postgres.md).
const deliveryBound = time.Second

type event struct {
	table store.Table
	key   string
	at    time.Time
}

func (e event) everything() bool { return e.table == "" && e.key == "" }

// watch runs s.Watch until t ends and returns what it reports, after the
// first "everything" (so the caller knows it is listening).
func watch(t *testing.T, s *Store) <-chan event {
	t.Helper()
	events := make(chan event, 100000)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Watch(ctx, func(table store.Table, key string) {
			events <- event{table, key, time.Now()}
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch returned %v", err)
		}
	})
	select {
	case e := <-events:
		if !e.everything() {
			t.Fatalf("first report %+v, want everything", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not connect")
	}
	return events
}

// next returns the next report, failing t if none comes within d.
func next(t *testing.T, events <-chan event, d time.Duration) event {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(d):
		t.Fatalf("nothing reported within %v", d)
		return event{}
	}
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

// TestWatchDelivers: changes committed through one Store reach another
// Store's Watch (two processes on one database), within deliveryBound,
// in commit order; a rolled-back Update reports nothing.
func TestWatchDelivers(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	a, b := open(t, dsn, Config{}), open(t, dsn, Config{})
	events := watch(t, b)

	const n = 200
	var delays, sinceStart []time.Duration
	for i := range n {
		key := fmt.Sprintf("us-east-1/\x00\xff%d", i) // not UTF-8: keys travel encoded
		var err error
		begun := time.Now()
		if i%5 == 4 {
			err = a.Update(func(tx store.Tx) error { return tx.Delete(store.Keys, key) })
		} else {
			err = a.Update(func(tx store.Tx) error { return tx.Put(store.Keys, key, []byte("v")) })
		}
		if err != nil {
			t.Fatal(err)
		}
		committed := time.Now()
		e := next(t, events, deliveryBound)
		sinceStart = append(sinceStart, e.at.Sub(begun))
		if e.table != store.Keys || e.key != key {
			t.Fatalf("change %d reported as %+v, want %s/%q", i, e, store.Keys, key)
		}
		delays = append(delays, max(e.at.Sub(committed), 0))
	}
	t.Logf("delivery after Update returned, %d changes: median %v, 99th percentile %v, max %v",
		n, percentile(delays, 0.5), percentile(delays, 0.99), percentile(delays, 1))
	t.Logf("delivery after Update was called: median %v, 99th percentile %v, max %v",
		percentile(sinceStart, 0.5), percentile(sinceStart, 0.99), percentile(sinceStart, 1))

	// Rolled back: nothing. Then a marker, which must be the next report.
	a.Update(func(tx store.Tx) error {
		tx.Put(store.Keys, "ghost", nil)
		return errors.New("no")
	})
	a.View(func(tx store.Tx) error { _, err := tx.Get(store.Keys, "x"); return err })
	if err := a.Update(func(tx store.Tx) error { return tx.Put(store.Aliases, "marker", nil) }); err != nil {
		t.Fatal(err)
	}
	if e := next(t, events, deliveryBound); e.table != store.Aliases || e.key != "marker" {
		t.Fatalf("after a rolled-back Update, got %+v, want the marker", e)
	}
	// A Store's own changes are reported to it too.
	if err := b.Update(func(tx store.Tx) error { return tx.Put(store.Meta, "own", nil) }); err != nil {
		t.Fatal(err)
	}
	if e := next(t, events, deliveryBound); e.table != store.Meta || e.key != "own" {
		t.Fatalf("got %+v, want own change", e)
	}
}

// TestWatchCoalesces: a transaction's changes travel in few payloads; one
// too big for maxPayloads of them is reported as "everything".
func TestWatchCoalesces(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	a, b := open(t, dsn, Config{}), open(t, dsn, Config{})
	events := watch(t, b)
	put := func(n int) map[string]bool {
		keys := map[string]bool{}
		err := a.Update(func(tx store.Tx) error {
			for i := range n {
				k := fmt.Sprintf("account-%012d/us-east-1/%08d-aaaa-bbbb-cccc-dddddddddddd", i, i)
				keys[k] = true
				if err := tx.Put(store.KeysByAcc, k, nil); err != nil {
					return err
				}
				if err := tx.Put(store.KeysByAcc, k, []byte("twice")); err != nil { // reported once
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	keys := put(300) // several payloads
	for len(keys) > 0 {
		e := next(t, events, deliveryBound)
		if e.table != store.KeysByAcc || !keys[e.key] {
			t.Fatalf("unexpected report %+v", e)
		}
		delete(keys, e.key)
	}
	put(5000) // more than maxPayloads
	if e := next(t, events, deliveryBound); !e.everything() {
		t.Fatalf("a huge transaction reported as %+v, want everything", e)
	}
	select {
	case e := <-events:
		t.Fatalf("extra report %+v", e)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestPayloads(t *testing.T) {
	changes := map[change]struct{}{}
	for i := range 1000 {
		changes[change{store.Keys, fmt.Sprintf("k\xff%d", i)}] = struct{}{}
	}
	ps := payloads(changes)
	if len(ps) < 2 || len(ps) > maxPayloads {
		t.Fatalf("%d payloads for 1000 keys", len(ps))
	}
	got := map[change]struct{}{}
	for _, p := range ps {
		if len(p) >= 8000 {
			t.Fatalf("payload of %d bytes", len(p))
		}
		if strings.ContainsAny(p, "'\\\x00") {
			t.Fatal("payload needs quoting")
		}
		dispatch(p, func(tb store.Table, k string) { got[change{tb, k}] = struct{}{} })
	}
	if len(got) != len(changes) {
		t.Fatalf("%d of %d changes decoded", len(got), len(changes))
	}
	for c := range changes {
		if _, ok := got[c]; !ok {
			t.Fatalf("change %+v lost", c)
		}
	}
	long := map[change]struct{}{{store.Keys, strings.Repeat("x", 7000)}: {}}
	if ps := payloads(long); !slices.Equal(ps, []string{everything}) {
		t.Fatalf("a key too long to name gave %d payloads", len(ps))
	}
	for _, bad := range []string{"*", "", "2\nkeys YQ", "1\nkeys !!!", "1\nnospace"} {
		var reports []event
		dispatch(bad, func(tb store.Table, k string) { reports = append(reports, event{table: tb, key: k}) })
		if len(reports) != 1 || !reports[0].everything() {
			t.Errorf("payload %q reported as %+v, want everything", bad, reports)
		}
	}
}

// TestWatchReconnects: when the server ends Watch's connection, Watch
// says "everything" (changes may have been missed), connects again and
// goes on delivering.
func TestWatchReconnects(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	a, b := open(t, dsn, Config{}), open(t, dsn, Config{})
	events := watch(t, b)
	conn := connect(t, dsn)
	for round := range 3 {
		var killed int
		err := conn.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'trent watch'`).Scan(&killed)
		if err != nil || killed != 1 {
			t.Fatalf("terminated %d watch connections: %v", killed, err)
		}
		start := time.Now()
		// "everything" at the loss, and again once listening anew; a
		// change after that is delivered.
		if e := next(t, events, deliveryBound); !e.everything() {
			t.Fatalf("after termination got %+v, want everything", e)
		}
		var last time.Time
		for last.IsZero() {
			e := next(t, events, deliveryBound)
			if !e.everything() {
				t.Fatalf("got %+v, want everything", e)
			}
			// Listening again once the watch connection is back.
			var n int
			conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND application_name = 'trent watch'`).Scan(&n)
			if n == 1 {
				last = e.at
			}
		}
		t.Logf("round %d: listening again %v after the termination", round, last.Sub(start))
		if err := a.Update(func(tx store.Tx) error { return tx.Put(store.Keys, "after", nil) }); err != nil {
			t.Fatal(err)
		}
		for {
			e := next(t, events, deliveryBound)
			if e.key == "after" {
				break
			}
			if !e.everything() {
				t.Fatalf("got %+v", e)
			}
		}
	}
	if s := b.Stats(); s.Updates != 0 {
		t.Fatalf("watching used transactions: %+v", s)
	}
}

// TestWatchNoticesSilentBreak: a connection that stops carrying anything
// without being closed (a network partition) is noticed within twice
// WatchPing, and Watch says "everything".
func TestWatchNoticesSilentBreak(t *testing.T) {
	srv := pgtest.Shared(t)
	dsn := srv.NewDatabase(t)
	p := newProxy(t, fmt.Sprintf("127.0.0.1:%d", srv.Port()))
	viaProxy := strings.Replace(dsn, fmt.Sprintf(":%d/", srv.Port()), fmt.Sprintf(":%d/", p.port()), 1)
	const ping = 200 * time.Millisecond
	a, b := open(t, dsn, Config{}), open(t, viaProxy, Config{WatchPing: ping})
	events := watch(t, b)
	if err := a.Update(func(tx store.Tx) error { return tx.Put(store.Keys, "before", nil) }); err != nil {
		t.Fatal(err)
	}
	if e := next(t, events, deliveryBound); e.key != "before" {
		t.Fatalf("got %+v", e)
	}
	p.freeze() // what is connected now hears nothing more; new connections work
	start := time.Now()
	e := next(t, events, 2*ping+deliveryBound)
	if !e.everything() {
		t.Fatalf("got %+v, want everything", e)
	}
	t.Logf("silent break noticed after %v (WatchPing %v)", e.at.Sub(start), ping)
	// A change made before Watch listens again is covered by its
	// "everything"; keep changing until one is delivered.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		key := fmt.Sprint("after", i)
		if err := a.Update(func(tx store.Tx) error { return tx.Put(store.Keys, key, nil) }); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-events:
			if strings.HasPrefix(e.key, "after") { // this one or an earlier one
				t.Logf("delivering again %v after the break", time.Since(start))
				return
			}
			if !e.everything() {
				t.Fatalf("got %+v", e)
			}
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no change delivered after the break")
		}
	}
}

// proxy forwards TCP connections to a target; freeze makes the current
// ones drop everything from then on, without closing them.
type proxy struct {
	l      net.Listener
	mu     sync.Mutex
	frozen map[net.Conn]bool
	conns  []net.Conn
	done   chan struct{}
}

func newProxy(t *testing.T, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, frozen: map[net.Conn]bool{}, done: make(chan struct{})}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(p.done)
		l.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			wg.Go(func() { p.pipe(c, u) })
			wg.Go(func() { p.pipe(u, c) })
		}
	})
	return p
}

func (p *proxy) port() int { return p.l.Addr().(*net.TCPAddr).Port }

func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		p.frozen[c] = true
	}
}

func (p *proxy) pipe(from, to net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if err != nil {
			to.Close()
			return
		}
		p.mu.Lock()
		frozen := p.frozen[from]
		p.mu.Unlock()
		if frozen {
			continue // dropped on the floor, like a partitioned network
		}
		if _, err := to.Write(buf[:n]); err != nil {
			io.Copy(io.Discard, from)
			return
		}
	}
}

// TestCloseEndsWatch: Close makes a running Watch return nil, and later
// transactions fail instead of hanging.
func TestCloseEndsWatch(t *testing.T) {
	s := newStore(t)
	done := make(chan error, 1)
	listening := make(chan struct{}, 1)
	go func() {
		done <- s.Watch(context.Background(), func(store.Table, string) {
			select {
			case listening <- struct{}{}:
			default:
			}
		})
	}()
	<-listening
	s.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Watch returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch still running after Close")
	}
	if err := s.View(func(store.Tx) error { return nil }); !errors.Is(err, errClosed) {
		t.Fatalf("View after Close: %v", err)
	}
}
