package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/trent-kms/trent/internal/store"
)

// Statements on trent_records. Keys are bytea, compared byte by byte, so
// ORDER BY key is bbolt's order; prefixes are ranges, not LIKE patterns.
const (
	sqlGet    = "SELECT value FROM trent_records WHERE tbl = $1 AND key = $2"
	sqlPut    = "INSERT INTO trent_records (tbl, key, value) VALUES ($1, $2, $3) ON CONFLICT (tbl, key) DO UPDATE SET value = EXCLUDED.value"
	sqlDelete = "DELETE FROM trent_records WHERE tbl = $1 AND key = $2"
	// Scan pages: from (>=) or after (>) a key, below an upper bound or not.
	sqlScanFrom       = "SELECT key, value FROM trent_records WHERE tbl = $1 AND key >= $2 ORDER BY key LIMIT $3"
	sqlScanAfter      = "SELECT key, value FROM trent_records WHERE tbl = $1 AND key > $2 ORDER BY key LIMIT $3"
	sqlScanFromUntil  = "SELECT key, value FROM trent_records WHERE tbl = $1 AND key >= $2 AND key < $4 ORDER BY key LIMIT $3"
	sqlScanAfterUntil = "SELECT key, value FROM trent_records WHERE tbl = $1 AND key > $2 AND key < $4 ORDER BY key LIMIT $3"
)

// scanPage is how many rows Scan reads per query. Scan reads whole pages
// before calling fn, because fn may use the Tx (a Get per listed key) and
// a connection runs one statement at a time.
const scanPage = 128

var tables = func() map[store.Table]bool {
	m := make(map[store.Table]bool)
	for _, t := range store.Tables {
		m[t] = true
	}
	return m
}()

type change struct {
	table store.Table
	key   string
}

type pgTx struct {
	ctx   context.Context
	conn  *pgxpool.Conn
	write bool
	// err is the first statement that failed. The server has aborted the
	// transaction then, so every later call fails with it too.
	err error
	// changes are the records written, for the commit's notification
	// (nil when notifications are off).
	changes map[change]struct{}
}

var errReadOnly = errors.New("store: postgres: write in a read-only transaction")

func (t *pgTx) check(table store.Table, write bool) error {
	if t.err != nil {
		return t.err
	}
	if !tables[table] {
		return fmt.Errorf("store: no table %q", table)
	}
	if write && !t.write {
		return errReadOnly
	}
	return nil
}

func (t *pgTx) fail(err error) error {
	t.err = fmt.Errorf("store: postgres: %w", err)
	return t.err
}

func (t *pgTx) Get(table store.Table, key string) ([]byte, error) {
	if err := t.check(table, false); err != nil {
		return nil, err
	}
	var v []byte
	err := t.conn.QueryRow(t.ctx, sqlGet, string(table), []byte(key)).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, t.fail(err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

func (t *pgTx) Put(table store.Table, key string, value []byte) error {
	if err := t.check(table, true); err != nil {
		return err
	}
	if value == nil {
		value = []byte{} // pgx sends nil as NULL; the column is NOT NULL
	}
	if _, err := t.conn.Exec(t.ctx, sqlPut, string(table), []byte(key), value); err != nil {
		return t.fail(err)
	}
	t.changed(table, key)
	return nil
}

func (t *pgTx) Delete(table store.Table, key string) error {
	if err := t.check(table, true); err != nil {
		return err
	}
	if _, err := t.conn.Exec(t.ctx, sqlDelete, string(table), []byte(key)); err != nil {
		return t.fail(err)
	}
	t.changed(table, key)
	return nil
}

func (t *pgTx) changed(table store.Table, key string) {
	if t.changes != nil {
		t.changes[change{table, key}] = struct{}{}
	}
}

func (t *pgTx) Scan(table store.Table, prefix, after string, fn func(string, []byte) (bool, error)) error {
	if err := t.check(table, false); err != nil {
		return err
	}
	from, strict := []byte(prefix), false
	if after != "" && after >= prefix {
		from, strict = []byte(after), true
	}
	until, bounded := prefixEnd(prefix)
	type row struct {
		key   string
		value []byte
	}
	page := make([]row, 0, scanPage)
	for {
		if t.err != nil {
			return t.err // fn's use of the Tx failed and it went on
		}
		var rows pgx.Rows
		var err error
		switch {
		case strict && bounded:
			rows, err = t.conn.Query(t.ctx, sqlScanAfterUntil, string(table), from, scanPage, until)
		case bounded:
			rows, err = t.conn.Query(t.ctx, sqlScanFromUntil, string(table), from, scanPage, until)
		case strict:
			rows, err = t.conn.Query(t.ctx, sqlScanAfter, string(table), from, scanPage)
		default:
			rows, err = t.conn.Query(t.ctx, sqlScanFrom, string(table), from, scanPage)
		}
		if err != nil {
			return t.fail(err)
		}
		page = page[:0]
		for rows.Next() {
			var k, v []byte
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return t.fail(err)
			}
			if v == nil {
				v = []byte{}
			}
			page = append(page, row{string(k), v})
		}
		if err := rows.Err(); err != nil {
			return t.fail(err)
		}
		for _, r := range page {
			more, err := fn(r.key, r.value)
			if err != nil || !more {
				return err
			}
		}
		if len(page) < scanPage {
			return nil
		}
		from, strict = []byte(page[len(page)-1].key), true
	}
}

// prefixEnd returns the least key above every key that starts with
// prefix: prefix with its last byte that is not 0xff incremented, and
// what follows it dropped. An empty prefix, or one of 0xff bytes only,
// has no such bound.
func prefixEnd(prefix string) ([]byte, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0xff {
			b[i]++
			return b[:i+1], true
		}
	}
	return nil, false
}
