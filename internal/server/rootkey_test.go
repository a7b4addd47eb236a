package server

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/config"
	"github.com/trent-kms/trent/internal/rootkey"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/bolt"
	"github.com/trent-kms/trent/internal/store/sealed"
)

// syncBuf is a log that a test reads while the server writes it.
type syncBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startWithRing(t *testing.T, dir string, current string, previous ...string) (*Server, *syncBuf) {
	t.Helper()
	cfg := config.DevConfig("127.0.0.1:0", dir)
	cfg.RootKey = config.RootKey{RootKeyRef: config.RootKeyRef{File: current}}
	for _, p := range previous {
		cfg.RootKey.Previous = append(cfg.RootKey.Previous, config.RootKeyRef{File: p})
	}
	log := new(syncBuf)
	s, err := Start(cfg, Options{Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s, log
}

// TestStartupRewrapFindsWhatTheRegisterMissed: a node sharing the store
// may wrap with the old root key after another node's rewrap dropped that
// key from the register. The rewrap that starts with a trent whose ring
// has previous keys reads every key, so it finds such material although
// the register names only the current key; afterwards the current key
// alone serves it.
func TestStartupRewrapFindsWhatTheRegisterMissed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	oldKey, newKey := filepath.Join(dir, "old.key"), filepath.Join(dir, "new.key")
	s, _ := startWithRing(t, dir, oldKey)
	c := client(s)
	k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("straggler")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The state another node's rewrap leaves: store secret under the new
	// key, the register naming only the new key, yet a material under the
	// old one.
	oldRoot, err := rootkey.OpenFile(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	newRoot, err := rootkey.LoadOrCreateFile(newKey)
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := rootkey.NewRing(newRoot, oldRoot)
	raw, err := bolt.Open(filepath.Join(dir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	db, _, err := sealed.OpenRing(raw, ring, nil)
	if err != nil {
		t.Fatal(err)
	}
	if moved, err := db.RewrapSecret(ring); err != nil || !moved {
		t.Fatalf("RewrapSecret: %v %v", moved, err)
	}
	err = db.Update(func(tx store.Tx) error {
		return tx.Put(store.Meta, "root-keys", []byte(`{"version":1,"ids":["`+newRoot.ID()+`"]}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, log := startWithRing(t, dir, newKey, oldKey)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(log.String(), "root key rewrap done") {
		if time.Now().After(deadline) {
			t.Fatalf("no rewrap:\n%s", log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(log.String(), "store_secret=false keys=1 materials=1") {
		t.Fatalf("the rewrap did not find the material:\n%s", log)
	}
	s.Close()
	s, _ = startWithRing(t, dir, newKey)
	defer s.Close()
	dec, err := client(s).Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "straggler" {
		t.Fatalf("with the new key alone: %v", err)
	}
}

// TestOpenRootKeysNamesTheKeyThatFails: a previous key file that is not
// there is never created, and the message says which entry it is.
func TestOpenRootKeysNamesTheKeyThatFails(t *testing.T) {
	dir := t.TempDir()
	cfg := config.DevConfig("127.0.0.1:0", dir)
	cfg.RootKey.Previous = []config.RootKeyRef{{File: "gone.key"}}
	_, err := OpenRootKeys(cfg, true)
	if err == nil || !strings.Contains(err.Error(), "root_key.previous[0] (the key file gone.key)") || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("OpenRootKeys: %v", err)
	}
	// The current key file was made (serve creates it), the previous one not.
	ring, err := OpenRootKeys(config.DevConfig("127.0.0.1:0", dir), false)
	if err != nil {
		t.Fatalf("the current key file: %v", err)
	}
	ring.Close()
	if _, err := rootkey.OpenFile(filepath.Join(dir, "gone.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the previous key file: %v", err)
	}
	// Without createFile, a missing current key file is an error too.
	_, err = OpenRootKeys(config.DevConfig("127.0.0.1:0", t.TempDir()), false)
	if err == nil || !strings.Contains(err.Error(), "root_key (the key file root.key)") {
		t.Fatalf("OpenRootKeys without createFile: %v", err)
	}
}

// TestOpenConfiguredStoreMakesNoStore: a command pointed at a data
// directory without a store says so instead of making an empty one.
func TestOpenConfiguredStoreMakesNoStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nothing-here")
	cfg := config.DevConfig("127.0.0.1:0", dir)
	ring, err := rootkey.NewRing(mustFile(t, filepath.Join(t.TempDir(), "root.key")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenConfiguredStore(cfg, ring, slog.Default())
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "no store to work on") {
		t.Fatalf("OpenConfiguredStore: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the data directory was made: %v", err)
	}
}

func mustFile(t *testing.T, path string) *rootkey.File {
	t.Helper()
	k, err := rootkey.LoadOrCreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
