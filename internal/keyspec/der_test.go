package keyspec

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"strings"
	"testing"

	"filippo.io/mldsa"
	mldsax509 "filippo.io/mldsa/x509"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// ML-KEM SubjectPublicKeyInfo known answers for the seed 00 01 02 … 3f
// (d ‖ z): the draft-ietf-lamps-kyber-certificates examples, as carried in
// .NET's MLKemTestData (IetfMlKem512Spki, IetfMlKem768Spki), which come from
// implementations other than the ones used here (ML-KEM-512: circl;
// ML-KEM-768: crypto/mlkem). They pin the seed interpretation and the SPKI
// framing (NIST OID, absent parameters, raw key in the BIT STRING).
var mlkemSPKIKnownAnswers = map[kmsapi.KeySpec]string{
	kmsapi.KeySpecMlKem512: `
		MIIDMjALBglghkgBZQMEBAEDggMhADmVgV5ZfRBDVc8pqlMzyTJRhp1bzb5IcST2
		Ari2pmwWxHYWSK12XPXYAGtRXpBafwrAdrDGLvoygVPnylcBaZ8TBfHmvG+QsOSb
		aTUSts6ZKouAFt38GmYsfj+WGcvYad13GvMIlszVkYrGy3dGbF53mZbWf/mqvJdQ
		Pyx7fi0ADYZFD7GAfKTKvaRlgloxx4mht6SRqzhydl0yDQtxkg+iE8lAk0Frg7gS
		Tmn2XmLLUADcw3qpoP/3OXDEdy81fSQYnKb1MFVowOI3ajdipoxgXlY8XSCVcuD8
		dTLKKUcpU1VntfxBPF6HktJGRTbMgI+YrddGZPFBVm+QFqkKVBgpqYoEZM5BqLtE
		wtT6PCwglGByjvFKGnxMm5jRIgO0zDUpFgqasteDj3/2tTrgWqMafWRrevpsRZMl
		JqPDdVYZvplMIRwqMcBbNEeDbLIVC+GCna5rBMVTXP9Ubjkrp5dBFyD5JPSQpaxU
		lfITVtVQt4KmTBaItrZVvMeEIZekNML2Vjtbfwmni8xIgjJ4NWHRb0y6tnVUAAUH
		gVcMZmBLgXrRJSKUc26LAYYaS1p0UZuLb+UUiaUHI5Llh2JscTd2V10zgGocjicy
		r5fCaA9RZmMxxOuLvAQxxPloMtrxs8RVKPuhU/bHixwZhwKUfM0zdyekb7U7oR3l
		y0GRNGhZUWy2rXJADzzyCbI2rvNaWArIfrPjD6/WaXPKin3SZ1r0H3oXthQzzRr4
		D3cIhp9mVIhJeYCxrBCgzctjagDthoGzXkKRJMqANQcluF+DperDpKPMFgCQPmUp
		NWC5szblrw1SnawaBIEZMCy3qbzBELlIUb8CEX8ZncSFqFK3Rz8JuDGmgx1bVMC3
		kNIlz2u5LZRiomzbM92lEjx6rw4moLg2Ve6ii/OoB0clAY/WuuS2Ac9huqtxp6PT
		UZejQ+dLSicsEl1UCJZCbYW3lY07OKa6mH7DciXHtEzbEt3kU5tKsII2NoPwS/eg
		nMXEHf6DChsWLgsyQzQ2LwhKFEZ3IzRLrdAA+NjFN8SPmY8FMHzr0e3guBw7xZoG
		WhttY7Js
	`,
	kmsapi.KeySpecMlKem768: `
		MIIEsjALBglghkgBZQMEBAIDggShACmKoQ1CPI3aBp0CvFnmzfA6CWuLPaTKubgM
		pKFJB2cszvHsT68jSgvFt+nUc/KzEzs7JqHRdctnp4BZGWmcAvdlMbmcX4kYBwS7
		TKRTXFuJcmecZgoHxeUUuHAJyGLrj1FXaV77P8QKne9rgcHMAqJJrk8JStDZvTSF
		wcHGgIBSCnyMYyAyzuc4FU5cUXbAfaVgJHdqQw/nbqz2ZaP3uDIQIhW8gvEJOcg1
		VwQzao+sHYHkuwSFql18dNa1m75cXpcqDYusQRtVtdVVfNaAoaj3G064a8SMmgUJ
		cxpUvZ1ykLJ5Y+Q3Lcmxmc/crAsBrNKKYjlREuTENkjWIsSMgjTQFEDozDdskn8j
		pa/JrAR0xmInTkJFJchVLs47P+JlFt6QG8fVFb3olVjmJslcgLkzQvgBAATznmxs
		lIccXjRMqzlmyDX5qWpZr9McQChrOLHBp4RwurlHUYk0RTzoZzapGfH1ptUQqG9U
		VPw5gMtcdlvSvV97NrFBDWY1yM60fE3aDXaijqyTnHHDAkgEhmxxYmZYRCFjwsIh
		F+UKzvzmN4qYVlIwKk7wws4Mxxa3eW4ray43d9+hrD2iWaMbWptTD4y2OKgaYqww
		GEmrr5WnMBvaMAaJCb/bfmfbzLs4pVUaJbGjoPaFdIrVdT2IgPABbGJ0hhZjhMVX
		H+I2WQA2TQODEeLYdds2ZoaTK17GAkMKNp6Hpu9cM4eGZXglvUwFes65I+sJNeaQ
		XmO0ztf4CFenc91ksVDSZhLqmsEgUtsgF78YQ8y0sygbaQ3HKK36hcACgbjjwJKH
		M1+Fa0/CiS9povV5Ia2gGRTECYhmLVd2lmKnhjUbm2ZJPat5WU2YbeIQDWW6D/Tq
		WLgVONJKRDWiWPrCVASqf0H2WLE4UGXhWNy2ARVzJyD0BFmqrBXkBpU6kKxSmX0c
		zQcAYO/GXbnmUzVEZ/rVbscTyG51QMQjrPJmn1L6b0rGiI2HHvPoR8ApqKr7uS4X
		skqgebH0GbphdbRCr7EZCdSla3CgM1soc5IYqnyTSOLDwvPrPRWkHmQXwN2Uv+sh
		QZsxGnuxOhgLvoMyGKmmsXRHzIXyJYWVh6cwdwSay8/UTQ8CVDjhXRU4Jw1Ybhv4
		MZKpRZz2PA6XL4UpdnmDHs8SFQmFHLg0D28Qew+hoO/Rs2qBibwIXE9ct4TlU/Qb
		kY+AOXzhlW94W+43fKmqi+aZitowwmt8PYxrVSVMyWIDsgxCruCsTh67QI5JqeP4
		edCrB4XrcCVCXRMFoimcAV4SDRY7DhlJTOVyU9AkbRgnRcuBl6t0OLPBu3lyvsWj
		BuujVnhVwBRpn+9lrlTHcKDYXBhADPZCrtxmB3e6SxOFAr1aeBL2IfhKSClrmN1D
		IrbxWCi4qPDgCoukSlPDqLFDVxsHQKvVZ9rxzenHnCBLbV4lnRdmoxu7y05qBc9F
		AhdrMBwcL0Ekd1AVe87IXoCbMKTWDXdHzdD1uZqoyCaYdRd5OqqAgKCxJKhVjfcr
		vje3X07btr6CFtbGM/srIoDiURPYaV5DSBw+6zl+sZJQUim2eiAeqJPD4ssy2ovD
		QvpN6gV4
	`,
}

func incrementalSeed(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func TestMLKEMKnownAnswers(t *testing.T) {
	for spec, b64 := range mlkemSPKIKnownAnswers {
		want, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(b64), ""))
		if err != nil {
			t.Fatal(err)
		}
		k, err := Parse(spec, incrementalSeed(64))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := k.PublicKey(); !bytes.Equal(got, want) {
			t.Errorf("%s: PublicKey for seed 00..3f\n got %x\nwant %x", spec, got, want)
		}
	}
	// The seed-only PKCS #8 form of ML-KEM-512 for the same seed, built by
	// hand from the X509-ML-KEM-2025 ASN.1 module: PrivateKeyInfo { 0,
	// { id-alg-ml-kem-512 }, OCTET STRING { [0] IMPLICIT OCTET STRING (64) } }.
	want := append([]byte{
		0x30, 0x54, 0x02, 0x01, 0x00,
		0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, 0x01,
		0x04, 0x42, 0x80, 0x40,
	}, incrementalSeed(64)...)
	k, _ := Parse(kmsapi.KeySpecMlKem512, incrementalSeed(64))
	if got, err := k.privateKeyPKCS8(incrementalSeed(64)); err != nil || !bytes.Equal(got, want) {
		t.Errorf("ML-KEM-512 PKCS #8\n got %x (%v)\nwant %x", got, err, want)
	}
}

// The secp256k1 encodings are built by the same helpers that, given a P-256
// key, reproduce crypto/x509's output byte for byte.
func TestECEncodingsMatchStdlib(t *testing.T) {
	oidP256 := asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	priv := mustPKCS8(t, testMaterial(t, kmsapi.KeySpecEccNistP256)).(*ecdsa.PrivateKey)
	ecdhPriv, err := priv.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	point := ecdhPriv.PublicKey().Bytes()
	gotPriv, err := marshalECPKCS8(oidP256, ecdhPriv.Bytes(), point)
	if err != nil {
		t.Fatal(err)
	}
	wantPriv, _ := x509.MarshalPKCS8PrivateKey(priv)
	if !bytes.Equal(gotPriv, wantPriv) {
		t.Errorf("PKCS #8\n got %x\nwant %x", gotPriv, wantPriv)
	}
	alg, _ := algorithmEC(oidP256)
	gotPub, _ := marshalSPKI(alg, point)
	wantPub, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if !bytes.Equal(gotPub, wantPub) {
		t.Errorf("SPKI\n got %x\nwant %x", gotPub, wantPub)
	}
}

// ML-DSA encodings agree with filippo.io/mldsa/x509, an RFC 9881
// implementation: SPKI with absent parameters, seed-only PKCS #8.
func TestMLDSAEncodingsMatchRFC9881(t *testing.T) {
	for _, spec := range []kmsapi.KeySpec{kmsapi.KeySpecMlDsa44, kmsapi.KeySpecMlDsa65, kmsapi.KeySpecMlDsa87} {
		seed := testMaterial(t, spec)
		k := testKey(t, spec)
		params, _ := mldsaParams(k.info.level)
		sk, err := mldsa.NewPrivateKey(params, seed)
		if err != nil {
			t.Fatal(err)
		}
		wantPub, _ := mldsax509.MarshalPKIXPublicKey(sk.PublicKey())
		if got, _ := k.PublicKey(); !bytes.Equal(got, wantPub) {
			t.Errorf("%s: SPKI\n got %x\nwant %x", spec, got, wantPub)
		}
		wantPriv, _ := mldsax509.MarshalPKCS8PrivateKey(sk)
		gotPriv, err := k.privateKeyPKCS8(seed)
		if err != nil || !bytes.Equal(gotPriv, wantPriv) {
			t.Errorf("%s: PKCS #8\n got %x (%v)\nwant %x", spec, gotPriv, err, wantPriv)
		}
		parsed, err := mldsax509.ParsePKCS8PrivateKey(gotPriv)
		if err != nil || !sk.Equal(parsed.(*mldsa.PrivateKey)) {
			t.Errorf("%s: RFC 9881 parser: %v", spec, err)
		}
	}
}
