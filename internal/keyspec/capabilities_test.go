package keyspec

import (
	"reflect"
	"slices"
	"testing"

	"github.com/trent-kms/trent/internal/kmsapi"
)

func TestUsages(t *testing.T) {
	const (
		ed  = kmsapi.KeyUsageTypeEncryptDecrypt
		sv  = kmsapi.KeyUsageTypeSignVerify
		mac = kmsapi.KeyUsageTypeGenerateVerifyMac
		ka  = kmsapi.KeyUsageTypeKeyAgreement
		kem = kmsapi.KeyUsageTypeEncapsulateDecapsulate
	)
	want := map[kmsapi.KeySpec][]kmsapi.KeyUsageType{
		kmsapi.KeySpecSymmetricDefault:    {ed},
		kmsapi.KeySpecRsa2048:             {ed, sv},
		kmsapi.KeySpecRsa3072:             {ed, sv},
		kmsapi.KeySpecRsa4096:             {ed, sv},
		kmsapi.KeySpecEccNistP256:         {sv, ka},
		kmsapi.KeySpecEccNistP384:         {sv, ka},
		kmsapi.KeySpecEccNistP521:         {sv, ka},
		kmsapi.KeySpecEccSecgP256k1:       {sv},
		kmsapi.KeySpecEccNistEdwards25519: {sv}, // AWS: "sign and verify only"
		kmsapi.KeySpecMlDsa44:             {sv},
		kmsapi.KeySpecMlDsa65:             {sv},
		kmsapi.KeySpecMlDsa87:             {sv},
		kmsapi.KeySpecMlKem512:            {kem},
		kmsapi.KeySpecMlKem768:            {kem},
		kmsapi.KeySpecMlKem1024:           {kem},
		kmsapi.KeySpecHmac224:             {mac},
		kmsapi.KeySpecHmac256:             {mac},
		kmsapi.KeySpecHmac384:             {mac},
		kmsapi.KeySpecHmac512:             {mac},
		kmsapi.KeySpecSm2:                 {ed, sv, ka},
	}
	for _, spec := range kmsapi.KeySpec("").Values() {
		w, ok := want[spec]
		if !ok {
			t.Errorf("key spec %s has no expectation: new spec in the model?", spec)
			continue
		}
		if got := Usages(spec); !reflect.DeepEqual(got, w) {
			t.Errorf("Usages(%s) = %v, want %v", spec, got, w)
		}
	}
	if got := Usages("NOPE"); got != nil {
		t.Errorf("Usages(NOPE) = %v, want nil", got)
	}
	// The result is the caller's to change.
	u := Usages(kmsapi.KeySpecRsa2048)
	u[0] = "X"
	if Usages(kmsapi.KeySpecRsa2048)[0] != ed {
		t.Error("Usages returns shared state")
	}
}

func TestAlgorithmsFor(t *testing.T) {
	type A = Algorithms
	rsaSign := []kmsapi.SigningAlgorithmSpec{
		kmsapi.SigningAlgorithmSpecRsassaPkcs1V15Sha256, kmsapi.SigningAlgorithmSpecRsassaPkcs1V15Sha384, kmsapi.SigningAlgorithmSpecRsassaPkcs1V15Sha512,
		kmsapi.SigningAlgorithmSpecRsassaPssSha256, kmsapi.SigningAlgorithmSpecRsassaPssSha384, kmsapi.SigningAlgorithmSpecRsassaPssSha512,
	}
	rsaEnc := []kmsapi.EncryptionAlgorithmSpec{kmsapi.EncryptionAlgorithmSpecRsaesOaepSha1, kmsapi.EncryptionAlgorithmSpecRsaesOaepSha256}
	ecdh := []kmsapi.KeyAgreementAlgorithmSpec{kmsapi.KeyAgreementAlgorithmSpecEcdh}
	sig := func(a ...kmsapi.SigningAlgorithmSpec) A { return A{Signing: a} }
	mac := func(a kmsapi.MacAlgorithmSpec) A { return A{MAC: []kmsapi.MacAlgorithmSpec{a}} }
	kem := A{Encapsulation: []kmsapi.EncapsulationAlgorithmSpec{kmsapi.EncapsulationAlgorithmSpecMlKem}}

	cases := []struct {
		spec  kmsapi.KeySpec
		usage kmsapi.KeyUsageType
		want  A
	}{
		{kmsapi.KeySpecSymmetricDefault, kmsapi.KeyUsageTypeEncryptDecrypt, A{Encryption: []kmsapi.EncryptionAlgorithmSpec{kmsapi.EncryptionAlgorithmSpecSymmetricDefault}}},
		{kmsapi.KeySpecRsa2048, kmsapi.KeyUsageTypeEncryptDecrypt, A{Encryption: rsaEnc}},
		{kmsapi.KeySpecRsa3072, kmsapi.KeyUsageTypeSignVerify, A{Signing: rsaSign}},
		{kmsapi.KeySpecRsa4096, kmsapi.KeyUsageTypeEncryptDecrypt, A{Encryption: rsaEnc}},
		{kmsapi.KeySpecEccNistP256, kmsapi.KeyUsageTypeSignVerify, sig(kmsapi.SigningAlgorithmSpecEcdsaSha256)},
		{kmsapi.KeySpecEccNistP384, kmsapi.KeyUsageTypeSignVerify, sig(kmsapi.SigningAlgorithmSpecEcdsaSha384)},
		{kmsapi.KeySpecEccNistP521, kmsapi.KeyUsageTypeSignVerify, sig(kmsapi.SigningAlgorithmSpecEcdsaSha512)},
		{kmsapi.KeySpecEccNistP256, kmsapi.KeyUsageTypeKeyAgreement, A{KeyAgreement: ecdh}},
		{kmsapi.KeySpecEccNistP521, kmsapi.KeyUsageTypeKeyAgreement, A{KeyAgreement: ecdh}},
		{kmsapi.KeySpecEccSecgP256k1, kmsapi.KeyUsageTypeSignVerify, sig(kmsapi.SigningAlgorithmSpecEcdsaSha256)},
		{kmsapi.KeySpecEccNistEdwards25519, kmsapi.KeyUsageTypeSignVerify, sig(kmsapi.SigningAlgorithmSpecEd25519Sha512, kmsapi.SigningAlgorithmSpecEd25519PhSha512)},
		{kmsapi.KeySpecMlDsa65, kmsapi.KeyUsageTypeSignVerify, sig(kmsapi.SigningAlgorithmSpecMlDsaShake256)},
		{kmsapi.KeySpecMlKem768, kmsapi.KeyUsageTypeEncapsulateDecapsulate, kem},
		{kmsapi.KeySpecHmac224, kmsapi.KeyUsageTypeGenerateVerifyMac, mac(kmsapi.MacAlgorithmSpecHmacSha224)},
		{kmsapi.KeySpecHmac256, kmsapi.KeyUsageTypeGenerateVerifyMac, mac(kmsapi.MacAlgorithmSpecHmacSha256)},
		{kmsapi.KeySpecHmac384, kmsapi.KeyUsageTypeGenerateVerifyMac, mac(kmsapi.MacAlgorithmSpecHmacSha384)},
		{kmsapi.KeySpecHmac512, kmsapi.KeyUsageTypeGenerateVerifyMac, mac(kmsapi.MacAlgorithmSpecHmacSha512)},
		{kmsapi.KeySpecSm2, kmsapi.KeyUsageTypeEncryptDecrypt, A{Encryption: []kmsapi.EncryptionAlgorithmSpec{kmsapi.EncryptionAlgorithmSpecSm2pke}}},
		{kmsapi.KeySpecSm2, kmsapi.KeyUsageTypeSignVerify, sig(kmsapi.SigningAlgorithmSpecSm2dsa)},
		{kmsapi.KeySpecSm2, kmsapi.KeyUsageTypeKeyAgreement, A{KeyAgreement: ecdh}},
	}
	for _, c := range cases {
		if got := AlgorithmsFor(c.spec, c.usage); !reflect.DeepEqual(got, c.want) {
			t.Errorf("AlgorithmsFor(%s, %s) = %+v, want %+v", c.spec, c.usage, got, c.want)
		}
	}

	// Every (spec, usage) pair: non-empty exactly when usage is allowed, and
	// then exactly one field set.
	for _, spec := range append(kmsapi.KeySpec("").Values(), "NOPE") {
		allowed := Usages(spec)
		for _, usage := range kmsapi.KeyUsageType("").Values() {
			a := AlgorithmsFor(spec, usage)
			n := 0
			for _, l := range []int{len(a.Encryption), len(a.Signing), len(a.KeyAgreement), len(a.MAC), len(a.Encapsulation)} {
				if l > 0 {
					n++
				}
			}
			want := 0
			if slices.Contains(allowed, usage) {
				want = 1
			}
			if n != want {
				t.Errorf("AlgorithmsFor(%s, %s) = %+v: %d fields set, want %d", spec, usage, a, n, want)
			}
		}
	}
}

// The signing algorithms AlgorithmsFor lists are exactly those Sign accepts
// (with RAW, or EXTERNAL_MU/DIGEST where RAW is not allowed).
func TestAlgorithmsForMatchesSign(t *testing.T) {
	msg := []byte("capabilities")
	for _, spec := range supportedSpecs {
		listed := AlgorithmsFor(spec, kmsapi.KeyUsageTypeSignVerify).Signing
		k := testKey(t, spec)
		for _, alg := range kmsapi.SigningAlgorithmSpec("").Values() {
			var ok bool
			for _, mt := range kmsapi.MessageType("").Values() {
				m := msg
				if mt != kmsapi.MessageTypeRaw {
					m = make([]byte, digestLen(alg))
				}
				if _, err := k.Sign(alg, mt, m, nil); err == nil {
					ok = true
				}
			}
			if ok != slices.Contains(listed, alg) {
				t.Errorf("%s: Sign with %s works = %v, listed = %v", spec, alg, ok, !ok)
			}
		}
	}
}

func digestLen(alg kmsapi.SigningAlgorithmSpec) int {
	switch alg {
	case kmsapi.SigningAlgorithmSpecRsassaPssSha384, kmsapi.SigningAlgorithmSpecRsassaPkcs1V15Sha384, kmsapi.SigningAlgorithmSpecEcdsaSha384:
		return 48
	case kmsapi.SigningAlgorithmSpecRsassaPssSha512, kmsapi.SigningAlgorithmSpecRsassaPkcs1V15Sha512, kmsapi.SigningAlgorithmSpecEcdsaSha512,
		kmsapi.SigningAlgorithmSpecEd25519PhSha512, kmsapi.SigningAlgorithmSpecMlDsaShake256:
		return 64
	}
	return 32
}

func TestSupported(t *testing.T) {
	for _, spec := range kmsapi.KeySpec("").Values() {
		want := slices.Contains(supportedSpecs, spec)
		if got := Supported(spec); got != want {
			t.Errorf("Supported(%s) = %v, want %v", spec, got, want)
		}
	}
}
