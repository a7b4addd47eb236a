package e2e

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// createAsymmetricKey makes a key of the given spec and usage.
func createAsymmetricKey(t *testing.T, c *kms.Client, spec types.KeySpec, usage types.KeyUsageType) *types.KeyMetadata {
	t.Helper()
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage})
	if err != nil {
		t.Fatalf("CreateKey(%s, %s): %v", spec, usage, err)
	}
	return out.KeyMetadata
}

func sameSet[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// TestKeyMetadataAlgorithms checks that each key spec and usage lists exactly
// the algorithms AWS lists, in DescribeKey and GetPublicKey.
func TestKeyMetadataAlgorithms(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	rsaSigning := []types.SigningAlgorithmSpec{
		types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, types.SigningAlgorithmSpecRsassaPkcs1V15Sha384, types.SigningAlgorithmSpecRsassaPkcs1V15Sha512,
		types.SigningAlgorithmSpecRsassaPssSha256, types.SigningAlgorithmSpecRsassaPssSha384, types.SigningAlgorithmSpecRsassaPssSha512,
	}
	for _, tc := range []struct {
		spec       types.KeySpec
		usage      types.KeyUsageType
		encryption []types.EncryptionAlgorithmSpec
		signing    []types.SigningAlgorithmSpec
		agreement  []types.KeyAgreementAlgorithmSpec
		mac        []types.MacAlgorithmSpec
		kem        []types.EncapsulationAlgorithmSpec
	}{
		{spec: types.KeySpecRsa2048, usage: types.KeyUsageTypeEncryptDecrypt,
			encryption: []types.EncryptionAlgorithmSpec{types.EncryptionAlgorithmSpecRsaesOaepSha1, types.EncryptionAlgorithmSpecRsaesOaepSha256}},
		{spec: types.KeySpecRsa2048, usage: types.KeyUsageTypeSignVerify, signing: rsaSigning},
		{spec: types.KeySpecEccNistP256, usage: types.KeyUsageTypeSignVerify, signing: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha256}},
		{spec: types.KeySpecEccNistP384, usage: types.KeyUsageTypeSignVerify, signing: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha384}},
		{spec: types.KeySpecEccNistP521, usage: types.KeyUsageTypeSignVerify, signing: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha512}},
		{spec: types.KeySpecEccNistP256, usage: types.KeyUsageTypeKeyAgreement, agreement: []types.KeyAgreementAlgorithmSpec{types.KeyAgreementAlgorithmSpecEcdh}},
		{spec: types.KeySpecEccSecgP256k1, usage: types.KeyUsageTypeSignVerify, signing: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha256}},
		{spec: types.KeySpecEccNistEdwards25519, usage: types.KeyUsageTypeSignVerify,
			signing: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEd25519Sha512, types.SigningAlgorithmSpecEd25519PhSha512}},
		{spec: types.KeySpecMlDsa65, usage: types.KeyUsageTypeSignVerify, signing: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecMlDsaShake256}},
		{spec: types.KeySpecMlKem768, usage: types.KeyUsageTypeEncapsulateDecapsulate, kem: []types.EncapsulationAlgorithmSpec{types.EncapsulationAlgorithmSpecMlKem}},
		{spec: types.KeySpecHmac256, usage: types.KeyUsageTypeGenerateVerifyMac, mac: []types.MacAlgorithmSpec{types.MacAlgorithmSpecHmacSha256}},
		{spec: types.KeySpecHmac512, usage: types.KeyUsageTypeGenerateVerifyMac, mac: []types.MacAlgorithmSpec{types.MacAlgorithmSpecHmacSha512}},
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.spec, tc.usage), func(t *testing.T) {
			m := createAsymmetricKey(t, c, tc.spec, tc.usage)
			if m.KeySpec != tc.spec || m.KeyUsage != tc.usage || string(m.CustomerMasterKeySpec) != string(tc.spec) ||
				!sameSet(m.EncryptionAlgorithms, tc.encryption) || !sameSet(m.SigningAlgorithms, tc.signing) ||
				!sameSet(m.KeyAgreementAlgorithms, tc.agreement) || !sameSet(m.MacAlgorithms, tc.mac) ||
				!sameSet(m.EncapsulationAlgorithms, tc.kem) || m.CurrentKeyMaterialId != nil {
				t.Fatalf("metadata: spec %s usage %s enc %v sign %v agree %v mac %v kem %v material %v", m.KeySpec, m.KeyUsage,
					m.EncryptionAlgorithms, m.SigningAlgorithms, m.KeyAgreementAlgorithms, m.MacAlgorithms, m.EncapsulationAlgorithms,
					aws.ToString(m.CurrentKeyMaterialId))
			}
			if tc.usage == types.KeyUsageTypeGenerateVerifyMac {
				_, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: m.KeyId})
				wantAPIError(t, err, "UnsupportedOperationException", "")
				return
			}
			pub, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: m.KeyId})
			if err != nil {
				t.Fatal(err)
			}
			if pub.KeySpec != tc.spec || pub.KeyUsage != tc.usage || aws.ToString(pub.KeyId) != *m.Arn || len(pub.PublicKey) == 0 ||
				!sameSet(pub.EncryptionAlgorithms, tc.encryption) || !sameSet(pub.SigningAlgorithms, tc.signing) ||
				!sameSet(pub.KeyAgreementAlgorithms, tc.agreement) || !sameSet(pub.EncapsulationAlgorithms, tc.kem) {
				t.Fatalf("GetPublicKey = %+v", pub)
			}
		})
	}
	_, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: createKey(t, c, "symmetric").KeyId})
	wantAPIError(t, err, "UnsupportedOperationException", "")
}

// TestSignVerifyWithGoCrypto signs with every RSA, ECDSA and Ed25519
// algorithm and verifies each signature with Go's own crypto, using only
// the public key from GetPublicKey.
func TestSignVerifyWithGoCrypto(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	message := []byte("release v1.2.3 of the thing")
	hashes := map[types.SigningAlgorithmSpec]crypto.Hash{
		types.SigningAlgorithmSpecRsassaPssSha256: crypto.SHA256, types.SigningAlgorithmSpecRsassaPssSha384: crypto.SHA384,
		types.SigningAlgorithmSpecRsassaPssSha512: crypto.SHA512, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256: crypto.SHA256,
		types.SigningAlgorithmSpecRsassaPkcs1V15Sha384: crypto.SHA384, types.SigningAlgorithmSpecRsassaPkcs1V15Sha512: crypto.SHA512,
		types.SigningAlgorithmSpecEcdsaSha256: crypto.SHA256, types.SigningAlgorithmSpecEcdsaSha384: crypto.SHA384,
		types.SigningAlgorithmSpecEcdsaSha512: crypto.SHA512,
	}
	for _, spec := range []types.KeySpec{types.KeySpecRsa2048, types.KeySpecRsa3072, types.KeySpecEccNistP256,
		types.KeySpecEccNistP384, types.KeySpecEccNistP521, types.KeySpecEccNistEdwards25519} {
		t.Run(string(spec), func(t *testing.T) {
			m := createAsymmetricKey(t, c, spec, types.KeyUsageTypeSignVerify)
			pubOut, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: m.KeyId})
			if err != nil {
				t.Fatal(err)
			}
			pub, err := x509.ParsePKIXPublicKey(pubOut.PublicKey)
			if err != nil {
				t.Fatalf("GetPublicKey's key does not parse: %v", err)
			}
			for _, alg := range m.SigningAlgorithms {
				mt, input := types.MessageTypeRaw, message
				if alg == types.SigningAlgorithmSpecEd25519PhSha512 {
					sum := sha512.Sum512(message)
					mt, input = types.MessageTypeDigest, sum[:]
				}
				sig, err := c.Sign(ctx, &kms.SignInput{KeyId: m.KeyId, Message: input, MessageType: mt, SigningAlgorithm: alg})
				if err != nil {
					t.Fatalf("Sign %s: %v", alg, err)
				}
				if aws.ToString(sig.KeyId) != *m.Arn || sig.SigningAlgorithm != alg {
					t.Fatalf("Sign answered %s %s", aws.ToString(sig.KeyId), sig.SigningAlgorithm)
				}
				if err := verifyWithGo(pub, alg, hashes[alg], message, sig.Signature); err != nil {
					t.Fatalf("Go rejects the %s signature: %v", alg, err)
				}
				v, err := c.Verify(ctx, &kms.VerifyInput{KeyId: m.KeyId, Message: input, MessageType: mt, SigningAlgorithm: alg, Signature: sig.Signature})
				if err != nil || !v.SignatureValid {
					t.Fatalf("trent rejects its own %s signature: %v", alg, err)
				}
				bad := bytes.Clone(sig.Signature)
				bad[len(bad)/2] ^= 0x10
				_, err = c.Verify(ctx, &kms.VerifyInput{KeyId: m.KeyId, Message: input, MessageType: mt, SigningAlgorithm: alg, Signature: bad})
				wantAPIError(t, err, "KMSInvalidSignatureException", "")
				_, err = c.Verify(ctx, &kms.VerifyInput{KeyId: m.KeyId, Message: append(bytes.Clone(input), '!'), MessageType: mt, SigningAlgorithm: alg, Signature: sig.Signature})
				if mt == types.MessageTypeDigest {
					wantAPIError(t, err, "ValidationException", "")
				} else {
					wantAPIError(t, err, "KMSInvalidSignatureException", "")
				}
			}
			// DIGEST messages are the hash and must have its length.
			if alg := m.SigningAlgorithms[0]; alg != types.SigningAlgorithmSpecEd25519Sha512 {
				h := hashes[alg].New()
				h.Write(message)
				digest := h.Sum(nil)
				sig, err := c.Sign(ctx, &kms.SignInput{KeyId: m.KeyId, Message: digest, MessageType: types.MessageTypeDigest, SigningAlgorithm: alg})
				if err != nil {
					t.Fatal(err)
				}
				if err := verifyWithGo(pub, alg, hashes[alg], message, sig.Signature); err != nil {
					t.Fatalf("Go rejects the DIGEST %s signature: %v", alg, err)
				}
				_, err = c.Sign(ctx, &kms.SignInput{KeyId: m.KeyId, Message: digest[1:], MessageType: types.MessageTypeDigest, SigningAlgorithm: alg})
				wantAPIError(t, err, "ValidationException", fmt.Sprintf("Digest is invalid length for algorithm %s.", alg))
			}
		})
	}
}

func verifyWithGo(pub any, alg types.SigningAlgorithmSpec, h crypto.Hash, message, sig []byte) error {
	digest := func() []byte { d := h.New(); d.Write(message); return d.Sum(nil) }
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if bytes.HasPrefix([]byte(alg), []byte("RSASSA_PSS")) {
			return rsa.VerifyPSS(k, h, digest(), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.VerifyPKCS1v15(k, h, digest(), sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest(), sig) {
			return fmt.Errorf("ecdsa: invalid signature")
		}
		return nil
	case ed25519.PublicKey:
		if alg == types.SigningAlgorithmSpecEd25519PhSha512 {
			sum := sha512.Sum512(message)
			return ed25519.VerifyWithOptions(k, sum[:], sig, &ed25519.Options{Hash: crypto.SHA512})
		}
		if !ed25519.Verify(k, message, sig) {
			return fmt.Errorf("ed25519: invalid signature")
		}
		return nil
	}
	return fmt.Errorf("unexpected public key type %T", pub)
}

// TestWrongPairings checks AWS's errors for keys used for what they cannot do.
func TestWrongPairings(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	sym := createKey(t, c, "symmetric")
	p256 := createAsymmetricKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	hmacKey := createAsymmetricKey(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	rsaEnc := createAsymmetricKey(t, c, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	msg := []byte("m")

	_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: hmacKey.KeyId, Plaintext: msg})
	wantAPIError(t, err, "InvalidKeyUsageException", *hmacKey.Arn+" key usage is GENERATE_VERIFY_MAC which is not valid for Encrypt.")
	_, err = c.Sign(ctx, &kms.SignInput{KeyId: sym.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	wantAPIError(t, err, "InvalidKeyUsageException", *sym.Arn+" key usage is ENCRYPT_DECRYPT which is not valid for Sign.")
	_, err = c.Sign(ctx, &kms.SignInput{KeyId: p256.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha384})
	wantAPIError(t, err, "InvalidKeyUsageException", "Algorithm ECDSA_SHA_384 is incompatible with key spec ECC_NIST_P256.")
	_, err = c.Sign(ctx, &kms.SignInput{KeyId: p256.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})
	wantAPIError(t, err, "InvalidKeyUsageException", "")
	_, err = c.DeriveSharedSecret(ctx, &kms.DeriveSharedSecretInput{KeyId: p256.KeyId, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: []byte{1}})
	wantAPIError(t, err, "InvalidKeyUsageException", *p256.Arn+" key usage is SIGN_VERIFY which is not valid for DeriveSharedSecret.")
	_, err = c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: sym.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	wantAPIError(t, err, "InvalidKeyUsageException", "")
	_, err = c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: hmacKey.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha384})
	wantAPIError(t, err, "InvalidKeyUsageException", "")
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: rsaEnc.KeyId, KeySpec: types.DataKeySpecAes256})
	wantAPIError(t, err, "InvalidKeyUsageException", "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.")
	_, err = c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: rsaEnc.KeyId, KeyPairSpec: types.DataKeyPairSpecEccNistP256})
	wantAPIError(t, err, "InvalidKeyUsageException", "")
	// Asymmetric encryption needs an algorithm, takes no context, and knows its limits.
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: rsaEnc.KeyId, Plaintext: msg})
	wantAPIError(t, err, "InvalidKeyUsageException", "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.")
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: rsaEnc.KeyId, Plaintext: msg, EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault})
	wantAPIError(t, err, "InvalidKeyUsageException", "")
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: rsaEnc.KeyId, Plaintext: msg, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256,
		EncryptionContext: map[string]string{"a": "b"}})
	wantAPIError(t, err, "ValidationException", "EncryptionContext is not supported when encrypting/decrypting with asymmetric CMKs.")
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: sym.KeyId, Plaintext: msg, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	wantAPIError(t, err, "InvalidKeyUsageException", "")
	for _, tc := range []struct {
		alg types.EncryptionAlgorithmSpec
		max int
	}{{types.EncryptionAlgorithmSpecRsaesOaepSha1, 214}, {types.EncryptionAlgorithmSpecRsaesOaepSha256, 190}} {
		if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: rsaEnc.KeyId, Plaintext: make([]byte, tc.max), EncryptionAlgorithm: tc.alg}); err != nil {
			t.Fatalf("%s with %d bytes: %v", tc.alg, tc.max, err)
		}
		_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: rsaEnc.KeyId, Plaintext: make([]byte, tc.max+1), EncryptionAlgorithm: tc.alg})
		wantAPIError(t, err, "ValidationException", fmt.Sprintf("Algorithm %s and key spec RSA_2048 cannot encrypt data larger than %d bytes.", tc.alg, tc.max))
	}
	// Invalid KeySpec / KeyUsage combinations at creation.
	for _, tc := range []struct {
		spec  types.KeySpec
		usage types.KeyUsageType
	}{
		{types.KeySpecSymmetricDefault, types.KeyUsageTypeSignVerify},
		{types.KeySpecRsa2048, types.KeyUsageTypeKeyAgreement},
		{types.KeySpecEccNistP256, types.KeyUsageTypeEncryptDecrypt},
		{types.KeySpecEccNistEdwards25519, types.KeyUsageTypeKeyAgreement},
		{types.KeySpecHmac256, types.KeyUsageTypeEncryptDecrypt},
		{types.KeySpecMlKem512, types.KeyUsageTypeSignVerify},
	} {
		_, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: tc.spec, KeyUsage: tc.usage})
		wantAPIError(t, err, "ValidationException", fmt.Sprintf("KeyUsage %s is not compatible with KeySpec %s", tc.usage, tc.spec))
	}
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecSm2, KeyUsage: types.KeyUsageTypeSignVerify})
	wantAPIError(t, err, "UnsupportedOperationException", "KeySpec SM2 is not supported by this server. AWS KMS offers it only in the China Regions.")
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048})
	wantAPIError(t, err, "ValidationException", "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")
}

func TestHMAC(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	for _, tc := range []struct {
		spec types.KeySpec
		alg  types.MacAlgorithmSpec
		size int
	}{
		{types.KeySpecHmac224, types.MacAlgorithmSpecHmacSha224, 28}, {types.KeySpecHmac256, types.MacAlgorithmSpecHmacSha256, 32},
		{types.KeySpecHmac384, types.MacAlgorithmSpecHmacSha384, 48}, {types.KeySpecHmac512, types.MacAlgorithmSpecHmacSha512, 64},
	} {
		k := createAsymmetricKey(t, c, tc.spec, types.KeyUsageTypeGenerateVerifyMac)
		msg := []byte("webhook body")
		m1, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: k.KeyId, Message: msg, MacAlgorithm: tc.alg})
		if err != nil {
			t.Fatal(err)
		}
		m2, _ := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: k.KeyId, Message: msg, MacAlgorithm: tc.alg})
		if len(m1.Mac) != tc.size || !bytes.Equal(m1.Mac, m2.Mac) || aws.ToString(m1.KeyId) != *k.Arn || m1.MacAlgorithm != tc.alg {
			t.Fatalf("%s: MAC of %d bytes (want %d), deterministic %v", tc.spec, len(m1.Mac), tc.size, bytes.Equal(m1.Mac, m2.Mac))
		}
		v, err := c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: k.KeyId, Message: msg, MacAlgorithm: tc.alg, Mac: m1.Mac})
		if err != nil || !v.MacValid {
			t.Fatalf("VerifyMac of its own MAC: %v", err)
		}
		bad := bytes.Clone(m1.Mac)
		bad[0] ^= 1
		_, err = c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: k.KeyId, Message: msg, MacAlgorithm: tc.alg, Mac: bad})
		wantAPIError(t, err, "KMSInvalidMacException", "")
		_, err = c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: k.KeyId, Message: []byte("other"), MacAlgorithm: tc.alg, Mac: m1.Mac})
		wantAPIError(t, err, "KMSInvalidMacException", "")
	}
}

func TestRSAEncryptionRoundTrips(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	k := createAsymmetricKey(t, c, types.KeySpecRsa3072, types.KeyUsageTypeEncryptDecrypt)
	sym := createKey(t, c, "symmetric")
	pubOut, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: k.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.ParsePKIXPublicKey(pubOut.PublicKey)
	plaintext := []byte("for the RSA key")
	// Encrypted outside KMS with the public key, as AWS suggests.
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub.(*rsa.PublicKey), plaintext, nil)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: k.KeyId, CiphertextBlob: ct, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	if err != nil || !bytes.Equal(dec.Plaintext, plaintext) || dec.EncryptionAlgorithm != types.EncryptionAlgorithmSpecRsaesOaepSha256 || dec.KeyMaterialId != nil {
		t.Fatalf("Decrypt of an OAEP ciphertext: %v %q", err, dec.Plaintext)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{KeyId: k.KeyId, CiphertextBlob: ct, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1})
	wantAPIError(t, err, "InvalidCiphertextException", "")
	_, err = c.Decrypt(ctx, &kms.DecryptInput{KeyId: k.KeyId, CiphertextBlob: ct})
	wantAPIError(t, err, "InvalidCiphertextException", "")
	// Symmetric to RSA and back with ReEncrypt.
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: sym.KeyId, Plaintext: plaintext, EncryptionContext: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	re, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: map[string]string{"a": "b"},
		DestinationKeyId: k.KeyId, DestinationEncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1})
	if err != nil {
		t.Fatal(err)
	}
	back, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: re.CiphertextBlob, SourceKeyId: k.KeyId,
		SourceEncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1, DestinationKeyId: sym.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	dec, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: back.CiphertextBlob})
	if err != nil || !bytes.Equal(dec.Plaintext, plaintext) {
		t.Fatalf("symmetric → RSA → symmetric: %v %q", err, dec.Plaintext)
	}
}

func TestGenerateDataKeyPair(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	k := createKey(t, c, "wrapping")
	ec := map[string]string{"pair": "yes"}
	for _, spec := range []types.DataKeyPairSpec{types.DataKeyPairSpecRsa2048, types.DataKeyPairSpecEccNistP256,
		types.DataKeyPairSpecEccNistP384, types.DataKeyPairSpecEccNistP521, types.DataKeyPairSpecEccNistEdwards25519} {
		out, err := c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: k.KeyId, KeyPairSpec: spec, EncryptionContext: ec})
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(out.PrivateKeyPlaintext)
		if err != nil {
			t.Fatalf("%s private key is not PKCS#8: %v", spec, err)
		}
		pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
		if err != nil {
			t.Fatalf("%s public key is not SPKI: %v", spec, err)
		}
		if !priv.(interface{ Public() crypto.PublicKey }).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			t.Fatalf("%s: private and public keys do not match", spec)
		}
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.PrivateKeyCiphertextBlob, EncryptionContext: ec})
		if err != nil || !bytes.Equal(dec.Plaintext, out.PrivateKeyPlaintext) {
			t.Fatalf("%s: the encrypted private key does not decrypt to the plaintext one: %v", spec, err)
		}
		if out.KeyPairSpec != spec || aws.ToString(out.KeyId) != *k.Arn {
			t.Fatalf("%s: answered %s from %s", spec, out.KeyPairSpec, aws.ToString(out.KeyId))
		}
		wp, err := c.GenerateDataKeyPairWithoutPlaintext(ctx, &kms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: k.KeyId, KeyPairSpec: spec})
		if err != nil {
			t.Fatal(err)
		}
		dec, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wp.PrivateKeyCiphertextBlob})
		if err != nil {
			t.Fatal(err)
		}
		priv, err = x509.ParsePKCS8PrivateKey(dec.Plaintext)
		pub, _ = x509.ParsePKIXPublicKey(wp.PublicKey)
		if err != nil || !priv.(interface{ Public() crypto.PublicKey }).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			t.Fatalf("%s without plaintext: %v", spec, err)
		}
	}
}
