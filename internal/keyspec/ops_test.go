package keyspec

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"hash"
	"testing"

	"github.com/cloudflare/circl/kem/mlkem/mlkem1024"
	"github.com/cloudflare/circl/kem/mlkem/mlkem512"
	"github.com/cloudflare/circl/kem/mlkem/mlkem768"

	"github.com/trent-kms/trent/internal/kmsapi"
)

func TestRSAOAEP(t *testing.T) {
	limits := map[kmsapi.KeySpec][2]int{ // SHA-1, SHA-256 (AWS's published limits)
		kmsapi.KeySpecRsa2048: {214, 190},
		kmsapi.KeySpecRsa3072: {342, 318},
		kmsapi.KeySpecRsa4096: {470, 446},
	}
	algs := []struct {
		alg     kmsapi.EncryptionAlgorithmSpec
		newHash func() hash.Hash
	}{
		{kmsapi.EncryptionAlgorithmSpecRsaesOaepSha1, sha1.New},
		{kmsapi.EncryptionAlgorithmSpecRsaesOaepSha256, sha256.New},
	}
	for _, spec := range specsOf(famRSA) {
		k := testKey(t, spec)
		pub := publicKeyOf(t, k).(*rsa.PublicKey)
		priv := mustPKCS8(t, testMaterial(t, spec)).(*rsa.PrivateKey)
		for i, a := range algs {
			limit := limits[spec][i]
			if got, _ := k.MaxPlaintext(a.alg); got != limit {
				t.Errorf("%s %s: MaxPlaintext = %d, want %d", spec, a.alg, got, limit)
			}
			// Exactly at the limit: the standard library encrypts, we decrypt.
			pt := bytes.Repeat([]byte{0xa5}, limit)
			ct, err := rsa.EncryptOAEP(a.newHash(), rand.Reader, pub, pt, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := k.Decrypt(a.alg, ct); err != nil || !bytes.Equal(got, pt) {
				t.Errorf("%s %s: Decrypt(stdlib ciphertext) = %d bytes, %v", spec, a.alg, len(got), err)
			}
			// We encrypt, the standard library decrypts.
			ct, err = k.Encrypt(a.alg, pt, nil)
			if err != nil {
				t.Fatalf("%s %s: Encrypt(%d bytes): %v", spec, a.alg, limit, err)
			}
			if got, err := rsa.DecryptOAEP(a.newHash(), nil, priv, ct, nil); err != nil || !bytes.Equal(got, pt) {
				t.Errorf("%s %s: stdlib cannot decrypt our ciphertext: %v", spec, a.alg, err)
			}
			// One byte over.
			_, err = k.Encrypt(a.alg, append(pt, 0), nil)
			wantErr(t, string(spec)+" "+string(a.alg)+" limit+1", err, ErrPlaintextTooLong)
			// Tampered, truncated, other hash: one error.
			wantErr(t, "tampered", errOf(k.Decrypt(a.alg, flipBit(ct, 10))), ErrInvalidCiphertext)
			wantErr(t, "truncated", errOf(k.Decrypt(a.alg, ct[:len(ct)-1])), ErrInvalidCiphertext)
			// A ciphertext that starts with a zero byte (1 in 256) is the
			// same number without it, but not k bytes long (RFC 8017).
			for range 20000 {
				if ct, err = k.Encrypt(a.alg, pt[:1], nil); err != nil || ct[0] == 0 {
					break
				}
			}
			if err != nil || ct[0] != 0 {
				t.Fatalf("%s %s: no ciphertext with a leading zero byte in 20,000 (%v)", spec, a.alg, err)
			}
			wantErr(t, "leading zero byte left out", errOf(k.Decrypt(a.alg, ct[1:])), ErrInvalidCiphertext)
			wantErr(t, "empty", errOf(k.Decrypt(a.alg, nil)), ErrInvalidCiphertext)
			other := algs[1-i].alg
			wantErr(t, "other hash", errOf(k.Decrypt(other, ct)), ErrInvalidCiphertext)
		}
		// Empty plaintext works.
		ct, err := k.Encrypt(kmsapi.EncryptionAlgorithmSpecRsaesOaepSha256, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := k.Decrypt(kmsapi.EncryptionAlgorithmSpecRsaesOaepSha256, ct); err != nil || len(got) != 0 {
			t.Errorf("empty plaintext: %x, %v", got, err)
		}
		for _, bad := range []kmsapi.EncryptionAlgorithmSpec{kmsapi.EncryptionAlgorithmSpecSymmetricDefault, kmsapi.EncryptionAlgorithmSpecSm2pke, ""} {
			_, err := k.Encrypt(bad, []byte("x"), nil)
			wantErr(t, "Encrypt "+string(bad), err, ErrUnsupportedAlgorithm)
			wantErr(t, "Decrypt "+string(bad), errOf(k.Decrypt(bad, ct)), ErrUnsupportedAlgorithm)
		}
	}
	for _, spec := range []kmsapi.KeySpec{kmsapi.KeySpecEccNistP256, kmsapi.KeySpecHmac256, kmsapi.KeySpecMlKem768, kmsapi.KeySpecEccNistEdwards25519} {
		k := testKey(t, spec)
		_, err := k.Encrypt(kmsapi.EncryptionAlgorithmSpecRsaesOaepSha256, []byte("x"), nil)
		wantErr(t, string(spec)+" Encrypt", err, ErrWrongUsage)
		wantErr(t, string(spec)+" Decrypt", errOf(k.Decrypt(kmsapi.EncryptionAlgorithmSpecRsaesOaepSha256, []byte("x"))), ErrWrongUsage)
	}
}

func errOf(_ []byte, err error) error { return err }

func TestECDH(t *testing.T) {
	for _, spec := range specsOf(famNIST) {
		k := testKey(t, spec)
		curve := k.info.ecdh
		peer, err := curve.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		peerSPKI, err := x509.MarshalPKIXPublicKey(peer.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		got, err := k.DeriveSharedSecret(kmsapi.KeyAgreementAlgorithmSpecEcdh, peerSPKI)
		if err != nil {
			t.Fatalf("%s: DeriveSharedSecret: %v", spec, err)
		}
		// The other side, with crypto/ecdh and our public key.
		ours, err := publicKeyOf(t, k).(*ecdsa.PublicKey).ECDH()
		if err != nil {
			t.Fatal(err)
		}
		want, err := peer.ECDH(ours)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: shared secrets differ", spec)
		}
		if n := (k.info.curve.Params().BitSize + 7) / 8; len(got) != n {
			t.Errorf("%s: secret of %d bytes, want the %d-byte x coordinate", spec, len(got), n)
		}

		// Peers that are not a point of this curve.
		otherCurve := ecdh.P384()
		if curve == ecdh.P384() {
			otherCurve = ecdh.P256()
		}
		other, _ := otherCurve.GenerateKey(rand.Reader)
		otherSPKI, _ := x509.MarshalPKIXPublicKey(other.PublicKey())
		x, _ := ecdh.X25519().GenerateKey(rand.Reader)
		xSPKI, _ := x509.MarshalPKIXPublicKey(x.PublicKey())
		rsaSPKI, _ := testKey(t, kmsapi.KeySpecRsa2048).PublicKey()
		offCurve := bytes.Clone(peerSPKI)
		offCurve[len(offCurve)-1] ^= 0x01 // y no longer matches x
		raw := peer.PublicKey().Bytes()   // a bare point, not an SPKI
		for name, bad := range map[string][]byte{
			"other curve": otherSPKI, "X25519": xSPKI, "RSA": rsaSPKI, "off curve": offCurve,
			"bare point": raw, "garbage": []byte("garbage"), "empty": nil, "trailing": append(bytes.Clone(peerSPKI), 0),
		} {
			_, err := k.DeriveSharedSecret(kmsapi.KeyAgreementAlgorithmSpecEcdh, bad)
			wantErr(t, string(spec)+" peer "+name, err, ErrInvalidPeerKey)
		}
		_, err = k.DeriveSharedSecret("ECDH_COFACTOR", peerSPKI)
		wantErr(t, "unknown key agreement algorithm", err, ErrUnsupportedAlgorithm)
	}
	p256, _ := testKey(t, kmsapi.KeySpecEccNistP256).PublicKey()
	for _, spec := range []kmsapi.KeySpec{kmsapi.KeySpecEccSecgP256k1, kmsapi.KeySpecEccNistEdwards25519, kmsapi.KeySpecRsa2048, kmsapi.KeySpecHmac256, kmsapi.KeySpecMlKem512} {
		_, err := testKey(t, spec).DeriveSharedSecret(kmsapi.KeyAgreementAlgorithmSpecEcdh, p256)
		wantErr(t, string(spec)+" DeriveSharedSecret", err, ErrWrongUsage)
	}
}

// ML-KEM against cloudflare/circl: circl encapsulates to our public key and
// we decapsulate; we encapsulate and circl, holding the same seed,
// decapsulates.
func TestMLKEM(t *testing.T) {
	for _, spec := range specsOf(famMLKEM) {
		k := testKey(t, spec)
		seed := testMaterial(t, spec)
		ek := mustSPKI(t, k).PublicKey.Bytes

		var encap func() (ct, ss []byte) // circl, to our public key
		var decap func(ct []byte) []byte // circl, with our seed
		var circlEK []byte               // circl's public key from our seed
		var ctSize int
		switch k.info.level {
		case 512:
			pk, sk := mlkem512.NewKeyFromSeed(seed)
			circlEK, _ = pk.MarshalBinary()
			var ours mlkem512.PublicKey
			if err := ours.Unpack(ek); err != nil {
				t.Fatal(err)
			}
			ctSize = mlkem512.CiphertextSize
			encap = func() ([]byte, []byte) {
				ct, ss := make([]byte, mlkem512.CiphertextSize), make([]byte, 32)
				ours.EncapsulateTo(ct, ss, nil)
				return ct, ss
			}
			decap = func(ct []byte) []byte { ss := make([]byte, 32); sk.DecapsulateTo(ss, ct); return ss }
		case 768:
			pk, sk := mlkem768.NewKeyFromSeed(seed)
			circlEK, _ = pk.MarshalBinary()
			var ours mlkem768.PublicKey
			if err := ours.Unpack(ek); err != nil {
				t.Fatal(err)
			}
			ctSize = mlkem768.CiphertextSize
			encap = func() ([]byte, []byte) {
				ct, ss := make([]byte, mlkem768.CiphertextSize), make([]byte, 32)
				ours.EncapsulateTo(ct, ss, nil)
				return ct, ss
			}
			decap = func(ct []byte) []byte { ss := make([]byte, 32); sk.DecapsulateTo(ss, ct); return ss }
		default:
			pk, sk := mlkem1024.NewKeyFromSeed(seed)
			circlEK, _ = pk.MarshalBinary()
			var ours mlkem1024.PublicKey
			if err := ours.Unpack(ek); err != nil {
				t.Fatal(err)
			}
			ctSize = mlkem1024.CiphertextSize
			encap = func() ([]byte, []byte) {
				ct, ss := make([]byte, mlkem1024.CiphertextSize), make([]byte, 32)
				ours.EncapsulateTo(ct, ss, nil)
				return ct, ss
			}
			decap = func(ct []byte) []byte { ss := make([]byte, 32); sk.DecapsulateTo(ss, ct); return ss }
		}
		if !bytes.Equal(circlEK, ek) {
			t.Errorf("%s: circl derives a different encapsulation key from the seed", spec)
		}
		if want := map[int]int{512: 768, 768: 1088, 1024: 1568}[k.info.level]; k.CiphertextSize() != want || ctSize != want {
			t.Errorf("%s: CiphertextSize %d (circl %d), want %d", spec, k.CiphertextSize(), ctSize, want)
		}

		ct, ss := encap()
		got, err := k.Decapsulate(ct)
		if err != nil || !bytes.Equal(got, ss) {
			t.Errorf("%s: Decapsulate(circl ciphertext) = %x, %v; want %x", spec, got, err, ss)
		}

		ct, ss, err = k.Encapsulate(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(ct) != ctSize || len(ss) != 32 {
			t.Fatalf("%s: Encapsulate gave %d-byte ciphertext, %d-byte secret", spec, len(ct), len(ss))
		}
		if got := decap(ct); !bytes.Equal(got, ss) {
			t.Errorf("%s: circl decapsulates our ciphertext to %x, want %x", spec, got, ss)
		}
		if got, _ := k.Decapsulate(ct); !bytes.Equal(got, ss) {
			t.Errorf("%s: we decapsulate our own ciphertext to %x, want %x", spec, got, ss)
		}
		ct2, ss2, _ := k.Encapsulate(nil)
		if bytes.Equal(ct, ct2) || bytes.Equal(ss, ss2) {
			t.Errorf("%s: two encapsulations are equal", spec)
		}

		// Implicit rejection: a tampered ciphertext gives circl's
		// pseudorandom secret, not an error.
		bad := flipBit(ct, 5)
		got, err = k.Decapsulate(bad)
		if err != nil || bytes.Equal(got, ss) || !bytes.Equal(got, decap(bad)) {
			t.Errorf("%s: tampered ciphertext: %x, %v (circl: %x)", spec, got, err, decap(bad))
		}
		for _, n := range []int{0, ctSize - 1, ctSize + 1} {
			_, err := k.Decapsulate(make([]byte, n))
			wantErr(t, string(spec)+" wrong-length ciphertext", err, ErrInvalidCiphertext)
		}
	}
	// ML-KEM-512 reads its encapsulation randomness from rand.
	k := testKey(t, kmsapi.KeySpecMlKem512)
	m := bytes.Repeat([]byte{7}, 32)
	ct1, ss1, _ := k.Encapsulate(bytes.NewReader(m))
	ct2, ss2, _ := k.Encapsulate(bytes.NewReader(m))
	if !bytes.Equal(ct1, ct2) || !bytes.Equal(ss1, ss2) {
		t.Error("ML-KEM-512 Encapsulate does not use rand")
	}
	if _, _, err := k.Encapsulate(bytes.NewReader(m[:31])); err == nil {
		t.Error("ML-KEM-512 Encapsulate with a short reader succeeded")
	}
	for _, spec := range []kmsapi.KeySpec{kmsapi.KeySpecRsa2048, kmsapi.KeySpecEccNistP256, kmsapi.KeySpecMlDsa44, kmsapi.KeySpecHmac224} {
		_, _, err := testKey(t, spec).Encapsulate(nil)
		wantErr(t, string(spec)+" Encapsulate", err, ErrWrongUsage)
		wantErr(t, string(spec)+" Decapsulate", errOf(testKey(t, spec).Decapsulate(make([]byte, 768))), ErrWrongUsage)
	}
}

func TestHMAC(t *testing.T) {
	algs := map[kmsapi.KeySpec]struct {
		alg kmsapi.MacAlgorithmSpec
		h   func() hash.Hash
	}{
		kmsapi.KeySpecHmac224: {kmsapi.MacAlgorithmSpecHmacSha224, sha256.New224},
		kmsapi.KeySpecHmac256: {kmsapi.MacAlgorithmSpecHmacSha256, sha256.New},
		kmsapi.KeySpecHmac384: {kmsapi.MacAlgorithmSpecHmacSha384, sha512.New384},
		kmsapi.KeySpecHmac512: {kmsapi.MacAlgorithmSpecHmacSha512, sha512.New},
	}
	msg := []byte("what do ya want for nothing?")
	for _, spec := range specsOf(famHMAC) {
		k := testKey(t, spec)
		a := algs[spec]
		ref := hmac.New(a.h, testMaterial(t, spec))
		ref.Write(msg)
		want := ref.Sum(nil)
		got, err := k.MAC(a.alg, msg)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: MAC = %x, %v; want %x", spec, got, err, want)
		}
		if err := k.VerifyMAC(a.alg, msg, want); err != nil {
			t.Errorf("%s: VerifyMAC: %v", spec, err)
		}
		for i := 0; i < len(want)*8; i += 37 {
			bad := bytes.Clone(want)
			bad[i/8] ^= 1 << (i % 8)
			wantErr(t, string(spec)+" flipped MAC bit", k.VerifyMAC(a.alg, msg, bad), ErrInvalidMAC)
		}
		wantErr(t, "truncated MAC", k.VerifyMAC(a.alg, msg, want[:len(want)-1]), ErrInvalidMAC)
		wantErr(t, "empty MAC", k.VerifyMAC(a.alg, msg, nil), ErrInvalidMAC)
		wantErr(t, "other message", k.VerifyMAC(a.alg, flipBit(msg, 0), want), ErrInvalidMAC)
		for other, o := range algs {
			if other == spec {
				continue
			}
			_, err := k.MAC(o.alg, msg)
			wantErr(t, string(spec)+" MAC with "+string(o.alg), err, ErrUnsupportedAlgorithm)
			wantErr(t, string(spec)+" VerifyMAC with "+string(o.alg), k.VerifyMAC(o.alg, msg, want), ErrUnsupportedAlgorithm)
		}
	}
	// An imported-length key (longer than generated) works the same way.
	key := bytes.Repeat([]byte{0x0b}, 64)
	k, err := Parse(kmsapi.KeySpecHmac256, key)
	if err != nil {
		t.Fatal(err)
	}
	ref := hmac.New(sha256.New, key)
	ref.Write(msg)
	if got, _ := k.MAC(kmsapi.MacAlgorithmSpecHmacSha256, msg); !bytes.Equal(got, ref.Sum(nil)) {
		t.Error("64-byte HMAC_256 key: wrong MAC")
	}
	for _, spec := range []kmsapi.KeySpec{kmsapi.KeySpecRsa2048, kmsapi.KeySpecEccNistP256, kmsapi.KeySpecMlKem768} {
		_, err := testKey(t, spec).MAC(kmsapi.MacAlgorithmSpecHmacSha256, msg)
		wantErr(t, string(spec)+" MAC", err, ErrWrongUsage)
		wantErr(t, string(spec)+" VerifyMAC", testKey(t, spec).VerifyMAC(kmsapi.MacAlgorithmSpecHmacSha256, msg, nil), ErrWrongUsage)
	}
}
