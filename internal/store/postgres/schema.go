package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// migrations[i] takes the schema from version i to version i+1. Append
// only: a released migration never changes, and a database is never
// migrated down.
var migrations = []string{
	// 1: every record of every store.Table in one table (docs/postgres.md
	// says why). bytea keys compare byte by byte, which is bbolt's order.
	// fillfactor leaves room in each page so that replacing a value can
	// be a HOT update, which touches no index.
	`CREATE TABLE trent_records (
		tbl   text COLLATE "C" NOT NULL,
		key   bytea NOT NULL,
		value bytea NOT NULL,
		PRIMARY KEY (tbl, key)
	) WITH (fillfactor = 90)`,
}

// SchemaVersion is the version of the schema this trent creates and uses.
var SchemaVersion = len(migrations)

// schemaLock is the advisory lock that serializes migrations of one
// database ("trent" in ASCII). Advisory locks are per database.
const schemaLock = 0x7472656e74

// migrate brings the schema to SchemaVersion. Processes that start at once
// queue on the advisory lock, so one migrates and the others find the
// work done. It runs READ COMMITTED on purpose: each statement then sees
// what was committed before it, including by the process that held the
// lock before us (a REPEATABLE READ snapshot would be taken before the
// wait and miss it).
func (s *Store) migrate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("store: postgres: %w", err)
	}
	defer conn.Release()
	err = pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(schemaLock)); err != nil {
			return err
		}
		// Look before creating: CREATE ... IF NOT EXISTS needs the
		// privilege to create even when there is nothing to do, and a
		// role that only reads and writes records should be able to open
		// a database that is up to date.
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT to_regclass('trent_schema_version') IS NOT NULL").Scan(&exists); err != nil {
			return err
		}
		if !exists {
			_, err := tx.Exec(ctx, `CREATE TABLE trent_schema_version (
				version    integer PRIMARY KEY,
				applied_at timestamptz NOT NULL DEFAULT now()
			)`)
			if err != nil {
				return err
			}
		}
		var version int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM trent_schema_version").Scan(&version); err != nil {
			return err
		}
		if version > SchemaVersion {
			return fmt.Errorf("the database's schema is version %d, newer than this trent's (%d): upgrade trent", version, SchemaVersion)
		}
		for v := version; v < SchemaVersion; v++ {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migrating to version %d: %w", v+1, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO trent_schema_version (version) VALUES ($1)", v+1); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: postgres: schema: %w", err)
	}
	return nil
}
