package keyspec

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	cryptorand "crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"io"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// randOrDefault returns r, or crypto/rand.Reader if r is nil.
func randOrDefault(r io.Reader) io.Reader {
	if r == nil {
		return cryptorand.Reader
	}
	return r
}

func readRandom(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(randOrDefault(r), b); err != nil {
		return nil, fmt.Errorf("keyspec: reading randomness: %w", err)
	}
	return b, nil
}

// Generate makes new private material for spec, in the encoding Parse reads
// (see the package documentation). rand may be nil for crypto/rand. Since Go
// 1.26 the standard library ignores custom readers when it generates RSA and
// ECDSA keys (it always uses its own CSPRNG); every other spec reads its
// bytes from rand. SYMMETRIC_DEFAULT, SM2 and unknown specs:
// ErrUnsupportedSpec.
func Generate(spec kmsapi.KeySpec, rand io.Reader) ([]byte, error) {
	info := infoFor(spec)
	switch info.family {
	case famRSA:
		priv, err := rsa.GenerateKey(randOrDefault(rand), info.rsaBits)
		if err != nil {
			return nil, fmt.Errorf("keyspec: generating %s: %w", spec, err)
		}
		return x509.MarshalPKCS8PrivateKey(priv)
	case famNIST:
		priv, err := ecdsa.GenerateKey(info.curve, randOrDefault(rand))
		if err != nil {
			return nil, fmt.Errorf("keyspec: generating %s: %w", spec, err)
		}
		return x509.MarshalPKCS8PrivateKey(priv)
	case famEd25519:
		seed, err := readRandom(rand, ed25519SeedSize)
		if err != nil {
			return nil, err
		}
		return x509.MarshalPKCS8PrivateKey(ed25519.NewKeyFromSeed(seed))
	case famSecp256k1:
		priv, err := secp256k1.GeneratePrivateKeyFromRand(randOrDefault(rand))
		if err != nil {
			return nil, fmt.Errorf("keyspec: generating %s: %w", spec, err)
		}
		b := priv.Key.Bytes()
		priv.Zero()
		return b[:], nil
	case famMLDSA:
		return readRandom(rand, mldsaSeedSize)
	case famMLKEM:
		return readRandom(rand, mlkemSeedSize)
	case famHMAC:
		return readRandom(rand, info.hmacLen)
	}
	return nil, fmt.Errorf("%w: %s", ErrUnsupportedSpec, spec)
}

// GenerateDataKeyPair makes a key pair for GenerateDataKeyPair: the private
// key as PKCS #8 DER and the public key as DER SubjectPublicKeyInfo, for
// every DataKeyPairSpec but SM2 (ErrUnsupportedSpec). The PKCS #8 forms:
//   - RSA, NIST curves, Ed25519: what crypto/x509 writes.
//   - ECC_SECG_P256K1: id-ecPublicKey with namedCurve 1.3.132.0.10, holding an
//     RFC 5915 ECPrivateKey (version 1, the 32-byte scalar, no parameters,
//     the uncompressed public key) — the same shape crypto/x509 writes for
//     the NIST curves.
//   - ML_KEM_*: draft-ietf-lamps-kyber-certificates seed-only form: the NIST
//     OID with absent parameters, privateKey = [0] IMPLICIT OCTET STRING of
//     the 64-byte seed d ‖ z.
func GenerateDataKeyPair(spec kmsapi.DataKeyPairSpec, rand io.Reader) (privateKeyPKCS8, publicKeySPKI []byte, err error) {
	keySpec, ok := dataKeyPairKeySpec(spec)
	if !ok {
		return nil, nil, fmt.Errorf("%w: data key pair %s", ErrUnsupportedSpec, spec)
	}
	material, err := Generate(keySpec, rand)
	if err != nil {
		return nil, nil, err
	}
	key, err := Parse(keySpec, material)
	if err != nil {
		return nil, nil, err
	}
	if privateKeyPKCS8, err = key.privateKeyPKCS8(material); err != nil {
		return nil, nil, err
	}
	clear(material)
	return privateKeyPKCS8, key.spki, nil
}

func dataKeyPairKeySpec(spec kmsapi.DataKeyPairSpec) (kmsapi.KeySpec, bool) {
	switch spec {
	case kmsapi.DataKeyPairSpecRsa2048, kmsapi.DataKeyPairSpecRsa3072, kmsapi.DataKeyPairSpecRsa4096,
		kmsapi.DataKeyPairSpecEccNistP256, kmsapi.DataKeyPairSpecEccNistP384, kmsapi.DataKeyPairSpecEccNistP521,
		kmsapi.DataKeyPairSpecEccSecgP256k1, kmsapi.DataKeyPairSpecEccNistEdwards25519,
		kmsapi.DataKeyPairSpecMlKem512, kmsapi.DataKeyPairSpecMlKem768, kmsapi.DataKeyPairSpecMlKem1024:
		return kmsapi.KeySpec(spec), true
	}
	return "", false
}
