package keyimport

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"hash"
	"io"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// aesKeySize is the length of the ephemeral AES key of the RSA_AES_KEY_WRAP
// algorithms: AES-256, as AWS's instructions generate it ("openssl rand 32")
// and as Unwrap requires it.
const aesKeySize = 32

// scheme is how one wrapping algorithm is computed.
type scheme struct {
	hash   func() hash.Hash // the OAEP hash, also the MGF1 hash
	hybrid bool             // RSA-OAEP(K) ‖ AES-KWP_K(material), else RSA-OAEP(material)
}

func schemeFor(algorithm kmsapi.AlgorithmSpec) (scheme, bool) {
	switch algorithm {
	case kmsapi.AlgorithmSpecRsaesOaepSha1:
		return scheme{hash: sha1.New}, true
	case kmsapi.AlgorithmSpecRsaesOaepSha256:
		return scheme{hash: sha256.New}, true
	case kmsapi.AlgorithmSpecRsaAesKeyWrapSha1:
		return scheme{hash: sha1.New, hybrid: true}, true
	case kmsapi.AlgorithmSpecRsaAesKeyWrapSha256:
		return scheme{hash: sha256.New, hybrid: true}, true
	}
	return scheme{}, false
}

// wrappingKeyBits is the modulus size of each RSA wrapping key spec.
func wrappingKeyBits(spec kmsapi.WrappingKeySpec) (int, bool) {
	switch spec {
	case kmsapi.WrappingKeySpecRsa2048:
		return 2048, true
	case kmsapi.WrappingKeySpecRsa3072:
		return 3072, true
	case kmsapi.WrappingKeySpecRsa4096:
		return 4096, true
	}
	return 0, false
}

// GenerateWrappingKey makes a wrapping key pair for GetParametersForImport:
// an RSA key of spec's size (RSA_2048, RSA_3072 or RSA_4096; public exponent
// 65537) and its public key as a DER SubjectPublicKeyInfo, the PublicKey
// that AWS returns. rand may be nil; since Go 1.26 crypto/rsa ignores it
// and always uses a secure source (unless GODEBUG=cryptocustomrand=1).
// Any other spec, SM2 included, is ErrUnsupportedWrappingKeySpec.
func GenerateWrappingKey(spec kmsapi.WrappingKeySpec, random io.Reader) (priv *rsa.PrivateKey, pubDER []byte, err error) {
	bits, ok := wrappingKeyBits(spec)
	if !ok {
		return nil, nil, ErrUnsupportedWrappingKeySpec
	}
	if random == nil {
		random = rand.Reader
	}
	priv, err = rsa.GenerateKey(random, bits)
	if err != nil {
		return nil, nil, err
	}
	pubDER, err = x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	return priv, pubDER, nil
}

// Unwrap recovers key material that a customer wrapped for ImportKeyMaterial
// with the public half of priv and algorithm (RSAES_OAEP_SHA_1,
// RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256;
// the formats are in the package documentation). algorithm must be the one
// recorded with the wrapping key (in the import token), never one taken from
// elsewhere.
//
// Lengths are exact: an RSAES_OAEP blob is one RSA block of the modulus
// length; an RSA_AES_KEY_WRAP blob is one such block followed by an AES-KWP
// ciphertext (a multiple of 8 bytes, at least 16) and nothing else. The
// material returned is never empty.
//
// Every failure, including an unknown algorithm or a nil key, is
// ErrInvalidCiphertext. For RSA_AES_KEY_WRAP a failed RSA-OAEP decryption
// does not return early: the AES-KWP unwrap runs anyway under a fixed key,
// so the work done does not tell which of the two steps failed.
//
// Unwrap does not check the material against a key spec; see the package
// documentation for what the caller must check. The caller owns the result
// and should clear it when done.
func Unwrap(priv *rsa.PrivateKey, algorithm kmsapi.AlgorithmSpec, wrapped []byte) (material []byte, err error) {
	s, ok := schemeFor(algorithm)
	if !ok || priv == nil || priv.N == nil {
		return nil, ErrInvalidCiphertext
	}
	k := priv.Size()
	if !s.hybrid {
		if len(wrapped) != k {
			return nil, ErrInvalidCiphertext
		}
		material, err = rsa.DecryptOAEP(s.hash(), nil, priv, wrapped, nil)
		if err != nil || len(material) == 0 {
			clear(material)
			return nil, ErrInvalidCiphertext
		}
		return material, nil
	}

	kw := len(wrapped) - k
	if kw < 16 || kw%8 != 0 {
		return nil, ErrInvalidCiphertext
	}
	kek, err := rsa.DecryptOAEP(s.hash(), nil, priv, wrapped[:k], nil)
	good := err == nil && len(kek) == aesKeySize
	if !good {
		clear(kek)
		kek = make([]byte, aesKeySize) // a fixed key: see above
	}
	material, err = UnwrapPad(kek, wrapped[k:])
	clear(kek)
	if !good || err != nil {
		clear(material)
		return nil, ErrInvalidCiphertext
	}
	return material, nil
}

// Wrap is the customer's side of Unwrap: it wraps material for the wrapping
// public key pub with algorithm, as AWS's instructions do with OpenSSL. The
// service does not need it; it is here for tests and for clients written in
// Go. For RSA_AES_KEY_WRAP the ephemeral 32-byte AES key is read from random
// (nil: crypto/rand). It does not apply CheckAllowed; RSAES_OAEP material
// longer than the modulus allows is an error from crypto/rsa.
func Wrap(pub *rsa.PublicKey, algorithm kmsapi.AlgorithmSpec, material []byte, random io.Reader) ([]byte, error) {
	s, ok := schemeFor(algorithm)
	if !ok {
		return nil, ErrUnsupportedAlgorithm
	}
	if random == nil {
		random = rand.Reader
	}
	if !s.hybrid {
		return rsa.EncryptOAEP(s.hash(), random, pub, material, nil)
	}
	kek := make([]byte, aesKeySize)
	defer clear(kek)
	if _, err := io.ReadFull(random, kek); err != nil {
		return nil, err
	}
	kw, err := WrapPad(kek, material)
	if err != nil {
		return nil, err
	}
	block, err := rsa.EncryptOAEP(s.hash(), random, pub, kek, nil)
	if err != nil {
		return nil, err
	}
	return append(block, kw...), nil
}
