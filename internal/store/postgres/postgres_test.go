package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trent-kms/trent/internal/rootkey"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/bolt"
	"github.com/trent-kms/trent/internal/store/postgres/pgtest"
	"github.com/trent-kms/trent/internal/store/sealed"
	"github.com/trent-kms/trent/internal/store/storetest"
)

func TestMain(m *testing.M) {
	code := pgtest.RunMain(m)
	if err := stopBenchServer(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// open opens a Store on dsn and closes it when t ends.
func open(t testing.TB, dsn string, cfg Config) *Store {
	t.Helper()
	cfg.DSN = dsn
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newStore(t testing.TB) *Store {
	return open(t, pgtest.Shared(t).NewDatabase(t), Config{})
}

func TestContract(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) store.Store { return newStore(t) },
		Reopen: func(t *testing.T, s store.Store) store.Store {
			cfg := s.(*Store).cfg
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, cfg.DSN, cfg)
		},
	})
}

// TestSealedContract: the contract again, through store/sealed, which
// every record of a real trent passes through.
func TestSealedContract(t *testing.T) {
	type env struct {
		raw  *Store
		root *rootkey.File
	}
	var mu sync.Mutex
	envs := map[store.Store]env{}
	seal := func(t *testing.T, e env, want sealed.Status) store.Store {
		s, status, err := sealed.Open(e.raw, e.root, nil)
		if err != nil {
			t.Fatal(err)
		}
		if status != want {
			t.Fatalf("sealed.Open status %v, want %v", status, want)
		}
		mu.Lock()
		envs[s] = e
		mu.Unlock()
		return s
	}
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) store.Store {
			root, err := rootkey.LoadOrCreateFile(filepath.Join(t.TempDir(), "root.key"))
			if err != nil {
				t.Fatal(err)
			}
			return seal(t, env{newStore(t), root}, sealed.New)
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			mu.Lock()
			e := envs[s]
			mu.Unlock()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			e.raw = open(t, e.raw.cfg.DSN, e.raw.cfg)
			return seal(t, e, sealed.Sealed)
		},
	})
}

// TestScanMatchesBolt puts the same keys of awkward bytes (NUL, 0x7f,
// 0x80, 0xff, invalid UTF-8) in bbolt and in PostgreSQL and checks that
// random scans return the same keys in the same order from both.
func TestScanMatchesBolt(t *testing.T) {
	pg := newStore(t)
	bb, err := bolt.Open(filepath.Join(t.TempDir(), "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	alphabet := []byte{0x00, 0x01, '%', '_', '\\', 'a', 0x7f, 0x80, 0xfe, 0xff}
	r := rand.New(rand.NewPCG(1, 2))
	word := func(max int) string {
		b := make([]byte, r.IntN(max+1))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	keys := map[string]bool{}
	for len(keys) < 400 {
		if k := word(4); k != "" { // bbolt refuses the empty key
			keys[k] = true
		}
	}
	for _, s := range []store.Store{pg, bb} {
		err := s.Update(func(tx store.Tx) error {
			for k := range keys {
				if err := tx.Put(store.Keys, k, []byte("v"+k)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	scan := func(s store.Store, prefix, after string, limit int) []string {
		var got []string
		err := s.View(func(tx store.Tx) error {
			return tx.Scan(store.Keys, prefix, after, func(k string, v []byte) (bool, error) {
				if string(v) != "v"+k {
					return false, fmt.Errorf("value of %q is %q", k, v)
				}
				got = append(got, k)
				return len(got) < limit, nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for i := range 300 {
		prefix, after, limit := word(2), word(3), 1+r.IntN(500)
		if i%3 == 0 {
			after = ""
		}
		want, got := scan(bb, prefix, after, limit), scan(pg, prefix, after, limit)
		if !slices.Equal(got, want) {
			t.Fatalf("Scan(%q, after %q, limit %d):\n postgres %q\n bbolt    %q", prefix, after, limit, got, want)
		}
	}
	// A scan longer than a page, with a Get for each key inside it.
	var n int
	err = pg.View(func(tx store.Tx) error {
		return tx.Scan(store.Keys, "", "", func(k string, _ []byte) (bool, error) {
			n++
			_, err := tx.Get(store.Keys, k)
			return true, err
		})
	})
	if err != nil || n != len(keys) {
		t.Fatalf("full scan saw %d of %d keys: %v", n, len(keys), err)
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"", "", false},
		{"a", "b", true},
		{"a/", "a0", true},
		{"a\xff", "b", true},
		{"a\xff\xff", "b", true},
		{"\xff\xff", "", false},
		{"a\xfe\xff", "a\xff", true},
	} {
		got, ok := prefixEnd(tc.in)
		if string(got) != tc.want || ok != tc.ok {
			t.Errorf("prefixEnd(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestWriteInViewFails(t *testing.T) {
	s := newStore(t)
	err := s.View(func(tx store.Tx) error { return tx.Put(store.Keys, "k", nil) })
	if !errors.Is(err, errReadOnly) {
		t.Fatalf("Put in a View: %v", err)
	}
	if err := s.View(func(tx store.Tx) error { _, err := tx.Get("nope", "k"); return err }); err == nil {
		t.Fatal("Get from an unknown table succeeded")
	}
}

// TestConcurrentUpdates: goroutines increment one shared counter and one
// counter each, many at once; no increment is lost, and conflicts were
// met and retried (this is what Stats counts).
func TestConcurrentUpdates(t *testing.T) {
	s := newStore(t)
	const workers, rounds = 12, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	incr := func(tx store.Tx, key string) error {
		n := 0
		v, err := tx.Get(store.Meta, key)
		if err == nil {
			n, err = strconv.Atoi(string(v))
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.Put(store.Meta, key, []byte(strconv.Itoa(n+1)))
	}
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				var err error
				if i%2 == 0 {
					err = s.Update(func(tx store.Tx) error { return incr(tx, "shared") })
				} else {
					err = s.Update(func(tx store.Tx) error { return incr(tx, fmt.Sprint("own", w)) })
				}
				if err == nil {
					err = s.View(func(tx store.Tx) error { _, err := tx.Get(store.Meta, "shared"); return err })
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	err := s.View(func(tx store.Tx) error {
		want := map[string]int{"shared": workers * ((rounds + 1) / 2)}
		for w := range workers {
			want[fmt.Sprint("own", w)] = rounds / 2
		}
		for k, n := range want {
			v, err := tx.Get(store.Meta, k)
			if err != nil || string(v) != strconv.Itoa(n) {
				return fmt.Errorf("%s = %s (%v), want %d", k, v, err, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	t.Logf("%d updates, %d retries (%d conflicts, %d lost connections)", st.Updates, st.Retries, st.Conflicts, st.LostConns)
	if st.Conflicts == 0 || st.Retries < st.Conflicts {
		t.Errorf("stats %+v: expected conflicts, each retried", st)
	}
}

// TestNoWriteSkew: the write skew that snapshot isolation lets through
// (each transaction checks an invariant over records another one changes)
// does not happen: Update is truly serializable. Each of several doctors
// on call goes off call only if at least two are on call; at least one
// must stay.
func TestNoWriteSkew(t *testing.T) {
	s := newStore(t)
	const doctors = 6
	for round := range 10 {
		err := s.Update(func(tx store.Tx) error {
			for d := range doctors {
				if err := tx.Put(store.Keys, fmt.Sprintf("oncall/%d", d), []byte("on")); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for d := range doctors {
			wg.Go(func() {
				<-start
				err := s.Update(func(tx store.Tx) error {
					on := 0
					err := tx.Scan(store.Keys, "oncall/", "", func(_ string, v []byte) (bool, error) {
						if string(v) == "on" {
							on++
						}
						return true, nil
					})
					if err != nil || on < 2 {
						return err
					}
					return tx.Put(store.Keys, fmt.Sprintf("oncall/%d", d), []byte("off"))
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		on := 0
		s.View(func(tx store.Tx) error {
			return tx.Scan(store.Keys, "oncall/", "", func(_ string, v []byte) (bool, error) {
				if string(v) == "on" {
					on++
				}
				return true, nil
			})
		})
		if on != 1 {
			t.Fatalf("round %d: %d doctors on call, want exactly 1", round, on)
		}
	}
	t.Logf("stats %+v", s.Stats())
}

// TestViewsSeeOneSnapshot: transfers between accounts keep their sum; a
// View reading every account, page by page, while transfers commit, always
// sees that sum.
func TestViewsSeeOneSnapshot(t *testing.T) {
	s := newStore(t)
	const accounts = 300 // more than a Scan page
	err := s.Update(func(tx store.Tx) error {
		for i := range accounts {
			if err := tx.Put(store.Keys, fmt.Sprintf("acct/%04d", i), []byte("100")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				a, b := fmt.Sprintf("acct/%04d", r.IntN(accounts)), fmt.Sprintf("acct/%04d", r.IntN(accounts))
				err := s.Update(func(tx store.Tx) error {
					va, err := tx.Get(store.Keys, a)
					if err != nil {
						return err
					}
					x, _ := strconv.Atoi(string(va))
					if err := tx.Put(store.Keys, a, []byte(strconv.Itoa(x-1))); err != nil {
						return err
					}
					vb, err := tx.Get(store.Keys, b)
					if err != nil {
						return err
					}
					y, _ := strconv.Atoi(string(vb))
					return tx.Put(store.Keys, b, []byte(strconv.Itoa(y+1)))
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 40 {
		sum := 0
		err := s.View(func(tx store.Tx) error {
			sum = 0
			return tx.Scan(store.Keys, "acct/", "", func(_ string, v []byte) (bool, error) {
				n, err := strconv.Atoi(string(v))
				sum += n
				return true, err
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if sum != accounts*100 {
			t.Fatalf("a View saw a total of %d, want %d", sum, accounts*100)
		}
	}
	close(stop)
	wg.Wait()
}

func TestMigrationConcurrentOpens(t *testing.T) {
	srv := pgtest.Shared(t)
	dsn := srv.NewDatabase(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			s, err := Open(context.Background(), Config{DSN: dsn})
			if err == nil {
				err = s.Update(func(tx store.Tx) error { return tx.Put(store.Meta, "x", []byte("y")) })
				s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	conn := connect(t, dsn)
	var versions []int
	rows, _ := conn.Query(context.Background(), "SELECT version FROM trent_schema_version ORDER BY version")
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1}; !slices.Equal(versions, want) || SchemaVersion != 1 {
		t.Fatalf("schema versions recorded %v, SchemaVersion %d; want %v", versions, SchemaVersion, want)
	}
	// Opening again changes nothing.
	open(t, dsn, Config{})
	// A schema from a newer trent is refused.
	if _, err := conn.Exec(context.Background(), "INSERT INTO trent_schema_version (version) VALUES (99)"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), Config{DSN: dsn}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open on a schema from the future: %v", err)
	}
}

// TestOpenUpToDateWithoutCreatePrivilege: a role that may only use the
// tables (and may create nothing) opens a database that is up to date.
func TestOpenUpToDateWithoutCreatePrivilege(t *testing.T) {
	srv := pgtest.Shared(t)
	ctx := context.Background()
	role := fmt.Sprintf("limited_%d", rand.IntN(1e9))
	if err := srv.Admin(ctx, "CREATE ROLE "+role+" LOGIN PASSWORD 'pw'"); err != nil {
		t.Fatal(err)
	}
	// Registered before NewDatabase, so it runs after the database is dropped.
	t.Cleanup(func() { srv.Admin(ctx, "DROP ROLE "+role) })
	dsn := srv.NewDatabase(t)
	open(t, dsn, Config{}).Close()
	conn := connect(t, dsn)
	if _, err := conn.Exec(ctx, "GRANT SELECT, INSERT, UPDATE, DELETE ON trent_records TO "+role+
		"; GRANT SELECT ON trent_schema_version TO "+role); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	limited := fmt.Sprintf("postgres://%s:pw@%s:%d/%s?sslmode=disable", role, cfg.Host, cfg.Port, cfg.Database)
	s := open(t, limited, Config{})
	if err := s.Update(func(tx store.Tx) error { return tx.Put(store.Keys, "k", nil) }); err != nil {
		t.Fatal(err)
	}
}

func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
