package keyimport

import (
	"slices"
	"strings"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// materialClass is a row of AWS's table of which wrapping algorithms may
// wrap which key material (developer guide, "Step 2: Download the wrapping
// public key and import token", section "Select a wrapping algorithm").
type materialClass int

const (
	classUnknown   materialClass = iota
	classSymmetric               // "Symmetric encryption key": 256-bit AES key
	classHMAC                    // "HMAC key"
	classRSA                     // "Asymmetric RSA private key"
	classECC                     // "Asymmetric elliptic curve (ECC) private key"
	classSM2                     // "Asymmetric SM2 private key (China Regions only)"
	classMLDSA                   // no row; "You can't import key material for ML-DSA KMS keys."
	classMLKEM                   // no row and no statement found: refused (see classify)
)

func classify(spec kmsapi.KeySpec) materialClass {
	switch spec {
	case kmsapi.KeySpecSymmetricDefault:
		return classSymmetric
	case kmsapi.KeySpecHmac224, kmsapi.KeySpecHmac256, kmsapi.KeySpecHmac384, kmsapi.KeySpecHmac512:
		return classHMAC
	case kmsapi.KeySpecRsa2048, kmsapi.KeySpecRsa3072, kmsapi.KeySpecRsa4096:
		return classRSA
	case kmsapi.KeySpecEccNistP256, kmsapi.KeySpecEccNistP384, kmsapi.KeySpecEccNistP521, kmsapi.KeySpecEccSecgP256k1:
		return classECC
	case kmsapi.KeySpecEccNistEdwards25519:
		// Not named by AWS's table; it is an elliptic curve private key
		// (PKCS #8, 48 bytes), so it takes the ECC row. An inference.
		return classECC
	case kmsapi.KeySpecSm2:
		return classSM2
	case kmsapi.KeySpecMlDsa44, kmsapi.KeySpecMlDsa65, kmsapi.KeySpecMlDsa87:
		return classMLDSA
	case kmsapi.KeySpecMlKem512, kmsapi.KeySpecMlKem768, kmsapi.KeySpecMlKem1024:
		// AWS's import pages name no ML-KEM row and say nothing of ML-KEM;
		// refused like ML-DSA, the other post-quantum spec, until a source
		// says otherwise. An inference.
		return classMLKEM
	}
	return classUnknown
}

// allowedAlgorithms is each row's wrapping algorithms, in AWS's order of
// preference, leaving out SM2PKE (China Regions only) and RSAES_PKCS1_V1_5
// (not supported since October 10, 2023).
var allowedAlgorithms = map[materialClass][]kmsapi.AlgorithmSpec{
	classSymmetric: {kmsapi.AlgorithmSpecRsaesOaepSha256, kmsapi.AlgorithmSpecRsaesOaepSha1},
	classHMAC:      {kmsapi.AlgorithmSpecRsaesOaepSha256, kmsapi.AlgorithmSpecRsaesOaepSha1},
	classRSA:       {kmsapi.AlgorithmSpecRsaAesKeyWrapSha256, kmsapi.AlgorithmSpecRsaAesKeyWrapSha1},
	classECC: {
		kmsapi.AlgorithmSpecRsaAesKeyWrapSha256, kmsapi.AlgorithmSpecRsaAesKeyWrapSha1,
		kmsapi.AlgorithmSpecRsaesOaepSha256, kmsapi.AlgorithmSpecRsaesOaepSha1,
	},
}

// CheckAllowed says whether key material of materialSpec (a KMS KeySpec:
// "SYMMETRIC_DEFAULT", "HMAC_256", "RSA_3072", "ECC_NIST_P521", …) may be
// imported wrapped with algorithm under a wrapping key of wrappingSpec. It
// returns nil, or a *kmsapi.Error to answer the request with.
//
// The rules are AWS's documented table (see the package documentation).
// AWS documents which combinations are unsupported but not the error it
// answers them with, nor its text, so every class and message here is
// trent's own choice:
//
//   - ML-DSA and ML-KEM key specs, and any spec this package does not know:
//     UnsupportedOperationException.
//   - SM2 material, the SM2 wrapping key spec, SM2PKE (all China Regions
//     only): UnsupportedOperationException.
//   - RSAES_PKCS1_V1_5, an unknown algorithm or wrapping key spec, an
//     algorithm the material's row does not list, and ECC_NIST_P521 with
//     RSA_2048 and an RSAES_OAEP algorithm: ValidationException.
func CheckAllowed(algorithm kmsapi.AlgorithmSpec, wrappingSpec kmsapi.WrappingKeySpec, materialSpec kmsapi.KeySpec) error {
	class := classify(materialSpec)
	switch class {
	case classMLDSA, classMLKEM, classUnknown:
		return kmsapi.Errorf(kmsapi.UnsupportedOperationException,
			"Key material cannot be imported into KMS keys with key spec %s.", materialSpec)
	case classSM2:
		return kmsapi.Errorf(kmsapi.UnsupportedOperationException,
			"Importing SM2 key material is supported only in the China Regions.")
	}

	switch wrappingSpec {
	case kmsapi.WrappingKeySpecRsa2048, kmsapi.WrappingKeySpecRsa3072, kmsapi.WrappingKeySpecRsa4096:
	case kmsapi.WrappingKeySpecSm2:
		return kmsapi.Errorf(kmsapi.UnsupportedOperationException,
			"The SM2 wrapping key spec is supported only in the China Regions.")
	default:
		return kmsapi.Errorf(kmsapi.ValidationException,
			"Unsupported wrapping key spec %q.", string(wrappingSpec))
	}

	switch algorithm {
	case kmsapi.AlgorithmSpecRsaesOaepSha1, kmsapi.AlgorithmSpecRsaesOaepSha256,
		kmsapi.AlgorithmSpecRsaAesKeyWrapSha1, kmsapi.AlgorithmSpecRsaAesKeyWrapSha256:
	case kmsapi.AlgorithmSpecRsaesPkcs1V15:
		return kmsapi.Errorf(kmsapi.ValidationException,
			"The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported.")
	case kmsapi.AlgorithmSpecSm2pke:
		return kmsapi.Errorf(kmsapi.UnsupportedOperationException,
			"The SM2PKE wrapping algorithm is supported only in the China Regions.")
	default:
		return kmsapi.Errorf(kmsapi.ValidationException,
			"Unsupported wrapping algorithm %q.", string(algorithm))
	}

	allowed := allowedAlgorithms[class]
	if !slices.Contains(allowed, algorithm) {
		names := make([]string, len(allowed))
		for i, a := range allowed {
			names[i] = string(a)
		}
		return kmsapi.Errorf(kmsapi.ValidationException,
			"The wrapping algorithm %s cannot wrap key material for key spec %s. Use one of: %s.",
			algorithm, materialSpec, strings.Join(names, ", "))
	}

	if materialSpec == kmsapi.KeySpecEccNistP521 && wrappingSpec == kmsapi.WrappingKeySpecRsa2048 &&
		(algorithm == kmsapi.AlgorithmSpecRsaesOaepSha1 || algorithm == kmsapi.AlgorithmSpecRsaesOaepSha256) {
		return kmsapi.Errorf(kmsapi.ValidationException,
			"ECC_NIST_P521 key material cannot be wrapped with the RSA_2048 wrapping key spec and %s. "+
				"Use a larger wrapping key spec or an RSA_AES_KEY_WRAP_SHA_* wrapping algorithm.", algorithm)
	}
	return nil
}
