// Package rootkey holds trent's root of trust: the key that wraps every
// KMS key's material at rest (the role of the "domain key" in AWS KMS's
// design). Key material is stored only as Wrap output, next to the ID of
// the root key that wrapped it.
//
// Wrapper is the interface the key store uses. Two implementations:
//
//   - File, for development: a 32-byte AES-256 key in a file readable only
//     by its owner. trent holds the key in memory.
//   - PKCS11: an AES-256 key generated in a PKCS#11 token (an HSM, or
//     SoftHSM2 for tests) as sensitive and non-extractable. trent never
//     sees the key; the token encrypts and decrypts.
//
// Ring holds several root keys: a primary that wraps new material and
// older ones that unwrap what they wrapped, chosen by the stored ID, until
// it is rewrapped (Ring.Rewrap, which checks the new blob before it is
// used). Ring.Check refuses, at start, a ring that lacks a root key the
// store names.
//
// # Wrapping format v1
//
// Both implementations write the same bytes:
//
//	version 0x01 (1) ‖ IV (12) ‖ AES-256-GCM ciphertext (n) ‖ tag (16)
//
// The GCM additional data is the caller's aad, which should name what is
// wrapped (for example the key id and material id) so that a wrapped blob
// cannot be moved to another record. The overhead is WrapOverhead (29)
// bytes. A File and a PKCS11 holding the same key value unwrap each
// other's blobs (the tests check this with an imported test key). IVs are
// random, so one root key should wrap fewer than 2^32 blobs (NIST SP
// 800-38D §8.3); wrapping happens only when key material is created,
// imported or rewrapped, far below that.
//
// # Root key IDs
//
// An ID is a prefix and 16 hex digits; it names the key's value without
// revealing it, so a different key under the same file name or label gets
// a different ID:
//
//	file:   SHA-256("trent rootkey file id v1" ‖ 0x00 ‖ key)[:8]
//	pkcs11: SHA-256("trent rootkey pkcs11 id v1" ‖ 0x00 ‖ AES-ECB(key, "trent rootkey id"))[:8]
//
// The PKCS#11 form is a key check value computed by the token, since the
// key cannot leave it. CKA_ID or CKA_LABEL would not do: they are set by
// whoever makes the key and say nothing about its value.
//
// # PKCS#11
//
// PKCS11 follows PKCS#11 v2.40 and uses CKM_AES_GCM through C_Encrypt and
// C_Decrypt (not C_WrapKey: the material is data to trent, not a token
// object), CKM_AES_ECB for the ID, and CKM_AES_KEY_GEN to create the key.
//
// IVs: v2.40 has the caller pass the IV in CK_GCM_PARAMS; some HSMs
// (CloudHSM) ignore it and write the IV they chose into the same buffer.
// trent passes a fresh random 12-byte IV and stores whatever the buffer
// holds after C_Encrypt, so both kinds work and the blob format stays
// v1. A module that returns anything but ciphertext ‖ 16-byte tag (Luna
// in FIPS mode appends a 16-byte IV of its own) is refused: OpenPKCS11
// runs a wrap/unwrap self-test, which also checks that a changed aad is
// rejected, so a module whose CK_GCM_PARAMS layout differs from v2.40's
// (with ulIvBits) fails at open instead of per request.
//
// The binding (github.com/miekg/pkcs11) needs cgo to dlopen the module.
// Builds with CGO_ENABLED=0, trent's default static binary, compile a stub
// whose OpenPKCS11 returns ErrPKCS11Unsupported ("this trent was built
// without PKCS#11 support (CGO_ENABLED=0)"); PKCS11Supported says which
// build this is.
//
// Limits: the binding copies decrypted material and the PIN through C
// memory that it frees without clearing, so those bytes can linger in the
// freed heap until reused, as Go's own copies can. The PIN is read from
// its file at open and at each reconnect, and not kept in between.
package rootkey
