// Package postgres is trent's shared store backend: one PostgreSQL
// database that any number of trent processes use at once.
//
// All records live in one table, trent_records (tbl, key, value), keyed by
// the store.Table's name and the record's key as bytea, so that keys are
// arbitrary bytes and order as bbolt orders them. trent creates and
// migrates the schema itself (schema.go). Update runs SERIALIZABLE and is
// retried on serialization failures and deadlocks; View runs REPEATABLE
// READ READ ONLY. Every Update that changes records sends a notification
// on commit, which Watch delivers to every process (watch.go).
//
// docs/postgres.md describes the design, its limits and its tuning.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/trent-kms/trent/internal/store"
)

// Config says how to reach the database and how to behave there. Only DSN
// is required; a zero field takes the default given.
type Config struct {
	// DSN is a libpq connection string or postgres:// URL; the PG*
	// environment variables fill in what it leaves out. pgx settings it
	// carries (default_query_exec_mode, ...) apply; pool_max_conns and
	// pool_min_conns do not, the fields below decide.
	DSN string
	// MaxConns bounds the connection pool (default 16).
	MaxConns int32
	// MinConns is how many connections the pool keeps open when idle (default 0).
	MinConns int32
	// StatementTimeout bounds each statement on the server (default 5s).
	StatementTimeout time.Duration
	// TxTimeout bounds one attempt of a transaction (default 15s): the
	// client gives up on it, and the server ends a session left idle in
	// a transaction that long (a process stalled mid-transaction does not
	// hold its locks for longer).
	TxTimeout time.Duration
	// MaxAttempts bounds how often a transaction is run when it keeps
	// failing on a conflict or a lost connection (default 30).
	MaxAttempts int
	// NoNotify stops Updates from sending change notifications. Set it
	// only when no other process uses the database: it saves a little on
	// every write, and Watch then reports only reconnections.
	NoNotify bool
	// WatchPing is how long Watch's connection may be silent before Watch
	// checks it with a round trip, and how long that check may take
	// (default 2s). It bounds how long a silently broken connection goes
	// unnoticed: at most twice this.
	WatchPing time.Duration
	// Logger receives the reconnections of Watch (nil: slog.Default()).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.MaxConns == 0 {
		c.MaxConns = 16
	}
	if c.StatementTimeout == 0 {
		c.StatementTimeout = 5 * time.Second
	}
	if c.TxTimeout == 0 {
		c.TxTimeout = 15 * time.Second
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 30
	}
	if c.WatchPing == 0 {
		c.WatchPing = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Store is a store.Store on PostgreSQL. It is safe for concurrent use, and
// any number of Stores, in any number of processes, may use one database.
type Store struct {
	cfg  Config
	pool *pgxpool.Pool

	closeOnce sync.Once
	closed    chan struct{} // closed by Close: ends Watch

	stats struct {
		views, updates, retries, conflicts, lost atomic.Uint64
	}
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Watcher = (*Store)(nil)
)

// Stats counts what a Store has done since it opened.
type Stats struct {
	Views, Updates uint64 // transactions that ended (committed, failed or rolled back)
	Retries        uint64 // attempts run again, for any reason
	Conflicts      uint64 // attempts that failed on a serialization failure or deadlock
	LostConns      uint64 // attempts that failed because their connection was lost
}

// Stats returns the counters of s.
func (s *Store) Stats() Stats {
	return Stats{
		Views:     s.stats.views.Load(),
		Updates:   s.stats.updates.Load(),
		Retries:   s.stats.retries.Load(),
		Conflicts: s.stats.conflicts.Load(),
		LostConns: s.stats.lost.Load(),
	}
}

// Open connects to the database, creates or migrates trent's schema, and
// returns the Store. ctx bounds only the opening.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.DSN == "" {
		// pgx would connect to libpq's defaults: never what was meant.
		return nil, errors.New("store: postgres: no DSN")
	}
	cfg.setDefaults()
	pcfg, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		// pgx's message quotes the DSN, password included: do not repeat it.
		return nil, errors.New("store: postgres: the DSN does not parse")
	}
	pcfg.MaxConns = cfg.MaxConns
	pcfg.MinConns = cfg.MinConns
	// Session settings travel in the startup message: no round trip, and
	// they hold on every connection the pool ever makes.
	rp := pcfg.ConnConfig.RuntimeParams
	rp["statement_timeout"] = strconv.FormatInt(cfg.StatementTimeout.Milliseconds(), 10)
	rp["idle_in_transaction_session_timeout"] = strconv.FormatInt(cfg.TxTimeout.Milliseconds(), 10)
	if _, ok := rp["application_name"]; !ok {
		rp["application_name"] = "trent"
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	s := &Store{cfg: cfg, pool: pool, closed: make(chan struct{})}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close stops every Watch, waits for transactions in flight and closes the
// connections.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.pool.Close()
	})
	return nil
}

var errClosed = errors.New("store: postgres: store is closed")

func (s *Store) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// View runs fn in a REPEATABLE READ READ ONLY transaction: one snapshot of
// committed data, no predicate locks, never a serialization failure.
func (s *Store) View(fn func(store.Tx) error) error {
	defer s.stats.views.Add(1)
	return s.run(false, fn)
}

// Update runs fn in a SERIALIZABLE transaction, and runs it again (up to
// MaxAttempts in all) when the database refuses to commit it for a
// conflict with another transaction, or the connection is lost before
// COMMIT was sent. A connection lost during COMMIT is not retried: the
// transaction may have committed, and the error says so.
func (s *Store) Update(fn func(store.Tx) error) error {
	defer s.stats.updates.Add(1)
	return s.run(true, fn)
}

func (s *Store) run(write bool, fn func(store.Tx) error) error {
	for attempt := 1; ; attempt++ {
		if s.isClosed() {
			return errClosed
		}
		err, retry := s.attempt(write, fn)
		if !retry {
			return err
		}
		if attempt >= s.cfg.MaxAttempts {
			return fmt.Errorf("store: postgres: giving up after %d attempts: %w", attempt, err)
		}
		s.stats.retries.Add(1)
		time.Sleep(backoff(attempt))
	}
}

// backoff is "full jitter": a random wait up to a ceiling that doubles
// with each attempt, so that conflicting transactions spread out instead
// of colliding again in step.
func backoff(attempt int) time.Duration {
	ceiling := time.Millisecond << min(attempt, 8) // 2ms .. 256ms
	return rand.N(ceiling) + 100*time.Microsecond
}

const (
	beginView   = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
	beginUpdate = "BEGIN ISOLATION LEVEL SERIALIZABLE READ WRITE"
)

// attempt runs fn once. retry says whether running it again may succeed
// and is safe: the transaction certainly did not commit.
func (s *Store) attempt(write bool, fn func(store.Tx) error) (err error, retry bool) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.TxTimeout)
	defer cancel()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("store: postgres: %w", err), s.retryable(ctx, err, nil)
	}
	// Release destroys a connection left in a transaction or broken, so
	// every path below may simply return.
	defer conn.Release()
	begin := beginView
	if write {
		begin = beginUpdate
	}
	if _, err := conn.Exec(ctx, begin); err != nil {
		return fmt.Errorf("store: postgres: %w", err), s.retryable(ctx, err, conn)
	}
	tx := &pgTx{ctx: ctx, conn: conn, write: write}
	if write && !s.cfg.NoNotify {
		tx.changes = make(map[change]struct{})
	}
	ferr := fn(tx)
	if tx.err != nil {
		// A statement failed, so the server has aborted the transaction,
		// whatever fn made of the error.
		rollback(conn)
		if s.retryable(ctx, tx.err, conn) {
			return tx.err, true
		}
		if ferr != nil {
			return ferr, false
		}
		return tx.err, false
	}
	if ferr != nil {
		rollback(conn)
		return ferr, false
	}
	commit := "COMMIT"
	if len(tx.changes) > 0 {
		commit = notifySQL(tx.changes) + "; COMMIT"
	}
	tag, err := conn.Exec(ctx, commit)
	if err == nil && tag.String() != "COMMIT" {
		err = fmt.Errorf("COMMIT ended as %q", tag)
	}
	if err == nil {
		return nil, false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Severity != "FATAL" && pgErr.Severity != "PANIC" {
		// The server answered: the transaction rolled back.
		return fmt.Errorf("store: postgres: commit: %w", err), s.retryable(ctx, err, conn)
	}
	if !write {
		// Nothing to lose: the reads were done.
		return fmt.Errorf("store: postgres: %w", err), s.retryable(ctx, err, conn)
	}
	return fmt.Errorf("store: postgres: connection lost during COMMIT, the transaction may or may not have committed: %w", err), false
}

func rollback(conn *pgxpool.Conn) {
	if conn.Conn().IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn.Exec(ctx, "ROLLBACK") // on failure Release drops the connection
}

// retryable reports whether a transaction that failed with err before it
// could commit is worth running again.
func (s *Store) retryable(ctx context.Context, err error, conn *pgxpool.Conn) bool {
	if ctx.Err() != nil || s.isClosed() {
		return false // our own time-out, or closing: give up
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "40001", pgErr.Code == "40P01": // serialization failure, deadlock
			s.stats.conflicts.Add(1)
			return true
		case strings.HasPrefix(pgErr.Code, "08"), pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03",
			pgErr.Code == "53300":
			// connection exception; backend terminated, server crashed or
			// starting; too many connections (a new one may be let in later)
			s.stats.lost.Add(1)
			return true
		}
		return false // the server refused the statement: running it again will not help
	}
	// Not the server's answer: the network, or a connection that closed.
	if (conn != nil && conn.Conn().IsClosed()) || pgconn.SafeToRetry(err) || conn == nil {
		s.stats.lost.Add(1)
		return true
	}
	return false
}
