package keyspec

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/asn1"
	"errors"
	"math/big"
	"sync"
	"testing"

	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/trent-kms/trent/internal/kmsapi"
)

var signingSpecs = []kmsapi.KeySpec{
	kmsapi.KeySpecRsa2048, kmsapi.KeySpecRsa3072, kmsapi.KeySpecRsa4096,
	kmsapi.KeySpecEccNistP256, kmsapi.KeySpecEccNistP384, kmsapi.KeySpecEccNistP521,
	kmsapi.KeySpecEccSecgP256k1, kmsapi.KeySpecEccNistEdwards25519,
	kmsapi.KeySpecMlDsa44, kmsapi.KeySpecMlDsa65, kmsapi.KeySpecMlDsa87,
}

// messageTypes lists the message types each signing algorithm accepts.
func messageTypes(alg kmsapi.SigningAlgorithmSpec) []kmsapi.MessageType {
	switch alg {
	case kmsapi.SigningAlgorithmSpecEd25519Sha512:
		return []kmsapi.MessageType{kmsapi.MessageTypeRaw}
	case kmsapi.SigningAlgorithmSpecEd25519PhSha512:
		return []kmsapi.MessageType{kmsapi.MessageTypeDigest}
	case kmsapi.SigningAlgorithmSpecMlDsaShake256:
		return []kmsapi.MessageType{kmsapi.MessageTypeRaw, kmsapi.MessageTypeExternalMu}
	}
	return []kmsapi.MessageType{kmsapi.MessageTypeRaw, kmsapi.MessageTypeDigest}
}

// algHash is the hash of an RSA/ECDSA/Ed25519ph algorithm.
func algHash(alg kmsapi.SigningAlgorithmSpec) crypto.Hash {
	switch digestLen(alg) {
	case 48:
		return crypto.SHA384
	case 64:
		return crypto.SHA512
	}
	return crypto.SHA256
}

// mlDSAMu computes μ = SHAKE256(SHAKE256(pk, 64) ‖ 0x00 ‖ 0x00 ‖ msg, 64):
// pure ML-DSA with an empty context (FIPS 204, Algorithm 2 and 7).
func mlDSAMu(pk, msg []byte) []byte {
	tr := sha3.SumSHAKE256(pk, 64)
	in := append(append(tr[:], 0x00, 0x00), msg...)
	mu := sha3.SumSHAKE256(in, 64)
	return mu[:]
}

// input returns what to pass as Message for mt: the message itself, its
// digest, or its ML-DSA μ.
func input(t *testing.T, k *Key, alg kmsapi.SigningAlgorithmSpec, mt kmsapi.MessageType, msg []byte) []byte {
	switch mt {
	case kmsapi.MessageTypeDigest:
		h := algHash(alg).New()
		h.Write(msg)
		return h.Sum(nil)
	case kmsapi.MessageTypeExternalMu:
		return mlDSAMu(mustSPKI(t, k).PublicKey.Bytes, msg)
	}
	return msg
}

// independentVerify verifies sig over msg (the original message, whatever mt
// was) with an implementation other than the one Key uses where there is one,
// from the public key in k's SubjectPublicKeyInfo.
func independentVerify(t *testing.T, k *Key, alg kmsapi.SigningAlgorithmSpec, mt kmsapi.MessageType, msg, sig []byte) bool {
	t.Helper()
	info := k.info
	switch info.family {
	case famRSA:
		pub := publicKeyOf(t, k).(*rsa.PublicKey)
		h, pss, _ := rsaSigning(alg)
		d := hashSum(h, msg)
		if pss {
			return rsa.VerifyPSS(pub, h, d, sig, &rsa.PSSOptions{SaltLength: h.Size()}) == nil
		}
		return rsa.VerifyPKCS1v15(pub, h, d, sig) == nil
	case famNIST:
		pub := publicKeyOf(t, k).(*ecdsa.PublicKey)
		return ecdsa.VerifyASN1(pub, hashSum(info.hash, msg), sig)
	case famSecp256k1:
		// Go's generic ECDSA verification over decred's curve arithmetic.
		point := mustSPKI(t, k).PublicKey.Bytes
		pub := &ecdsa.PublicKey{Curve: secp256k1.S256(), X: new(big.Int).SetBytes(point[1:33]), Y: new(big.Int).SetBytes(point[33:])}
		return ecdsa.VerifyASN1(pub, hashSum(crypto.SHA256, msg), sig)
	case famEd25519:
		pub := publicKeyOf(t, k).(ed25519.PublicKey)
		if alg == kmsapi.SigningAlgorithmSpecEd25519PhSha512 {
			d := sha512.Sum512(msg)
			return ed25519.VerifyWithOptions(pub, d[:], sig, &ed25519.Options{Hash: crypto.SHA512}) == nil
		}
		return ed25519.VerifyWithOptions(pub, msg, sig, &ed25519.Options{}) == nil
	case famMLDSA:
		raw := mustSPKI(t, k).PublicKey.Bytes
		switch info.level {
		case 44:
			var pk mldsa44.PublicKey
			if err := pk.UnmarshalBinary(raw); err != nil {
				t.Fatal(err)
			}
			return mldsa44.Verify(&pk, msg, nil, sig)
		case 65:
			var pk mldsa65.PublicKey
			if err := pk.UnmarshalBinary(raw); err != nil {
				t.Fatal(err)
			}
			return mldsa65.Verify(&pk, msg, nil, sig)
		default:
			var pk mldsa87.PublicKey
			if err := pk.UnmarshalBinary(raw); err != nil {
				t.Fatal(err)
			}
			return mldsa87.Verify(&pk, msg, nil, sig)
		}
	}
	t.Fatalf("no independent verifier for %s", k.spec)
	return false
}

func TestSignVerify(t *testing.T) {
	msg := []byte("The quick brown fox jumps over the lazy dog")
	for _, spec := range signingSpecs {
		k := testKey(t, spec)
		for _, alg := range AlgorithmsFor(spec, kmsapi.KeyUsageTypeSignVerify).Signing {
			for _, mt := range messageTypes(alg) {
				t.Run(string(spec)+"/"+string(alg)+"/"+string(mt), func(t *testing.T) {
					in := input(t, k, alg, mt, msg)
					sig, err := k.Sign(alg, mt, in, nil)
					if err != nil {
						t.Fatalf("Sign: %v", err)
					}
					if !independentVerify(t, k, alg, mt, msg, sig) {
						t.Error("independent verification failed")
					}
					if mt == kmsapi.MessageTypeExternalMu {
						// The same signature verifies RAW over the message;
						// the checks below verify it over μ (mldsamu.go).
						if err := k.Verify(alg, kmsapi.MessageTypeRaw, msg, sig); err != nil {
							t.Errorf("EXTERNAL_MU signature does not verify RAW: %v", err)
						}
					}
					if err := k.Verify(alg, mt, in, sig); err != nil {
						t.Errorf("Verify: %v", err)
					}
					wantErr(t, "Verify(tampered signature)", k.Verify(alg, mt, in, flipBit(sig, len(sig)/2)), ErrInvalidSignature)
					wantErr(t, "Verify(tampered message)", k.Verify(alg, mt, flipBit(in, 3), sig), ErrInvalidSignature)
					wantErr(t, "Verify(truncated signature)", k.Verify(alg, mt, in, sig[:len(sig)-1]), ErrInvalidSignature)
					wantErr(t, "Verify(empty signature)", k.Verify(alg, mt, in, nil), ErrInvalidSignature)
					if mt == kmsapi.MessageTypeRaw {
						// An empty MessageType is RAW.
						if err := k.Verify(alg, "", in, sig); err != nil {
							t.Errorf("Verify with empty MessageType: %v", err)
						}
					} else {
						// DIGEST/EXTERNAL_MU of the wrong length.
						for _, n := range []int{0, len(in) - 1, len(in) + 1} {
							bad := make([]byte, n)
							_, err := k.Sign(alg, mt, bad, nil)
							wantErr(t, "Sign(wrong digest length)", err, ErrDigestLength)
							wantErr(t, "Verify(wrong digest length)", k.Verify(alg, mt, bad, sig), ErrDigestLength)
						}
					}
				})
			}
		}
	}
}

// RAW signs the hash of the message; DIGEST signs a given hash: the two meet.
func TestRawAndDigestAgree(t *testing.T) {
	msg := []byte("raw vs digest")
	for _, spec := range []kmsapi.KeySpec{kmsapi.KeySpecRsa2048, kmsapi.KeySpecEccNistP384, kmsapi.KeySpecEccSecgP256k1} {
		k := testKey(t, spec)
		for _, alg := range AlgorithmsFor(spec, kmsapi.KeyUsageTypeSignVerify).Signing {
			d := input(t, k, alg, kmsapi.MessageTypeDigest, msg)
			sig, err := k.Sign(alg, kmsapi.MessageTypeRaw, msg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := k.Verify(alg, kmsapi.MessageTypeDigest, d, sig); err != nil {
				t.Errorf("%s %s: RAW signature does not verify as DIGEST: %v", spec, alg, err)
			}
			sig, _ = k.Sign(alg, kmsapi.MessageTypeDigest, d, nil)
			if err := k.Verify(alg, kmsapi.MessageTypeRaw, msg, sig); err != nil {
				t.Errorf("%s %s: DIGEST signature does not verify as RAW: %v", spec, alg, err)
			}
		}
	}
	// ML-DSA: RAW and EXTERNAL_MU of μ(message) are the same signature scheme.
	k := testKey(t, kmsapi.KeySpecMlDsa65)
	alg := kmsapi.SigningAlgorithmSpecMlDsaShake256
	mu := input(t, k, alg, kmsapi.MessageTypeExternalMu, msg)
	sig, _ := k.Sign(alg, kmsapi.MessageTypeExternalMu, mu, nil)
	if err := k.Verify(alg, kmsapi.MessageTypeRaw, msg, sig); err != nil {
		t.Errorf("ML-DSA EXTERNAL_MU signature does not verify RAW: %v", err)
	}
	sig, _ = k.Sign(alg, kmsapi.MessageTypeRaw, msg, nil)
	if err := k.Verify(alg, kmsapi.MessageTypeExternalMu, mu, sig); err != nil {
		t.Errorf("ML-DSA RAW signature does not verify as EXTERNAL_MU: %v", err)
	}
}

func TestSignUnsupported(t *testing.T) {
	d32, d48, d64 := make([]byte, 32), make([]byte, 48), make([]byte, 64)
	cases := []struct {
		spec kmsapi.KeySpec
		alg  kmsapi.SigningAlgorithmSpec
		mt   kmsapi.MessageType
		msg  []byte
	}{
		{kmsapi.KeySpecEccNistP256, kmsapi.SigningAlgorithmSpecEcdsaSha384, kmsapi.MessageTypeRaw, nil},
		{kmsapi.KeySpecEccNistP384, kmsapi.SigningAlgorithmSpecEcdsaSha256, kmsapi.MessageTypeDigest, d32},
		{kmsapi.KeySpecEccNistP521, kmsapi.SigningAlgorithmSpecEcdsaSha384, kmsapi.MessageTypeRaw, nil},
		{kmsapi.KeySpecEccNistP256, kmsapi.SigningAlgorithmSpecEcdsaSha256, kmsapi.MessageTypeExternalMu, d64},
		{kmsapi.KeySpecEccNistP256, kmsapi.SigningAlgorithmSpecRsassaPssSha256, kmsapi.MessageTypeRaw, nil},
		{kmsapi.KeySpecEccSecgP256k1, kmsapi.SigningAlgorithmSpecEcdsaSha384, kmsapi.MessageTypeDigest, d48},
		{kmsapi.KeySpecEccSecgP256k1, kmsapi.SigningAlgorithmSpecEcdsaSha256, kmsapi.MessageTypeExternalMu, d64},
		{kmsapi.KeySpecRsa2048, kmsapi.SigningAlgorithmSpecEcdsaSha256, kmsapi.MessageTypeRaw, nil},
		{kmsapi.KeySpecRsa2048, kmsapi.SigningAlgorithmSpecRsassaPssSha256, kmsapi.MessageTypeExternalMu, d64},
		{kmsapi.KeySpecRsa2048, kmsapi.SigningAlgorithmSpecRsassaPssSha256, "BOGUS", nil},
		{kmsapi.KeySpecRsa2048, kmsapi.SigningAlgorithmSpecSm2dsa, kmsapi.MessageTypeRaw, nil},
		{kmsapi.KeySpecEccNistEdwards25519, kmsapi.SigningAlgorithmSpecEd25519PhSha512, kmsapi.MessageTypeRaw, d64},
		{kmsapi.KeySpecEccNistEdwards25519, kmsapi.SigningAlgorithmSpecEd25519Sha512, kmsapi.MessageTypeDigest, d64},
		{kmsapi.KeySpecEccNistEdwards25519, kmsapi.SigningAlgorithmSpecEd25519Sha512, kmsapi.MessageTypeExternalMu, d64},
		{kmsapi.KeySpecEccNistEdwards25519, kmsapi.SigningAlgorithmSpecEcdsaSha512, kmsapi.MessageTypeDigest, d64},
		{kmsapi.KeySpecMlDsa44, kmsapi.SigningAlgorithmSpecMlDsaShake256, kmsapi.MessageTypeDigest, d64},
		{kmsapi.KeySpecMlDsa87, kmsapi.SigningAlgorithmSpecEd25519Sha512, kmsapi.MessageTypeRaw, nil},
	}
	for _, c := range cases {
		k := testKey(t, c.spec)
		_, err := k.Sign(c.alg, c.mt, c.msg, nil)
		wantErr(t, string(c.spec)+" Sign "+string(c.alg)+" "+string(c.mt), err, ErrUnsupportedAlgorithm)
		wantErr(t, string(c.spec)+" Verify "+string(c.alg)+" "+string(c.mt), k.Verify(c.alg, c.mt, c.msg, make([]byte, 64)), ErrUnsupportedAlgorithm)
	}
	for _, spec := range []kmsapi.KeySpec{kmsapi.KeySpecHmac256, kmsapi.KeySpecMlKem768} {
		k := testKey(t, spec)
		_, err := k.Sign(kmsapi.SigningAlgorithmSpecEcdsaSha256, kmsapi.MessageTypeRaw, nil, nil)
		wantErr(t, string(spec)+" Sign", err, ErrWrongUsage)
		wantErr(t, string(spec)+" Verify", k.Verify(kmsapi.SigningAlgorithmSpecEcdsaSha256, kmsapi.MessageTypeRaw, nil, nil), ErrWrongUsage)
	}
}

// secp256k1: our signatures are low-S and deterministic (RFC 6979);
// verification accepts the high-S twin, which is just as valid.
func TestSecp256k1HighS(t *testing.T) {
	k := testKey(t, kmsapi.KeySpecEccSecgP256k1)
	alg := kmsapi.SigningAlgorithmSpecEcdsaSha256
	msg := []byte("malleable")
	sig, err := k.Sign(alg, kmsapi.MessageTypeRaw, msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := k.Sign(alg, kmsapi.MessageTypeRaw, msg, nil)
	if !bytes.Equal(sig, again) {
		t.Error("secp256k1 signatures are not deterministic")
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(sig, &rs); err != nil || len(rest) != 0 {
		t.Fatalf("signature is not DER: %v", err)
	}
	n := secp256k1.S256().Params().N
	half := new(big.Int).Rsh(n, 1)
	if rs.S.Cmp(half) > 0 {
		t.Error("signature is high-S")
	}
	rs.S.Sub(n, rs.S)
	high, err := asn1.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Verify(alg, kmsapi.MessageTypeRaw, msg, high); err != nil {
		t.Errorf("high-S signature rejected: %v", err)
	}
	if !independentVerify(t, k, alg, kmsapi.MessageTypeRaw, msg, high) {
		t.Error("high-S twin is not valid: test is wrong")
	}
	// Non-DER encodings of a valid signature are not accepted (BER long
	// form length).
	ber := append([]byte{0x30, 0x81, byte(len(high) - 2)}, high[2:]...)
	wantErr(t, "BER signature", k.Verify(alg, kmsapi.MessageTypeRaw, msg, ber), ErrInvalidSignature)
}

// ML-DSA against cloudflare/circl: the same seed gives the same public key;
// circl's signatures verify with our Verify.
func TestMLDSAAgainstCircl(t *testing.T) {
	alg := kmsapi.SigningAlgorithmSpecMlDsaShake256
	msg := []byte("signed by circl")
	for _, spec := range []kmsapi.KeySpec{kmsapi.KeySpecMlDsa44, kmsapi.KeySpecMlDsa65, kmsapi.KeySpecMlDsa87} {
		material := testMaterial(t, spec)
		k := testKey(t, spec)
		seed := (*[32]byte)(material)
		var pub, sig []byte
		switch k.info.level {
		case 44:
			pk, sk := mldsa44.NewKeyFromSeed(seed)
			pub, _ = pk.MarshalBinary()
			sig = make([]byte, mldsa44.SignatureSize)
			if err := mldsa44.SignTo(sk, msg, nil, true, sig); err != nil {
				t.Fatal(err)
			}
		case 65:
			pk, sk := mldsa65.NewKeyFromSeed(seed)
			pub, _ = pk.MarshalBinary()
			sig = make([]byte, mldsa65.SignatureSize)
			if err := mldsa65.SignTo(sk, msg, nil, true, sig); err != nil {
				t.Fatal(err)
			}
		default:
			pk, sk := mldsa87.NewKeyFromSeed(seed)
			pub, _ = pk.MarshalBinary()
			sig = make([]byte, mldsa87.SignatureSize)
			if err := mldsa87.SignTo(sk, msg, nil, true, sig); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(pub, mustSPKI(t, k).PublicKey.Bytes) {
			t.Errorf("%s: circl derives a different public key from the seed", spec)
		}
		if err := k.Verify(alg, kmsapi.MessageTypeRaw, msg, sig); err != nil {
			t.Errorf("%s: circl signature, RAW: %v", spec, err)
		}
		wantErr(t, string(spec)+" RAW tampered", k.Verify(alg, kmsapi.MessageTypeRaw, msg, flipBit(sig, 100)), ErrInvalidSignature)
		// A signature of another parameter set never verifies.
		other := testKey(t, kmsapi.KeySpecMlDsa44)
		if spec != kmsapi.KeySpecMlDsa44 {
			osig, _ := other.Sign(alg, kmsapi.MessageTypeRaw, msg, nil)
			wantErr(t, string(spec)+" foreign signature", k.Verify(alg, kmsapi.MessageTypeRaw, msg, osig), ErrInvalidSignature)
		}
	}
}

// ML-DSA signing is hedged: two signatures of one message differ.
func TestMLDSAHedged(t *testing.T) {
	k := testKey(t, kmsapi.KeySpecMlDsa44)
	a, _ := k.Sign(kmsapi.SigningAlgorithmSpecMlDsaShake256, kmsapi.MessageTypeRaw, []byte("m"), nil)
	b, _ := k.Sign(kmsapi.SigningAlgorithmSpecMlDsaShake256, kmsapi.MessageTypeRaw, []byte("m"), nil)
	if bytes.Equal(a, b) {
		t.Error("ML-DSA signatures are deterministic; want hedged")
	}
}

// One Key, many goroutines: run under -race.
func TestConcurrentUse(t *testing.T) {
	specs := []kmsapi.KeySpec{kmsapi.KeySpecRsa2048, kmsapi.KeySpecEccNistP256, kmsapi.KeySpecEccSecgP256k1,
		kmsapi.KeySpecEccNistEdwards25519, kmsapi.KeySpecMlDsa44, kmsapi.KeySpecMlKem512, kmsapi.KeySpecMlKem768, kmsapi.KeySpecHmac256}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for _, spec := range specs {
		k := testKey(t, spec)
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 3; i++ {
					msg := []byte{byte(g), byte(i)}
					switch k.info.family {
					case famHMAC:
						m, err := k.MAC(kmsapi.MacAlgorithmSpecHmacSha256, msg)
						if err == nil {
							err = k.VerifyMAC(kmsapi.MacAlgorithmSpecHmacSha256, msg, m)
						}
						if err != nil {
							errs <- err
						}
					case famMLKEM:
						ct, ss, err := k.Encapsulate(nil)
						if err != nil {
							errs <- err
							continue
						}
						if got, err := k.Decapsulate(ct); err != nil || !bytes.Equal(got, ss) {
							errs <- errors.New(string(spec) + ": decapsulation mismatch")
						}
					default:
						alg := AlgorithmsFor(spec, kmsapi.KeyUsageTypeSignVerify).Signing[0]
						sig, err := k.Sign(alg, kmsapi.MessageTypeRaw, msg, nil)
						if err == nil {
							err = k.Verify(alg, kmsapi.MessageTypeRaw, msg, sig)
						}
						if err != nil {
							errs <- err
						}
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
