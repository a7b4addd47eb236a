// Package ciphertext implements trent's symmetric ciphertext blob: the
// opaque CiphertextBlob returned by Encrypt and GenerateDataKey* and
// accepted by Decrypt and ReEncrypt for SYMMETRIC_DEFAULT keys.
//
// The design follows AWS KMS's published derived-key mode (a fresh AES-GCM
// key per request, derived from the key material and a random nonce) but the
// byte layout is trent's own; it is not compatible with AWS blobs.
//
// # Format v1
//
// All integers are big-endian. Offsets are in bytes, L = len(keyID).
//
//	offset    size  field
//	0         1     version, 0x01
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
// Each blob is encrypted under its own 256-bit key K derived from the
// 32-byte key material M with NIST SP 800-108r1 KDF in counter mode, PRF
// HMAC-SHA256, a 32-bit counter placed before the fixed input, one block:
//
//	K = HMAC-SHA256(M, [1]_32 ‖ Label ‖ 0x00 ‖ N ‖ [256]_32)
//
// where Label is the 18 ASCII bytes "trent symmetric v1", N is the 16-byte
// nonce from the blob, [1]_32 = 00 00 00 01 and [256]_32 = 00 00 01 00 (the
// output length in bits).
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
