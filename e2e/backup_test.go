package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/store/postgres/pgtest"
)

// The backup and restore procedures of docs/deployment.md, followed as
// written: the store and the root key backed up separately, a restore
// that is a rollback to the backup.

// beforeBackup makes what a backup must keep: a key with an alias and a
// ciphertext of it.
func beforeBackup(t *testing.T, c *kms.Client) (keyID string, blob []byte) {
	t.Helper()
	k := createKey(t, c, "kept")
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/kept"), TargetKeyId: k.KeyId}); err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/kept"), Plaintext: []byte("backed up"),
		EncryptionContext: map[string]string{"purpose": "backup"}})
	if err != nil {
		t.Fatal(err)
	}
	return *k.KeyId, enc.CiphertextBlob
}

// afterBackup changes things after the backup: the kept key scheduled for
// deletion, a new key.
func afterBackup(t *testing.T, c *kms.Client, keyID string) (newKeyID string) {
	t.Helper()
	if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(keyID), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	return *createKey(t, c, "made after the backup").KeyId
}

// checkRestored: the restored store is the backup's, whole: the kept key
// enabled again, its alias and ciphertext working, the later key gone.
func checkRestored(t *testing.T, c *kms.Client, keyID string, blob []byte, newKeyID string) {
	t.Helper()
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/kept")})
	if err != nil {
		t.Fatalf("the alias after the restore: %v", err)
	}
	if *d.KeyMetadata.KeyId != keyID || d.KeyMetadata.KeyState != types.KeyStateEnabled {
		t.Fatalf("after the restore: key %s in state %s, want %s Enabled", *d.KeyMetadata.KeyId, d.KeyMetadata.KeyState, keyID)
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"purpose": "backup"}})
	if err != nil || !bytes.Equal(dec.Plaintext, []byte("backed up")) {
		t.Fatalf("decrypting after the restore: %v", err)
	}
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(newKeyID)})
	wantAPIError(t, err, "NotFoundException", "")
}

// TestBackupAndRestoreBolt: trent stopped, trent.db copied; the root key
// file kept elsewhere; restored into a new data directory.
func TestBackupAndRestoreBolt(t *testing.T) {
	keys := t.TempDir() // the root key, apart from the data
	cfg := func() map[string]any {
		c := devConfig()
		c["root_key"] = map[string]any{"file": filepath.Join(keys, "root.key")}
		return c
	}
	dataDir := t.TempDir()
	s := startServerWithConfig(t, dataDir, cfg())
	keyID, blob := beforeBackup(t, s.client())
	s.stop()

	backup, err := os.ReadFile(filepath.Join(dataDir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	s = startServerWithConfig(t, dataDir, cfg())
	newKeyID := afterBackup(t, s.client(), keyID)
	s.stop()

	restored := t.TempDir()
	if err := os.WriteFile(filepath.Join(restored, "trent.db"), backup, 0o600); err != nil {
		t.Fatal(err)
	}
	s = startServerWithConfig(t, restored, cfg())
	checkRestored(t, s.client(), keyID, blob, newKeyID)
}

// TestBackupAndRestorePostgres: pg_dump of the two tables the docs name,
// online while trent serves, then pg_restore into an empty database.
func TestBackupAndRestorePostgres(t *testing.T) {
	pg := pgtest.Start(t, pgtest.Options{})
	keys := t.TempDir()
	cfg := func(dsn string) map[string]any {
		c := devConfig()
		c["root_key"] = map[string]any{"file": filepath.Join(keys, "root.key")}
		c["store"] = map[string]any{"postgres": map[string]any{"dsn": dsn, "max_conns": 4}}
		return c
	}
	dsn := pg.NewDatabase(t)
	s := startServerWithConfig(t, t.TempDir(), cfg(dsn))
	keyID, blob := beforeBackup(t, s.client())

	dump := filepath.Join(t.TempDir(), "trent.dump")
	if out, err := exec.Command("pg_dump", "-Fc", "-t", "trent_records", "-t", "trent_schema_version", "-f", dump, "-d", dsn).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	newKeyID := afterBackup(t, s.client(), keyID)
	s.stop()

	// An empty database owned by another role, as a restore elsewhere
	// would be: the tables become the restoring role's (--no-owner).
	restored := pg.NewDatabase(t)
	if out, err := exec.Command("pg_restore", "--no-owner", "-d", restored, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	s = startServerWithConfig(t, t.TempDir(), cfg(restored))
	checkRestored(t, s.client(), keyID, blob, newKeyID)
}
