package keyspec

import (
	"bytes"
	"crypto/rand"
	"os/exec"
	"testing"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// TestImportedSecp256k1: a secp256k1 private key in PKCS #8, as
// GenerateDataKeyPair hands it out and as OpenSSL writes it, imports as
// the key whose public key is the pair's.
func TestImportedSecp256k1(t *testing.T) {
	priv, pub, err := GenerateDataKeyPair(kmsapi.DataKeyPairSpecEccSecgP256k1, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ImportedMaterial(kmsapi.KeySpecEccSecgP256k1, priv)
	if err != nil {
		t.Fatal(err)
	}
	k, err := Parse(kmsapi.KeySpecEccSecgP256k1, m)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := k.PublicKey(); !bytes.Equal(got, pub) {
		t.Fatal("the imported key is not the pair's")
	}
	// Tampered public key, wrong curve, trailing bytes: refused.
	bad := bytes.Clone(priv)
	bad[len(bad)-1] ^= 1
	if _, err := ImportedMaterial(kmsapi.KeySpecEccSecgP256k1, bad); err == nil {
		t.Error("a PKCS #8 key with another public key was accepted")
	}
	p256, _, _ := GenerateDataKeyPair(kmsapi.DataKeyPairSpecEccNistP256, rand.Reader)
	if _, err := ImportedMaterial(kmsapi.KeySpecEccSecgP256k1, p256); err == nil {
		t.Error("a P-256 key was accepted as secp256k1")
	}
	if _, err := ImportedMaterial(kmsapi.KeySpecEccSecgP256k1, append(bytes.Clone(priv), 0)); err == nil {
		t.Error("trailing bytes were accepted")
	}

	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	out, err := exec.Command("sh", "-c", "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 | openssl pkcs8 -topk8 -nocrypt -outform DER").Output()
	if err != nil {
		t.Fatal(err)
	}
	m, err = ImportedMaterial(kmsapi.KeySpecEccSecgP256k1, out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(kmsapi.KeySpecEccSecgP256k1, m); err != nil {
		t.Fatal(err)
	}
	// Other specs pass through.
	if m, err := ImportedMaterial(kmsapi.KeySpecEccNistP256, p256); err != nil || !bytes.Equal(m, p256) {
		t.Fatal("P-256 material was changed")
	}
}

// FuzzImportedMaterial: whatever a customer imports, ImportedMaterial
// answers without panicking, and what it accepts for secp256k1 is a 32-byte
// scalar that Parse takes.
func FuzzImportedMaterial(f *testing.F) {
	priv, _, err := GenerateDataKeyPair(kmsapi.DataKeyPairSpecEccSecgP256k1, rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(priv)
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, material []byte) {
		m, err := ImportedMaterial(kmsapi.KeySpecEccSecgP256k1, material)
		if err != nil {
			return
		}
		if len(m) != secp256k1ScalarSize {
			t.Fatalf("accepted material gave a scalar of %d bytes", len(m))
		}
		if _, err := Parse(kmsapi.KeySpecEccSecgP256k1, m); err != nil {
			t.Fatalf("ImportedMaterial accepted material that Parse refuses: %v", err)
		}
	})
}
