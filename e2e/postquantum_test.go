package e2e

import (
	"bytes"
	"crypto/sha3"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/cloudflare/circl/kem"
	"github.com/cloudflare/circl/kem/mlkem/mlkem1024"
	"github.com/cloudflare/circl/kem/mlkem/mlkem512"
	"github.com/cloudflare/circl/kem/mlkem/mlkem768"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
)

// ML-DSA and ML-KEM outputs checked with Cloudflare's CIRCL, an
// implementation independent of the ones trent uses (filippo.io/mldsa and
// Go's crypto/mlkem).

// rawPublicKey takes the key bytes out of a DER SubjectPublicKeyInfo and
// checks its algorithm OID.
func rawPublicKey(t *testing.T, spki []byte, wantOID asn1.ObjectIdentifier) []byte {
	t.Helper()
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	rest, err := asn1.Unmarshal(spki, &info)
	if err != nil || len(rest) != 0 {
		t.Fatalf("public key is not a DER SubjectPublicKeyInfo: %v", err)
	}
	if !info.Algorithm.Algorithm.Equal(wantOID) || len(info.Algorithm.Parameters.FullBytes) != 0 {
		t.Fatalf("public key algorithm %v (parameters %x), want %v with none", info.Algorithm.Algorithm, info.Algorithm.Parameters.FullBytes, wantOID)
	}
	return info.PublicKey.RightAlign()
}

func TestMLDSAVerifiesWithCIRCL(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	verifiers := map[types.KeySpec]func(pk, msg, sig []byte) bool{
		types.KeySpecMlDsa44: func(pk, msg, sig []byte) bool {
			var k mldsa44.PublicKey
			return k.UnmarshalBinary(pk) == nil && mldsa44.Verify(&k, msg, nil, sig)
		},
		types.KeySpecMlDsa65: func(pk, msg, sig []byte) bool {
			var k mldsa65.PublicKey
			return k.UnmarshalBinary(pk) == nil && mldsa65.Verify(&k, msg, nil, sig)
		},
		types.KeySpecMlDsa87: func(pk, msg, sig []byte) bool {
			var k mldsa87.PublicKey
			return k.UnmarshalBinary(pk) == nil && mldsa87.Verify(&k, msg, nil, sig)
		},
	}
	oids := map[types.KeySpec]asn1.ObjectIdentifier{
		types.KeySpecMlDsa44: {2, 16, 840, 1, 101, 3, 4, 3, 17},
		types.KeySpecMlDsa65: {2, 16, 840, 1, 101, 3, 4, 3, 18},
		types.KeySpecMlDsa87: {2, 16, 840, 1, 101, 3, 4, 3, 19},
	}
	message := []byte("a post-quantum release signature")
	for spec, verify := range verifiers {
		t.Run(string(spec), func(t *testing.T) {
			k := createAsymmetricKey(t, c, spec, types.KeyUsageTypeSignVerify)
			pubOut, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: k.KeyId})
			if err != nil {
				t.Fatal(err)
			}
			pk := rawPublicKey(t, pubOut.PublicKey, oids[spec])
			alg := types.SigningAlgorithmSpecMlDsaShake256
			raw, err := c.Sign(ctx, &kms.SignInput{KeyId: k.KeyId, Message: message, MessageType: types.MessageTypeRaw, SigningAlgorithm: alg})
			if err != nil {
				t.Fatal(err)
			}
			if !verify(pk, message, raw.Signature) {
				t.Fatal("CIRCL rejects trent's RAW ML-DSA signature")
			}
			if verify(pk, append(bytes.Clone(message), '!'), raw.Signature) {
				t.Fatal("CIRCL accepts the signature for another message: the check proves nothing")
			}
			// EXTERNAL_MU: μ = SHAKE256(SHAKE256(pk, 64) ‖ 0 ‖ len(ctx)=0 ‖ message, 64) (FIPS 204).
			tr := sha3.SumSHAKE256(pk, 64)
			mu := sha3.SumSHAKE256(append(append(tr, 0, 0), message...), 64)
			ext, err := c.Sign(ctx, &kms.SignInput{KeyId: k.KeyId, Message: mu, MessageType: types.MessageTypeExternalMu, SigningAlgorithm: alg})
			if err != nil {
				t.Fatal(err)
			}
			if !verify(pk, message, ext.Signature) {
				t.Fatal("CIRCL rejects trent's EXTERNAL_MU ML-DSA signature over the message")
			}
			v, err := c.Verify(ctx, &kms.VerifyInput{KeyId: k.KeyId, Message: message, MessageType: types.MessageTypeRaw, SigningAlgorithm: alg, Signature: ext.Signature})
			if err != nil || !v.SignatureValid {
				t.Fatalf("trent's Verify rejects its EXTERNAL_MU signature: %v", err)
			}
			// Verify over μ (FIPS 204 Algorithm 8, internal/keyspec/mldsamu.go): both signatures
			// verify; with one bit of μ changed, neither does.
			for name, sig := range map[string][]byte{"EXTERNAL_MU": ext.Signature, "RAW": raw.Signature} {
				v, err := c.Verify(ctx, &kms.VerifyInput{KeyId: k.KeyId, Message: mu, MessageType: types.MessageTypeExternalMu, SigningAlgorithm: alg, Signature: sig})
				if err != nil || !v.SignatureValid {
					t.Fatalf("trent's Verify with EXTERNAL_MU rejects its %s signature: %v", name, err)
				}
				tampered := bytes.Clone(mu)
				tampered[17] ^= 0x04
				_, err = c.Verify(ctx, &kms.VerifyInput{KeyId: k.KeyId, Message: tampered, MessageType: types.MessageTypeExternalMu, SigningAlgorithm: alg, Signature: sig})
				wantAPIError(t, err, "KMSInvalidSignatureException", "")
			}
			_, err = c.Sign(ctx, &kms.SignInput{KeyId: k.KeyId, Message: mu[:32], MessageType: types.MessageTypeExternalMu, SigningAlgorithm: alg})
			wantAPIError(t, err, "ValidationException", "")
			_, err = c.Sign(ctx, &kms.SignInput{KeyId: k.KeyId, Message: mu, MessageType: types.MessageTypeDigest, SigningAlgorithm: alg})
			wantAPIError(t, err, "ValidationException", "Message type DIGEST is incompatible with key spec "+string(spec)+".")
		})
	}
}

func TestMLKEMAgreesWithCIRCL(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	for _, tc := range []struct {
		spec   types.KeySpec
		scheme kem.Scheme
		oid    asn1.ObjectIdentifier
		ctLen  int
	}{
		{types.KeySpecMlKem512, mlkem512.Scheme(), asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 1}, 768},
		{types.KeySpecMlKem768, mlkem768.Scheme(), asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 2}, 1088},
		{types.KeySpecMlKem1024, mlkem1024.Scheme(), asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 3}, 1568},
	} {
		t.Run(string(tc.spec), func(t *testing.T) {
			k := createAsymmetricKey(t, c, tc.spec, types.KeyUsageTypeEncapsulateDecapsulate)
			pubOut, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: k.KeyId})
			if err != nil {
				t.Fatal(err)
			}
			pk, err := tc.scheme.UnmarshalBinaryPublicKey(rawPublicKey(t, pubOut.PublicKey, tc.oid))
			if err != nil {
				t.Fatalf("CIRCL cannot read the public key: %v", err)
			}
			// CIRCL encapsulates to trent's public key; trent must recover the secret.
			ct, want, err := tc.scheme.Encapsulate(pk)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Decapsulate(ctx, &kms.DecapsulateInput{KeyId: k.KeyId, SharedSecretCiphertextBlob: ct,
				EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.SharedSecret, want) {
				t.Fatalf("trent decapsulated %x, CIRCL encapsulated %x", got.SharedSecret, want)
			}
			// trent encapsulates; its own decapsulation agrees, and the ciphertext has the size FIPS 203 says.
			enc, err := c.Encapsulate(ctx, &kms.EncapsulateInput{KeyId: k.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
			if err != nil {
				t.Fatal(err)
			}
			if len(enc.SharedSecretCiphertextBlob) != tc.ctLen || len(enc.SharedSecret) != 32 {
				t.Fatalf("Encapsulate: %d-byte ciphertext, %d-byte secret", len(enc.SharedSecretCiphertextBlob), len(enc.SharedSecret))
			}
			dec, err := c.Decapsulate(ctx, &kms.DecapsulateInput{KeyId: k.KeyId, SharedSecretCiphertextBlob: enc.SharedSecretCiphertextBlob,
				EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
			if err != nil || !bytes.Equal(dec.SharedSecret, enc.SharedSecret) {
				t.Fatalf("Decapsulate of trent's own ciphertext: %v", err)
			}
			_, err = c.Decapsulate(ctx, &kms.DecapsulateInput{KeyId: k.KeyId, SharedSecretCiphertextBlob: ct[1:],
				EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
			wantAPIError(t, err, "InvalidCiphertextException", "")
		})
	}
}

// TestMLKEMDataKeyPairs: the PKCS#8 private key of an ML-KEM data key pair
// holds the 64-byte seed; CIRCL derives from it the public key trent returned.
func TestMLKEMDataKeyPairs(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	k := createKey(t, c, "wrapping")
	for _, tc := range []struct {
		spec   types.DataKeyPairSpec
		scheme kem.Scheme
		oid    asn1.ObjectIdentifier
	}{
		{types.DataKeyPairSpecMlKem512, mlkem512.Scheme(), asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 1}},
		{types.DataKeyPairSpecMlKem768, mlkem768.Scheme(), asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 2}},
		{types.DataKeyPairSpecMlKem1024, mlkem1024.Scheme(), asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 3}},
	} {
		out, err := c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: k.KeyId, KeyPairSpec: tc.spec})
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		var pkcs8 struct {
			Version    int
			Algorithm  pkix.AlgorithmIdentifier
			PrivateKey []byte
		}
		if rest, err := asn1.Unmarshal(out.PrivateKeyPlaintext, &pkcs8); err != nil || len(rest) != 0 || !pkcs8.Algorithm.Algorithm.Equal(tc.oid) {
			t.Fatalf("%s: private key is not PKCS#8 with OID %v: %v", tc.spec, tc.oid, err)
		}
		var seed []byte // seed-only form: [0] IMPLICIT OCTET STRING
		if _, err := asn1.UnmarshalWithParams(pkcs8.PrivateKey, &seed, "tag:0"); err != nil || len(seed) != 64 {
			t.Fatalf("%s: private key is not the seed-only form: %v (%d bytes)", tc.spec, err, len(seed))
		}
		pub, _ := tc.scheme.DeriveKeyPair(seed)
		want, _ := pub.MarshalBinary()
		if got := rawPublicKey(t, out.PublicKey, tc.oid); !bytes.Equal(got, want) {
			t.Fatalf("%s: CIRCL derives another public key from the seed", tc.spec)
		}
	}
	_, err := c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: k.KeyId, KeyPairSpec: types.DataKeyPairSpecSm2})
	wantAPIError(t, err, "UnsupportedOperationException", "")
}
