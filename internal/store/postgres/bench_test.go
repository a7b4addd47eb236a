package postgres

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/postgres/pgtest"
)

// The benchmarks run on a durable server of their own (fsync and
// synchronous commit on, as in production), started on first use and
// stopped by TestMain.
var bench struct {
	sync.Mutex
	srv *pgtest.Server
}

func benchServer(b *testing.B) *pgtest.Server {
	pgtest.Require(b)
	bench.Lock()
	defer bench.Unlock()
	if bench.srv == nil {
		srv, err := pgtest.StartServer(pgtest.Options{Durable: true})
		if err != nil {
			b.Fatal(err)
		}
		bench.srv = srv
	}
	return bench.srv
}

func stopBenchServer() error {
	bench.Lock()
	defer bench.Unlock()
	if bench.srv == nil {
		return nil
	}
	return bench.srv.Stop()
}

const benchKeys = 1000

// benchStore is a Store whose Keys table holds benchKeys records of 300
// bytes (about a sealed, wrapped symmetric key record).
func benchStore(b *testing.B, cfg Config) *Store {
	s := open(b, benchServer(b).NewDatabase(b), cfg)
	err := s.Update(func(tx store.Tx) error {
		for i := range benchKeys {
			if err := tx.Put(store.Keys, benchKey(i), make([]byte, 300)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func benchKey(i int) string { return fmt.Sprintf("us-east-1/%036d", i%benchKeys) }

// BenchmarkUpdate: one Update (a Get and a Put of one record) per
// iteration, one goroutine: the latency of a write round trip, commit and
// fsync included. NoNotify shows what the change notification costs.
func BenchmarkUpdate(b *testing.B) {
	for _, noNotify := range []bool{false, true} {
		b.Run(fmt.Sprint("NoNotify=", noNotify), func(b *testing.B) {
			s := benchStore(b, Config{NoNotify: noNotify})
			value := make([]byte, 300)
			b.ResetTimer()
			for i := range b.N {
				err := s.Update(func(tx store.Tx) error {
					if _, err := tx.Get(store.Keys, benchKey(i)); err != nil {
						return err
					}
					return tx.Put(store.Keys, benchKey(i), value)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUpdateParallel: Updates of distinct records from many
// goroutines (8 per GOMAXPROCS): throughput, and conflicts per op. PostgreSQL
// commits transactions that notify one at a time (a database-wide lock),
// so NoNotify also shows what notifying costs under concurrency.
func BenchmarkUpdateParallel(b *testing.B) {
	for _, noNotify := range []bool{false, true} {
		b.Run(fmt.Sprint("NoNotify=", noNotify), func(b *testing.B) {
			s := benchStore(b, Config{MaxConns: 32, NoNotify: noNotify})
			value := make([]byte, 300)
			var next atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					k := benchKey(int(next.Add(1)))
					err := s.Update(func(tx store.Tx) error {
						if _, err := tx.Get(store.Keys, k); err != nil {
							return err
						}
						return tx.Put(store.Keys, k, value)
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(s.Stats().Conflicts)/float64(b.N), "conflicts/op")
		})
	}
}

// BenchmarkView: one View with one Get per iteration, one goroutine.
func BenchmarkView(b *testing.B) {
	s := benchStore(b, Config{})
	b.ResetTimer()
	for i := range b.N {
		err := s.View(func(tx store.Tx) error {
			_, err := tx.Get(store.Keys, benchKey(i))
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkViewParallel: Views with one Get each from many goroutines.
func BenchmarkViewParallel(b *testing.B) {
	s := benchStore(b, Config{MaxConns: 32})
	var next atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := benchKey(int(next.Add(1)))
			err := s.View(func(tx store.Tx) error {
				_, err := tx.Get(store.Keys, k)
				return err
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
