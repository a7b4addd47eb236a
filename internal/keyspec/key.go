package keyspec

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/mlkem"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"hash"
	"math/big"

	"filippo.io/mldsa"
	"github.com/cloudflare/circl/kem/mlkem/mlkem512"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// Material sizes.
const (
	secp256k1ScalarSize = 32
	mldsaSeedSize       = mldsa.PrivateKeySize // 32, ξ
	mlkemSeedSize       = mlkem.SeedSize       // 64, d ‖ z
	ed25519SeedSize     = ed25519.SeedSize
	muSize              = 64 // ML-DSA μ
	sharedSecretSize    = mlkem.SharedKeySize
)

// Key is the parsed material of one key spec, ready for many operations. It
// holds no reference to the slice given to Parse. All methods are safe for
// concurrent use.
type Key struct {
	spec kmsapi.KeySpec
	info specInfo
	spki []byte // DER SubjectPublicKeyInfo; nil for HMAC

	rsa *rsa.PrivateKey // famRSA

	ec   *ecdsa.PrivateKey // famNIST
	ecdh *ecdh.PrivateKey  // famNIST, the same scalar

	k1    *secp256k1.PrivateKey // famSecp256k1
	k1pub *secp256k1.PublicKey

	ed    ed25519.PrivateKey // famEd25519
	edPub ed25519.PublicKey

	mldsa    *mldsa.PrivateKey // famMLDSA
	mldsaPub *mldsa.PublicKey  // for verification (EXTERNAL_MU: its Bytes)

	kem768   *mlkem.DecapsulationKey768 // famMLKEM, 768
	ek768    *mlkem.EncapsulationKey768
	kem1024  *mlkem.DecapsulationKey1024 // famMLKEM, 1024
	ek1024   *mlkem.EncapsulationKey1024
	kem512   *mlkem512.PrivateKey // famMLKEM, 512
	kem512pk *mlkem512.PublicKey

	hmacKey  []byte // famHMAC
	hmacHash func() hash.Hash
}

// Parse parses material produced by Generate (or imported in the same
// encoding) for spec. It validates the material against the spec: an RSA key
// must have the spec's modulus size, an EC key the spec's curve, a seed its
// exact length. Errors wrap ErrInvalidMaterial, or are ErrUnsupportedSpec.
func Parse(spec kmsapi.KeySpec, material []byte) (*Key, error) {
	info := infoFor(spec)
	k := &Key{spec: spec, info: info}
	var err error
	switch info.family {
	case famRSA:
		err = k.parseRSA(material)
	case famNIST:
		err = k.parseNIST(material)
	case famSecp256k1:
		err = k.parseSecp256k1(material)
	case famEd25519:
		err = k.parseEd25519(material)
	case famMLDSA:
		err = k.parseMLDSA(material)
	case famMLKEM:
		err = k.parseMLKEM(material)
	case famHMAC:
		err = k.parseHMAC(material)
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedSpec, spec)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidMaterial, spec, err)
	}
	return k, nil
}

// Spec returns the key spec the key was parsed for.
func (k *Key) Spec() kmsapi.KeySpec { return k.spec }

// PublicKey returns the public key as a DER SubjectPublicKeyInfo, the form
// AWS GetPublicKey returns. For ML-DSA (RFC 9881) and ML-KEM
// (draft-ietf-lamps-kyber-certificates) the AlgorithmIdentifier is the NIST
// OID with absent parameters and the BIT STRING is the raw public key. HMAC
// keys have none: ErrWrongUsage. The slice is the caller's.
func (k *Key) PublicKey() ([]byte, error) {
	if k.spki == nil {
		return nil, ErrWrongUsage
	}
	return bytes.Clone(k.spki), nil
}

// parsePKCS8 is x509.ParsePKCS8PrivateKey that also refuses trailing data.
func parsePKCS8(der []byte) (any, error) {
	var outer asn1.RawValue
	rest, err := asn1.Unmarshal(der, &outer)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("trailing data after PKCS #8")
	}
	return x509.ParsePKCS8PrivateKey(der)
}

func (k *Key) parseRSA(material []byte) error {
	parsed, err := parsePKCS8(material)
	if err != nil {
		return err
	}
	priv, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return fmt.Errorf("PKCS #8 holds %T, want an RSA key", parsed)
	}
	if n := priv.N.BitLen(); n != k.info.rsaBits {
		return fmt.Errorf("RSA modulus of %d bits, want %d", n, k.info.rsaBits)
	}
	k.rsa = priv
	k.spki, err = x509.MarshalPKIXPublicKey(&priv.PublicKey)
	return err
}

func (k *Key) parseNIST(material []byte) error {
	parsed, err := parsePKCS8(material)
	if err != nil {
		return err
	}
	priv, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return fmt.Errorf("PKCS #8 holds %T, want an ECDSA key", parsed)
	}
	if priv.Curve != k.info.curve {
		return fmt.Errorf("curve %s, want %s", priv.Curve.Params().Name, k.info.curve.Params().Name)
	}
	if k.ecdh, err = priv.ECDH(); err != nil {
		return err
	}
	k.ec = priv
	k.spki, err = x509.MarshalPKIXPublicKey(&priv.PublicKey)
	return err
}

func (k *Key) parseSecp256k1(material []byte) error {
	if len(material) != secp256k1ScalarSize {
		return fmt.Errorf("secp256k1 scalar of %d bytes, want %d", len(material), secp256k1ScalarSize)
	}
	var s secp256k1.ModNScalar
	if overflow := s.SetBytes((*[32]byte)(material)); overflow != 0 || s.IsZero() {
		return fmt.Errorf("secp256k1 scalar out of range [1, n-1]")
	}
	k.k1 = secp256k1.NewPrivateKey(&s)
	s.Zero()
	k.k1pub = k.k1.PubKey()
	alg, err := algorithmEC(oidSecp256k1)
	if err != nil {
		return err
	}
	k.spki, err = marshalSPKI(alg, k.k1pub.SerializeUncompressed())
	return err
}

func (k *Key) parseEd25519(material []byte) error {
	parsed, err := parsePKCS8(material)
	if err != nil {
		return err
	}
	priv, ok := parsed.(ed25519.PrivateKey)
	if !ok {
		return fmt.Errorf("PKCS #8 holds %T, want an Ed25519 key", parsed)
	}
	k.ed = priv
	k.edPub = priv.Public().(ed25519.PublicKey)
	k.spki, err = x509.MarshalPKIXPublicKey(k.edPub)
	return err
}

func mldsaParams(level int) (mldsa.Parameters, asn1.ObjectIdentifier) {
	switch level {
	case 44:
		return mldsa.MLDSA44(), oidMLDSA44
	case 65:
		return mldsa.MLDSA65(), oidMLDSA65
	default:
		return mldsa.MLDSA87(), oidMLDSA87
	}
}

func (k *Key) parseMLDSA(material []byte) error {
	if len(material) != mldsaSeedSize {
		return fmt.Errorf("ML-DSA seed of %d bytes, want %d", len(material), mldsaSeedSize)
	}
	params, oid := mldsaParams(k.info.level)
	priv, err := mldsa.NewPrivateKey(params, material)
	if err != nil {
		return err
	}
	pub := priv.PublicKey()
	raw := pub.Bytes()
	k.mldsa, k.mldsaPub = priv, pub
	k.spki, err = marshalSPKI(algorithmNoParams(oid), raw)
	return err
}

func mlkemOID(level int) asn1.ObjectIdentifier {
	switch level {
	case 512:
		return oidMLKEM512
	case 768:
		return oidMLKEM768
	default:
		return oidMLKEM1024
	}
}

func (k *Key) parseMLKEM(material []byte) error {
	if len(material) != mlkemSeedSize {
		return fmt.Errorf("ML-KEM seed of %d bytes, want %d", len(material), mlkemSeedSize)
	}
	var ek []byte
	switch k.info.level {
	case 512:
		// circl copies what it needs from the seed; it keeps no reference.
		k.kem512pk, k.kem512 = mlkem512.NewKeyFromSeed(material)
		ek = make([]byte, mlkem512.PublicKeySize)
		k.kem512pk.Pack(ek)
	case 768:
		dk, err := mlkem.NewDecapsulationKey768(material)
		if err != nil {
			return err
		}
		k.kem768, k.ek768 = dk, dk.EncapsulationKey()
		ek = k.ek768.Bytes()
	default:
		dk, err := mlkem.NewDecapsulationKey1024(material)
		if err != nil {
			return err
		}
		k.kem1024, k.ek1024 = dk, dk.EncapsulationKey()
		ek = k.ek1024.Bytes()
	}
	var err error
	k.spki, err = marshalSPKI(algorithmNoParams(mlkemOID(k.info.level)), ek)
	return err
}

// hmacMaxKeyLen is the longest HMAC key Parse accepts per spec: the hash's
// block size (64 bytes for SHA-224/256, 128 for SHA-384/512), which is also
// the upper bound of the imported-material ranges AWS documents as we recall
// them (HMAC_224 28–64, HMAC_256 32–64, HMAC_384 48–128, HMAC_512 64–128).
func hmacMaxKeyLen(info specInfo) int {
	if info.hmacLen > 32 {
		return 128
	}
	return 64
}

func (k *Key) parseHMAC(material []byte) error {
	if len(material) < k.info.hmacLen || len(material) > hmacMaxKeyLen(k.info) {
		return fmt.Errorf("HMAC key of %d bytes, want %d to %d", len(material), k.info.hmacLen, hmacMaxKeyLen(k.info))
	}
	k.hmacKey = bytes.Clone(material)
	switch k.info.hmacLen {
	case 28:
		k.hmacHash = sha256.New224
	case 32:
		k.hmacHash = sha256.New
	case 48:
		k.hmacHash = sha512.New384
	default:
		k.hmacHash = sha512.New
	}
	return nil
}

// privateKeyPKCS8 encodes the private key as PKCS #8 DER, as
// GenerateDataKeyPair returns it. material is what k was parsed from.
func (k *Key) privateKeyPKCS8(material []byte) ([]byte, error) {
	switch k.info.family {
	case famRSA:
		return x509.MarshalPKCS8PrivateKey(k.rsa)
	case famNIST:
		return x509.MarshalPKCS8PrivateKey(k.ec)
	case famEd25519:
		return x509.MarshalPKCS8PrivateKey(k.ed)
	case famSecp256k1:
		return marshalECPKCS8(oidSecp256k1, material, k.k1pub.SerializeUncompressed())
	case famMLDSA:
		_, oid := mldsaParams(k.info.level)
		return marshalSeedPKCS8(oid, material)
	case famMLKEM:
		return marshalSeedPKCS8(mlkemOID(k.info.level), material)
	}
	return nil, ErrWrongUsage
}

// Wipe overwrites what it can reach of the private key with zeros, for a
// key leaving trent's key cache. It reaches the HMAC key, the Ed25519 seed
// and private key, the secp256k1 scalar and the big integers of RSA and
// ECDSA keys. It cannot reach copies that the standard library and CIRCL
// keep inside their own types (crypto/ecdsa's and crypto/rsa's internal
// FIPS keys, ML-DSA, ML-KEM); those are left to the garbage collector.
// docs/security.md says so. The Key must not be used afterwards.
func (k *Key) Wipe() {
	clear(k.hmacKey)
	clear(k.ed)
	if k.k1 != nil {
		k.k1.Zero()
	}
	if k.rsa != nil {
		wipeInt(k.rsa.D)
		for _, p := range k.rsa.Primes {
			wipeInt(p)
		}
		wipeInt(k.rsa.Precomputed.Dp)
		wipeInt(k.rsa.Precomputed.Dq)
		wipeInt(k.rsa.Precomputed.Qinv)
	}
	if k.ec != nil {
		wipeInt(k.ec.D)
	}
}

// wipeInt zeroes the words of a big.Int in place.
func wipeInt(n *big.Int) {
	if n != nil {
		clear(n.Bits())
	}
}
