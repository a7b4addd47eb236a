package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/trent-kms/trent/internal/config"
	"github.com/trent-kms/trent/internal/kms"
	"github.com/trent-kms/trent/internal/metrics"
	"github.com/trent-kms/trent/internal/rootkey"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/bolt"
	"github.com/trent-kms/trent/internal/store/postgres"
	"github.com/trent-kms/trent/internal/store/sealed"
)

// postgresOpenTimeout bounds connecting to PostgreSQL and migrating its
// schema at start.
const postgresOpenTimeout = 30 * time.Second

// openBackend opens the store backend cfg chooses: the embedded bbolt file
// in the data directory (the default), or PostgreSQL.
func openBackend(cfg *config.Config, logger *slog.Logger) (store.Store, error) {
	if cfg.Store != nil && cfg.Store.Postgres != nil {
		ctx, cancel := context.WithTimeout(context.Background(), postgresOpenTimeout)
		defer cancel()
		pg, err := postgres.Open(ctx, postgres.Config{
			DSN:      cfg.Store.Postgres.DSN,
			MaxConns: cfg.Store.Postgres.MaxConns,
			Logger:   logger,
		})
		if err != nil {
			return nil, fmt.Errorf("opening the PostgreSQL store: %w", err)
		}
		return pg, nil
	}
	return bolt.Open(filepath.Join(cfg.DataDir, "trent.db"))
}

// openStore opens the backend, timed for metrics, with its records sealed.
func (o *ops) openStore(cfg *config.Config, ring *rootkey.Ring, logger *slog.Logger) (*sealed.Store, error) {
	raw, err := openBackend(cfg, logger)
	if err != nil {
		return nil, err
	}
	o.rawStore = o.timeStore(raw)
	return sealStore(o.rawStore, ring, logger)
}

// sealStore opens raw with its records sealed under its store secret,
// which a root key of ring wraps, migrating a store written before records
// were sealed. It refuses a store whose secret no root key of the ring
// wraps. On failure raw is closed.
func sealStore(raw store.Store, ring *rootkey.Ring, logger *slog.Logger) (*sealed.Store, error) {
	db, status, err := sealed.OpenRing(raw, ring, nil)
	if err != nil {
		raw.Close()
		return nil, err
	}
	if status == sealed.Legacy {
		keys, aliases, err := kms.MigrateLegacy(db, ring)
		if err != nil {
			raw.Close()
			return nil, fmt.Errorf("migrating the store to the sealed record format: %w", err)
		}
		logger.Warn("migrated the store to the sealed record format", "keys", keys, "aliases", aliases)
	}
	return db, nil
}

// postgresStats is what the PostgreSQL backend counts.
type postgresStats interface{ Stats() postgres.Stats }

func registerPostgres(r *metrics.Registry, pg postgresStats) {
	for _, c := range []struct {
		name, help string
		get        func(postgres.Stats) uint64
	}{
		{"trent_store_postgres_retries_total", "PostgreSQL transaction attempts run again (conflicts, lost connections).", func(s postgres.Stats) uint64 { return s.Retries }},
		{"trent_store_postgres_conflicts_total", "PostgreSQL transaction attempts that failed on a serialization failure or deadlock.", func(s postgres.Stats) uint64 { return s.Conflicts }},
		{"trent_store_postgres_lost_connections_total", "PostgreSQL transaction attempts that lost their connection.", func(s postgres.Stats) uint64 { return s.LostConns }},
	} {
		r.NewGaugeFunc(c.name, c.help, "counter", func() float64 { return float64(c.get(pg.Stats())) })
	}
}
