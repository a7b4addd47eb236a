package keyimport

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// knownBlobs is testdata/: a fixed wrapping key and, per algorithm, an
// OpenSSL-made blob of PlaintextKeyMaterial.bin (see testdata/README.md).
type knownBlobs struct {
	priv     *rsa.PrivateKey
	pub      []byte
	material []byte
	blobs    map[kmsapi.AlgorithmSpec][]byte
}

func loadKnownBlobs(t testing.TB) knownBlobs {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	key, err := x509.ParsePKCS8PrivateKey(read("wrapping-key.pkcs8.der"))
	if err != nil {
		t.Fatal(err)
	}
	k := knownBlobs{
		priv:     key.(*rsa.PrivateKey),
		pub:      read("WrappingPublicKey.bin"),
		material: read("PlaintextKeyMaterial.bin"),
		blobs:    map[kmsapi.AlgorithmSpec][]byte{},
	}
	for _, alg := range allAlgorithms {
		k.blobs[alg] = read(string(alg) + ".bin")
	}
	return k
}

// The committed OpenSSL blobs unwrap to the committed material (this runs
// without openssl), and the committed public key is the private key's.
func TestKnownBlobs(t *testing.T) {
	k := loadKnownBlobs(t)
	if !bytes.Equal(k.pub, pubDER(t, k.priv)) {
		t.Fatal("WrappingPublicKey.bin is not wrapping-key.pkcs8.der's public key")
	}
	for alg, blob := range k.blobs {
		got, err := Unwrap(k.priv, alg, blob)
		if err != nil || !bytes.Equal(got, k.material) {
			t.Errorf("%s: Unwrap = %x, %v", alg, got, err)
		}
	}
}

// FuzzUnwrap: Unwrap never panics, fails only with ErrInvalidCiphertext and
// a nil result, and accepts nothing but the committed valid blobs (a
// mutation that still unwraps would be a forgery of RSA-OAEP or AES-KWP).
// One more input is valid, and the fuzzer found it: the RSA block of an
// RSA_AES_KEY_WRAP_SHA_x blob is an RSAES_OAEP_SHA_x blob of its AES key.
func FuzzUnwrap(f *testing.F) {
	k := loadKnownBlobs(f)
	for i, alg := range allAlgorithms {
		f.Add(uint8(i), k.blobs[alg])
		// Each blob under the other algorithms, and cut at the RSA block.
		f.Add(uint8(i+1), k.blobs[alg])
		f.Add(uint8(i), k.blobs[alg][:k.priv.Size()])
	}
	f.Add(uint8(0), []byte{})
	f.Add(uint8(2), make([]byte, k.priv.Size()+16))
	f.Fuzz(func(t *testing.T, a uint8, blob []byte) {
		alg := allAlgorithms[int(a)%len(allAlgorithms)]
		got, err := Unwrap(k.priv, alg, blob)
		if err != nil {
			if err != ErrInvalidCiphertext || got != nil {
				t.Fatalf("%s: Unwrap = %x, %v", alg, got, err)
			}
			return
		}
		if bytes.Equal(blob, k.blobs[alg]) && bytes.Equal(got, k.material) {
			return
		}
		if hybrid := hybridOf(alg); hybrid != "" && len(got) == aesKeySize &&
			bytes.Equal(blob, k.blobs[hybrid][:k.priv.Size()]) {
			return
		}
		t.Fatalf("%s: Unwrap accepted a blob that is not a committed one: %x -> %x", alg, blob, got)
	})
}

// hybridOf is the RSA_AES_KEY_WRAP algorithm whose RSA block is alg.
func hybridOf(alg kmsapi.AlgorithmSpec) kmsapi.AlgorithmSpec {
	switch alg {
	case kmsapi.AlgorithmSpecRsaesOaepSha1:
		return kmsapi.AlgorithmSpecRsaAesKeyWrapSha1
	case kmsapi.AlgorithmSpecRsaesOaepSha256:
		return kmsapi.AlgorithmSpecRsaAesKeyWrapSha256
	}
	return ""
}

// FuzzUnwrapPad: UnwrapPad never panics; whatever it accepts, WrapPad maps
// back to the same ciphertext (KWP is deterministic and injective); and
// WrapPad's output always unwraps to its input.
func FuzzUnwrapPad(f *testing.F) {
	kek := unhex(f, "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")
	f.Add(kek, unhex(f, "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"))
	f.Add(kek, unhex(f, "afbeb0f07dfbf5419200f2ccb50bb24f"))
	f.Add(make([]byte, 32), make([]byte, 40))
	f.Add(make([]byte, 16), []byte{})
	f.Fuzz(func(t *testing.T, kek, data []byte) {
		switch len(kek) {
		case 16, 24, 32:
		default:
			kek = append(bytes.Clone(kek), make([]byte, 32)...)[:32]
		}
		if pt, err := UnwrapPad(kek, data); err != nil {
			if err != ErrInvalidCiphertext || pt != nil {
				t.Fatalf("UnwrapPad = %x, %v", pt, err)
			}
		} else {
			again, err := WrapPad(kek, pt)
			if err != nil || !bytes.Equal(again, data) {
				t.Fatalf("UnwrapPad accepted %x as %x, which wraps to %x", data, pt, again)
			}
		}
		if len(data) == 0 {
			return
		}
		ct, err := WrapPad(kek, data)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := UnwrapPad(kek, ct); err != nil || !bytes.Equal(back, data) {
			t.Fatalf("UnwrapPad(WrapPad(%x)) = %x, %v", data, back, err)
		}
	})
}
