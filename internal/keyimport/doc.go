// Package keyimport is the cryptography of importing key material (BYOK):
// the RSA wrapping key that GetParametersForImport hands out, the unwrapping
// of the EncryptedKeyMaterial that ImportKeyMaterial receives, AWS's rules
// on which wrapping algorithm may carry which material, and AES Key Wrap
// with Padding (RFC 5649), which the standard library lacks.
//
// It is pure: no storage, no tokens, no key states. The service keeps the
// wrapping private key and the algorithm in its import token and calls this
// package on each side.
//
// # Wrapped formats
//
// k is the wrapping key's modulus length: 256, 384 or 512 bytes for
// RSA_2048, RSA_3072, RSA_4096. m is the material's length.
//
// RSAES_OAEP_SHA_1 and RSAES_OAEP_SHA_256 (one RSA block):
//
//	offset 0        k
//	       | RSAES-OAEP(material) |
//
// RSAES-OAEP-ENCRYPT of RFC 8017 section 7.1 with SHA-1 or SHA-256 as both
// the OAEP hash and the MGF1 hash, and an empty label. It carries at most
// k − 2·hLen − 2 bytes:
//
//	           SHA-1   SHA-256
//	RSA_2048    214     190
//	RSA_3072    342     318
//	RSA_4096    470     446
//
// which is why RSA private keys (PKCS #8 of about 1.2 KiB and more) need the
// hybrid algorithms, and why a P-521 PKCS #8 key (241 bytes as OpenSSL
// writes it, with its public key) cannot go directly under RSA_2048.
//
// RSA_AES_KEY_WRAP_SHA_1 and RSA_AES_KEY_WRAP_SHA_256 (RSA block, then an
// AES-KWP ciphertext):
//
//	offset 0                 k                                k + 8·(⌈m/8⌉ + 1)
//	       | RSAES-OAEP(K)   | AES-KWP_K(material)            |
//
// K is a fresh 32-byte AES-256 key, encrypted as above with the algorithm's
// hash; the material is wrapped under K with AES Key Wrap with Padding. AWS's
// instructions build it with OpenSSL: `openssl rand 32`, `openssl enc
// -id-aes256-wrap-pad -iv A65959A6`, `openssl pkeyutl -encrypt` with
// rsa_padding_mode:oaep, rsa_oaep_md and rsa_mgf1_md, and `cat` of the RSA
// block and the wrapped material, in that order.
//
// AES-KWP (RFC 5649; NIST SP 800-38F KWP): the 8-byte alternative initial
// value is the constant A6 59 59 A6 followed by the 32-bit big-endian
// plaintext length (MLI); the plaintext is zero-padded to n 8-byte blocks.
// With n = 1 the ciphertext is the single AES block AES_K(AIV ‖ P1); with
// n ≥ 2 it is the RFC 3394 wrapping process W with A = AIV: for j = 0…5 and
// i = 1…n, B = AES_K(A ‖ R[i]), A = MSB64(B) ⊕ (n·j + i), R[i] = LSB64(B);
// output A ‖ R[1] ‖ … ‖ R[n]. Unwrapping inverts this and then checks, in
// constant time, the constant, 8·(n−1) < MLI ≤ 8·n, and zero padding.
//
// Unwrap checks lengths exactly (an RSA block of any other length, even the
// same integer without its leading zero byte, and any trailing data are
// refused) and reports every failure as the one error ErrInvalidCiphertext.
//
// # Which algorithm may wrap which material
//
// From the AWS KMS Developer Guide, "Step 2: Download the wrapping public
// key and import token" (its table under "Select a wrapping algorithm") and
// "Step 3: Encrypt the key material", and the AWS KMS API Reference for
// GetParametersForImport (WrappingAlgorithm, WrappingKeySpec):
//
//	material (KeySpec)                   RSAES_OAEP_SHA_1/256    RSA_AES_KEY_WRAP_SHA_1/256
//	SYMMETRIC_DEFAULT (32-byte AES key)  yes                     no
//	HMAC_224/256/384/512                 yes                     no
//	RSA_2048/3072/4096                   no                      yes
//	ECC_NIST_P256/P384, ECC_SECG_P256K1  yes                     yes
//	ECC_NIST_P521                        not under RSA_2048      yes
//	ECC_NIST_EDWARDS25519 (inferred)     yes                     yes
//	ML_DSA_44/65/87                      no ("You can't import key material for ML-DSA KMS keys.")
//	ML_KEM_512/768/1024 (inferred)       no
//	SM2                                  China Regions only: refused
//
// Every row takes the RSA_2048, RSA_3072 and RSA_4096 wrapping key specs.
// RSAES_PKCS1_V1_5 has not been supported since October 10, 2023; SM2PKE,
// the SM2 wrapping key spec and SM2 material exist only in the China Regions
// (where RSA_AES_KEY_WRAP does not), and trent implements none of them.
//
// Where the sources are thin:
//
//   - The table has no Ed25519 or ML-KEM row. Ed25519 takes the ECC row (it
//     is an elliptic curve private key, a 48-byte PKCS #8); ML-KEM is
//     refused like ML-DSA. Both are inferences; classify in allowed.go is
//     the one place to change.
//   - The table lists only RSAES_OAEP for symmetric and HMAC material, and
//     the API Reference says RSA_AES_KEY_WRAP is "supported for wrapping RSA
//     and ECC key material", but the Step 3 page's RSA_AES_KEY_WRAP example
//     names a symmetric and an HMAC key file among its inputs. CheckAllowed
//     follows the table.
//   - AWS documents neither the error nor the text for a refused
//     combination: the classes and messages of CheckAllowed are trent's
//     (see its documentation).
//
// # What the caller must do
//
// GetParametersForImport: CheckAllowed(algorithm, wrappingKeySpec, the KMS
// key's KeySpec), then GenerateWrappingKey; keep the private key and the
// algorithm with the import token (24 hours).
//
// ImportKeyMaterial: Unwrap(private key, the token's algorithm,
// EncryptedKeyMaterial); ErrInvalidCiphertext is InvalidCiphertextException.
// CheckAllowed again if the token does not already guarantee it. Then check
// the material against the key's spec, which this package does not do:
//
//   - SYMMETRIC_DEFAULT: exactly 32 bytes.
//   - HMAC_*: keyspec.Parse(spec, material). It accepts from the hash length
//     up to the hash block size; AWS's Step 3 page says an imported HMAC key
//     "must match the length defined by the key spec" (HMAC_384: 48 bytes).
//     Choose one and make it deliberate.
//   - RSA_*, ECC_NIST_*, ECC_NIST_EDWARDS25519: keyspec.Parse(spec,
//     material), which takes the PKCS #8 DER that importers send and checks
//     the modulus size or curve.
//   - ECC_SECG_P256K1: importers send PKCS #8 (AWS's instructions run
//     `openssl genpkey … ec_paramgen_curve:secp256k1 | openssl pkcs8 -topk8
//     -outform der -nocrypt`), but keyspec.Parse takes this spec's material
//     as the raw 32-byte scalar. The PKCS #8 must be decoded to the scalar
//     (or keyspec taught PKCS #8) before it can be stored.
//
// The project's reference (kms-lifecycle.md, ImportKeyMaterial) answers
// material of the wrong form with IncorrectKeyMaterialException. The caller
// owns the unwrapped material and should clear it once
// it is stored wrapped.
//
// # Side channels
//
// crypto/rsa's OAEP decryption is constant-time. For RSA_AES_KEY_WRAP,
// Unwrap does not stop when the RSA block fails to decrypt to a 32-byte key:
// it unwraps the AES-KWP part under a fixed key and fails afterwards, so the
// work done does not say which step failed. AES-KWP's integrity checks
// combine without branches; only the final verdict is a branch.
package keyimport
