package e2e

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

var ctx = context.Background()

func createKey(t *testing.T, c *kms.Client, description string) *types.KeyMetadata {
	t.Helper()
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(description)})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return out.KeyMetadata
}

func TestCreateAndDescribeKey(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{
		Description: aws.String("orders database"),
		Tags:        []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("payments")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := out.KeyMetadata
	if m.KeyState != types.KeyStateEnabled || !m.Enabled || m.KeySpec != types.KeySpecSymmetricDefault ||
		m.KeyUsage != types.KeyUsageTypeEncryptDecrypt || m.Origin != types.OriginTypeAwsKms ||
		m.KeyManager != types.KeyManagerTypeCustomer || aws.ToString(m.AWSAccountId) != account ||
		aws.ToString(m.Arn) != keyARN(aws.ToString(m.KeyId)) || aws.ToString(m.Description) != "orders database" ||
		!slices.Equal(m.EncryptionAlgorithms, []types.EncryptionAlgorithmSpec{types.EncryptionAlgorithmSpecSymmetricDefault}) ||
		m.MultiRegion == nil || *m.MultiRegion || len(aws.ToString(m.CurrentKeyMaterialId)) != 64 || m.CreationDate == nil {
		t.Fatalf("unexpected metadata: %+v", m)
	}
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/orders"), TargetKeyId: m.KeyId}); err != nil {
		t.Fatal(err)
	}
	// Every way of naming the key finds it.
	for _, id := range []string{*m.KeyId, *m.Arn, "alias/orders", "arn:aws:kms:us-east-1:111122223333:alias/orders"} {
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
		if err != nil {
			t.Fatalf("DescribeKey(%s): %v", id, err)
		}
		if *d.KeyMetadata.KeyId != *m.KeyId {
			t.Fatalf("DescribeKey(%s) found %s", id, *d.KeyMetadata.KeyId)
		}
	}
	missing := "0b3a5c4e-1111-4222-8333-944455556666"
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(missing)})
	wantAPIError(t, err, "NotFoundException", "Key '"+keyARN(missing)+"' does not exist")
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/nope")})
	wantAPIError(t, err, "NotFoundException", "Alias arn:aws:kms:us-east-1:111122223333:alias/nope is not found.")
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("not-a-key-id")})
	wantAPIError(t, err, "NotFoundException", "Invalid keyId 'not-a-key-id'")
	// Keys are regional: the same key does not exist for a caller in another region.
	other := startServerClientInRegion(t, c, "eu-west-1")
	_, err = other.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: m.KeyId})
	wantAPIError(t, err, "NotFoundException", "Key 'arn:aws:kms:eu-west-1:111122223333:key/"+*m.KeyId+"' does not exist")
	_, err = other.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: m.Arn})
	wantAPIError(t, err, "NotFoundException", "Invalid arn us-east-1")

	if _, err := c.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: m.KeyId, Description: aws.String("renamed")}); err != nil {
		t.Fatal(err)
	}
	d, _ := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: m.KeyId})
	if aws.ToString(d.KeyMetadata.Description) != "renamed" {
		t.Fatalf("description after update = %q", aws.ToString(d.KeyMetadata.Description))
	}
}

// startServerClientInRegion returns a client of the same server signing for another region.
func startServerClientInRegion(t *testing.T, c *kms.Client, region string) *kms.Client {
	o := c.Options()
	return kms.New(o, func(o *kms.Options) { o.Region = region })
}

func TestListKeysPaginates(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	want := map[string]bool{}
	for i := range 5 {
		want[*createKey(t, c, fmt.Sprint("key ", i)).KeyId] = true
	}
	got := map[string]bool{}
	pages := 0
	p := kms.NewListKeysPaginator(c, &kms.ListKeysInput{Limit: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.Keys) > 2 {
			t.Fatalf("page of %d keys with Limit 2", len(page.Keys))
		}
		for _, k := range page.Keys {
			if aws.ToString(k.KeyArn) != keyARN(aws.ToString(k.KeyId)) {
				t.Fatalf("entry %s has ARN %s", aws.ToString(k.KeyId), aws.ToString(k.KeyArn))
			}
			if got[*k.KeyId] {
				t.Fatalf("key %s listed twice", *k.KeyId)
			}
			got[*k.KeyId] = true
		}
	}
	if pages != 3 || len(got) != 5 {
		t.Fatalf("listed %d keys in %d pages, want 5 in 3", len(got), pages)
	}
	for id := range want {
		if !got[id] {
			t.Fatalf("key %s not listed", id)
		}
	}
	_, err := c.ListKeys(ctx, &kms.ListKeysInput{Marker: aws.String("garbage!")})
	wantAPIError(t, err, "InvalidMarkerException", "")
}

func TestEncryptDecryptReEncrypt(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	k1 := createKey(t, c, "one")
	k2 := createKey(t, c, "two")
	plaintext := []byte("attack at dawn")
	ec := map[string]string{"tenant": "acme", "purpose": "test"}

	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k1.KeyId, Plaintext: plaintext, EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(enc.KeyId) != *k1.Arn || enc.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
		t.Fatalf("Encrypt returned KeyId %s, algorithm %s", aws.ToString(enc.KeyId), enc.EncryptionAlgorithm)
	}
	if bytes.Contains(enc.CiphertextBlob, plaintext) {
		t.Fatal("ciphertext contains the plaintext")
	}
	// Decrypt needs no KeyId: the blob names its key.
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dec.Plaintext, plaintext) || aws.ToString(dec.KeyId) != *k1.Arn ||
		aws.ToString(dec.KeyMaterialId) != aws.ToString(k1.CurrentKeyMaterialId) {
		t.Fatalf("Decrypt = %q from %s material %s", dec.Plaintext, aws.ToString(dec.KeyId), aws.ToString(dec.KeyMaterialId))
	}
	// With the right KeyId it works too, with the wrong one it must not.
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyId: k1.Arn}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyId: k2.KeyId})
	wantAPIError(t, err, "IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.")

	// The encryption context must match exactly.
	for _, bad := range []map[string]string{nil, {"tenant": "acme"}, {"tenant": "ACME", "purpose": "test"}, {"tenant": "acme", "purpose": "test", "x": "y"}} {
		_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: bad})
		wantAPIError(t, err, "InvalidCiphertextException", "")
	}
	// Any flipped bit is caught.
	for _, i := range []int{0, 5, len(enc.CiphertextBlob) / 2, len(enc.CiphertextBlob) - 1} {
		tampered := bytes.Clone(enc.CiphertextBlob)
		tampered[i] ^= 0x01
		_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: tampered, EncryptionContext: ec})
		if err == nil {
			t.Fatalf("tampered byte %d decrypted", i)
		}
		if !strings.Contains(err.Error(), "InvalidCiphertextException") && !strings.Contains(err.Error(), "AccessDeniedException") {
			t.Fatalf("tampered byte %d: %v", i, err)
		}
	}

	re, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{
		CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ec,
		DestinationKeyId: aws.String("alias/does-not-exist"),
	})
	wantAPIError(t, err, "NotFoundException", "")
	re, err = c.ReEncrypt(ctx, &kms.ReEncryptInput{
		CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ec,
		DestinationKeyId: k2.KeyId, DestinationEncryptionContext: map[string]string{"moved": "yes"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(re.SourceKeyId) != *k1.Arn || aws.ToString(re.KeyId) != *k2.Arn {
		t.Fatalf("ReEncrypt source %s destination %s", aws.ToString(re.SourceKeyId), aws.ToString(re.KeyId))
	}
	dec, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob, EncryptionContext: map[string]string{"moved": "yes"}})
	if err != nil || !bytes.Equal(dec.Plaintext, plaintext) || aws.ToString(dec.KeyId) != *k2.Arn {
		t.Fatalf("Decrypt of re-encrypted blob: %v %q", err, dec.Plaintext)
	}

	// Plaintext limits: 1..4096 bytes.
	if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k1.KeyId, Plaintext: make([]byte, 4096)}); err != nil {
		t.Fatalf("4096-byte plaintext: %v", err)
	}
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: k1.KeyId, Plaintext: make([]byte, 4097)})
	wantAPIError(t, err, "ValidationException",
		"1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096")
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/unknown"), Plaintext: plaintext})
	wantAPIError(t, err, "NotFoundException", "Alias arn:aws:kms:us-east-1:111122223333:alias/unknown is not found.")

	// DryRun never acts.
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: k1.KeyId, Plaintext: plaintext, DryRun: aws.Bool(true)})
	wantAPIError(t, err, "DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: []byte("junk"), KeyId: k1.KeyId, DryRun: aws.Bool(true),
		DryRunModifiers: []types.DryRunModifierType{types.DryRunModifierTypeIgnoreCiphertext}})
	wantAPIError(t, err, "DryRunOperationException", "")
}

func TestGenerateDataKeyAndRandom(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	k := createKey(t, c, "data keys")
	ec := map[string]string{"bucket": "photos"}
	for _, tc := range []struct {
		in   kms.GenerateDataKeyInput
		size int
	}{
		{kms.GenerateDataKeyInput{KeySpec: types.DataKeySpecAes256}, 32},
		{kms.GenerateDataKeyInput{KeySpec: types.DataKeySpecAes128}, 16},
		{kms.GenerateDataKeyInput{NumberOfBytes: aws.Int32(64)}, 64},
	} {
		in := tc.in
		in.KeyId, in.EncryptionContext = aws.String("alias/missing"), ec
		_, err := c.GenerateDataKey(ctx, &in)
		wantAPIError(t, err, "NotFoundException", "")
		in.KeyId = k.KeyId
		out, err := c.GenerateDataKey(ctx, &in)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Plaintext) != tc.size || aws.ToString(out.KeyId) != *k.Arn {
			t.Fatalf("data key of %d bytes from %s, want %d", len(out.Plaintext), aws.ToString(out.KeyId), tc.size)
		}
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
		if err != nil || !bytes.Equal(dec.Plaintext, out.Plaintext) {
			t.Fatalf("encrypted data key does not decrypt to the plaintext one: %v", err)
		}
	}
	_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: k.KeyId})
	wantAPIError(t, err, "ValidationException", "Please specify either number of bytes or key spec.")
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: k.KeyId, KeySpec: types.DataKeySpecAes256, NumberOfBytes: aws.Int32(32)})
	wantAPIError(t, err, "ValidationException", "Please specify either number of bytes or key spec.")
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: k.KeyId, NumberOfBytes: aws.Int32(1025)})
	wantAPIError(t, err, "ValidationException",
		"1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024")

	wp, err := c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: k.KeyId, KeySpec: types.DataKeySpecAes256})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wp.CiphertextBlob})
	if err != nil || len(dec.Plaintext) != 32 {
		t.Fatalf("GenerateDataKeyWithoutPlaintext blob: %v, %d bytes", err, len(dec.Plaintext))
	}

	r1, err := c.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(32)})
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := c.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(32)})
	if len(r1.Plaintext) != 32 || bytes.Equal(r1.Plaintext, r2.Plaintext) {
		t.Fatal("GenerateRandom returned a wrong size or the same bytes twice")
	}
	_, err = c.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(0)})
	wantAPIError(t, err, "ValidationException",
		"1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1")
}

func TestKeyStates(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	k := createKey(t, c, "states")
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: k.KeyId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x")})
	wantAPIError(t, err, "DisabledException", *k.Arn+" is disabled.")
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantAPIError(t, err, "DisabledException", *k.Arn+" is disabled.")
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: k.KeyId, KeySpec: types.DataKeySpecAes256})
	wantAPIError(t, err, "DisabledException", "")
	d, _ := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
	if d.KeyMetadata.KeyState != types.KeyStateDisabled || d.KeyMetadata.Enabled {
		t.Fatalf("state after DisableKey: %s enabled=%v", d.KeyMetadata.KeyState, d.KeyMetadata.Enabled)
	}
	if _, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: k.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
		t.Fatalf("Decrypt after EnableKey: %v", err)
	}

	_, err = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: k.KeyId, PendingWindowInDays: aws.Int32(6)})
	wantAPIError(t, err, "ValidationException", "PendingWindowInDays must be between 7 and 30")
	_, err = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: k.KeyId, PendingWindowInDays: aws.Int32(31)})
	wantAPIError(t, err, "ValidationException", "PendingWindowInDays must be between 7 and 30")
	_, err = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String("alias/x"), PendingWindowInDays: aws.Int32(7)})
	wantAPIError(t, err, "NotFoundException", "")
	sched, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: k.KeyId, PendingWindowInDays: aws.Int32(7)})
	if err != nil {
		t.Fatal(err)
	}
	if sched.KeyState != types.KeyStatePendingDeletion || aws.ToInt32(sched.PendingWindowInDays) != 7 ||
		aws.ToString(sched.KeyId) != *k.Arn || sched.DeletionDate == nil {
		t.Fatalf("ScheduleKeyDeletion = %+v", sched)
	}
	pending := *k.Arn + " is pending deletion."
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x")})
	wantAPIError(t, err, "KMSInvalidStateException", pending)
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantAPIError(t, err, "KMSInvalidStateException", pending)
	_, err = c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: k.KeyId})
	wantAPIError(t, err, "KMSInvalidStateException", pending)
	_, err = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: k.KeyId})
	wantAPIError(t, err, "KMSInvalidStateException", pending)
	_, err = c.TagResource(ctx, &kms.TagResourceInput{KeyId: k.KeyId, Tags: []types.Tag{{TagKey: aws.String("a"), TagValue: aws.String("b")}}})
	wantAPIError(t, err, "KMSInvalidStateException", pending)
	d, _ = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
	if d.KeyMetadata.KeyState != types.KeyStatePendingDeletion || d.KeyMetadata.DeletionDate == nil ||
		aws.ToInt32(d.KeyMetadata.PendingDeletionWindowInDays) != 7 {
		t.Fatalf("DescribeKey of a pending key: %+v", d.KeyMetadata)
	}

	cancel, err := c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: k.KeyId})
	if err != nil || aws.ToString(cancel.KeyId) != *k.Arn {
		t.Fatalf("CancelKeyDeletion: %v", err)
	}
	_, err = c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: k.KeyId})
	wantAPIError(t, err, "KMSInvalidStateException", *k.Arn+" is not pending deletion.")
	d, _ = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
	if d.KeyMetadata.KeyState != types.KeyStateDisabled || d.KeyMetadata.DeletionDate != nil {
		t.Fatalf("after CancelKeyDeletion: %s %v", d.KeyMetadata.KeyState, d.KeyMetadata.DeletionDate)
	}
}
