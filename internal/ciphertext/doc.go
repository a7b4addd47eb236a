// Package ciphertext implements trent's symmetric ciphertext blob: the
// opaque CiphertextBlob returned by Encrypt and GenerateDataKey* and
// accepted by Decrypt and ReEncrypt for SYMMETRIC_DEFAULT keys.
//
// The design follows AWS KMS's published derived-key mode (a fresh AES-GCM
// key per request, derived from the key material and a random nonce) but the
// byte layout is trent's own; it is not compatible with AWS blobs.
//
// # Format
//
// Two versions share one layout and differ only in the key derivation:
// v1 (0x01) derives each blob's key from the key material itself; v2 (0x02)
// from a subkey of it. Seal writes v2; Open reads both, so blobs issued
// before v2 keep decrypting.
//
// All integers are big-endian. Offsets are in bytes, L = len(keyID).
//
//	offset    size  field
//	0         1     version, 0x01 or 0x02
//	1         1     L, the length of keyID, 1..255
//	2         L     keyID: the bare key id (a UUID or "mrk-" + 32 hex digits,
//	                never an ARN, so Multi-Region replicas can decrypt);
//	                printable ASCII 0x21..0x7e only
//	2+L       32    materialID: which version of the key's material was used
//	                (its lowercase hex form is AWS's KeyMaterialId)
//	34+L      16    N: random nonce, the KDF context
//	50+L      12    IV: random AES-GCM nonce
//	62+L      n     AES-256-GCM ciphertext of the n-byte plaintext
//	62+L+n    16    AES-GCM tag
//
// The header is bytes [0, 62+L): everything up to and including the IV. The
// blob length is n + Overhead(L) where Overhead(L) = 78 + L (114 bytes for a
// 36-byte UUID or mrk- id; at most 333). A 4096-byte plaintext therefore
// always fits AWS's 6144-byte CiphertextBlob limit.
//
// # Key derivation
//
// Each blob is encrypted under its own 256-bit key K derived from a key
// derivation key KDK with NIST SP 800-108r1 KDF in counter mode, PRF
// HMAC-SHA256, a 32-bit counter placed before the fixed input, one block:
//
//	K = HMAC-SHA256(KDK, [1]_32 ‖ Label ‖ 0x00 ‖ N ‖ [256]_32)
//
// where N is the 16-byte nonce from the blob, [1]_32 = 00 00 00 01 and
// [256]_32 = 00 00 01 00 (the output length in bits), and, per version:
//
//	v1: KDK = M, the 32-byte key material; Label = "trent symmetric v1"
//	v2: KDK = HKDF-SHA256(IKM = M, salt = none, info = "trent blob key v2", L = 32);
//	    Label = "trent symmetric v2"
//
// Why v2: in v1, K is an HMAC keyed with M, so anything that computes
// HMAC-SHA256 with M as the key over a chosen message (GenerateMac, had a
// symmetric key's record been relabelled as an HMAC key) could compute the
// key of any v1 blob. In v2, M only ever enters HMAC as the message (HKDF's
// extract step), so no HMAC keyed with M reaches K. Each purpose a key's
// material serves gets its own subkey this way; an HMAC key's own
// GenerateMac is the one use of raw material, because AWS defines it as
// RFC 2104 HMAC with the key material.
//
// # Authenticated data
//
// The AES-GCM additional data is the header followed by the canonical
// encoding of the encryption context:
//
//	AAD = blob[0 : 62+L] ‖ EncodeContext(ec)
//
// so the version, key id, material id, N and IV are all authenticated, and a
// blob only opens with exactly the encryption context it was sealed with (pair
// order does not matter; case does).
//
// # Canonical encryption context
//
//	count uint16 ‖ count × (len(k) uint16 ‖ k ‖ len(v) uint16 ‖ v)
//
// with pairs sorted by the bytes of their keys. A nil and an empty context
// both encode as 00 00. Keys and values longer than 65535 bytes, or more than
// 65535 pairs, are rejected. This is the encoding of the AWS Encryption SDK
// message header's encryption context; duplicate keys cannot occur in a Go
// map.
//
// # Limits
//
// N is 128 random bits, so two encryptions under one key material collide on
// K with probability about q²/2^129: ≤ 2^-32 for up to 2^48 encryptions per
// material version. Each K encrypts exactly one message, so the SP 800-38D
// 2^32 random-IV bound does not apply per material; the random IV is extra
// margin. Seal does not limit the plaintext length; the API layer enforces
// KMS's 4096-byte limit.
//
// Open reports every failure that depends on the blob (bad version, bad
// lengths, wrong material, wrong context, any modified byte) as the single
// error ErrInvalid.
package ciphertext
