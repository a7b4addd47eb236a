package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/bolt"
)

// legacyFixture is e2e/testdata/legacy-v1/fixture.json: what the AWS CLI
// did to a trent built from commit 5974c9a, the last one before records
// were sealed, whose data directory is next to it.
type legacyFixture struct {
	SymmetricKey       string            `json:"symmetricKey"`
	Aliases            []string          `json:"aliases"`
	Tags               map[string]string `json:"tags"`
	Plaintext          string            `json:"plaintext"`
	EncryptionContext  map[string]string `json:"encryptionContext"`
	CiphertextBlob     string            `json:"ciphertextBlob"`
	HMACKey            string            `json:"hmacKey"`
	Message            string            `json:"message"`
	MAC                string            `json:"mac"`
	ECCKey             string            `json:"eccKey"`
	ECCPublicKey       string            `json:"eccPublicKey"`
	PendingDeletionKey string            `json:"pendingDeletionKey"`
	DisabledKey        string            `json:"disabledKey"`
}

// copyLegacyDataDir copies the legacy data directory into a new one with
// the modes trent insists on (git keeps none).
func copyLegacyDataDir(t *testing.T) (string, legacyFixture) {
	t.Helper()
	src := filepath.Join("testdata", "legacy-v1")
	dir := t.TempDir()
	for _, name := range []string{"trent.db", "root.key"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var f legacyFixture
	b, err := os.ReadFile(filepath.Join(src, "fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return dir, f
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLegacyStoreIsMigrated starts today's trent on a data directory the
// previous format wrote: everything in it must still work, unchanged for
// clients, and the store must be rewritten with sealed records.
func TestLegacyStoreIsMigrated(t *testing.T) {
	dir, f := copyLegacyDataDir(t)
	for round := range 2 { // the migration, then a plain restart
		s := startServer(t, dir)
		c := s.client()
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: b64(t, f.CiphertextBlob), EncryptionContext: f.EncryptionContext})
		if err != nil || string(dec.Plaintext) != f.Plaintext || aws.ToString(dec.KeyId) != keyARN(f.SymmetricKey) {
			t.Fatalf("round %d: Decrypt of a blob made before the migration: %q, %v", round, dec.Plaintext, err)
		}
		_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: b64(t, f.CiphertextBlob)})
		wantAPIError(t, err, "InvalidCiphertextException", "")
		for _, alias := range f.Aliases {
			d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)})
			if err != nil || aws.ToString(d.KeyMetadata.KeyId) != f.SymmetricKey {
				t.Fatalf("round %d: %s after the migration: %v", round, alias, err)
			}
		}
		aliases, err := c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: aws.String(f.SymmetricKey)})
		if err != nil || len(aliases.Aliases) != len(f.Aliases) {
			t.Fatalf("round %d: ListAliases for the key: %v, %v", round, aliases, err)
		}
		tags, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(f.SymmetricKey)})
		if err != nil || len(tags.Tags) != 1 || f.Tags[aws.ToString(tags.Tags[0].TagKey)] != aws.ToString(tags.Tags[0].TagValue) {
			t.Fatalf("round %d: tags: %v, %v", round, tags, err)
		}
		mac, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(f.HMACKey), Message: []byte(f.Message), MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
		if err != nil || !bytes.Equal(mac.Mac, b64(t, f.MAC)) {
			t.Fatalf("round %d: the HMAC key's MAC changed: %x, %v", round, mac.Mac, err)
		}
		pub, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(f.ECCKey)})
		if err != nil || !bytes.Equal(pub.PublicKey, b64(t, f.ECCPublicKey)) {
			t.Fatalf("round %d: the ECC key's public key changed: %v", round, err)
		}
		for id, state := range map[string]types.KeyState{f.PendingDeletionKey: types.KeyStatePendingDeletion, f.DisabledKey: types.KeyStateDisabled} {
			d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
			if err != nil || d.KeyMetadata.KeyState != state {
				t.Fatalf("round %d: key %s: %v, %v; want %s", round, id, d, err, state)
			}
		}
		// New ciphertexts use the current blob format.
		enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(f.SymmetricKey), Plaintext: []byte("new")})
		if err != nil || enc.CiphertextBlob[0] != 0x02 {
			t.Fatalf("round %d: Encrypt after the migration: %v", round, err)
		}
		keys, err := c.ListKeys(ctx, &kms.ListKeysInput{})
		if err != nil || len(keys.Keys) != 5 {
			t.Fatalf("round %d: ListKeys: %v, %v", round, keys, err)
		}
		s.stop()
	}
	// Every record is now sealed, and keys are stored by region.
	raw, err := bolt.Open(filepath.Join(dir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var names []string
	err = raw.View(func(tx store.Tx) error {
		return tx.Scan(store.Keys, "", "", func(k string, v []byte) (bool, error) {
			names = append(names, k)
			if len(v) == 0 || v[0] != 0x01 || bytes.HasPrefix(v, []byte("{")) {
				t.Errorf("key record %s is not sealed: %.20q", k, v)
			}
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, "us-east-1/"+f.SymmetricKey) || slices.Contains(names, f.SymmetricKey) {
		t.Fatalf("key records after the migration: %v", names)
	}
}
