package kms

import (
	"context"
	"testing"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/policy"
)

// Which error wins when several apply: AWS's order is authentication, then
// the request's own validation, then the key (lookup and access), its
// state, its usage and spec, and last the operation's own checks, with the
// exceptions docs/compatibility.md lists. These tests pin each case.

const incorrectKeyMessage = "The key ID in the request does not identify a CMK that can perform this operation."

// aliceCall is an IAM user of the dev account with no IAM policy: every
// permission the key policy delegates to the account is denied to her.
func aliceCall() Call {
	return Call{Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/alice", Region: "us-east-1",
		Principal: policy.Principal{ARN: "arn:aws:iam::111122223333:user/alice", Account: "111122223333", Type: policy.TypeUser,
			UserID: "AIDAALICE", Username: "alice"}}
}

const absentKey = "1234abcd-12ab-34cd-56ef-1234567890ab"

// TestIncorrectKeyBeforeUsage: a KeyId that is not the key of a symmetric
// ciphertext is IncorrectKeyException, whatever the named key's usage or
// spec (captured on AWS with an HMAC key); the named key must still exist,
// be allowed and be enabled.
func TestIncorrectKeyBeforeUsage(t *testing.T) {
	ctx := context.Background()
	s, db := newTestService(t, t.TempDir())
	defer db.Close()
	call := devCall
	sym := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	other := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	hmacKey := createKey(t, s, call, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecHmac256), KeyUsage: new(kmsapi.KeyUsageTypeGenerateVerifyMac)})
	rsaSign := createKey(t, s, call, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecRsa2048), KeyUsage: new(kmsapi.KeyUsageTypeSignVerify)})
	rsaEnc := createKey(t, s, call, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecRsa2048), KeyUsage: new(kmsapi.KeyUsageTypeEncryptDecrypt)})
	disabled := createKey(t, s, call, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecHmac256), KeyUsage: new(kmsapi.KeyUsageTypeGenerateVerifyMac)})
	if err := s.DisableKey(ctx, &call, &kmsapi.DisableKeyRequest{KeyId: new(disabled)}); err != nil {
		t.Fatal(err)
	}
	blob := encrypt(t, s, call, sym, "secret")

	decryptNaming := func(id string) error {
		c := call
		_, err := s.Decrypt(ctx, &c, &kmsapi.DecryptRequest{CiphertextBlob: blob, KeyId: new(id)})
		return err
	}
	reEncryptNaming := func(id string) error {
		c := call
		_, err := s.ReEncrypt(ctx, &c, &kmsapi.ReEncryptRequest{CiphertextBlob: blob, SourceKeyId: new(id), DestinationKeyId: new(sym)})
		return err
	}
	for _, op := range []struct {
		name string
		do   func(string) error
	}{{"Decrypt", decryptNaming}, {"ReEncrypt", reEncryptNaming}} {
		for name, id := range map[string]string{"HMAC": hmacKey, "RSA signing": rsaSign, "RSA encryption": rsaEnc, "symmetric": other} {
			err := op.do(id)
			var kerr *kmsapi.Error
			if e, ok := err.(*kmsapi.Error); ok {
				kerr = e
			}
			if kerr == nil || kerr.Code != kmsapi.IncorrectKeyException || kerr.Message != incorrectKeyMessage {
				t.Errorf("%s naming the %s key: %v, want IncorrectKeyException", op.name, name, err)
			}
		}
		// Before that: the named key must exist and be enabled.
		wantCode(t, op.do(absentKey), kmsapi.NotFoundException, "Key 'arn:aws:kms:us-east-1:111122223333:key/"+absentKey+"' does not exist")
		wantCode(t, op.do(disabled), kmsapi.DisabledException, "arn:aws:kms:us-east-1:111122223333:key/"+disabled+" is disabled.")
		// And allowed.
		alice := aliceCall()
		var err error
		if op.name == "Decrypt" {
			_, err = s.Decrypt(ctx, &alice, &kmsapi.DecryptRequest{CiphertextBlob: blob, KeyId: new(hmacKey)})
		} else {
			_, err = s.ReEncrypt(ctx, &alice, &kmsapi.ReEncryptRequest{CiphertextBlob: blob, SourceKeyId: new(hmacKey), DestinationKeyId: new(sym)})
		}
		wantCode(t, err, kmsapi.AccessDeniedException, "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:")
	}
	// A ciphertext that is not a symmetric one leaves the usage to decide.
	_, err := s.Decrypt(ctx, &call, &kmsapi.DecryptRequest{CiphertextBlob: make([]byte, 256), KeyId: new(hmacKey)})
	wantCode(t, err, kmsapi.InvalidKeyUsageException,
		"arn:aws:kms:us-east-1:111122223333:key/"+hmacKey+" key usage is GENERATE_VERIFY_MAC which is not valid for Decrypt.")
	// The right key still decrypts.
	out, err := s.Decrypt(ctx, &call, &kmsapi.DecryptRequest{CiphertextBlob: blob, KeyId: new(sym)})
	if err != nil || string(out.Plaintext) != "secret" {
		t.Fatalf("Decrypt with the right KeyId: %v", err)
	}
}

// TestValidationBeforeKey: what the request alone shows to be wrong is
// answered before the key is looked up or the permission asked.
func TestValidationBeforeKey(t *testing.T) {
	ctx := context.Background()
	s, db := newTestService(t, t.TempDir())
	defer db.Close()
	call, alice := devCall, aliceCall()

	// TagResource on a key that does not exist.
	err := s.TagResource(ctx, &call, &kmsapi.TagResourceRequest{KeyId: new(absentKey), Tags: []kmsapi.Tag{{TagKey: new("aws:x"), TagValue: new("")}}})
	wantCode(t, err, kmsapi.TagException, "Tags beginning with aws: are reserved")
	// GetKeyPolicy of another name, as PutKeyPolicy.
	_, err = s.GetKeyPolicy(ctx, &call, &kmsapi.GetKeyPolicyRequest{KeyId: new(absentKey), PolicyName: new("other")})
	wantCode(t, err, kmsapi.NotFoundException, "No such policy exists: other")
	// ListGrants with a malformed grant ID.
	_, err = s.ListGrants(ctx, &call, &kmsapi.ListGrantsRequest{KeyId: new(absentKey), GrantId: new("nope")})
	wantCode(t, err, kmsapi.InvalidGrantIdException, "Invalid grant ID: nope")
	// CreateGrant: what the request alone breaks.
	_, err = s.CreateGrant(ctx, &call, &kmsapi.CreateGrantRequest{KeyId: new(absentKey), GranteePrincipal: new("arn:aws:iam::111122223333:root"),
		Operations: []kmsapi.GrantOperation{kmsapi.GrantOperationCreateGrant}})
	wantCode(t, err, kmsapi.ValidationException, "Grants must not contain only the CreateGrant operation.")
	_, err = s.CreateGrant(ctx, &call, &kmsapi.CreateGrantRequest{KeyId: new(absentKey), GranteePrincipal: new("bob"),
		Operations: []kmsapi.GrantOperation{kmsapi.GrantOperationDecrypt}})
	wantCode(t, err, kmsapi.ValidationException, "Invalid principal: bob")
	// A caller without the permission learns of the request's own faults first.
	_, err = s.CreateKey(ctx, &alice, &kmsapi.CreateKeyRequest{Policy: new("{")})
	wantCode(t, err, kmsapi.MalformedPolicyDocumentException)
	_, err = s.CreateKey(ctx, &alice, &kmsapi.CreateKeyRequest{Tags: []kmsapi.Tag{{TagKey: new("AWS:x"), TagValue: new("")}}})
	wantCode(t, err, kmsapi.TagException, "Tags beginning with aws: are reserved")
	_, err = s.GenerateRandom(ctx, &alice, &kmsapi.GenerateRandomRequest{})
	wantCode(t, err, kmsapi.ValidationException, "NumberOfBytes is required.")
	// Then the permission.
	_, err = s.CreateKey(ctx, &alice, &kmsapi.CreateKeyRequest{})
	wantCode(t, err, kmsapi.AccessDeniedException, "kms:CreateKey on resource: * because no identity-based policy allows the kms:CreateKey action")
	_, err = s.GenerateRandom(ctx, &alice, &kmsapi.GenerateRandomRequest{NumberOfBytes: new(int32(8)), CustomKeyStoreId: new("cks-1234567890abcdef0")})
	wantCode(t, err, kmsapi.AccessDeniedException, "kms:GenerateRandom")
	_, err = s.CreateKey(ctx, &alice, &kmsapi.CreateKeyRequest{CustomKeyStoreId: new("cks-1234567890abcdef0")})
	wantCode(t, err, kmsapi.AccessDeniedException, "kms:CreateKey")
	// Then the custom key store it names, which trent does not have.
	_, err = s.CreateKey(ctx, &call, &kmsapi.CreateKeyRequest{Origin: new(kmsapi.OriginTypeAwsCloudhsm)})
	wantCode(t, err, kmsapi.CustomKeyStoreNotFoundException, "Custom key stores are not supported by this server.")
	_, err = s.GenerateRandom(ctx, &call, &kmsapi.GenerateRandomRequest{NumberOfBytes: new(int32(8)), CustomKeyStoreId: new("cks-1234567890abcdef0")})
	wantCode(t, err, kmsapi.CustomKeyStoreNotFoundException)
	// Decrypt: a Recipient is refused before a dry run answers.
	_, err = s.Decrypt(ctx, &call, &kmsapi.DecryptRequest{CiphertextBlob: []byte{1}, KeyId: new(absentKey), DryRun: new(true),
		DryRunModifiers: []kmsapi.DryRunModifierType{kmsapi.DryRunModifierTypeIgnoreCiphertext},
		Recipient:       &kmsapi.RecipientInfo{AttestationDocument: []byte{1}}})
	wantCode(t, err, kmsapi.UnsupportedOperationException, "Recipient is not supported by this server yet.")
	// ListAliases: the key a KeyId names before the marker.
	_, err = s.ListAliases(ctx, &call, &kmsapi.ListAliasesRequest{KeyId: new(absentKey), Marker: new("!")})
	wantCode(t, err, kmsapi.NotFoundException, "does not exist")
}

// TestStateBeforeUsage: a key in the wrong state is refused for its state
// before its usage or spec is looked at.
func TestStateBeforeUsage(t *testing.T) {
	ctx := context.Background()
	s, db := newTestService(t, t.TempDir())
	defer db.Close()
	call := devCall
	hmacKey := createKey(t, s, call, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecHmac256), KeyUsage: new(kmsapi.KeyUsageTypeGenerateVerifyMac)})
	sym := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	for _, id := range []string{hmacKey, sym} {
		if err := s.DisableKey(ctx, &call, &kmsapi.DisableKeyRequest{KeyId: new(id)}); err != nil {
			t.Fatal(err)
		}
	}
	disabled := func(id string) string { return "arn:aws:kms:us-east-1:111122223333:key/" + id + " is disabled." }
	_, err := s.Encrypt(ctx, &call, &kmsapi.EncryptRequest{KeyId: new(hmacKey), Plaintext: []byte("x")})
	wantCode(t, err, kmsapi.DisabledException, disabled(hmacKey))
	_, err = s.GenerateMac(ctx, &call, &kmsapi.GenerateMacRequest{KeyId: new(sym), Message: []byte("x"), MacAlgorithm: new(kmsapi.MacAlgorithmSpecHmacSha256)})
	wantCode(t, err, kmsapi.DisabledException, disabled(sym))
	_, err = s.GetPublicKey(ctx, &call, &kmsapi.GetPublicKeyRequest{KeyId: new(sym)})
	wantCode(t, err, kmsapi.DisabledException, disabled(sym))
	// CreateGrant: an operation the key cannot do is looked at after the state.
	_, err = s.CreateGrant(ctx, &call, &kmsapi.CreateGrantRequest{KeyId: new(sym), GranteePrincipal: new("arn:aws:iam::111122223333:root"),
		Operations: []kmsapi.GrantOperation{kmsapi.GrantOperationSign}})
	wantCode(t, err, kmsapi.DisabledException, disabled(sym))
	if err := s.EnableKey(ctx, &call, &kmsapi.EnableKeyRequest{KeyId: new(sym)}); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateGrant(ctx, &call, &kmsapi.CreateGrantRequest{KeyId: new(sym), GranteePrincipal: new("arn:aws:iam::111122223333:root"),
		Operations: []kmsapi.GrantOperation{kmsapi.GrantOperationSign}})
	wantCode(t, err, kmsapi.ValidationException, "Grant operation Sign is not valid for a key with key spec SYMMETRIC_DEFAULT and key usage ENCRYPT_DECRYPT.")
	// Rotation: state before key type (kms-lifecycle.md §1.2, captured).
	rsa := createKey(t, s, call, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecRsa4096), KeyUsage: new(kmsapi.KeyUsageTypeSignVerify)})
	if err := s.DisableKey(ctx, &call, &kmsapi.DisableKeyRequest{KeyId: new(rsa)}); err != nil {
		t.Fatal(err)
	}
	_, err = s.RotateKeyOnDemand(ctx, &call, &kmsapi.RotateKeyOnDemandRequest{KeyId: new(rsa)})
	wantCode(t, err, kmsapi.DisabledException, disabled(rsa))
}

// TestDryRunAnswersLast: a dry run says whether the request would have
// succeeded, so it answers after every other check, the operation's own
// included (as Decrypt's checks the ciphertext unless IGNORE_CIPHERTEXT).
func TestDryRunAnswersLast(t *testing.T) {
	ctx := context.Background()
	s, db := newTestService(t, t.TempDir())
	defer db.Close()
	call := devCall
	sym := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	rsaEnc := createKey(t, s, call, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecRsa2048), KeyUsage: new(kmsapi.KeyUsageTypeEncryptDecrypt)})
	p256 := createKey(t, s, call, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecEccNistP256), KeyUsage: new(kmsapi.KeyUsageTypeSignVerify)})
	ecdh := createKey(t, s, call, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecEccNistP256), KeyUsage: new(kmsapi.KeyUsageTypeKeyAgreement)})
	hmacKey := createKey(t, s, call, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecHmac256), KeyUsage: new(kmsapi.KeyUsageTypeGenerateVerifyMac)})
	dry := new(true)
	c := call

	_, err := s.Encrypt(ctx, &c, &kmsapi.EncryptRequest{KeyId: new(rsaEnc), Plaintext: make([]byte, 191),
		EncryptionAlgorithm: new(kmsapi.EncryptionAlgorithmSpecRsaesOaepSha256), DryRun: dry})
	wantCode(t, err, kmsapi.ValidationException, "Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes.")
	_, err = s.Encrypt(ctx, &c, &kmsapi.EncryptRequest{KeyId: new(rsaEnc), Plaintext: make([]byte, 190),
		EncryptionAlgorithm: new(kmsapi.EncryptionAlgorithmSpecRsaesOaepSha256), DryRun: dry})
	wantCode(t, err, kmsapi.DryRunOperationException, "The request would have succeeded, but the DryRun option is set.")

	blob := encrypt(t, s, call, sym, "x")
	_, err = s.ReEncrypt(ctx, &c, &kmsapi.ReEncryptRequest{CiphertextBlob: blob, DestinationKeyId: new(rsaEnc),
		DestinationEncryptionAlgorithm: new(kmsapi.EncryptionAlgorithmSpecRsaesOaepSha256), DryRun: dry})
	wantCode(t, err, kmsapi.DryRunOperationException)

	_, err = s.Sign(ctx, &c, &kmsapi.SignRequest{KeyId: new(p256), Message: []byte("short"), MessageType: new(kmsapi.MessageTypeDigest),
		SigningAlgorithm: new(kmsapi.SigningAlgorithmSpecEcdsaSha256), DryRun: dry})
	wantCode(t, err, kmsapi.ValidationException, "Digest is invalid length for algorithm ECDSA_SHA_256.")
	_, err = s.Verify(ctx, &c, &kmsapi.VerifyRequest{KeyId: new(p256), Message: []byte("m"), Signature: []byte("not a signature"),
		SigningAlgorithm: new(kmsapi.SigningAlgorithmSpecEcdsaSha256), DryRun: dry})
	wantCode(t, err, kmsapi.KMSInvalidSignatureException)
	_, err = s.VerifyMac(ctx, &c, &kmsapi.VerifyMacRequest{KeyId: new(hmacKey), Message: []byte("m"), Mac: make([]byte, 32),
		MacAlgorithm: new(kmsapi.MacAlgorithmSpecHmacSha256), DryRun: dry})
	wantCode(t, err, kmsapi.KMSInvalidMacException)
	_, err = s.DeriveSharedSecret(ctx, &c, &kmsapi.DeriveSharedSecretRequest{KeyId: new(ecdh), PublicKey: []byte{1, 2, 3},
		KeyAgreementAlgorithm: new(kmsapi.KeyAgreementAlgorithmSpecEcdh), DryRun: dry})
	wantCode(t, err, kmsapi.ValidationException)
	_, err = s.GenerateDataKeyPair(ctx, &c, &kmsapi.GenerateDataKeyPairRequest{KeyId: new(sym), KeyPairSpec: new(kmsapi.DataKeyPairSpecSm2), DryRun: dry})
	wantCode(t, err, kmsapi.UnsupportedOperationException, "KeyPairSpec SM2 is not supported by this server.")
	_, err = s.GenerateDataKeyPair(ctx, &c, &kmsapi.GenerateDataKeyPairRequest{KeyId: new(sym), KeyPairSpec: new(kmsapi.DataKeyPairSpecEccNistP256), DryRun: dry})
	wantCode(t, err, kmsapi.DryRunOperationException)

	// A dry run is not a use of the key.
	for _, id := range []string{sym, rsaEnc, p256, ecdh, hmacKey} {
		out, err := s.GetKeyLastUsage(ctx, &c, &kmsapi.GetKeyLastUsageRequest{KeyId: new(id)})
		if err != nil {
			t.Fatal(err)
		}
		if id != sym && out.KeyLastUsage != nil {
			t.Fatalf("dry runs recorded a use of %s: %+v", id, out.KeyLastUsage)
		}
	}
}
