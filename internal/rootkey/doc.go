// Package rootkey holds trent's root of trust: the key that wraps every
// KMS key's material at rest (the role of the "domain key" in AWS KMS's
// design). Key material is stored only as Wrap output, next to the ID of
// the root key that wrapped it.
//
// Wrapper is the interface the key store uses. File is the development
// implementation, a 32-byte AES-256 key in a file readable only by its
// owner; hardware (PKCS#11) implementations can come later.
//
// # File wrapping format v1
//
//	version 0x01 (1) ‖ nonce (12, random) ‖ AES-256-GCM ciphertext (n) ‖ tag (16)
//
// The GCM additional data is the caller's aad, which should name what is
// wrapped (for example the key id and material id) so that a wrapped blob
// cannot be moved to another record. The overhead is WrapOverhead (29)
// bytes. Nonces are random, so one root key should wrap fewer than 2^32
// blobs (NIST SP 800-38D §8.3); wrapping happens only when key material is
// created or imported, far below that.
package rootkey
