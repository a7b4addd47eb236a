package kms

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/ciphertext"
	"github.com/trent-kms/trent/internal/keyimport"
	"github.com/trent-kms/trent/internal/keyspec"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/testclock"
)

// importParams asks for import parameters and returns the token and the
// public wrapping key.
func importParams(t *testing.T, s *Service, call Call, id string, alg kmsapi.AlgorithmSpec, spec kmsapi.WrappingKeySpec) ([]byte, *rsa.PublicKey) {
	t.Helper()
	out, err := s.GetParametersForImport(context.Background(), &call, &kmsapi.GetParametersForImportRequest{
		KeyId: new(id), WrappingAlgorithm: &alg, WrappingKeySpec: &spec})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return out.ImportToken, pub.(*rsa.PublicKey)
}

func wrapFor(t *testing.T, pub *rsa.PublicKey, alg kmsapi.AlgorithmSpec, material []byte) []byte {
	t.Helper()
	w, err := keyimport.Wrap(pub, alg, material, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func importMaterial(s *Service, call Call, id string, token, wrapped []byte, mod func(*kmsapi.ImportKeyMaterialRequest)) (*kmsapi.ImportKeyMaterialResponse, error) {
	in := &kmsapi.ImportKeyMaterialRequest{KeyId: new(id), ImportToken: token, EncryptedKeyMaterial: wrapped,
		ExpirationModel: new(kmsapi.ExpirationModelTypeKeyMaterialDoesNotExpire)}
	if mod != nil {
		mod(in)
	}
	return s.ImportKeyMaterial(context.Background(), &call, in)
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestImportSymmetric: an EXTERNAL key waits for its material, takes it
// with each wrapping algorithm, encrypts with it, refuses other material,
// loses it when it is deleted or expires and takes the same bytes back.
func TestImportSymmetric(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(t0)
	dir := t.TempDir()
	s, _ := newTestServiceWith(t, dir, Config{Now: clock.Now})
	call := devCall
	for _, alg := range []kmsapi.AlgorithmSpec{kmsapi.AlgorithmSpecRsaesOaepSha1, kmsapi.AlgorithmSpecRsaesOaepSha256,
		kmsapi.AlgorithmSpecRsaAesKeyWrapSha1, kmsapi.AlgorithmSpecRsaAesKeyWrapSha256} {
		t.Run(string(alg), func(t *testing.T) {
			id := createKey(t, s, call, &kmsapi.CreateKeyRequest{Origin: new(kmsapi.OriginTypeExternal)})
			md := describe(t, s, call, id)
			if md.GetKeyState() != kmsapi.KeyStatePendingImport || md.GetEnabled() || md.CurrentKeyMaterialId != nil || md.ExpirationModel != nil {
				t.Fatalf("new EXTERNAL key: %+v", md)
			}
			_, err := s.Encrypt(ctx, &call, &kmsapi.EncryptRequest{KeyId: new(id), Plaintext: []byte("x")})
			wantCode(t, err, kmsapi.KMSInvalidStateException, "is pending import.")

			// Symmetric material may not use RSA_AES_KEY_WRAP: AWS's table.
			if alg == kmsapi.AlgorithmSpecRsaAesKeyWrapSha1 || alg == kmsapi.AlgorithmSpecRsaAesKeyWrapSha256 {
				_, err := s.GetParametersForImport(ctx, &call, &kmsapi.GetParametersForImportRequest{KeyId: new(id),
					WrappingAlgorithm: &alg, WrappingKeySpec: new(kmsapi.WrappingKeySpecRsa2048)})
				wantCode(t, err, kmsapi.ValidationException)
				return
			}
			material := random(t, 32)
			token, pub := importParams(t, s, call, id, alg, kmsapi.WrappingKeySpecRsa2048)
			wrapped := wrapFor(t, pub, alg, material)
			_, err = importMaterial(s, call, id, token, wrapped, func(in *kmsapi.ImportKeyMaterialRequest) { in.ExpirationModel = nil })
			wantCode(t, err, kmsapi.ValidationException, "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES")
			out, err := importMaterial(s, call, id, token, wrapped, nil)
			if err != nil {
				t.Fatal(err)
			}
			if out.GetKeyId() != keyARN(call.Region, call.Account, id) || len(out.GetKeyMaterialId()) != 64 {
				t.Fatalf("ImportKeyMaterial: %+v", out)
			}
			md = describe(t, s, call, id)
			if md.GetKeyState() != kmsapi.KeyStateEnabled || md.GetCurrentKeyMaterialId() != out.GetKeyMaterialId() ||
				md.GetExpirationModel() != kmsapi.ExpirationModelTypeKeyMaterialDoesNotExpire {
				t.Fatalf("after import: %+v", md)
			}
			blob := encrypt(t, s, call, id, "imported")
			if pt, mid := decrypt(t, s, call, blob); pt != "imported" || mid != out.GetKeyMaterialId() {
				t.Fatalf("decrypt: %q %s", pt, mid)
			}
			// The material really is the imported bytes: the ciphertext
			// opens with them outside the service.
			if !opensWith(t, material, blob) {
				t.Fatal("the ciphertext does not open with the imported material")
			}

			// Other material is refused, by default and as EXISTING.
			other := wrapFor(t, pub, alg, random(t, 32))
			_, err = importMaterial(s, call, id, token, other, nil)
			wantCode(t, err, kmsapi.IncorrectKeyMaterialException)
			_, err = importMaterial(s, call, id, token, wrapFor(t, pub, alg, random(t, 16)), nil)
			wantCode(t, err, kmsapi.IncorrectKeyMaterialException)
			_, err = importMaterial(s, call, id, token, []byte("garbage"), nil)
			wantCode(t, err, kmsapi.InvalidCiphertextException)

			// Deleted: the key waits again; the same bytes bring it back.
			del, err := s.DeleteImportedKeyMaterial(ctx, &call, &kmsapi.DeleteImportedKeyMaterialRequest{KeyId: new(id)})
			if err != nil || del.GetKeyMaterialId() != out.GetKeyMaterialId() {
				t.Fatalf("DeleteImportedKeyMaterial: %+v, %v", del, err)
			}
			md = describe(t, s, call, id)
			if md.GetKeyState() != kmsapi.KeyStatePendingImport || md.ExpirationModel != nil || md.GetCurrentKeyMaterialId() != out.GetKeyMaterialId() {
				t.Fatalf("after deletion: %+v", md)
			}
			_, err = s.Decrypt(ctx, &call, &kmsapi.DecryptRequest{CiphertextBlob: blob})
			wantCode(t, err, kmsapi.KMSInvalidStateException, "is pending import.")
			// Re-import with an expiry, a fresh token.
			token2, pub2 := importParams(t, s, call, id, alg, kmsapi.WrappingKeySpecRsa3072)
			validTo := clock.Now().Add(48 * time.Hour)
			if _, err := importMaterial(s, call, id, token2, wrapFor(t, pub2, alg, material), func(in *kmsapi.ImportKeyMaterialRequest) {
				in.ExpirationModel, in.ValidTo = nil, &kmsapi.Time{Time: validTo}
			}); err != nil {
				t.Fatal(err)
			}
			if pt, _ := decrypt(t, s, call, blob); pt != "imported" {
				t.Fatal("re-imported material does not decrypt")
			}
			if md := describe(t, s, call, id); !md.ValidTo.Equal(validTo) {
				t.Fatalf("ValidTo %v, want %v", md.ValidTo, validTo)
			}
			// Expiry: not a second early.
			start := clock.Now()
			clock.Set(validTo.Add(-time.Second))
			runScheduled(t, s)
			decrypt(t, s, call, blob)
			clock.Set(validTo)
			// Expired at once, before the scheduler has deleted it.
			_, err = s.Decrypt(ctx, &call, &kmsapi.DecryptRequest{CiphertextBlob: blob})
			wantCode(t, err, kmsapi.KMSInvalidStateException, "is pending import.")
			runScheduled(t, s)
			_, err = s.Decrypt(ctx, &call, &kmsapi.DecryptRequest{CiphertextBlob: blob})
			wantCode(t, err, kmsapi.KMSInvalidStateException, "is pending import.")
			if st := describe(t, s, call, id).GetKeyState(); st != kmsapi.KeyStatePendingImport {
				t.Fatalf("state %s after expiry", st)
			}
			clock.Set(start)
		})
	}
}

// opensWith reports whether blob decrypts under the raw symmetric material.
func opensWith(t *testing.T, material, blob []byte) bool {
	t.Helper()
	k, err := ciphertext.NewKey(material)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Wipe()
	pt, err := ciphertext.Open(k, blob, nil)
	return err == nil && bytes.Equal(pt, []byte("imported"))
}

// TestImportTokens: tokens expire after 24 hours, work only for their key,
// and cannot be forged.
func TestImportTokens(t *testing.T) {
	clock := testclock.New(t0)
	s, _ := newTestServiceWith(t, t.TempDir(), Config{Now: clock.Now})
	call := devCall
	a := createKey(t, s, call, &kmsapi.CreateKeyRequest{Origin: new(kmsapi.OriginTypeExternal)})
	b := createKey(t, s, call, &kmsapi.CreateKeyRequest{Origin: new(kmsapi.OriginTypeExternal)})
	alg := kmsapi.AlgorithmSpecRsaesOaepSha256
	token, pub := importParams(t, s, call, a, alg, kmsapi.WrappingKeySpecRsa2048)
	wrapped := wrapFor(t, pub, alg, random(t, 32))
	_, err := importMaterial(s, call, b, token, wrapped, nil)
	wantCode(t, err, kmsapi.InvalidImportTokenException)
	forged := bytes.Clone(token)
	forged[len(forged)-1] ^= 1
	_, err = importMaterial(s, call, a, forged, wrapped, nil)
	wantCode(t, err, kmsapi.InvalidImportTokenException)
	_, err = importMaterial(s, call, a, token[:10], wrapped, nil)
	wantCode(t, err, kmsapi.InvalidImportTokenException)
	clock.Advance(24 * time.Hour)
	_, err = importMaterial(s, call, a, token, wrapped, nil)
	wantCode(t, err, kmsapi.ExpiredImportTokenException)

	// A key of origin AWS_KMS takes no import.
	k := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	_, err = s.GetParametersForImport(context.Background(), &call, &kmsapi.GetParametersForImportRequest{KeyId: new(k),
		WrappingAlgorithm: &alg, WrappingKeySpec: new(kmsapi.WrappingKeySpecRsa2048)})
	wantCode(t, err, kmsapi.UnsupportedOperationException, keyARN(call.Region, call.Account, k)+" origin is AWS_KMS which is not valid for this operation.")
}

// TestImportNeverStoresMaterial: neither the imported bytes nor the
// wrapping private key are in the store file in the clear.
func TestImportNeverStoresMaterial(t *testing.T) {
	dir := t.TempDir()
	s, db := newTestService(t, dir)
	call := devCall
	id := createKey(t, s, call, &kmsapi.CreateKeyRequest{Origin: new(kmsapi.OriginTypeExternal)})
	alg := kmsapi.AlgorithmSpecRsaesOaepSha256
	token, pub := importParams(t, s, call, id, alg, kmsapi.WrappingKeySpecRsa2048)
	material := random(t, 32)
	if _, err := importMaterial(s, call, id, token, wrapFor(t, pub, alg, material), nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db.Close()
	raw, err := os.ReadFile(filepath.Join(dir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, material) {
		t.Fatal("the imported material is in the store file")
	}
}

// TestImportAsymmetricAndHMAC: private keys (PKCS #8) and HMAC keys import;
// the key then signs or MACs with them; a key of this kind has one
// material for good.
func TestImportAsymmetricAndHMAC(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService(t, t.TempDir())
	call := devCall
	// An RSA_2048 signing key, imported with RSA_AES_KEY_WRAP_SHA_256.
	id := createKey(t, s, call, &kmsapi.CreateKeyRequest{Origin: new(kmsapi.OriginTypeExternal),
		KeySpec: new(kmsapi.KeySpecRsa2048), KeyUsage: new(kmsapi.KeyUsageTypeSignVerify)})
	priv, err := keyspec.Generate(kmsapi.KeySpecRsa2048, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	alg := kmsapi.AlgorithmSpecRsaAesKeyWrapSha256
	token, pub := importParams(t, s, call, id, alg, kmsapi.WrappingKeySpecRsa4096)
	if _, err := importMaterial(s, call, id, token, wrapFor(t, pub, alg, priv), func(in *kmsapi.ImportKeyMaterialRequest) {
		in.ImportType = new(kmsapi.ImportTypeNewKeyMaterial)
	}); err == nil {
		t.Fatal("ImportType accepted for an asymmetric key")
	}
	if _, err := importMaterial(s, call, id, token, wrapFor(t, pub, alg, priv), nil); err != nil {
		t.Fatal(err)
	}
	want, _ := keyspec.Parse(kmsapi.KeySpecRsa2048, priv)
	wantPub, _ := want.PublicKey()
	got, err := s.GetPublicKey(ctx, &call, &kmsapi.GetPublicKeyRequest{KeyId: new(id)})
	if err != nil || !bytes.Equal(got.PublicKey, wantPub) {
		t.Fatalf("GetPublicKey after import: %v", err)
	}
	other, _ := keyspec.Generate(kmsapi.KeySpecRsa2048, rand.Reader)
	_, err = importMaterial(s, call, id, token, wrapFor(t, pub, alg, other), nil)
	wantCode(t, err, kmsapi.IncorrectKeyMaterialException)
	// An EC key is not an RSA key.
	ec, _ := keyspec.Generate(kmsapi.KeySpecEccNistP256, rand.Reader)
	fresh := createKey(t, s, call, &kmsapi.CreateKeyRequest{Origin: new(kmsapi.OriginTypeExternal),
		KeySpec: new(kmsapi.KeySpecRsa2048), KeyUsage: new(kmsapi.KeyUsageTypeSignVerify)})
	token, pub = importParams(t, s, call, fresh, alg, kmsapi.WrappingKeySpecRsa2048)
	_, err = importMaterial(s, call, fresh, token, wrapFor(t, pub, alg, ec), nil)
	wantCode(t, err, kmsapi.IncorrectKeyMaterialException)

	// HMAC_256 with a 40-byte key.
	hid := createKey(t, s, call, &kmsapi.CreateKeyRequest{Origin: new(kmsapi.OriginTypeExternal),
		KeySpec: new(kmsapi.KeySpecHmac256), KeyUsage: new(kmsapi.KeyUsageTypeGenerateVerifyMac)})
	halg := kmsapi.AlgorithmSpecRsaesOaepSha1
	token, pub = importParams(t, s, call, hid, halg, kmsapi.WrappingKeySpecRsa2048)
	if _, err := importMaterial(s, call, hid, token, wrapFor(t, pub, halg, random(t, 40)), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GenerateMac(ctx, &call, &kmsapi.GenerateMacRequest{KeyId: new(hid), Message: []byte("m"),
		MacAlgorithm: new(kmsapi.MacAlgorithmSpecHmacSha256)}); err != nil {
		t.Fatal(err)
	}
}

// TestImportedKeyRotation: NEW_KEY_MATERIAL waits as PENDING_ROTATION until
// RotateKeyOnDemand; then it encrypts, and the old material still decrypts.
func TestImportedKeyRotation(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService(t, t.TempDir())
	call := devCall
	id := createKey(t, s, call, &kmsapi.CreateKeyRequest{Origin: new(kmsapi.OriginTypeExternal)})
	alg := kmsapi.AlgorithmSpecRsaesOaepSha256
	token, pub := importParams(t, s, call, id, alg, kmsapi.WrappingKeySpecRsa2048)
	first := must[*kmsapi.ImportKeyMaterialResponse](t)(importMaterial(s, call, id, token, wrapFor(t, pub, alg, random(t, 32)), nil))
	_, err := s.RotateKeyOnDemand(ctx, &call, &kmsapi.RotateKeyOnDemandRequest{KeyId: new(id)})
	wantCode(t, err, kmsapi.KMSInvalidStateException, "No available key material pending rotation for the key: "+keyARN(call.Region, call.Account, id)+".")
	wantCode(t, s.EnableKeyRotation(ctx, &call, &kmsapi.EnableKeyRotationRequest{KeyId: new(id)}), kmsapi.UnsupportedOperationException,
		"origin is EXTERNAL which is not valid for this operation.")
	old := encrypt(t, s, call, id, "one")
	second := must[*kmsapi.ImportKeyMaterialResponse](t)(importMaterial(s, call, id, token, wrapFor(t, pub, alg, random(t, 32)), func(in *kmsapi.ImportKeyMaterialRequest) {
		in.ImportType = new(kmsapi.ImportTypeNewKeyMaterial)
		in.KeyMaterialDescription = new("second")
	}))
	if describe(t, s, call, id).GetCurrentKeyMaterialId() != first.GetKeyMaterialId() {
		t.Fatal("pending material became current before the rotation")
	}
	_, err = importMaterial(s, call, id, token, wrapFor(t, pub, alg, random(t, 32)), func(in *kmsapi.ImportKeyMaterialRequest) {
		in.ImportType = new(kmsapi.ImportTypeNewKeyMaterial)
	})
	wantCode(t, err, kmsapi.KMSInvalidStateException, "because another key material (id: "+second.GetKeyMaterialId()+") is pending rotation.")
	all := rotations(t, s, call, id, kmsapi.IncludeKeyMaterialAllKeyMaterial)
	if len(all) != 2 || all[1].GetKeyMaterialState() != kmsapi.KeyMaterialStatePendingRotation || all[1].GetKeyMaterialDescription() != "second" ||
		all[1].GetImportState() != kmsapi.ImportStateImported {
		t.Fatalf("rotations with pending material: %+v", all)
	}
	must[*kmsapi.RotateKeyOnDemandResponse](t)(s.RotateKeyOnDemand(ctx, &call, &kmsapi.RotateKeyOnDemandRequest{KeyId: new(id)}))
	runScheduled(t, s)
	if describe(t, s, call, id).GetCurrentKeyMaterialId() != second.GetKeyMaterialId() {
		t.Fatal("the rotation did not make the imported material current")
	}
	if _, mid := decrypt(t, s, call, encrypt(t, s, call, id, "two")); mid != second.GetKeyMaterialId() {
		t.Fatal("new ciphertexts do not use the new material")
	}
	if pt, mid := decrypt(t, s, call, old); pt != "one" || mid != first.GetKeyMaterialId() {
		t.Fatal("old ciphertexts no longer decrypt")
	}
	// Deleting the now non-current material disables the whole key.
	if _, err := s.DeleteImportedKeyMaterial(ctx, &call, &kmsapi.DeleteImportedKeyMaterialRequest{KeyId: new(id), KeyMaterialId: new(first.GetKeyMaterialId())}); err != nil {
		t.Fatal(err)
	}
	if st := describe(t, s, call, id).GetKeyState(); st != kmsapi.KeyStatePendingImport {
		t.Fatalf("state %s after deleting non-current material", st)
	}
}
