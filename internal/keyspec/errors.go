package keyspec

import "errors"

// Sentinel errors. Every error this package returns is one of these, possibly
// wrapped with more detail (test with errors.Is). The service maps them to
// AWS errors; none of them carries key material.
var (
	// ErrUnsupportedSpec: the key spec is not one this package makes or
	// parses (SYMMETRIC_DEFAULT, SM2, an unknown value).
	ErrUnsupportedSpec = errors.New("keyspec: unsupported key spec")
	// ErrUnsupportedAlgorithm: the algorithm, or the algorithm with this
	// message type, is not one this key spec supports.
	ErrUnsupportedAlgorithm = errors.New("keyspec: algorithm not supported by this key spec")
	// ErrDigestLength: a DIGEST message is not exactly the algorithm's hash
	// length, or an EXTERNAL_MU message is not 64 bytes.
	ErrDigestLength = errors.New("keyspec: digest length does not match the signing algorithm")
	// ErrPlaintextTooLong: the plaintext exceeds the RSA-OAEP limit for the
	// key size and hash.
	ErrPlaintextTooLong = errors.New("keyspec: plaintext too long for this key and algorithm")
	// ErrInvalidSignature: the signature does not verify.
	ErrInvalidSignature = errors.New("keyspec: invalid signature")
	// ErrInvalidMAC: the MAC does not verify.
	ErrInvalidMAC = errors.New("keyspec: invalid MAC")
	// ErrInvalidCiphertext: decryption or decapsulation failed.
	ErrInvalidCiphertext = errors.New("keyspec: invalid ciphertext")
	// ErrInvalidPeerKey: the peer public key is not a DER SubjectPublicKeyInfo
	// for a point on this key's curve.
	ErrInvalidPeerKey = errors.New("keyspec: invalid peer public key")
	// ErrWrongUsage: the key spec cannot do this operation at all (Sign with
	// an HMAC key, Encrypt with an ECC key, PublicKey of an HMAC key, ...).
	ErrWrongUsage = errors.New("keyspec: operation not supported by this key spec")
	// ErrInvalidMaterial: Parse was given material that is not a valid
	// encoding for the key spec.
	ErrInvalidMaterial = errors.New("keyspec: invalid key material for key spec")
)
