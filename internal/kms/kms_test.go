package kms

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/rootkey"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/bolt"
	"github.com/trent-kms/trent/internal/store/sealed"
)

// newTestService opens a service over a sealed bbolt store in dir. Closing
// the returned store is the test's business; the service is closed when
// the test ends.
func newTestService(t *testing.T, dir string) (*Service, *sealed.Store) {
	return newTestServiceWith(t, dir, Config{})
}

// newTestServiceWith is newTestService with settings (the store and root
// key in cfg are filled in).
func newTestServiceWith(t *testing.T, dir string, cfg Config) (*Service, *sealed.Store) {
	t.Helper()
	root, err := rootkey.LoadOrCreateFile(filepath.Join(dir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := bolt.Open(filepath.Join(dir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	db, _, err := sealed.Open(raw, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.RootKey = db, root
	if cfg.ScheduleInterval == 0 {
		cfg.ScheduleInterval = -1 // tests run the scheduled work themselves
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, db
}

var devCall = Call{Account: "111122223333", ARN: "arn:aws:iam::111122223333:root", Region: "us-east-1",
	Principal: policy.Principal{ARN: "arn:aws:iam::111122223333:root", Account: "111122223333", Type: policy.TypeAccount, UserID: "111122223333"}}

// TestStoreHoldsNoKeyMaterial unwraps a key's material and checks that
// neither it nor any plaintext that went through the service is in the
// store file.
func TestStoreHoldsNoKeyMaterial(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, db := newTestService(t, dir)
	call := devCall
	created, err := s.CreateKey(ctx, &call, &kmsapi.CreateKeyRequest{Description: new("scan")})
	if err != nil {
		t.Fatal(err)
	}
	var k *Key
	if err := db.View(func(tx store.Tx) (err error) {
		k, err = getKey(tx, call.Region, created.KeyMetadata.GetKeyId())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	material, err := s.unwrap(k, k.current())
	if err != nil {
		t.Fatal(err)
	}
	plaintext := bytes.Repeat([]byte("known plaintext "), 16)
	if _, err := s.Encrypt(ctx, &call, &kmsapi.EncryptRequest{KeyId: new(k.ID), Plaintext: plaintext}); err != nil {
		t.Fatal(err)
	}
	dk, err := s.GenerateDataKey(ctx, &call, &kmsapi.GenerateDataKeyRequest{KeyId: new(k.ID), NumberOfBytes: new(int32(48))})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(k.ID)) {
		t.Fatal("the store file does not even hold the key ID: the scan is not looking at the right file")
	}
	for name, secret := range map[string][]byte{"key material": material, "plaintext": plaintext, "data key": dk.Plaintext} {
		if bytes.Contains(data, secret) {
			t.Errorf("the store file holds the %s", name)
		}
	}
}

// TestWrappedMaterialIsBoundToItsKey moves one key's wrapped material to
// another key: it must not unwrap there.
func TestWrappedMaterialIsBoundToItsKey(t *testing.T) {
	ctx := context.Background()
	s, db := newTestService(t, t.TempDir())
	defer db.Close()
	call := devCall
	var keys []*Key
	for range 2 {
		out, err := s.CreateKey(ctx, &call, &kmsapi.CreateKeyRequest{})
		if err != nil {
			t.Fatal(err)
		}
		db.View(func(tx store.Tx) error {
			k, err := getKey(tx, call.Region, out.KeyMetadata.GetKeyId())
			keys = append(keys, k)
			return err
		})
	}
	stolen := *keys[0].current()
	if _, err := s.unwrap(keys[1], &stolen); err == nil {
		t.Fatal("material of one key unwrapped as another key's")
	}
}

func TestParseKeyID(t *testing.T) {
	call := &devCall
	for _, tc := range []struct {
		in                      string
		ok                      bool
		account, region, id, al string
	}{
		{"1234abcd-12ab-34cd-56ef-1234567890ab", true, "111122223333", "us-east-1", "1234abcd-12ab-34cd-56ef-1234567890ab", ""},
		{"alias/x", true, "111122223333", "us-east-1", "", "alias/x"},
		{"arn:aws:kms:eu-west-1:444455556666:key/abc", true, "444455556666", "eu-west-1", "abc", ""},
		{"arn:aws:kms:eu-west-1:444455556666:alias/a:b", true, "444455556666", "eu-west-1", "", "alias/a:b"},
		{"arn:aws:kms:eu-west-1:444455556666:key/", false, "", "", "", ""},
		{"arn:aws-cn:kms:cn-north-1:444455556666:key/abc", false, "", "", "", ""},
		{"arn:aws:s3:::bucket", false, "", "", "", ""},
		{"arn:aws:kms:eu-west-1:444455556666:grant/abc", false, "", "", "", ""},
	} {
		p, ok := parseKeyID(call, tc.in)
		if ok != tc.ok || (ok && (p.account != tc.account || p.region != tc.region || p.keyID != tc.id || p.alias != tc.al)) {
			t.Errorf("parseKeyID(%q) = %+v, %v", tc.in, p, ok)
		}
	}
}

func TestValidKeyID(t *testing.T) {
	for id, want := range map[string]bool{
		"1234abcd-12ab-34cd-56ef-1234567890ab":  true,
		"mrk-1234abcd12ab34cd56ef1234567890ab":  true,
		"1234abcd-12ab-34cd-56ef-1234567890a":   false,
		"1234abcd_12ab-34cd-56ef-1234567890ab":  false,
		"1234abcd-12ab-34cd-56ef-1234567890ag":  false,
		"mrk-1234abcd12ab34cd56ef1234567890a":   false,
		"":                                      false,
		"../../etc/passwd-aaaa-bbbb-cccccccccc": false,
	} {
		if validKeyID(id) != want {
			t.Errorf("validKeyID(%q) = %v", id, !want)
		}
	}
}
