// Package keyspec is what each AWS KMS key spec is and what it can do: it
// makes and parses the private material of asymmetric and HMAC keys, and
// performs their operations (Sign/Verify, RSA Encrypt/Decrypt, ECDH,
// ML-KEM Encapsulate/Decapsulate, GenerateMac/VerifyMac). It also says which
// key usages and algorithms AWS allows per spec (Usages, AlgorithmsFor).
//
// It is pure cryptography: no HTTP, no storage, no AWS errors. Failures are
// the sentinel errors in errors.go, which the service maps to AWS
// exceptions. SYMMETRIC_DEFAULT keys are not handled here (the service's
// AES-GCM with per-blob derived keys is; see internal/ciphertext).
//
// Use: Generate once when a key is created and store the material wrapped;
// Parse it once per unwrap and reuse the *Key for any number of concurrent
// operations. Key methods never re-parse material.
//
// # Material encodings
//
// The bytes Generate returns are stored (wrapped), so they are a format.
// Parse accepts exactly these:
//
//	RSA_2048/3072/4096            PKCS #8 DER (x509.MarshalPKCS8PrivateKey), e = 65537 when generated
//	ECC_NIST_P256/P384/P521       PKCS #8 DER (x509.MarshalPKCS8PrivateKey)
//	ECC_NIST_EDWARDS25519         PKCS #8 DER (RFC 8410, x509.MarshalPKCS8PrivateKey)
//	ECC_SECG_P256K1               the 32-byte big-endian scalar, in [1, n-1]
//	ML_DSA_44/65/87               the 32-byte seed ξ (FIPS 204 ML-DSA.KeyGen)
//	ML_KEM_512/768/1024           the 64-byte seed d ‖ z (FIPS 203 ML-KEM.KeyGen)
//	HMAC_224/256/384/512          the HMAC key: 28/32/48/64 random bytes when
//	                              generated; Parse also takes longer keys up to
//	                              the hash block size (64 or 128 bytes) for
//	                              imported material
//
// Parse checks the material against the spec (modulus size, curve, exact
// seed length, scalar range, no trailing data) and keeps no reference to it.
//
// # Public and private key forms
//
// PublicKey returns a DER SubjectPublicKeyInfo, as GetPublicKey does:
// crypto/x509's for RSA, the NIST curves and Ed25519; id-ecPublicKey with
// namedCurve secp256k1 (1.3.132.0.10) and the uncompressed point for
// ECC_SECG_P256K1; for ML-DSA (RFC 9881) and ML-KEM
// (draft-ietf-lamps-kyber-certificates) the NIST OID
// (2.16.840.1.101.3.4.3.17–19, 2.16.840.1.101.3.4.4.1–3) with absent
// parameters and the raw public key as the BIT STRING.
//
// GenerateDataKeyPair returns PKCS #8: crypto/x509's for RSA, NIST curves and
// Ed25519; for secp256k1 an RFC 5915 ECPrivateKey (version 1, scalar, no
// parameters, public key) under id-ecPublicKey/secp256k1, the shape
// crypto/x509 writes for the NIST curves; for ML-KEM the seed-only form
// (privateKey = [0] IMPLICIT OCTET STRING holding d ‖ z). ML-DSA keys, which
// have no DataKeyPairSpec, encode the same way (seed [0], 32 bytes; RFC 9881).
//
// # Algorithms (AWS behaviour)
//
//   - RSA: RSAES_OAEP_SHA_1/SHA_256 (MGF1 with the same hash, empty label;
//     plaintext ≤ k − 2·hLen − 2: 214/190, 342/318, 470/446 bytes);
//     RSASSA_PSS_SHA_256/384/512 (salt length = hash length) and
//     RSASSA_PKCS1_V1_5_SHA_256/384/512.
//   - ECDSA: P-256/ECDSA_SHA_256, P-384/ECDSA_SHA_384, P-521/ECDSA_SHA_512,
//     secp256k1/ECDSA_SHA_256 only; DER signatures. secp256k1 signs with an
//     RFC 6979 nonce and low S; verification accepts any valid DER signature.
//   - ECDH on the NIST curves: the peer key is a DER SPKI on the same curve;
//     the result is the raw shared x coordinate (no KDF), as AWS returns it.
//   - Ed25519: ED25519_SHA_512 with MessageType RAW (pure Ed25519),
//     ED25519_PH_SHA_512 with DIGEST (Ed25519ph over a 64-byte SHA-512
//     digest, empty context). AWS offers Ed25519 for signing only.
//   - ML-DSA: ML_DSA_SHAKE_256 with RAW (pure ML-DSA, empty context) or
//     EXTERNAL_MU (the 64-byte μ); hedged (randomized) signing. No DIGEST.
//   - ML-KEM: Encapsulate/Decapsulate, 32-byte secrets; a ciphertext of the
//     wrong length is ErrInvalidCiphertext, any other decapsulates (implicit
//     rejection).
//   - HMAC_224/256/384/512 with HMAC_SHA_224/256/384/512 respectively (RFC
//     2104); VerifyMAC compares in constant time.
//
// MessageType RAW means the message is hashed here with the algorithm's hash;
// DIGEST means it is that hash and must have its length (ErrDigestLength); an
// empty MessageType is RAW. Any other (spec, algorithm, message type)
// combination is ErrUnsupportedAlgorithm; an operation the spec cannot do at
// all (Sign with an HMAC key) is ErrWrongUsage.
//
// # Libraries
//
// The standard library first: crypto/rsa, crypto/ecdsa, crypto/ecdh,
// crypto/ed25519, crypto/hmac, crypto/mlkem (ML-KEM-768 and -1024), all
// FIPS 140-3 module code in Go 1.26. Beyond it:
//
//   - filippo.io/mldsa v1.0.0 for ML-DSA: Go 1.26 has ML-DSA only in
//     crypto/internal; this module is the same code, extracted by a Go
//     cryptography maintainer, and becomes a thin wrapper of crypto/mldsa
//     from Go 1.27. Its public API signs over an external μ but cannot verify
//     over one, and no other library here can either, so Verify with
//     MessageType EXTERNAL_MU uses this package's own implementation of
//     FIPS 204 Algorithm 8 from μ on (ML-DSA.Verify_internal), written from
//     the standard in mldsamu.go. mldsamu_test.go checks it against circl:
//     signatures from circl and filippo.io/mldsa verify, and mutated ones
//     (bit flips, z at the norm bound, each malformed hint encoding, wrong
//     lengths) get circl's verdict.
//   - github.com/decred/dcrd/dcrec/secp256k1/v4 v4.4.1 for ECC_SECG_P256K1:
//     the standard library has no secp256k1; decred's is the widely used pure
//     Go implementation (dcrd, btcd, go-ethereum without cgo). Caveat: it
//     computes k·G, for the signing nonce k and for the public key at Parse,
//     with variable-time table lookups and additions
//     (ScalarBaseMultNonConst), unlike the standard library's curves. Remote
//     timing through the API is noisy, but a co-resident attacker timing many
//     signatures could learn nonce bits; cache parsed Keys rather than
//     re-parsing per call, and prefer the NIST curves where the caller can.
//   - github.com/cloudflare/circl v1.6.5, kem/mlkem/mlkem512, for ML-KEM-512
//     only: crypto/mlkem has 768 and 1024 but not 512. The tests also use
//     circl as an independent ML-DSA and ML-KEM implementation, and as the
//     oracle for mldsamu.go.
//
// Randomness: every rand parameter may be nil (crypto/rand). Since Go 1.26
// the standard library ignores custom readers in RSA and ECDSA key
// generation and ECDSA signing, crypto/mlkem encapsulation takes none, and
// filippo.io/mldsa always draws its own signing randomness; the seeds,
// scalars and HMAC keys this package makes itself, and ML-KEM-512
// encapsulation, are read from rand.
//
// # SM2
//
// SM2 (SM2DSA, SM2PKE, ECDH on the SM2 curve) is not implemented: Generate,
// Parse and GenerateDataKeyPair return ErrUnsupportedSpec, while Usages and
// AlgorithmsFor still describe SM2 as AWS does, so the service can answer
// precisely. AWS offers SM2 only in its China Regions. The candidate library,
// github.com/emmansun/gmsm, is actively maintained upstream, but the only
// version the module proxy serves here is v0.15.5 of December 2022 (go 1.16,
// golang.org/x/crypto v0.4.0), three years and many releases behind upstream,
// which has since fixed constant-time issues in its SM2 curve code and
// published security advisories. Shipping a three-year-old build of
// cryptography in a key management service, with no second SM2
// implementation to test it against, is not a good trade for a
// China-Regions-only spec. Revisit when a current gmsm is available.
package keyspec
