package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/trent-kms/trent/internal/config"
	"github.com/trent-kms/trent/internal/kms"
	"github.com/trent-kms/trent/internal/rootkey"
	"github.com/trent-kms/trent/internal/server"
	"github.com/trent-kms/trent/internal/store/bolt"
)

// rootkeyFlags parses the flags every rootkey subcommand takes.
func rootkeyFlags(name, usage string, args []string) (*config.Config, error) {
	fs := flag.NewFlagSet("rootkey "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), usage)
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "the configuration `file` of the trent whose root keys these are")
	dataDir := fs.String("data", "", "the data `directory` of a dev-mode trent (default ./"+config.DevDataDir+")")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return loadConfig(*configPath, "", *dataDir)
}

// rootkeyInit creates the current root key the configuration names.
func rootkeyInit(args []string, stdout io.Writer) error {
	cfg, err := rootkeyFlags("init", `Usage: trent rootkey init [--config FILE | --data DIR]

Creates the current root key that the configuration's root_key names: for
"pkcs11", an AES-256 key generated in the token, sensitive and never
extractable, usable only to encrypt and decrypt; for "file", a file of 32
random bytes with mode 0600. It never replaces a key: a label that the token
has already, or a file that exists, is refused. It prints the new key's ID.`, args)
	if err != nil {
		return err
	}
	k, err := server.CreateRootKey(cfg)
	if err != nil {
		return err
	}
	defer closeKey(k)
	fmt.Fprintf(stdout, "created root key %s: %s\n", k.ID(), cfg.RootKey.RootKeyRef)
	return nil
}

func closeKey(k rootkey.Wrapper) {
	if c, ok := k.(io.Closer); ok {
		c.Close()
	}
}

// rootkeyRewrap moves what previous root keys wrap to the current one.
func rootkeyRewrap(args []string, stdout io.Writer) error {
	cfg, err := rootkeyFlags("rewrap", `Usage: trent rootkey rewrap [--config FILE | --data DIR]

Moves everything in the store that a root key of root_key.previous wraps
(the store secret, every key's material in every Region, import wrapping
keys) to the current root key, in batches of keys, each in its own
transaction, checking every new wrapping before it replaces the old one. It
then says whether the previous root keys can be removed from the
configuration, and exits 1 if something is still wrapped by one of them.

With a PostgreSQL store it runs while trent serves (every trent sharing the
store must hold the current root key first). A bbolt store can be opened by
one process only: with trent running, trent does this itself when it starts
with previous root keys that still wrap something; stop it to run this.`, args)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ring, err := server.OpenRootKeys(cfg, false)
	if err != nil {
		return err
	}
	defer ring.Close()
	db, err := server.OpenConfiguredStore(cfg, ring, logger)
	if errors.Is(err, bolt.ErrLocked) {
		return fmt.Errorf(`%w

A running trent holds the store. It rewraps by itself: when it starts with
previous root keys that still wrap something, it moves everything to the
current root key while it serves, and logs "root key rewrap done". To run
this command instead, stop trent first`, err)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := kms.PrepareRootKeys(db, ring, logger); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "current root key: %s\n", ring.PrimaryID())
	if prev := ring.Previous(); len(prev) > 0 {
		fmt.Fprintf(stdout, "previous root keys: %s\n", strings.Join(prev, ", "))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := server.RewrapStore(ctx, db, ring, kms.RewrapOptions{Logger: logger})
	if report != nil {
		secret := "already wrapped by the current root key"
		if report.StoreSecret {
			secret = "rewrapped"
		}
		fmt.Fprintf(stdout, "store secret: %s\n", secret)
		fmt.Fprintf(stdout, "key records rewritten: %d (%d key materials rewrapped)\n", report.Keys, report.Materials)
		fmt.Fprintf(stdout, "import wrapping keys rewrapped: %d\n", report.ImportParams)
	}
	if err != nil {
		return err
	}
	if !report.Done() {
		var left []string
		for id, n := range report.Remaining {
			left = append(left, fmt.Sprintf("%d by %s", n, id))
		}
		sort.Strings(left)
		return fmt.Errorf("%d could not be rewrapped (see the messages above); still wrapped: %s. Keep those root keys configured", report.Failed, strings.Join(left, ", "))
	}
	if prev := ring.Previous(); len(prev) > 0 {
		fmt.Fprintf(stdout, "nothing is wrapped by %s any more: it can be removed from root_key.previous (keep it while you need to verify audit logs written before the rotation)\n", strings.Join(prev, ", "))
	} else {
		fmt.Fprintln(stdout, "everything is wrapped by the current root key")
	}
	return nil
}
