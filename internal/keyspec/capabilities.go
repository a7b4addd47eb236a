package keyspec

import (
	"crypto"
	"crypto/ecdh"
	"crypto/elliptic"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// family groups the key specs that share an implementation.
type family int

const (
	famUnknown family = iota
	famSymmetric
	famRSA
	famNIST // ECC_NIST_P256/384/521
	famSecp256k1
	famEd25519
	famMLDSA
	famMLKEM
	famHMAC
	famSM2
)

// specInfo is what the code needs to know about one key spec.
type specInfo struct {
	family  family
	rsaBits int            // famRSA
	curve   elliptic.Curve // famNIST
	ecdh    ecdh.Curve     // famNIST
	hash    crypto.Hash    // famNIST: the ECDSA hash; famHMAC: the HMAC hash
	ecdsa   kmsapi.SigningAlgorithmSpec
	mac     kmsapi.MacAlgorithmSpec
	hmacLen int // famHMAC: generated key length in bytes
	level   int // famMLDSA: 44/65/87; famMLKEM: 512/768/1024
}

func infoFor(spec kmsapi.KeySpec) specInfo {
	switch spec {
	case kmsapi.KeySpecSymmetricDefault:
		return specInfo{family: famSymmetric}
	case kmsapi.KeySpecRsa2048:
		return specInfo{family: famRSA, rsaBits: 2048}
	case kmsapi.KeySpecRsa3072:
		return specInfo{family: famRSA, rsaBits: 3072}
	case kmsapi.KeySpecRsa4096:
		return specInfo{family: famRSA, rsaBits: 4096}
	case kmsapi.KeySpecEccNistP256:
		return specInfo{family: famNIST, curve: elliptic.P256(), ecdh: ecdh.P256(), hash: crypto.SHA256, ecdsa: kmsapi.SigningAlgorithmSpecEcdsaSha256}
	case kmsapi.KeySpecEccNistP384:
		return specInfo{family: famNIST, curve: elliptic.P384(), ecdh: ecdh.P384(), hash: crypto.SHA384, ecdsa: kmsapi.SigningAlgorithmSpecEcdsaSha384}
	case kmsapi.KeySpecEccNistP521:
		return specInfo{family: famNIST, curve: elliptic.P521(), ecdh: ecdh.P521(), hash: crypto.SHA512, ecdsa: kmsapi.SigningAlgorithmSpecEcdsaSha512}
	case kmsapi.KeySpecEccSecgP256k1:
		return specInfo{family: famSecp256k1, hash: crypto.SHA256, ecdsa: kmsapi.SigningAlgorithmSpecEcdsaSha256}
	case kmsapi.KeySpecEccNistEdwards25519:
		return specInfo{family: famEd25519}
	case kmsapi.KeySpecMlDsa44:
		return specInfo{family: famMLDSA, level: 44}
	case kmsapi.KeySpecMlDsa65:
		return specInfo{family: famMLDSA, level: 65}
	case kmsapi.KeySpecMlDsa87:
		return specInfo{family: famMLDSA, level: 87}
	case kmsapi.KeySpecMlKem512:
		return specInfo{family: famMLKEM, level: 512}
	case kmsapi.KeySpecMlKem768:
		return specInfo{family: famMLKEM, level: 768}
	case kmsapi.KeySpecMlKem1024:
		return specInfo{family: famMLKEM, level: 1024}
	case kmsapi.KeySpecHmac224:
		return specInfo{family: famHMAC, hash: crypto.SHA224, mac: kmsapi.MacAlgorithmSpecHmacSha224, hmacLen: 28}
	case kmsapi.KeySpecHmac256:
		return specInfo{family: famHMAC, hash: crypto.SHA256, mac: kmsapi.MacAlgorithmSpecHmacSha256, hmacLen: 32}
	case kmsapi.KeySpecHmac384:
		return specInfo{family: famHMAC, hash: crypto.SHA384, mac: kmsapi.MacAlgorithmSpecHmacSha384, hmacLen: 48}
	case kmsapi.KeySpecHmac512:
		return specInfo{family: famHMAC, hash: crypto.SHA512, mac: kmsapi.MacAlgorithmSpecHmacSha512, hmacLen: 64}
	case kmsapi.KeySpecSm2:
		return specInfo{family: famSM2}
	}
	return specInfo{}
}

// Supported reports whether this package can Generate and Parse material for
// spec. It is false for SYMMETRIC_DEFAULT (the service's own AES-GCM), for SM2
// (see the package documentation) and for unknown specs. Usages and
// AlgorithmsFor still describe SYMMETRIC_DEFAULT and SM2 as AWS does.
func Supported(spec kmsapi.KeySpec) bool {
	switch infoFor(spec).family {
	case famUnknown, famSymmetric, famSM2:
		return false
	}
	return true
}

// Usages returns the KeyUsage values CreateKey accepts for spec, as AWS
// documents them, or nil for an unknown spec. The first element is not a
// default: only SYMMETRIC_DEFAULT has one (ENCRYPT_DECRYPT), and it is the
// only value. The slice is new on every call.
func Usages(spec kmsapi.KeySpec) []kmsapi.KeyUsageType {
	switch infoFor(spec).family {
	case famSymmetric:
		return []kmsapi.KeyUsageType{kmsapi.KeyUsageTypeEncryptDecrypt}
	case famRSA:
		return []kmsapi.KeyUsageType{kmsapi.KeyUsageTypeEncryptDecrypt, kmsapi.KeyUsageTypeSignVerify}
	case famNIST:
		return []kmsapi.KeyUsageType{kmsapi.KeyUsageTypeSignVerify, kmsapi.KeyUsageTypeKeyAgreement}
	case famSecp256k1, famEd25519, famMLDSA:
		return []kmsapi.KeyUsageType{kmsapi.KeyUsageTypeSignVerify}
	case famMLKEM:
		return []kmsapi.KeyUsageType{kmsapi.KeyUsageTypeEncapsulateDecapsulate}
	case famHMAC:
		return []kmsapi.KeyUsageType{kmsapi.KeyUsageTypeGenerateVerifyMac}
	case famSM2:
		return []kmsapi.KeyUsageType{kmsapi.KeyUsageTypeEncryptDecrypt, kmsapi.KeyUsageTypeSignVerify, kmsapi.KeyUsageTypeKeyAgreement}
	}
	return nil
}

// Algorithms is what KeyMetadata lists for a key: exactly one of the fields is
// non-empty for a valid (spec, usage) pair.
type Algorithms struct {
	Encryption    []kmsapi.EncryptionAlgorithmSpec
	Signing       []kmsapi.SigningAlgorithmSpec
	KeyAgreement  []kmsapi.KeyAgreementAlgorithmSpec
	MAC           []kmsapi.MacAlgorithmSpec
	Encapsulation []kmsapi.EncapsulationAlgorithmSpec
}

// AlgorithmsFor returns the algorithms AWS lists in KeyMetadata for a key of
// spec and usage, in AWS's order; the zero Algorithms if usage is not one of
// Usages(spec). The slices are new on every call.
func AlgorithmsFor(spec kmsapi.KeySpec, usage kmsapi.KeyUsageType) Algorithms {
	info := infoFor(spec)
	switch {
	case info.family == famSymmetric && usage == kmsapi.KeyUsageTypeEncryptDecrypt:
		return Algorithms{Encryption: []kmsapi.EncryptionAlgorithmSpec{kmsapi.EncryptionAlgorithmSpecSymmetricDefault}}

	case info.family == famRSA && usage == kmsapi.KeyUsageTypeEncryptDecrypt:
		return Algorithms{Encryption: []kmsapi.EncryptionAlgorithmSpec{
			kmsapi.EncryptionAlgorithmSpecRsaesOaepSha1,
			kmsapi.EncryptionAlgorithmSpecRsaesOaepSha256,
		}}
	case info.family == famRSA && usage == kmsapi.KeyUsageTypeSignVerify:
		return Algorithms{Signing: []kmsapi.SigningAlgorithmSpec{
			kmsapi.SigningAlgorithmSpecRsassaPkcs1V15Sha256,
			kmsapi.SigningAlgorithmSpecRsassaPkcs1V15Sha384,
			kmsapi.SigningAlgorithmSpecRsassaPkcs1V15Sha512,
			kmsapi.SigningAlgorithmSpecRsassaPssSha256,
			kmsapi.SigningAlgorithmSpecRsassaPssSha384,
			kmsapi.SigningAlgorithmSpecRsassaPssSha512,
		}}

	case (info.family == famNIST || info.family == famSecp256k1) && usage == kmsapi.KeyUsageTypeSignVerify:
		return Algorithms{Signing: []kmsapi.SigningAlgorithmSpec{info.ecdsa}}
	case info.family == famNIST && usage == kmsapi.KeyUsageTypeKeyAgreement:
		return Algorithms{KeyAgreement: []kmsapi.KeyAgreementAlgorithmSpec{kmsapi.KeyAgreementAlgorithmSpecEcdh}}

	case info.family == famEd25519 && usage == kmsapi.KeyUsageTypeSignVerify:
		return Algorithms{Signing: []kmsapi.SigningAlgorithmSpec{
			kmsapi.SigningAlgorithmSpecEd25519Sha512,
			kmsapi.SigningAlgorithmSpecEd25519PhSha512,
		}}

	case info.family == famMLDSA && usage == kmsapi.KeyUsageTypeSignVerify:
		return Algorithms{Signing: []kmsapi.SigningAlgorithmSpec{kmsapi.SigningAlgorithmSpecMlDsaShake256}}

	case info.family == famMLKEM && usage == kmsapi.KeyUsageTypeEncapsulateDecapsulate:
		return Algorithms{Encapsulation: []kmsapi.EncapsulationAlgorithmSpec{kmsapi.EncapsulationAlgorithmSpecMlKem}}

	case info.family == famHMAC && usage == kmsapi.KeyUsageTypeGenerateVerifyMac:
		return Algorithms{MAC: []kmsapi.MacAlgorithmSpec{info.mac}}

	case info.family == famSM2 && usage == kmsapi.KeyUsageTypeEncryptDecrypt:
		return Algorithms{Encryption: []kmsapi.EncryptionAlgorithmSpec{kmsapi.EncryptionAlgorithmSpecSm2pke}}
	case info.family == famSM2 && usage == kmsapi.KeyUsageTypeSignVerify:
		return Algorithms{Signing: []kmsapi.SigningAlgorithmSpec{kmsapi.SigningAlgorithmSpecSm2dsa}}
	case info.family == famSM2 && usage == kmsapi.KeyUsageTypeKeyAgreement:
		return Algorithms{KeyAgreement: []kmsapi.KeyAgreementAlgorithmSpec{kmsapi.KeyAgreementAlgorithmSpecEcdh}}
	}
	return Algorithms{}
}
