package keyspec

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"

	mldsax509 "filippo.io/mldsa/x509"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// Every spec: Generate → Parse → PublicKey, with the documented material
// encoding and a public key of the right kind.
func TestGenerateParsePublicKey(t *testing.T) {
	for _, spec := range supportedSpecs {
		t.Run(string(spec), func(t *testing.T) {
			material := testMaterial(t, spec)
			k := testKey(t, spec)
			if k.Spec() != spec {
				t.Errorf("Spec() = %s", k.Spec())
			}
			info := infoFor(spec)
			switch info.family {
			case famRSA:
				priv := mustPKCS8(t, material).(*rsa.PrivateKey)
				if priv.N.BitLen() != info.rsaBits || priv.E != 65537 {
					t.Errorf("RSA key: %d bits, e=%d", priv.N.BitLen(), priv.E)
				}
				pub := publicKeyOf(t, k).(*rsa.PublicKey)
				if !pub.Equal(&priv.PublicKey) {
					t.Error("PublicKey does not match the private key")
				}
			case famNIST:
				priv := mustPKCS8(t, material).(*ecdsa.PrivateKey)
				pub := publicKeyOf(t, k).(*ecdsa.PublicKey)
				if pub.Curve != info.curve || !pub.Equal(&priv.PublicKey) {
					t.Errorf("PublicKey curve %s, matches private key: %v", pub.Curve.Params().Name, pub.Equal(&priv.PublicKey))
				}
			case famEd25519:
				priv := mustPKCS8(t, material).(ed25519.PrivateKey)
				pub := publicKeyOf(t, k).(ed25519.PublicKey)
				if !pub.Equal(priv.Public()) {
					t.Error("PublicKey does not match the private key")
				}
			case famSecp256k1:
				if len(material) != 32 {
					t.Fatalf("material of %d bytes, want 32", len(material))
				}
				want := secp256k1.PrivKeyFromBytes(material).PubKey().SerializeUncompressed()
				spki := mustSPKI(t, k)
				if !spki.Algorithm.Algorithm.Equal(oidPublicKeyECDSA) || !bytes.Equal(spki.PublicKey.Bytes, want) {
					t.Errorf("SPKI %v %x, want id-ecPublicKey %x", spki.Algorithm.Algorithm, spki.PublicKey.Bytes, want)
				}
				var curve asn1.ObjectIdentifier
				if _, err := asn1.Unmarshal(spki.Algorithm.Parameters.FullBytes, &curve); err != nil || !curve.Equal(oidSecp256k1) {
					t.Errorf("namedCurve %v (%v), want secp256k1", curve, err)
				}
			case famMLDSA:
				if len(material) != 32 {
					t.Fatalf("material of %d bytes, want the 32-byte seed", len(material))
				}
				// filippo.io/mldsa/x509 implements RFC 9881.
				der, _ := k.PublicKey()
				if _, err := mldsax509.ParsePKIXPublicKey(der); err != nil {
					t.Errorf("RFC 9881 parser rejects our SPKI: %v", err)
				}
			case famMLKEM:
				if len(material) != 64 {
					t.Fatalf("material of %d bytes, want the 64-byte seed", len(material))
				}
				spki := mustSPKI(t, k)
				if !spki.Algorithm.Algorithm.Equal(mlkemOID(info.level)) || len(spki.Algorithm.Parameters.FullBytes) != 0 {
					t.Errorf("AlgorithmIdentifier %v params %x", spki.Algorithm.Algorithm, spki.Algorithm.Parameters.FullBytes)
				}
				if want := map[int]int{512: 800, 768: 1184, 1024: 1568}[info.level]; len(spki.PublicKey.Bytes) != want {
					t.Errorf("encapsulation key of %d bytes, want %d", len(spki.PublicKey.Bytes), want)
				}
			case famHMAC:
				if len(material) != info.hmacLen {
					t.Errorf("material of %d bytes, want %d", len(material), info.hmacLen)
				}
				if _, err := k.PublicKey(); !errors.Is(err, ErrWrongUsage) {
					t.Errorf("PublicKey of an HMAC key: %v, want ErrWrongUsage", err)
				}
			}
			// Parsing again gives the same public key; the returned slice is
			// the caller's.
			k2, err := Parse(spec, material)
			if err != nil {
				t.Fatal(err)
			}
			p1, _ := k.PublicKey()
			p2, _ := k2.PublicKey()
			if !bytes.Equal(p1, p2) {
				t.Error("Parse is not deterministic")
			}
			if len(p1) > 0 {
				p1[0] ^= 0xff
				if p3, _ := k.PublicKey(); bytes.Equal(p1, p3) {
					t.Error("PublicKey returns shared state")
				}
			}
		})
	}
}

// Parse keeps no reference to the caller's slice (the service clears it).
func TestParseCopiesMaterial(t *testing.T) {
	for _, spec := range []kmsapi.KeySpec{kmsapi.KeySpecHmac256, kmsapi.KeySpecMlKem512, kmsapi.KeySpecMlKem768, kmsapi.KeySpecMlDsa44, kmsapi.KeySpecEccSecgP256k1, kmsapi.KeySpecEccNistP256} {
		material := testMaterial(t, spec)
		k, err := Parse(spec, material)
		if err != nil {
			t.Fatal(err)
		}
		ref := testKey(t, spec)
		clear(material)
		switch infoFor(spec).family {
		case famHMAC:
			a, _ := k.MAC(kmsapi.MacAlgorithmSpecHmacSha256, []byte("m"))
			b, _ := ref.MAC(kmsapi.MacAlgorithmSpecHmacSha256, []byte("m"))
			if !bytes.Equal(a, b) {
				t.Errorf("%s: key changed when the material was cleared", spec)
			}
		case famMLKEM:
			ct, ss, _ := ref.Encapsulate(nil)
			if got, _ := k.Decapsulate(ct); !bytes.Equal(got, ss) {
				t.Errorf("%s: key changed when the material was cleared", spec)
			}
		default:
			sig, err := k.Sign(AlgorithmsFor(spec, kmsapi.KeyUsageTypeSignVerify).Signing[0], kmsapi.MessageTypeRaw, []byte("m"), nil)
			if err != nil || ref.Verify(AlgorithmsFor(spec, kmsapi.KeyUsageTypeSignVerify).Signing[0], kmsapi.MessageTypeRaw, []byte("m"), sig) != nil {
				t.Errorf("%s: key changed when the material was cleared (%v)", spec, err)
			}
		}
	}
}

// Seed-like materials are read from rand as is.
func TestGenerateReadsRand(t *testing.T) {
	seed := bytes.Repeat([]byte{0x42}, 64)
	for spec, n := range map[kmsapi.KeySpec]int{
		kmsapi.KeySpecMlDsa44: 32, kmsapi.KeySpecMlKem1024: 64, kmsapi.KeySpecHmac224: 28, kmsapi.KeySpecHmac512: 64, kmsapi.KeySpecEccSecgP256k1: 32,
	} {
		m, err := Generate(spec, bytes.NewReader(seed))
		if err != nil || !bytes.Equal(m, seed[:n]) {
			t.Errorf("Generate(%s, fixed reader) = %x, %v; want %x", spec, m, err, seed[:n])
		}
		if _, err := Generate(spec, bytes.NewReader(seed[:n-1])); err == nil {
			t.Errorf("Generate(%s) with a short reader succeeded", spec)
		}
	}
	// Ed25519: PKCS #8 of the key from the 32-byte seed.
	m, err := Generate(kmsapi.KeySpecEccNistEdwards25519, bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	if priv := mustPKCS8(t, m).(ed25519.PrivateKey); !bytes.Equal(priv.Seed(), seed[:32]) {
		t.Error("Ed25519 material is not the key of the seed read from rand")
	}
}

func TestGenerateUnsupported(t *testing.T) {
	for _, spec := range []kmsapi.KeySpec{kmsapi.KeySpecSymmetricDefault, kmsapi.KeySpecSm2, "NOPE", ""} {
		if _, err := Generate(spec, nil); !errors.Is(err, ErrUnsupportedSpec) {
			t.Errorf("Generate(%q): %v, want ErrUnsupportedSpec", spec, err)
		}
		if _, err := Parse(spec, make([]byte, 32)); !errors.Is(err, ErrUnsupportedSpec) {
			t.Errorf("Parse(%q): %v, want ErrUnsupportedSpec", spec, err)
		}
	}
	if _, _, err := GenerateDataKeyPair(kmsapi.DataKeyPairSpecSm2, nil); !errors.Is(err, ErrUnsupportedSpec) {
		t.Errorf("GenerateDataKeyPair(SM2): %v, want ErrUnsupportedSpec", err)
	}
	if _, _, err := GenerateDataKeyPair("ML_DSA_44", nil); !errors.Is(err, ErrUnsupportedSpec) {
		t.Errorf("GenerateDataKeyPair(ML_DSA_44): %v, want ErrUnsupportedSpec (not a DataKeyPairSpec)", err)
	}
}

func TestParseRejects(t *testing.T) {
	p256 := testMaterial(t, kmsapi.KeySpecEccNistP256)
	rsa2048 := testMaterial(t, kmsapi.KeySpecRsa2048)
	ed := testMaterial(t, kmsapi.KeySpecEccNistEdwards25519)
	n := secp256k1.S256().Params().N
	order := n.FillBytes(make([]byte, 32))
	cases := []struct {
		spec     kmsapi.KeySpec
		material []byte
	}{
		{kmsapi.KeySpecRsa3072, rsa2048},                              // wrong size
		{kmsapi.KeySpecRsa2048, p256},                                 // wrong type
		{kmsapi.KeySpecRsa2048, rsa2048[:len(rsa2048)-1]},             // truncated
		{kmsapi.KeySpecRsa2048, append(bytes.Clone(rsa2048), 0)},      // trailing data
		{kmsapi.KeySpecEccNistP384, p256},                             // wrong curve
		{kmsapi.KeySpecEccNistP256, ed},                               // wrong type
		{kmsapi.KeySpecEccNistEdwards25519, p256},                     // wrong type
		{kmsapi.KeySpecEccNistEdwards25519, ed[:len(ed)-1]},           // truncated
		{kmsapi.KeySpecEccSecgP256k1, make([]byte, 32)},               // zero
		{kmsapi.KeySpecEccSecgP256k1, order},                          // n
		{kmsapi.KeySpecEccSecgP256k1, bytes.Repeat([]byte{0xff}, 32)}, // > n
		{kmsapi.KeySpecEccSecgP256k1, make([]byte, 33)},
		{kmsapi.KeySpecEccSecgP256k1, p256},
		{kmsapi.KeySpecMlDsa44, make([]byte, 31)},
		{kmsapi.KeySpecMlDsa87, make([]byte, 64)},
		{kmsapi.KeySpecMlKem512, make([]byte, 32)},
		{kmsapi.KeySpecMlKem768, make([]byte, 65)},
		{kmsapi.KeySpecMlKem1024, nil},
		{kmsapi.KeySpecHmac224, make([]byte, 27)},
		{kmsapi.KeySpecHmac256, make([]byte, 31)},
		{kmsapi.KeySpecHmac256, make([]byte, 65)},
		{kmsapi.KeySpecHmac512, make([]byte, 63)},
		{kmsapi.KeySpecHmac512, make([]byte, 129)},
	}
	for i, c := range cases {
		if _, err := Parse(c.spec, c.material); !errors.Is(err, ErrInvalidMaterial) {
			t.Errorf("case %d: Parse(%s, %d bytes): %v, want ErrInvalidMaterial", i, c.spec, len(c.material), err)
		}
	}
	// n−1 is the largest valid secp256k1 scalar; longer HMAC keys are fine.
	nMinus1 := new(big.Int).Sub(n, big.NewInt(1)).FillBytes(make([]byte, 32))
	for spec, m := range map[kmsapi.KeySpec][]byte{
		kmsapi.KeySpecEccSecgP256k1: nMinus1,
		kmsapi.KeySpecHmac224:       make([]byte, 64),
		kmsapi.KeySpecHmac384:       make([]byte, 128),
	} {
		if _, err := Parse(spec, m); err != nil {
			t.Errorf("Parse(%s, %d bytes): %v", spec, len(m), err)
		}
	}
}

func TestGenerateDataKeyPair(t *testing.T) {
	for _, spec := range kmsapi.DataKeyPairSpec("").Values() {
		if spec == kmsapi.DataKeyPairSpecSm2 {
			continue
		}
		t.Run(string(spec), func(t *testing.T) {
			var priv, pub []byte
			var err error
			keySpec := kmsapi.KeySpec(spec)
			if infoFor(keySpec).family == famRSA && spec != kmsapi.DataKeyPairSpecRsa2048 {
				// Same code path as GenerateDataKeyPair minus Generate,
				// with the cached key: RSA-3072/4096 generation is slow.
				k := testKey(t, keySpec)
				priv, err = k.privateKeyPKCS8(testMaterial(t, keySpec))
				pub, _ = k.PublicKey()
			} else {
				priv, pub, err = GenerateDataKeyPair(spec, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			checkKeyPair(t, keySpec, priv, pub)
		})
	}
}

// checkKeyPair checks that priv (PKCS #8) and pub (SPKI) parse and match.
func checkKeyPair(t *testing.T, spec kmsapi.KeySpec, priv, pub []byte) {
	t.Helper()
	info := infoFor(spec)
	switch info.family {
	case famRSA, famNIST, famEd25519:
		sk, err := x509.ParsePKCS8PrivateKey(priv)
		if err != nil {
			t.Fatalf("ParsePKCS8PrivateKey: %v", err)
		}
		pk, err := x509.ParsePKIXPublicKey(pub)
		if err != nil {
			t.Fatalf("ParsePKIXPublicKey: %v", err)
		}
		type equaler interface{ Equal(crypto.PublicKey) bool }
		if !pk.(equaler).Equal(sk.(crypto.Signer).Public()) {
			t.Error("public key does not match the private key")
		}
		switch sk := sk.(type) {
		case *rsa.PrivateKey:
			if sk.N.BitLen() != info.rsaBits {
				t.Errorf("RSA key of %d bits", sk.N.BitLen())
			}
		case *ecdsa.PrivateKey:
			if sk.Curve != info.curve {
				t.Errorf("curve %s", sk.Curve.Params().Name)
			}
		}
	case famSecp256k1:
		// crypto/x509 knows no secp256k1: check the structure by hand.
		var p8 privateKeyInfo
		if rest, err := asn1.Unmarshal(priv, &p8); err != nil || len(rest) != 0 || p8.Version != 0 {
			t.Fatalf("PKCS #8: %v (version %d)", err, p8.Version)
		}
		var curve asn1.ObjectIdentifier
		if !p8.Algorithm.Algorithm.Equal(oidPublicKeyECDSA) {
			t.Errorf("algorithm %v", p8.Algorithm.Algorithm)
		}
		if _, err := asn1.Unmarshal(p8.Algorithm.Parameters.FullBytes, &curve); err != nil || !curve.Equal(oidSecp256k1) {
			t.Errorf("namedCurve %v (%v)", curve, err)
		}
		var ec ecPrivateKey
		if rest, err := asn1.Unmarshal(p8.PrivateKey, &ec); err != nil || len(rest) != 0 || ec.Version != 1 || len(ec.PrivateKey) != 32 {
			t.Fatalf("ECPrivateKey: %v, version %d, %d-byte key", err, ec.Version, len(ec.PrivateKey))
		}
		derived := secp256k1.PrivKeyFromBytes(ec.PrivateKey).PubKey().SerializeUncompressed()
		if !bytes.Equal(ec.PublicKey.Bytes, derived) {
			t.Error("ECPrivateKey publicKey does not match its privateKey")
		}
		var spki subjectPublicKeyInfo
		if _, err := asn1.Unmarshal(pub, &spki); err != nil || !bytes.Equal(spki.PublicKey.Bytes, derived) {
			t.Errorf("SPKI does not match the private key (%v)", err)
		}
		if !bytes.Equal(spki.Algorithm.Parameters.FullBytes, p8.Algorithm.Parameters.FullBytes) {
			t.Error("SPKI and PKCS #8 name different curves")
		}
		k, err := Parse(spec, ec.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		if ours, _ := k.PublicKey(); !bytes.Equal(ours, pub) {
			t.Error("Parse(scalar).PublicKey differs from the returned SPKI")
		}
	case famMLKEM:
		var p8 privateKeyInfo
		if rest, err := asn1.Unmarshal(priv, &p8); err != nil || len(rest) != 0 {
			t.Fatalf("PKCS #8: %v", err)
		}
		if !p8.Algorithm.Algorithm.Equal(mlkemOID(info.level)) || len(p8.Algorithm.Parameters.FullBytes) != 0 {
			t.Errorf("algorithm %v params %x", p8.Algorithm.Algorithm, p8.Algorithm.Parameters.FullBytes)
		}
		var seed asn1.RawValue
		if rest, err := asn1.Unmarshal(p8.PrivateKey, &seed); err != nil || len(rest) != 0 ||
			seed.Class != asn1.ClassContextSpecific || seed.Tag != 0 || seed.IsCompound || len(seed.Bytes) != 64 {
			t.Fatalf("privateKey is not seed [0] IMPLICIT OCTET STRING (SIZE 64): %+v %v", seed, err)
		}
		k, err := Parse(spec, seed.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if ours, _ := k.PublicKey(); !bytes.Equal(ours, pub) {
			t.Error("the seed's public key differs from the returned SPKI")
		}
	default:
		t.Fatalf("no check for %s", spec)
	}
}

func mustPKCS8(t *testing.T, der []byte) any {
	t.Helper()
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatalf("ParsePKCS8PrivateKey: %v", err)
	}
	return k
}

func mustSPKI(t *testing.T, k *Key) subjectPublicKeyInfo {
	t.Helper()
	der, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	var spki subjectPublicKeyInfo
	if rest, err := asn1.Unmarshal(der, &spki); err != nil || len(rest) != 0 {
		t.Fatalf("SPKI: %v, %d trailing bytes", err, len(rest))
	}
	return spki
}
