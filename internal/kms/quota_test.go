package kms

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"slices"
	"testing"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// countingQuota is a KeyQuota that records the key specs it is charged
// for, and refuses them all when refuse is set.
type countingQuota struct {
	charged []kmsapi.KeySpec
	refuse  bool
}

var errTestThrottled = kmsapi.Errorf("ThrottlingException", "throttled")

func (q *countingQuota) AdmitKey(spec kmsapi.KeySpec) error {
	q.charged = append(q.charged, spec)
	if q.refuse {
		return errTestThrottled
	}
	return nil
}

// TestQuotaChargedPerKey: the service charges the request quota once for
// each key a cryptographic operation uses, with that key's spec, on every
// path to a key: named or found from a ciphertext, symmetric or not, dry
// runs too.
func TestQuotaChargedPerKey(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService(t, t.TempDir())
	call := devCall
	sym := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	rsaKey := createKey(t, s, call, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecRsa2048), KeyUsage: new(kmsapi.KeyUsageTypeEncryptDecrypt)})
	ecc := createKey(t, s, call, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecEccNistP256), KeyUsage: new(kmsapi.KeyUsageTypeKeyAgreement)})
	hmacKey := createKey(t, s, call, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecHmac256), KeyUsage: new(kmsapi.KeyUsageTypeGenerateVerifyMac)})
	kem := createKey(t, s, call, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecMlKem768), KeyUsage: new(kmsapi.KeyUsageTypeEncapsulateDecapsulate)})
	blob := encrypt(t, s, call, sym, "x")
	oaep := kmsapi.EncryptionAlgorithmSpecRsaesOaepSha256
	rsaBlob := must[*kmsapi.EncryptResponse](t)(s.Encrypt(ctx, &call, &kmsapi.EncryptRequest{KeyId: new(rsaKey), Plaintext: []byte("x"), EncryptionAlgorithm: &oaep})).CiphertextBlob
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	peerDER, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())

	for _, c := range []struct {
		name string
		do   func(*Call) error
		want []kmsapi.KeySpec
	}{
		{"Encrypt", func(c *Call) error {
			_, err := s.Encrypt(ctx, c, &kmsapi.EncryptRequest{KeyId: new(sym), Plaintext: []byte("x")})
			return err
		}, []kmsapi.KeySpec{kmsapi.KeySpecSymmetricDefault}},
		{"Encrypt, dry run", func(c *Call) error {
			_, err := s.Encrypt(ctx, c, &kmsapi.EncryptRequest{KeyId: new(sym), Plaintext: []byte("x"), DryRun: new(true)})
			if isDryRun(err) {
				return nil
			}
			return err
		}, []kmsapi.KeySpec{kmsapi.KeySpecSymmetricDefault}},
		{"Decrypt, the key from the ciphertext", func(c *Call) error {
			_, err := s.Decrypt(ctx, c, &kmsapi.DecryptRequest{CiphertextBlob: blob})
			return err
		}, []kmsapi.KeySpec{kmsapi.KeySpecSymmetricDefault}},
		{"Decrypt, the key named", func(c *Call) error {
			_, err := s.Decrypt(ctx, c, &kmsapi.DecryptRequest{CiphertextBlob: blob, KeyId: new(sym)})
			return err
		}, []kmsapi.KeySpec{kmsapi.KeySpecSymmetricDefault}},
		{"Decrypt with RSA", func(c *Call) error {
			_, err := s.Decrypt(ctx, c, &kmsapi.DecryptRequest{CiphertextBlob: rsaBlob, KeyId: new(rsaKey), EncryptionAlgorithm: &oaep})
			return err
		}, []kmsapi.KeySpec{kmsapi.KeySpecRsa2048}},
		{"ReEncrypt from symmetric to RSA", func(c *Call) error {
			_, err := s.ReEncrypt(ctx, c, &kmsapi.ReEncryptRequest{CiphertextBlob: blob, DestinationKeyId: new(rsaKey), DestinationEncryptionAlgorithm: &oaep})
			return err
		}, []kmsapi.KeySpec{kmsapi.KeySpecSymmetricDefault, kmsapi.KeySpecRsa2048}},
		{"GenerateDataKey", func(c *Call) error {
			_, err := s.GenerateDataKey(ctx, c, &kmsapi.GenerateDataKeyRequest{KeyId: new(sym), NumberOfBytes: new(int32(16))})
			return err
		}, []kmsapi.KeySpec{kmsapi.KeySpecSymmetricDefault}},
		{"GenerateMac", func(c *Call) error {
			_, err := s.GenerateMac(ctx, c, &kmsapi.GenerateMacRequest{KeyId: new(hmacKey), Message: []byte("m"), MacAlgorithm: new(kmsapi.MacAlgorithmSpecHmacSha256)})
			return err
		}, []kmsapi.KeySpec{kmsapi.KeySpecHmac256}},
		{"DeriveSharedSecret", func(c *Call) error {
			_, err := s.DeriveSharedSecret(ctx, c, &kmsapi.DeriveSharedSecretRequest{KeyId: new(ecc), PublicKey: peerDER,
				KeyAgreementAlgorithm: new(kmsapi.KeyAgreementAlgorithmSpecEcdh)})
			return err
		}, []kmsapi.KeySpec{kmsapi.KeySpecEccNistP256}},
		{"Encapsulate", func(c *Call) error {
			_, err := s.Encapsulate(ctx, c, &kmsapi.EncapsulateRequest{KeyId: new(kem), EncapsulationAlgorithm: new(kmsapi.EncapsulationAlgorithmSpecMlKem)})
			return err
		}, []kmsapi.KeySpec{kmsapi.KeySpecMlKem768}},
	} {
		q := &countingQuota{}
		c2 := call
		c2.Quota = q
		if err := c.do(&c2); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(q.charged, c.want) {
			t.Errorf("%s charged %v, want %v", c.name, q.charged, c.want)
		}
		// Throttled, the request is refused with the quota's error.
		q = &countingQuota{refuse: true}
		c2 = call
		c2.Quota = q
		if err := c.do(&c2); !errors.Is(err, errTestThrottled) {
			t.Errorf("%s with its quota spent: %v", c.name, err)
		}
	}
}

// TestQuotaRevealsNoKey: a caller whose quota is spent learns nothing from
// being throttled. A key it may not use, whether it exists or not, and in
// its account or another, is answered as when the quota is not spent: the
// quota is charged only once the caller is allowed.
func TestQuotaRevealsNoKey(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService(t, t.TempDir())
	owner := devCall
	key := createKey(t, s, owner, &kmsapi.CreateKeyRequest{})
	blob := encrypt(t, s, owner, key, "x")
	stranger := condUser("mallory") // same account, no IAM policy
	other := condUser("eve")
	other.Account, other.ARN = "444455556666", "arn:aws:iam::444455556666:user/eve"
	other.Principal.Account, other.Principal.ARN = other.Account, other.ARN
	missing := "11111111-2222-3333-4444-555555555555"

	for _, c := range []struct {
		name string
		who  Call
		do   func(*Call) error
	}{
		{"another account's key by ARN", other, func(c *Call) error {
			_, err := s.Encrypt(ctx, c, &kmsapi.EncryptRequest{KeyId: new(keyARN(owner.Region, owner.Account, key)), Plaintext: []byte("x")})
			return err
		}},
		{"another account's missing key by ARN", other, func(c *Call) error {
			_, err := s.Encrypt(ctx, c, &kmsapi.EncryptRequest{KeyId: new(keyARN(owner.Region, owner.Account, missing)), Plaintext: []byte("x")})
			return err
		}},
		{"another account's key by bare ID", other, func(c *Call) error {
			_, err := s.Encrypt(ctx, c, &kmsapi.EncryptRequest{KeyId: new(key), Plaintext: []byte("x")})
			return err
		}},
		{"another account's ciphertext", other, func(c *Call) error {
			_, err := s.Decrypt(ctx, c, &kmsapi.DecryptRequest{CiphertextBlob: blob})
			return err
		}},
		{"a key of the account the caller may not use", stranger, func(c *Call) error {
			_, err := s.Encrypt(ctx, c, &kmsapi.EncryptRequest{KeyId: new(key), Plaintext: []byte("x")})
			return err
		}},
		{"a ciphertext of a key the caller may not use", stranger, func(c *Call) error {
			_, err := s.Decrypt(ctx, c, &kmsapi.DecryptRequest{CiphertextBlob: blob})
			return err
		}},
	} {
		plain := c.who
		want := c.do(&plain)
		if want == nil {
			t.Fatalf("%s: allowed", c.name)
		}
		spent := c.who
		q := &countingQuota{refuse: true}
		spent.Quota = q
		if got := c.do(&spent); got == nil || got.Error() != want.Error() {
			t.Errorf("%s with the quota spent: %v, without: %v", c.name, got, want)
		}
		if len(q.charged) != 0 {
			t.Errorf("%s charged the quota for %v", c.name, q.charged)
		}
	}
}
