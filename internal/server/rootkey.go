package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/config"
	"github.com/trent-kms/trent/internal/kms"
	"github.com/trent-kms/trent/internal/rootkey"
	"github.com/trent-kms/trent/internal/store/sealed"
)

// OpenRootKeys opens the ring of root keys cfg names: the current root key
// and the previous ones, which must all exist, except that with
// createFile a current key file that does not exist is created with fresh
// random bytes (what trent serve does; a key in a PKCS#11 token is never
// created here: see CreateRootKey). Close the ring when done: it holds the
// PKCS#11 sessions.
func OpenRootKeys(cfg *config.Config, createFile bool) (*rootkey.Ring, error) {
	var keys []rootkey.Wrapper
	fail := func(err error) (*rootkey.Ring, error) {
		for _, k := range keys {
			closeRootKey(k)
		}
		return nil, err
	}
	refs := append([]config.RootKeyRef{cfg.RootKey.RootKeyRef}, cfg.RootKey.Previous...)
	for i, ref := range refs {
		where := "root_key"
		if i > 0 {
			where = fmt.Sprintf("root_key.previous[%d]", i-1)
		}
		k, err := openRootKey(cfg, ref, createFile && i == 0)
		if err != nil {
			return fail(fmt.Errorf("%s (%s): %w", where, ref, err))
		}
		keys = append(keys, k)
	}
	ring, err := rootkey.NewRing(keys[0], keys[1:]...)
	if err != nil {
		return fail(err)
	}
	return ring, nil
}

func openRootKey(cfg *config.Config, ref config.RootKeyRef, create bool) (rootkey.Wrapper, error) {
	if ref.PKCS11 != nil {
		return rootkey.OpenPKCS11(pkcs11Config(cfg, ref))
	}
	if create {
		return rootkey.LoadOrCreateFile(cfg.Path(ref.File))
	}
	return rootkey.OpenFile(cfg.Path(ref.File))
}

// pkcs11Config is ref's PKCS#11 settings with the PIN file's path resolved.
func pkcs11Config(cfg *config.Config, ref config.RootKeyRef) rootkey.PKCS11Config {
	c := *ref.PKCS11
	c.PinFile = cfg.Path(c.PinFile)
	return c
}

func closeRootKey(k rootkey.Wrapper) {
	if c, ok := k.(interface{ Close() error }); ok {
		c.Close()
	}
}

// CreateRootKey makes the current root key cfg names, for trent rootkey
// init: a key file with 32 fresh random bytes (mode 0600), or an AES-256
// key generated in the PKCS#11 token that never leaves it
// (rootkey.GeneratePKCS11Key). It refuses to replace a key that exists.
// The caller closes the key returned.
func CreateRootKey(cfg *config.Config) (rootkey.Wrapper, error) {
	ref := cfg.RootKey.RootKeyRef
	if ref.PKCS11 != nil {
		k, err := rootkey.GeneratePKCS11Key(pkcs11Config(cfg, ref))
		if err != nil {
			return nil, err
		}
		return k, nil
	}
	k, err := rootkey.CreateFile(cfg.Path(ref.File))
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("the root key file %s exists already; trent will not replace a root key", cfg.Path(ref.File))
	}
	if err != nil {
		return nil, err
	}
	return k, nil
}

// OpenConfiguredStore opens the store cfg names (bbolt in the data
// directory, or PostgreSQL) with its records sealed under ring, for the
// commands that work on a store outside a running trent. A store that was
// never opened by a trent of this version (one still to be migrated to
// sealed records) is refused: start trent on it once first.
func OpenConfiguredStore(cfg *config.Config, ring *rootkey.Ring, logger *slog.Logger) (*sealed.Store, error) {
	if cfg.Store == nil || cfg.Store.Postgres == nil {
		// Never make an empty store where the config points by mistake.
		path := filepath.Join(cfg.DataDir, "trent.db")
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no store to work on: %w", err)
		}
	}
	raw, err := openBackend(cfg, logger)
	if err != nil {
		return nil, err
	}
	db, status, err := sealed.OpenRing(raw, ring, nil)
	if err != nil {
		raw.Close()
		return nil, err
	}
	if status == sealed.Legacy {
		raw.Close()
		return nil, errors.New("the store was written by an older trent and is not migrated yet: start trent on it once, then run this again")
	}
	return db, nil
}

// RewrapStore moves everything in db that a previous root key of ring
// wraps to the ring's primary: the store secret (sealed.Store.RewrapSecret),
// then every key material and import wrapping key (kms.RewrapRootKeys,
// which evicts through opts.Evict). It works while other processes use
// the store; see docs/configuration.md for what they must hold.
func RewrapStore(ctx context.Context, db *sealed.Store, ring *rootkey.Ring, opts kms.RewrapOptions) (*kms.RewrapReport, error) {
	moved, err := db.RewrapSecret(ring)
	if err != nil {
		return &kms.RewrapReport{}, err
	}
	report, err := kms.RewrapRootKeys(ctx, db, ring, opts)
	if report != nil {
		report.StoreSecret = moved
	}
	return report, err
}

// logRootKeys says at start which root keys trent holds (their IDs, which
// reveal nothing of them).
func logRootKeys(logger *slog.Logger, ring *rootkey.Ring) {
	if prev := ring.Previous(); len(prev) > 0 {
		logger.Info("root keys", "current", ring.PrimaryID(), "previous", strings.Join(prev, ","))
		return
	}
	logger.Info("root key", "current", ring.PrimaryID())
}

// startRootKeyRewrap runs, in the background while trent serves, a
// rewrap of everything a previous root key of the ring still wraps, once
// per start, whenever the ring has previous keys. It reads every key even
// when the store's register (stale: the previous keys it names) says
// nothing is left: another node sharing the store may have wrapped with a
// previous key after the register was last brought up to date, and the
// last node to start with the new current key must find that. hold, if
// set, delays the rewrap (tests start their load first). Close stops it
// between two batches.
func (s *Server) startRootKeyRewrap(db *sealed.Store, ring *rootkey.Ring, stale []string, hold <-chan struct{}) {
	previous := ring.Previous()
	if len(previous) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		defer cancel()
		go func() {
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		if hold != nil {
			select {
			case <-hold:
			case <-ctx.Done():
				return
			}
		}
		s.logger.Info("root key rewrap started: moving what previous root keys wrap to the current one, while serving",
			"from", strings.Join(previous, ","), "to", ring.PrimaryID(), "registered", strings.Join(stale, ","), "store_secret", db.RootKeyID())
		start := time.Now()
		report := &kms.RewrapReport{}
		moved, err := db.RewrapSecret(ring)
		if err == nil {
			report, err = s.service.RewrapRootKeys(ctx)
			report.StoreSecret = moved
		}
		switch {
		case errors.Is(err, context.Canceled):
			s.logger.Warn("root key rewrap stopped with trent; it starts again at the next start", "keys", report.Keys, "materials", report.Materials)
		case err != nil:
			s.logger.Error("root key rewrap failed; it starts again at the next start (or run trent rootkey rewrap)", "err", err, "keys", report.Keys, "materials", report.Materials)
		case !report.Done():
			s.logger.Error("root key rewrap done, but some things are still wrapped by previous root keys (see the errors above); keep those keys in root_key.previous",
				"keys", report.Keys, "materials", report.Materials, "import_parameters", report.ImportParams, "failed", report.Failed, "remaining", remainingString(report.Remaining))
		default:
			s.logger.Info("root key rewrap done: nothing is wrapped by the previous root keys any more; they can be removed from root_key.previous once no other trent sharing the store uses them as its current root key",
				"previous", strings.Join(previous, ","), "store_secret", report.StoreSecret, "keys", report.Keys, "materials", report.Materials, "import_parameters", report.ImportParams, "took", time.Since(start).Round(time.Millisecond))
		}
	}()
}

// remainingString lists root key IDs with counts, for messages.
func remainingString(m map[string]int) string {
	var parts []string
	for id, n := range m {
		parts = append(parts, fmt.Sprintf("%s: %d", id, n))
	}
	return strings.Join(parts, ", ")
}
