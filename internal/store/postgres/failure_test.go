package postgres

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/postgres/pgtest"
)

// terminateIdleInTx ends, from another connection, every backend of this
// database that sits in a transaction: the one running the caller's
// Update. Backends of a role can be terminated by that role.
func terminateIdleInTx(dsn string) error {
	conn, err := connectQuiet(dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'trent' AND state = 'idle in transaction'`).Scan(&n)
	if err == nil && n != 1 {
		err = fmt.Errorf("terminated %d backends, want 1", n)
	}
	if err == nil {
		// pg_terminate_backend only signals: wait until it is gone.
		for range 100 {
			conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND state = 'idle in transaction'`).Scan(&n)
			if n == 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return err
}

// TestConnectionKilledMidUpdate: the server ends the connection of an
// Update between two of its writes. The Update runs again on another
// connection and commits whole; with no attempt left it fails, and
// nothing of it is committed.
func TestConnectionKilledMidUpdate(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	for _, attempts := range []int{30, 1} {
		t.Run(fmt.Sprint("MaxAttempts=", attempts), func(t *testing.T) {
			s := open(t, dsn, Config{MaxAttempts: attempts})
			prefix := fmt.Sprint(attempts, "/")
			runs := 0
			err := s.Update(func(tx store.Tx) error {
				runs++
				if err := tx.Put(store.Keys, prefix+"a", []byte("a")); err != nil {
					return err
				}
				if runs == 1 {
					if err := terminateIdleInTx(dsn); err != nil {
						t.Fatal(err)
					}
				}
				return tx.Put(store.Keys, prefix+"b", []byte("b"))
			})
			st := s.Stats()
			var found []string
			verr := s.View(func(tx store.Tx) error {
				return tx.Scan(store.Keys, prefix, "", func(k string, _ []byte) (bool, error) {
					found = append(found, k)
					return true, nil
				})
			})
			if verr != nil {
				t.Fatal(verr)
			}
			t.Logf("Update: %v; %d runs; stats %+v; committed %q", err, runs, st, found)
			if st.LostConns != 1 {
				t.Errorf("%d lost connections counted, want 1", st.LostConns)
			}
			if attempts == 1 {
				if err == nil || len(found) != 0 {
					t.Fatalf("with one attempt: Update returned %v and committed %q; want an error and nothing", err, found)
				}
				return
			}
			if err != nil || runs != 2 || fmt.Sprint(found) != fmt.Sprintf("[%sa %sb]", prefix, prefix) {
				t.Fatalf("Update returned %v after %d runs and committed %q; want nil, 2 runs, both records", err, runs, found)
			}
		})
	}
}

// TestStatementTimeout: a statement stuck behind a lock is cancelled by
// the server after StatementTimeout, and the Update fails, not retried.
func TestStatementTimeout(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	s := open(t, dsn, Config{StatementTimeout: 200 * time.Millisecond})
	locker := connect(t, dsn)
	ctx := context.Background()
	if _, err := locker.Exec(ctx, "BEGIN; LOCK TABLE trent_records IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := s.Update(func(tx store.Tx) error { return tx.Put(store.Keys, "k", nil) })
	took := time.Since(start)
	locker.Exec(ctx, "ROLLBACK")
	if err == nil || !strings.Contains(err.Error(), "57014") || took > 3*time.Second {
		t.Fatalf("Update behind a lock returned %v after %v; want a statement timeout (57014) after about 200ms", err, took)
	}
	if st := s.Stats(); st.Retries != 0 {
		t.Fatalf("a timed-out statement was retried: %+v", st)
	}
}

// TestTxTimeout: an Update whose fn dawdles past TxTimeout between
// statements fails, and commits nothing: the client gives up on it, and
// the server ends the session idle in its transaction.
func TestTxTimeout(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	s := open(t, dsn, Config{TxTimeout: 300 * time.Millisecond})
	start := time.Now()
	err := s.Update(func(tx store.Tx) error {
		if err := tx.Put(store.Keys, "k", nil); err != nil {
			return err
		}
		time.Sleep(600 * time.Millisecond)
		return tx.Put(store.Keys, "k2", nil)
	})
	if err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("dawdling Update returned %v after %v", err, time.Since(start))
	}
	err = s.View(func(tx store.Tx) error { _, err := tx.Get(store.Keys, "k"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after a timed-out Update, Get: %v", err)
	}
}

// TestKilledProcessLosesNothingAcknowledged: a process writing records is
// killed (SIGKILL) while it writes; every Update it saw return nil is in
// the database, whole.
func TestKilledProcessLosesNothingAcknowledged(t *testing.T) {
	if dsn := os.Getenv("TRENT_PGTEST_CHILD_DSN"); dsn != "" {
		childWriter(dsn)
		return
	}
	dsn := pgtest.Shared(t).NewDatabase(t)
	open(t, dsn, Config{}).Close() // schema in place before the child starts
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledProcessLosesNothingAcknowledged$")
	cmd.Env = append(os.Environ(), "TRENT_PGTEST_CHILD_DSN="+dsn)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[int]bool{}
	lines := bufio.NewScanner(out)
	for lines.Scan() && len(acked) < 100 {
		if n, ok := strings.CutPrefix(lines.Text(), "ack "); ok {
			i, _ := strconv.Atoi(n)
			acked[i] = true
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if len(acked) < 100 {
		t.Fatalf("child acknowledged only %d writes", len(acked))
	}
	s := open(t, dsn, Config{})
	err = s.View(func(tx store.Tx) error {
		for i := range acked {
			for _, k := range []string{"a", "b"} {
				v, err := tx.Get(store.Keys, fmt.Sprintf("%s/%d", k, i))
				if err != nil || string(v) != strconv.Itoa(i) {
					return fmt.Errorf("acknowledged write %d, record %s: %q, %v", i, k, v, err)
				}
			}
		}
		// Whatever else committed is whole too: never a without b.
		return tx.Scan(store.Keys, "a/", "", func(k string, _ []byte) (bool, error) {
			_, err := tx.Get(store.Keys, "b/"+k[2:])
			return true, err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// childWriter writes pairs of records, one Update each, and says so after
// each Update returns, until it is killed.
func childWriter(dsn string) {
	s, err := Open(context.Background(), Config{DSN: dsn})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		v := []byte(strconv.Itoa(i))
		err := s.Update(func(tx store.Tx) error {
			if err := tx.Put(store.Keys, fmt.Sprintf("a/%d", i), v); err != nil {
				return err
			}
			return tx.Put(store.Keys, fmt.Sprintf("b/%d", i), v)
		})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("ack", i)
	}
}

func connectQuiet(dsn string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return pgx.Connect(ctx, dsn)
}
