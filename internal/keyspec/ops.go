package keyspec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/mlkem"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"hash"
	"io"

	"github.com/cloudflare/circl/kem/mlkem/mlkem512"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// oaepHash maps an RSA encryption algorithm to its OAEP hash (MGF1 uses the
// same hash).
func oaepHash(alg kmsapi.EncryptionAlgorithmSpec) (crypto.Hash, func() hash.Hash, bool) {
	switch alg {
	case kmsapi.EncryptionAlgorithmSpecRsaesOaepSha1:
		return crypto.SHA1, sha1.New, true
	case kmsapi.EncryptionAlgorithmSpecRsaesOaepSha256:
		return crypto.SHA256, sha256.New, true
	}
	return 0, nil, false
}

// MaxPlaintext returns the longest plaintext Encrypt accepts for alg with this
// key (RSA-OAEP: modulus bytes − 2·hash − 2), or ErrWrongUsage /
// ErrUnsupportedAlgorithm.
func (k *Key) MaxPlaintext(alg kmsapi.EncryptionAlgorithmSpec) (int, error) {
	if k.info.family != famRSA {
		return 0, ErrWrongUsage
	}
	h, _, ok := oaepHash(alg)
	if !ok {
		return 0, unsupported(k, alg)
	}
	return k.rsa.Size() - 2*h.Size() - 2, nil
}

// Encrypt encrypts plaintext with RSAES-OAEP (SHA-1 or SHA-256, MGF1 with the
// same hash, empty label). A plaintext longer than MaxPlaintext is
// ErrPlaintextTooLong. rand may be nil.
func (k *Key) Encrypt(alg kmsapi.EncryptionAlgorithmSpec, plaintext []byte, rand io.Reader) ([]byte, error) {
	limit, err := k.MaxPlaintext(alg)
	if err != nil {
		return nil, err
	}
	if len(plaintext) > limit {
		return nil, fmt.Errorf("%w: %d bytes, at most %d for %s with %s", ErrPlaintextTooLong, len(plaintext), limit, k.spec, alg)
	}
	_, newHash, _ := oaepHash(alg)
	ct, err := rsa.EncryptOAEP(newHash(), randOrDefault(rand), &k.rsa.PublicKey, plaintext, nil)
	if err != nil {
		return nil, fmt.Errorf("keyspec: %s %s: %w", k.spec, alg, err)
	}
	return ct, nil
}

// Decrypt decrypts an RSAES-OAEP ciphertext made as Encrypt makes it. Any
// failure that depends on the ciphertext is ErrInvalidCiphertext.
func (k *Key) Decrypt(alg kmsapi.EncryptionAlgorithmSpec, ciphertext []byte) ([]byte, error) {
	if k.info.family != famRSA {
		return nil, ErrWrongUsage
	}
	_, newHash, ok := oaepHash(alg)
	if !ok {
		return nil, unsupported(k, alg)
	}
	// RFC 8017 7.1.2 step 1: the ciphertext is exactly as long as the
	// modulus. Go would also take one whose leading zero bytes are missing.
	if len(ciphertext) != k.rsa.Size() {
		return nil, ErrInvalidCiphertext
	}
	pt, err := rsa.DecryptOAEP(newHash(), nil, k.rsa, ciphertext, nil)
	if err != nil {
		return nil, ErrInvalidCiphertext
	}
	return pt, nil
}

// DeriveSharedSecret runs ECDH between this key and peerPublicKey, a DER
// SubjectPublicKeyInfo on the same curve (anything else, including a point
// not on the curve: ErrInvalidPeerKey), and returns the raw shared secret,
// the x coordinate of the shared point, as AWS does (no KDF).
func (k *Key) DeriveSharedSecret(alg kmsapi.KeyAgreementAlgorithmSpec, peerPublicKey []byte) ([]byte, error) {
	if k.info.family != famNIST {
		return nil, ErrWrongUsage
	}
	if alg != kmsapi.KeyAgreementAlgorithmSpecEcdh {
		return nil, unsupported(k, alg)
	}
	parsed, err := x509.ParsePKIXPublicKey(peerPublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPeerKey, err)
	}
	peer, ok := parsed.(*ecdsa.PublicKey)
	if !ok || peer.Curve != k.info.curve {
		return nil, fmt.Errorf("%w: not a %s key", ErrInvalidPeerKey, k.spec)
	}
	peerECDH, err := peer.ECDH()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPeerKey, err)
	}
	secret, err := k.ecdh.ECDH(peerECDH)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPeerKey, err)
	}
	return secret, nil
}

// Encapsulate makes a fresh 32-byte shared secret and its ML-KEM ciphertext
// under this key's encapsulation key. ML-KEM-768/1024 (crypto/mlkem) always
// use the standard library's CSPRNG; ML-KEM-512 (circl) reads its 32-byte
// message from rand (nil: crypto/rand).
func (k *Key) Encapsulate(rand io.Reader) (ciphertext, sharedSecret []byte, err error) {
	if k.info.family != famMLKEM {
		return nil, nil, ErrWrongUsage
	}
	switch k.info.level {
	case 768:
		sharedSecret, ciphertext = k.ek768.Encapsulate()
	case 1024:
		sharedSecret, ciphertext = k.ek1024.Encapsulate()
	default:
		m, rerr := readRandom(rand, mlkem512.EncapsulationSeedSize)
		if rerr != nil {
			return nil, nil, rerr
		}
		ciphertext = make([]byte, mlkem512.CiphertextSize)
		sharedSecret = make([]byte, mlkem512.SharedKeySize)
		k.kem512pk.EncapsulateTo(ciphertext, sharedSecret, m)
		clear(m)
	}
	return ciphertext, sharedSecret, nil
}

// CiphertextSize returns the ML-KEM ciphertext length for this key (768,
// 1088 or 1568 bytes), or 0 for other specs.
func (k *Key) CiphertextSize() int {
	if k.info.family != famMLKEM {
		return 0
	}
	switch k.info.level {
	case 512:
		return mlkem512.CiphertextSize
	case 768:
		return mlkem.CiphertextSize768
	default:
		return mlkem.CiphertextSize1024
	}
}

// Decapsulate recovers the shared secret from an ML-KEM ciphertext. A
// ciphertext of the wrong length is ErrInvalidCiphertext; any other
// ciphertext yields a secret (ML-KEM's implicit rejection gives a
// pseudorandom one for a tampered ciphertext), as in AWS.
func (k *Key) Decapsulate(ciphertext []byte) ([]byte, error) {
	if k.info.family != famMLKEM {
		return nil, ErrWrongUsage
	}
	if len(ciphertext) != k.CiphertextSize() {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidCiphertext, len(ciphertext), k.CiphertextSize())
	}
	switch k.info.level {
	case 768:
		ss, err := k.kem768.Decapsulate(ciphertext)
		if err != nil {
			return nil, ErrInvalidCiphertext
		}
		return ss, nil
	case 1024:
		ss, err := k.kem1024.Decapsulate(ciphertext)
		if err != nil {
			return nil, ErrInvalidCiphertext
		}
		return ss, nil
	default:
		ss := make([]byte, mlkem512.SharedKeySize)
		k.kem512.DecapsulateTo(ss, ciphertext)
		return ss, nil
	}
}

// MAC returns the RFC 2104 HMAC of message. alg must be the spec's own
// algorithm (HMAC_256 ↔ HMAC_SHA_256, ...), else ErrUnsupportedAlgorithm.
func (k *Key) MAC(alg kmsapi.MacAlgorithmSpec, message []byte) ([]byte, error) {
	if k.info.family != famHMAC {
		return nil, ErrWrongUsage
	}
	if alg != k.info.mac {
		return nil, unsupported(k, alg)
	}
	m := hmac.New(k.hmacHash, k.hmacKey)
	m.Write(message)
	return m.Sum(nil), nil
}

// VerifyMAC checks mac against the HMAC of message in constant time;
// ErrInvalidMAC if they differ (a truncated mac differs).
func (k *Key) VerifyMAC(alg kmsapi.MacAlgorithmSpec, message, mac []byte) error {
	want, err := k.MAC(alg, message)
	if err != nil {
		return err
	}
	if !hmac.Equal(want, mac) {
		return ErrInvalidMAC
	}
	return nil
}
