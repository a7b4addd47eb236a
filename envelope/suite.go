package envelope

import (
	"crypto"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
)

// AlgorithmSuite is one of the AWS Encryption SDK's algorithm suites: the
// cipher, the key derivation, key commitment and the signature of a message.
// The suites are the package-level variables; compare them by pointer or ID.
type AlgorithmSuite struct {
	ID   uint16
	Name string // the specification's enum name, e.g. ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY

	// MessageVersion is the message format version the suite is written in: 1 or 2.
	MessageVersion byte
	// KeyLength is the length in bytes of the data key and of the AES key.
	KeyLength int
	// KDF is the HKDF hash, or nil for the identity KDF.
	KDF func() hash.Hash
	// Committing suites derive a commitment key stored in the header.
	Committing bool
	// Curve and SigHash are the ECDSA curve and hash of a signed suite; nil otherwise.
	Curve   elliptic.Curve
	SigHash crypto.Hash
}

// IV and tag lengths are the same for every suite the format defines.
const (
	ivLen         = 12
	tagLen        = 16
	messageIDLen1 = 16
	messageIDLen2 = 32
	suiteDataLen  = 32 // the commitment key of the committing suites
)

// Signed reports whether messages of the suite end with an ECDSA signature.
func (s *AlgorithmSuite) Signed() bool { return s.Curve != nil }

func (s *AlgorithmSuite) String() string { return fmt.Sprintf("%s (0x%04X)", s.Name, s.ID) }

func (s *AlgorithmSuite) messageIDLen() int {
	if s.MessageVersion == 2 {
		return messageIDLen2
	}
	return messageIDLen1
}

// The suites trent writes: version 2 messages with key commitment.
var (
	// SuiteCommitKeyECDSAP384 is the default: AES-256-GCM with a key
	// derived by HKDF-SHA512, key commitment, and an ECDSA P-384 signature.
	SuiteCommitKeyECDSAP384 = &AlgorithmSuite{ID: 0x0578, Name: "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384",
		MessageVersion: 2, KeyLength: 32, KDF: sha512.New, Committing: true, Curve: elliptic.P384(), SigHash: crypto.SHA384}
	// SuiteCommitKey is the same without the signature: anyone who can
	// decrypt the data key could also have written the message.
	SuiteCommitKey = &AlgorithmSuite{ID: 0x0478, Name: "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY",
		MessageVersion: 2, KeyLength: 32, KDF: sha512.New, Committing: true}
)

// The legacy suites, read only (with CommitmentPolicyAllowDecrypt).
var (
	SuiteAES256HKDFSHA384ECDSAP384 = &AlgorithmSuite{ID: 0x0378, Name: "ALG_AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384",
		MessageVersion: 1, KeyLength: 32, KDF: sha512.New384, Curve: elliptic.P384(), SigHash: crypto.SHA384}
	SuiteAES192HKDFSHA384ECDSAP384 = &AlgorithmSuite{ID: 0x0346, Name: "ALG_AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384",
		MessageVersion: 1, KeyLength: 24, KDF: sha512.New384, Curve: elliptic.P384(), SigHash: crypto.SHA384}
	SuiteAES128HKDFSHA256ECDSAP256 = &AlgorithmSuite{ID: 0x0214, Name: "ALG_AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256",
		MessageVersion: 1, KeyLength: 16, KDF: sha256.New, Curve: elliptic.P256(), SigHash: crypto.SHA256}
	SuiteAES256HKDFSHA256 = &AlgorithmSuite{ID: 0x0178, Name: "ALG_AES_256_GCM_IV12_TAG16_HKDF_SHA256",
		MessageVersion: 1, KeyLength: 32, KDF: sha256.New}
	SuiteAES192HKDFSHA256 = &AlgorithmSuite{ID: 0x0146, Name: "ALG_AES_192_GCM_IV12_TAG16_HKDF_SHA256",
		MessageVersion: 1, KeyLength: 24, KDF: sha256.New}
	SuiteAES128HKDFSHA256 = &AlgorithmSuite{ID: 0x0114, Name: "ALG_AES_128_GCM_IV12_TAG16_HKDF_SHA256",
		MessageVersion: 1, KeyLength: 16, KDF: sha256.New}
	SuiteAES256NoKDF = &AlgorithmSuite{ID: 0x0078, Name: "ALG_AES_256_GCM_IV12_TAG16_NO_KDF", MessageVersion: 1, KeyLength: 32}
	SuiteAES192NoKDF = &AlgorithmSuite{ID: 0x0046, Name: "ALG_AES_192_GCM_IV12_TAG16_NO_KDF", MessageVersion: 1, KeyLength: 24}
	SuiteAES128NoKDF = &AlgorithmSuite{ID: 0x0014, Name: "ALG_AES_128_GCM_IV12_TAG16_NO_KDF", MessageVersion: 1, KeyLength: 16}
)

// DefaultSuite is the suite used when none is chosen.
var DefaultSuite = SuiteCommitKeyECDSAP384

var suites = []*AlgorithmSuite{
	SuiteCommitKeyECDSAP384, SuiteCommitKey,
	SuiteAES256HKDFSHA384ECDSAP384, SuiteAES192HKDFSHA384ECDSAP384, SuiteAES128HKDFSHA256ECDSAP256,
	SuiteAES256HKDFSHA256, SuiteAES192HKDFSHA256, SuiteAES128HKDFSHA256,
	SuiteAES256NoKDF, SuiteAES192NoKDF, SuiteAES128NoKDF,
}

// SuiteByID returns the suite with the given ID.
func SuiteByID(id uint16) (*AlgorithmSuite, bool) {
	for _, s := range suites {
		if s.ID == id {
			return s, true
		}
	}
	return nil, false
}

// SuiteByName finds a suite by its enum name (case-insensitive), by its ID in
// hex ("0x0578" or "0578"), or by the short names "committing-signed"
// (the default) and "committing" (unsigned).
func SuiteByName(name string) (*AlgorithmSuite, bool) {
	switch normalizeName(name) {
	case "committing-signed", "committing-ecdsa-p384", "default":
		return SuiteCommitKeyECDSAP384, true
	case "committing", "committing-unsigned":
		return SuiteCommitKey, true
	}
	var id uint16
	h := name
	if len(h) > 2 && (h[:2] == "0x" || h[:2] == "0X") {
		h = h[2:]
	}
	if len(h) == 4 {
		if _, err := fmt.Sscanf(h, "%04x", &id); err == nil {
			return SuiteByID(id)
		}
	}
	for _, s := range suites {
		if normalizeName(s.Name) == normalizeName(name) {
			return s, true
		}
	}
	return nil, false
}

func normalizeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case c == '_':
			b[i] = '-'
		}
	}
	return string(b)
}

// CommitmentPolicy says which suites may be written and read.
type CommitmentPolicy int

const (
	// RequireEncryptRequireDecrypt, the default, writes and reads only
	// committing suites.
	RequireEncryptRequireDecrypt CommitmentPolicy = iota
	// RequireEncryptAllowDecrypt writes committing suites and also reads the
	// legacy, non-committing ones (message format version 1).
	RequireEncryptAllowDecrypt
)

func (p CommitmentPolicy) allowsDecrypt(s *AlgorithmSuite) bool {
	return s.Committing || p == RequireEncryptAllowDecrypt
}
