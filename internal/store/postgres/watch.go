package postgres

import (
	"context"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/trent-kms/trent/internal/store"
)

// Change notifications.
//
// An Update that changed records sends, inside its transaction and so only
// if it commits, NOTIFY on channel trent_changes with payloads
//
//	"1\n" table " " base64url(key) ("\n" table " " base64url(key))...
//
// each under PostgreSQL's limit of 8000 bytes, or the single payload "*"
// ("anything may have changed") when the changes would need more than
// maxPayloads of them. Keys are encoded because a payload must be text and
// keys are arbitrary bytes. A payload a process does not understand counts
// as "*".
const (
	notifyChannel = "trent_changes"
	payloadHeader = "1\n"
	everything    = "*"
	maxPayload    = 7900 // < 8000, with room to spare
	maxPayloads   = 8
)

// payloads coalesces changes into as few payloads as fit, in a stable order.
func payloads(changes map[change]struct{}) []string {
	entries := make([]string, 0, len(changes))
	for c := range changes {
		entries = append(entries, string(c.table)+" "+base64.RawURLEncoding.EncodeToString([]byte(c.key)))
	}
	sort.Strings(entries)
	var out []string
	var b strings.Builder
	for _, e := range entries {
		if len(payloadHeader)+len(e) > maxPayload {
			return []string{everything} // a key too long to name
		}
		if b.Len() > 0 && b.Len()+1+len(e) > maxPayload {
			out = append(out, b.String())
			b.Reset()
		}
		if b.Len() == 0 {
			b.WriteString(payloadHeader)
		} else {
			b.WriteByte('\n')
		}
		b.WriteString(e)
		if len(out) >= maxPayloads {
			return []string{everything}
		}
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	if len(out) > maxPayloads {
		return []string{everything}
	}
	return out
}

// notifySQL is one statement that sends the notifications for changes. It
// goes in the same simple-protocol message as COMMIT, so notifying costs
// no round trip. The payloads are made of table names (fixed, plain
// ASCII), base64url and newlines: nothing that needs quoting in a literal.
func notifySQL(changes map[change]struct{}) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, p := range payloads(changes) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("pg_notify('" + notifyChannel + "', '" + p + "')")
	}
	return b.String()
}

// dispatch calls fn for each record a payload names.
func dispatch(payload string, fn func(store.Table, string)) {
	body, ok := strings.CutPrefix(payload, payloadHeader)
	if !ok {
		fn("", "")
		return
	}
	type rec struct {
		t store.Table
		k string
	}
	var recs []rec
	for line := range strings.SplitSeq(body, "\n") {
		t, enc, ok := strings.Cut(line, " ")
		key, err := base64.RawURLEncoding.DecodeString(enc)
		if !ok || err != nil {
			fn("", "")
			return
		}
		recs = append(recs, rec{store.Table(t), string(key)})
	}
	for _, r := range recs {
		fn(r.t, r.k)
	}
}

// Watch implements store.Watcher with LISTEN on a connection of its own,
// outside the pool. It reconnects when that connection fails, and checks
// it with a round trip after WatchPing of silence, so that a connection
// broken without a word (a network partition) is noticed within twice
// WatchPing. It returns nil when ctx ends or the Store is closed.
//
// Delivery: PostgreSQL sends a notification to listeners when the
// transaction that made it commits; see docs/postgres.md for the delay
// measured and the bound while the connection is down.
func (s *Store) Watch(ctx context.Context, fn func(store.Table, string)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	failures := 0
	for {
		connected, err := s.listen(ctx, fn)
		if ctx.Err() != nil {
			return nil
		}
		if connected {
			failures = 0
		}
		failures++
		s.cfg.Logger.Warn("store: postgres: change notifications interrupted; reconnecting", "err", err)
		// Changes may be missed from now until we listen again: tell the
		// caller to trust nothing it holds, now and after every failed try.
		fn("", "")
		// Jittered back-off, 50ms doubling to 1s: the delay between
		// "drop everything" calls while the database cannot be reached.
		d := min(50*time.Millisecond<<min(failures-1, 5), time.Second)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d/2 + rand.N(d/2)):
		}
	}
}

// listen runs one connection: connect, LISTEN, report "everything", then
// deliver notifications until the connection fails or ctx ends.
// connected says whether it got as far as listening.
func (s *Store) listen(ctx context.Context, fn func(store.Table, string)) (connected bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.TxTimeout)
	cc := s.pool.Config().ConnConfig.Copy()
	// Named apart from the pool's connections, for an operator (and the
	// tests) to find in pg_stat_activity.
	cc.RuntimeParams["application_name"] += " watch"
	conn, err := pgx.ConnectConfig(cctx, cc)
	if err != nil {
		cancel()
		return false, err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(cctx, "LISTEN "+notifyChannel)
	cancel()
	if err != nil {
		return false, err
	}
	// Listening from here on: whatever changed before is covered by this.
	fn("", "")
	for {
		wctx, cancel := context.WithTimeout(ctx, s.cfg.WatchPing)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err == nil {
			dispatch(n.Payload, fn)
			continue
		}
		if ctx.Err() != nil {
			return true, nil
		}
		if !pgconn.Timeout(err) {
			return true, err
		}
		// Silence: make sure the connection is still there.
		pctx, cancel := context.WithTimeout(ctx, s.cfg.WatchPing)
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return true, nil
			}
			return true, errors.Join(errors.New("ping failed"), err)
		}
	}
}
