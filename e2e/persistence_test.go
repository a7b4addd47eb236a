package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	c := s.client()
	k1 := createKey(t, c, "survivor")
	k2 := createKey(t, c, "disabled one")
	k3 := createKey(t, c, "doomed")
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/survivor"), TargetKeyId: k1.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TagResource(ctx, &kms.TagResourceInput{KeyId: k1.KeyId, Tags: []types.Tag{{TagKey: aws.String("env"), TagValue: aws.String("prod")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: k2.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: k3.KeyId, PendingWindowInDays: aws.Int32(10)}); err != nil {
		t.Fatal(err)
	}
	ec := map[string]string{"k": "v"}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/survivor"), Plaintext: []byte("kept"), EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	s.stop()

	c = startServer(t, dir).client()
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	if err != nil || string(dec.Plaintext) != "kept" {
		t.Fatalf("Decrypt after restart: %v %q", err, dec.Plaintext)
	}
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/survivor")})
	if err != nil || *d.KeyMetadata.KeyId != *k1.KeyId || aws.ToString(d.KeyMetadata.Description) != "survivor" {
		t.Fatalf("alias after restart: %v", err)
	}
	tags, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: k1.KeyId})
	if err != nil || len(tags.Tags) != 1 || *tags.Tags[0].TagKey != "env" || *tags.Tags[0].TagValue != "prod" {
		t.Fatalf("tags after restart: %v %v", tags, err)
	}
	for _, want := range []struct {
		id    *string
		state types.KeyState
	}{{k1.KeyId, types.KeyStateEnabled}, {k2.KeyId, types.KeyStateDisabled}, {k3.KeyId, types.KeyStatePendingDeletion}} {
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: want.id})
		if err != nil || d.KeyMetadata.KeyState != want.state {
			t.Fatalf("key %s after restart: %v %v, want %s", *want.id, err, d, want.state)
		}
		if want.state == types.KeyStatePendingDeletion && aws.ToInt32(d.KeyMetadata.PendingDeletionWindowInDays) != 10 {
			t.Fatal("deletion window lost in restart")
		}
	}
	keys, err := c.ListKeys(ctx, &kms.ListKeysInput{})
	if err != nil || len(keys.Keys) != 3 {
		t.Fatalf("ListKeys after restart: %v, %v", keys, err)
	}
}

// TestDataDirHoldsNoSecrets writes known plaintext and obtains a data key,
// then reads every file trent keeps (store, root key file, audit log) and
// checks that none of those bytes, in raw, hex or base64 form, is there.
func TestDataDirHoldsNoSecrets(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	c := s.client()
	k := createKey(t, c, "scan")
	plaintext := bytes.Repeat([]byte("TRENT-KNOWN-PLAINTEXT-"), 8)
	if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: plaintext}); err != nil {
		t.Fatal(err)
	}
	dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: k.KeyId, KeySpec: types.DataKeySpecAes256})
	if err != nil {
		t.Fatal(err)
	}
	// A ReEncrypt and a Decrypt hold the plaintext in the server too.
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob}); err != nil {
		t.Fatal(err)
	}
	s.stop()

	secrets := map[string][]byte{"plaintext": plaintext, "data key": dk.Plaintext}
	for name, secret := range secrets {
		secrets[name+" (hex)"] = []byte(hex.EncodeToString(secret))
		secrets[name+" (base64)"] = []byte(base64.StdEncoding.EncodeToString(secret))
	}
	files := 0
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for name, secret := range secrets {
			if bytes.Contains(data, secret) {
				t.Errorf("%s holds the %s", path, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 {
		t.Fatalf("scanned only %d files; expected the store, the root key and the audit log", files)
	}
}
