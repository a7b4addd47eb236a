package keyspec

import (
	"bytes"
	"crypto/x509"
	"errors"
	"sync"
	"testing"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// supportedSpecs are the key specs this package generates and parses.
var supportedSpecs = []kmsapi.KeySpec{
	kmsapi.KeySpecRsa2048, kmsapi.KeySpecRsa3072, kmsapi.KeySpecRsa4096,
	kmsapi.KeySpecEccNistP256, kmsapi.KeySpecEccNistP384, kmsapi.KeySpecEccNistP521,
	kmsapi.KeySpecEccSecgP256k1, kmsapi.KeySpecEccNistEdwards25519,
	kmsapi.KeySpecMlDsa44, kmsapi.KeySpecMlDsa65, kmsapi.KeySpecMlDsa87,
	kmsapi.KeySpecMlKem512, kmsapi.KeySpecMlKem768, kmsapi.KeySpecMlKem1024,
	kmsapi.KeySpecHmac224, kmsapi.KeySpecHmac256, kmsapi.KeySpecHmac384, kmsapi.KeySpecHmac512,
}

// Material is generated once per spec per test binary: RSA-4096 generation
// is the slow part of this package's tests.
var (
	materialMu    sync.Mutex
	materialCache = map[kmsapi.KeySpec]*cachedMaterial{}
)

type cachedMaterial struct {
	once     sync.Once
	material []byte
	key      *Key
	err      error
}

func cached(spec kmsapi.KeySpec) *cachedMaterial {
	materialMu.Lock()
	c, ok := materialCache[spec]
	if !ok {
		c = &cachedMaterial{}
		materialCache[spec] = c
	}
	materialMu.Unlock()
	c.once.Do(func() {
		c.material, c.err = Generate(spec, nil)
		if c.err == nil {
			c.key, c.err = Parse(spec, c.material)
		}
	})
	return c
}

// testMaterial returns the cached material for spec (a copy the test may
// change).
func testMaterial(tb testing.TB, spec kmsapi.KeySpec) []byte {
	tb.Helper()
	c := cached(spec)
	if c.err != nil {
		tb.Fatalf("Generate/Parse %s: %v", spec, c.err)
	}
	return bytes.Clone(c.material)
}

// testKey returns the cached parsed key for spec, shared by all tests.
func testKey(tb testing.TB, spec kmsapi.KeySpec) *Key {
	tb.Helper()
	c := cached(spec)
	if c.err != nil {
		tb.Fatalf("Generate/Parse %s: %v", spec, c.err)
	}
	return c.key
}

// publicKeyOf parses the key's SPKI with crypto/x509.
func publicKeyOf(t *testing.T, k *Key) any {
	t.Helper()
	der, err := k.PublicKey()
	if err != nil {
		t.Fatalf("PublicKey: %v", err)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatalf("x509.ParsePKIXPublicKey: %v", err)
	}
	return pub
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func flipBit(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i%len(c)] ^= 0x01
	return c
}

func specsOf(f family) []kmsapi.KeySpec {
	var out []kmsapi.KeySpec
	for _, s := range supportedSpecs {
		if infoFor(s).family == f {
			out = append(out, s)
		}
	}
	return out
}
