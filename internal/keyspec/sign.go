package keyspec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"io"

	"filippo.io/mldsa"
	"filippo.io/mldsa/mldsacrypto"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// An empty MessageType means RAW, the API's default.
func messageType(mt kmsapi.MessageType) kmsapi.MessageType {
	if mt == "" {
		return kmsapi.MessageTypeRaw
	}
	return mt
}

// rsaSigning maps an RSA signing algorithm to its hash and padding.
func rsaSigning(alg kmsapi.SigningAlgorithmSpec) (h crypto.Hash, pss bool, ok bool) {
	switch alg {
	case kmsapi.SigningAlgorithmSpecRsassaPssSha256:
		return crypto.SHA256, true, true
	case kmsapi.SigningAlgorithmSpecRsassaPssSha384:
		return crypto.SHA384, true, true
	case kmsapi.SigningAlgorithmSpecRsassaPssSha512:
		return crypto.SHA512, true, true
	case kmsapi.SigningAlgorithmSpecRsassaPkcs1V15Sha256:
		return crypto.SHA256, false, true
	case kmsapi.SigningAlgorithmSpecRsassaPkcs1V15Sha384:
		return crypto.SHA384, false, true
	case kmsapi.SigningAlgorithmSpecRsassaPkcs1V15Sha512:
		return crypto.SHA512, false, true
	}
	return 0, false, false
}

// hashSum hashes message with h (SHA-256/384/512) without heap allocation
// beyond the returned slice.
func hashSum(h crypto.Hash, message []byte) []byte {
	switch h {
	case crypto.SHA256:
		d := sha256.Sum256(message)
		return d[:]
	case crypto.SHA384:
		d := sha512.Sum384(message)
		return d[:]
	default:
		d := sha512.Sum512(message)
		return d[:]
	}
}

// digestFor returns the digest to sign for the RAW/DIGEST algorithms: the hash
// of a RAW message, or a DIGEST message of exactly the hash's length.
func digestFor(h crypto.Hash, mt kmsapi.MessageType, message []byte) ([]byte, error) {
	switch mt {
	case kmsapi.MessageTypeRaw:
		return hashSum(h, message), nil
	case kmsapi.MessageTypeDigest:
		if len(message) != h.Size() {
			return nil, fmt.Errorf("%w: %d bytes, want %d", ErrDigestLength, len(message), h.Size())
		}
		return message, nil
	}
	return nil, fmt.Errorf("%w: message type %s", ErrUnsupportedAlgorithm, mt)
}

var pssOptions = rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}

// Sign signs message with alg. mt says what message is: RAW (hashed here with
// the algorithm's hash; an empty mt means RAW), DIGEST (already hashed, must
// be the hash's length) or EXTERNAL_MU (ML-DSA only: the 64-byte μ).
// Signatures are in AWS's encodings: PKCS #1 for RSA, DER (ASN.1) for ECDSA,
// raw for Ed25519 and ML-DSA. RSA-PSS uses a salt as long as the hash; ML-DSA
// signs hedged (randomized) with an empty context. rand may be nil.
func (k *Key) Sign(alg kmsapi.SigningAlgorithmSpec, mt kmsapi.MessageType, message []byte, rand io.Reader) ([]byte, error) {
	mt = messageType(mt)
	var sig []byte
	var err error
	switch k.info.family {
	case famRSA:
		h, pss, ok := rsaSigning(alg)
		if !ok {
			return nil, unsupported(k, alg)
		}
		digest, derr := digestFor(h, mt, message)
		if derr != nil {
			return nil, derr
		}
		if pss {
			sig, err = rsa.SignPSS(randOrDefault(rand), k.rsa, h, digest, &pssOptions)
		} else {
			sig, err = rsa.SignPKCS1v15(nil, k.rsa, h, digest)
		}

	case famNIST:
		if alg != k.info.ecdsa {
			return nil, unsupported(k, alg)
		}
		digest, derr := digestFor(k.info.hash, mt, message)
		if derr != nil {
			return nil, derr
		}
		sig, err = ecdsa.SignASN1(randOrDefault(rand), k.ec, digest)

	case famSecp256k1:
		if alg != k.info.ecdsa {
			return nil, unsupported(k, alg)
		}
		digest, derr := digestFor(k.info.hash, mt, message)
		if derr != nil {
			return nil, derr
		}
		// RFC 6979 deterministic nonce, low-S, DER.
		sig = k1ecdsa.Sign(k.k1, digest).Serialize()

	case famEd25519:
		switch {
		case alg == kmsapi.SigningAlgorithmSpecEd25519Sha512 && mt == kmsapi.MessageTypeRaw:
			sig = ed25519.Sign(k.ed, message)
		case alg == kmsapi.SigningAlgorithmSpecEd25519PhSha512 && mt == kmsapi.MessageTypeDigest:
			if len(message) != sha512.Size {
				return nil, fmt.Errorf("%w: %d bytes, want %d", ErrDigestLength, len(message), sha512.Size)
			}
			sig, err = k.ed.Sign(nil, message, &ed25519.Options{Hash: crypto.SHA512})
		default:
			return nil, unsupportedMT(k, alg, mt)
		}

	case famMLDSA:
		if alg != kmsapi.SigningAlgorithmSpecMlDsaShake256 {
			return nil, unsupported(k, alg)
		}
		switch mt {
		case kmsapi.MessageTypeRaw:
			sig, err = k.mldsa.Sign(rand, message, nil)
		case kmsapi.MessageTypeExternalMu:
			if len(message) != muSize {
				return nil, fmt.Errorf("%w: μ of %d bytes, want %d", ErrDigestLength, len(message), muSize)
			}
			sig, err = k.mldsa.Sign(rand, message, mldsacrypto.MLDSAMu)
		default:
			return nil, unsupportedMT(k, alg, mt)
		}

	default:
		return nil, ErrWrongUsage
	}
	if err != nil {
		return nil, fmt.Errorf("keyspec: %s %s: %w", k.spec, alg, err)
	}
	return sig, nil
}

// Verify checks signature over message, with alg and mt as for Sign. A
// signature that does not verify, whatever is wrong with it, is
// ErrInvalidSignature; a bad (alg, mt) pairing is ErrUnsupportedAlgorithm and
// a digest of the wrong length ErrDigestLength. ECDSA verification accepts
// any valid DER signature, high-S included.
func (k *Key) Verify(alg kmsapi.SigningAlgorithmSpec, mt kmsapi.MessageType, message, signature []byte) error {
	mt = messageType(mt)
	var ok bool
	switch k.info.family {
	case famRSA:
		h, pss, known := rsaSigning(alg)
		if !known {
			return unsupported(k, alg)
		}
		digest, err := digestFor(h, mt, message)
		if err != nil {
			return err
		}
		if pss {
			ok = rsa.VerifyPSS(&k.rsa.PublicKey, h, digest, signature, &pssOptions) == nil
		} else {
			ok = rsa.VerifyPKCS1v15(&k.rsa.PublicKey, h, digest, signature) == nil
		}

	case famNIST:
		if alg != k.info.ecdsa {
			return unsupported(k, alg)
		}
		digest, err := digestFor(k.info.hash, mt, message)
		if err != nil {
			return err
		}
		ok = ecdsa.VerifyASN1(&k.ec.PublicKey, digest, signature)

	case famSecp256k1:
		if alg != k.info.ecdsa {
			return unsupported(k, alg)
		}
		digest, err := digestFor(k.info.hash, mt, message)
		if err != nil {
			return err
		}
		if sig, err := k1ecdsa.ParseDERSignature(signature); err == nil {
			ok = sig.Verify(digest, k.k1pub)
		}

	case famEd25519:
		switch {
		case alg == kmsapi.SigningAlgorithmSpecEd25519Sha512 && mt == kmsapi.MessageTypeRaw:
			ok = len(signature) == ed25519.SignatureSize && ed25519.Verify(k.edPub, message, signature)
		case alg == kmsapi.SigningAlgorithmSpecEd25519PhSha512 && mt == kmsapi.MessageTypeDigest:
			if len(message) != sha512.Size {
				return fmt.Errorf("%w: %d bytes, want %d", ErrDigestLength, len(message), sha512.Size)
			}
			ok = ed25519.VerifyWithOptions(k.edPub, message, signature, &ed25519.Options{Hash: crypto.SHA512}) == nil
		default:
			return unsupportedMT(k, alg, mt)
		}

	case famMLDSA:
		if alg != kmsapi.SigningAlgorithmSpecMlDsaShake256 {
			return unsupported(k, alg)
		}
		switch mt {
		case kmsapi.MessageTypeRaw:
			ok = mldsa.Verify(k.mldsaPub, message, signature, nil) == nil
		case kmsapi.MessageTypeExternalMu:
			if len(message) != muSize {
				return fmt.Errorf("%w: μ of %d bytes, want %d", ErrDigestLength, len(message), muSize)
			}
			// No library here verifies over an external μ in its public
			// API: FIPS 204 Algorithm 8 from μ on, in mldsamu.go.
			ok = verifyExternalMu(mldsaParamSetFor(k.info.level), k.mldsaPub.Bytes(), message, signature)
		default:
			return unsupportedMT(k, alg, mt)
		}

	default:
		return ErrWrongUsage
	}
	if !ok {
		return ErrInvalidSignature
	}
	return nil
}

func unsupported(k *Key, alg any) error {
	return fmt.Errorf("%w: %s with %v", ErrUnsupportedAlgorithm, k.spec, alg)
}

func unsupportedMT(k *Key, alg kmsapi.SigningAlgorithmSpec, mt kmsapi.MessageType) error {
	return fmt.Errorf("%w: %s with %s and message type %s", ErrUnsupportedAlgorithm, k.spec, alg, mt)
}
