package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/postgres/pgtest"
)

// TestDeletedValuesLinger is why Store is not a store.Scrubber, and the
// evidence for docs/postgres.md: deleted values stay in the database's
// files after VACUUM, in the free space of pages that still hold live
// rows; VACUUM FULL clears the table's files but the WAL still has them.
// Small values live in the table, large ones (4000 bytes) in its TOAST
// table: both behave alike.
func TestDeletedValuesLinger(t *testing.T) {
	srv := pgtest.Shared(t)
	dsn := srv.NewDatabase(t)
	s := open(t, dsn, Config{})
	ctx := context.Background()
	owner, admin := connect(t, dsn), connect(t, srv.AdminDSN())
	for _, size := range []int{64, 4000} {
		t.Run(fmt.Sprint(size, "bytes"), func(t *testing.T) {
			// Random values: nothing to compress, so they are stored as is.
			var deleted [][]byte
			err := s.Update(func(tx store.Tx) error {
				deleted = deleted[:0]
				for i := range 50 {
					v := make([]byte, size)
					rand.Read(v)
					if i%2 == 1 {
						deleted = append(deleted, v[:32])
					}
					if err := tx.Put(store.Keys, fmt.Sprint(size, "/", i), v); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Update(func(tx store.Tx) error {
				for i := 1; i < 50; i += 2 { // every other one: pages keep live rows
					if err := tx.Delete(store.Keys, fmt.Sprint(size, "/", i)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			exec := func(sqls ...string) {
				for _, sql := range sqls {
					conn := owner
					if sql == "CHECKPOINT" {
						conn = admin // superuser (or pg_checkpoint) only
					}
					if _, err := conn.Exec(ctx, sql); err != nil {
						t.Fatal(sql, err)
					}
				}
			}
			exec("VACUUM trent_records", "CHECKPOINT")
			found := findIn(srv.DataDir(), deleted)
			t.Logf("after DELETE, VACUUM, CHECKPOINT: %v", found)
			if found["base"] == 0 {
				t.Error("no deleted value left in the table's files after VACUUM: revisit docs/postgres.md")
			}
			exec("VACUUM FULL trent_records", "CHECKPOINT")
			found = findIn(srv.DataDir(), deleted)
			t.Logf("after VACUUM FULL, CHECKPOINT: %v", found)
			if found["base"] != 0 {
				t.Error("deleted values in the table's files after VACUUM FULL")
			}
			if found["pg_wal"] == 0 {
				t.Error("no deleted value in the WAL: revisit docs/postgres.md")
			}
		})
	}
}

// findIn counts, per top directory of the data directory (base, pg_wal,
// ...), the needles found in its files.
func findIn(dir string, needles [][]byte) map[string]int {
	found := map[string]int{}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		top, _, _ := strings.Cut(rel, string(filepath.Separator))
		for _, n := range needles {
			if bytes.Contains(b, n) {
				found[top]++
			}
		}
		return nil
	})
	return found
}
