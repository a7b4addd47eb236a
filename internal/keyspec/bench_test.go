package keyspec

import (
	"testing"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// go test -run '^$' -bench . -benchmem ./internal/keyspec/

func BenchmarkParse(b *testing.B) {
	for _, spec := range supportedSpecs {
		material := testMaterial(b, spec)
		b.Run(string(spec), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(spec, material); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSign(b *testing.B) {
	msg := make([]byte, 256)
	for _, spec := range signingSpecs {
		k := testKey(b, spec)
		alg := AlgorithmsFor(spec, kmsapi.KeyUsageTypeSignVerify).Signing[0]
		b.Run(string(spec), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Sign(alg, kmsapi.MessageTypeRaw, msg, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	msg := make([]byte, 256)
	for _, spec := range signingSpecs {
		k := testKey(b, spec)
		alg := AlgorithmsFor(spec, kmsapi.KeyUsageTypeSignVerify).Signing[0]
		sig, err := k.Sign(alg, kmsapi.MessageTypeRaw, msg, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(spec), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := k.Verify(alg, kmsapi.MessageTypeRaw, msg, sig); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOthers(b *testing.B) {
	msg := make([]byte, 256)
	hk := testKey(b, kmsapi.KeySpecHmac256)
	b.Run("MAC/HMAC_256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := hk.MAC(kmsapi.MacAlgorithmSpecHmacSha256, msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	rk := testKey(b, kmsapi.KeySpecRsa2048)
	ct, _ := rk.Encrypt(kmsapi.EncryptionAlgorithmSpecRsaesOaepSha256, msg[:190], nil)
	b.Run("Decrypt/RSA_2048", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rk.Decrypt(kmsapi.EncryptionAlgorithmSpecRsaesOaepSha256, ct); err != nil {
				b.Fatal(err)
			}
		}
	})
	ek := testKey(b, kmsapi.KeySpecEccNistP256)
	peer, _ := testKey(b, kmsapi.KeySpecEccNistP256).PublicKey()
	b.Run("DeriveSharedSecret/ECC_NIST_P256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ek.DeriveSharedSecret(kmsapi.KeyAgreementAlgorithmSpecEcdh, peer); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, spec := range specsOf(famMLKEM) {
		k := testKey(b, spec)
		ct, _, _ := k.Encapsulate(nil)
		b.Run("Decapsulate/"+string(spec), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Decapsulate(ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
