package e2e

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/bolt"
)

// editRecord changes the stored bytes of a record while trent is stopped,
// as someone with write access to the data directory but without the root
// key could.
func editRecord(t *testing.T, dir string, table store.Table, key string, edit func([]byte) []byte) {
	t.Helper()
	raw, err := bolt.Open(filepath.Join(dir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	err = raw.Update(func(tx store.Tx) error {
		v, err := tx.Get(table, key)
		if err != nil {
			return err
		}
		return tx.Put(table, key, edit(bytes.Clone(v)))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func rawRecord(t *testing.T, dir string, table store.Table, key string) []byte {
	t.Helper()
	raw, err := bolt.Open(filepath.Join(dir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var out []byte
	err = raw.View(func(tx store.Tx) error {
		v, err := tx.Get(table, key)
		out = bytes.Clone(v)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustReplace(t *testing.T, v []byte, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(v, []byte(old)) {
		t.Fatalf("record does not contain %q: the edit would change nothing", old)
	}
	return bytes.Replace(v, []byte(old), []byte(new), 1)
}

// TestTamperedKeyRecordsAreNeverUsed reproduces the attacks of issue 7 on a
// stopped trent's store: a symmetric key relabelled as an HMAC key (whose
// GenerateMac would have returned the blob key of any ciphertext), a key
// moved to another account, a flipped bit, one key's record copied over
// another's. Each time the key must refuse every use with
// KMSInternalException, and trent must log the tampering.
func TestTamperedKeyRecordsAreNeverUsed(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	c := s.client()
	victim := createKey(t, c, "victim")
	other := createKey(t, c, "other")
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: victim.KeyId, Plaintext: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}
	s.stop()
	recordKey := "us-east-1/" + *victim.KeyId
	original := rawRecord(t, dir, store.Keys, recordKey)
	otherRecord := rawRecord(t, dir, store.Keys, "us-east-1/"+*other.KeyId)

	// Edits run inside a store transaction: they must not fail the test
	// themselves (mustReplace is checked on the original up front).
	for _, tc := range []struct {
		name string
		edit func([]byte) []byte
	}{
		{"relabelled as an HMAC key", func(v []byte) []byte {
			v = mustReplace(t, v, `"keySpec":"SYMMETRIC_DEFAULT"`, `"keySpec":"HMAC_256"`)
			return mustReplace(t, v, `"keyUsage":"ENCRYPT_DECRYPT"`, `"keyUsage":"GENERATE_VERIFY_MAC"`)
		}},
		{"moved to another account", func(v []byte) []byte {
			return mustReplace(t, v, `"account":"111122223333"`, `"account":"444455556666"`)
		}},
		{"bit flipped", func(v []byte) []byte { v[len(v)-10] ^= 0x04; return v }},
		{"replaced by another key's record", func([]byte) []byte { return otherRecord }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edited := tc.edit(bytes.Clone(original))
			editRecord(t, dir, store.Keys, recordKey, func([]byte) []byte { return edited })
			s := startServer(t, dir)
			c := s.client()
			_, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: victim.KeyId, MacAlgorithm: types.MacAlgorithmSpecHmacSha256,
				Message: []byte("anything")})
			wantAPIError(t, err, "KMSInternalException", "An internal error occurred. Try again later.")
			_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
			wantAPIError(t, err, "KMSInternalException", "")
			_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: victim.KeyId, Plaintext: []byte("x")})
			wantAPIError(t, err, "KMSInternalException", "")
			_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: victim.KeyId})
			wantAPIError(t, err, "KMSInternalException", "")
			_, err = c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: victim.KeyId})
			wantAPIError(t, err, "KMSInternalException", "")
			// The other key is unaffected.
			if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: other.KeyId, Plaintext: []byte("x")}); err != nil {
				t.Fatalf("an untouched key: %v", err)
			}
			s.stop()
			if log := s.stderr.String(); !strings.Contains(log, "TAMPERING DETECTED") || !strings.Contains(log, *victim.KeyId) {
				t.Fatalf("trent did not log the tampering:\n%s", log)
			}
		})
	}

	// Restored, the key works again: the refusals above were about the edits.
	editRecord(t, dir, store.Keys, recordKey, func([]byte) []byte { return original })
	c = startServer(t, dir).client()
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "secret" {
		t.Fatalf("the restored key: %q, %v", dec.Plaintext, err)
	}
}

// TestTamperedAliasIsNeverFollowed points an alias at another key behind
// trent's back: the alias must not resolve.
func TestTamperedAliasIsNeverFollowed(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	c := s.client()
	victim := createKey(t, c, "victim")
	attacker := createKey(t, c, "attacker's")
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/payroll"), TargetKeyId: victim.KeyId}); err != nil {
		t.Fatal(err)
	}
	s.stop()
	key := account + "/us-east-1/alias/payroll"
	edited := mustReplace(t, rawRecord(t, dir, store.Aliases, key), *victim.KeyId, *attacker.KeyId)
	editRecord(t, dir, store.Aliases, key, func([]byte) []byte { return edited })
	s = startServer(t, dir)
	_, err := s.client().Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/payroll"), Plaintext: []byte("salaries")})
	wantAPIError(t, err, "KMSInternalException", "")
}

// TestWrongRootKeyIsRefusedAtStart: trent started with a root key other
// than the one its store was written with refuses to start, and says why.
func TestWrongRootKeyIsRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	createKey(t, s.client(), "k")
	s.stop()
	other := make([]byte, 32)
	rand.Read(other)
	if err := os.WriteFile(filepath.Join(dir, "root.key"), other, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(trentBinary, "serve", "--listen", "127.0.0.1:0", "--data", dir).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "this store was written under root key file:") ||
		!strings.Contains(string(out), "configure the root key the store was created with") {
		t.Fatalf("trent with the wrong root key: %v\n%s", err, out)
	}
}
