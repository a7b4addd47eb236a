package keyimport

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/trent-kms/trent/internal/keyspec"
	"github.com/trent-kms/trent/internal/kmsapi"
)

var allAlgorithms = []kmsapi.AlgorithmSpec{
	kmsapi.AlgorithmSpecRsaesOaepSha1,
	kmsapi.AlgorithmSpecRsaesOaepSha256,
	kmsapi.AlgorithmSpecRsaAesKeyWrapSha1,
	kmsapi.AlgorithmSpecRsaAesKeyWrapSha256,
}

// Wrapping keys are made once per test binary: RSA_4096 takes a while
// under the race detector.
var (
	keyMu   sync.Mutex
	keyMemo = map[kmsapi.WrappingKeySpec]*rsa.PrivateKey{}
)

func wrappingKey(t testing.TB, spec kmsapi.WrappingKeySpec) *rsa.PrivateKey {
	t.Helper()
	keyMu.Lock()
	defer keyMu.Unlock()
	if k, ok := keyMemo[spec]; ok {
		return k
	}
	k, _, err := GenerateWrappingKey(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	keyMemo[spec] = k
	return k
}

func pubDER(t testing.TB, k *rsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestGenerateWrappingKey(t *testing.T) {
	for spec, bits := range map[kmsapi.WrappingKeySpec]int{
		kmsapi.WrappingKeySpecRsa2048: 2048,
		kmsapi.WrappingKeySpecRsa3072: 3072,
		kmsapi.WrappingKeySpecRsa4096: 4096,
	} {
		priv, der, err := GenerateWrappingKey(spec, nil)
		if err != nil {
			t.Fatal(err)
		}
		if priv.N.BitLen() != bits || priv.E != 65537 {
			t.Errorf("%s: %d-bit modulus, e = %d", spec, priv.N.BitLen(), priv.E)
		}
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			t.Fatalf("%s: public key is not a DER SubjectPublicKeyInfo: %v", spec, err)
		}
		if rp, ok := pub.(*rsa.PublicKey); !ok || !rp.Equal(&priv.PublicKey) {
			t.Errorf("%s: public key does not match the private key", spec)
		}
		// OpenSSL reads it as AWS's instructions do (-keyform DER -pubin).
		text := openssl(t, der, "pkey", "-pubin", "-inform", "DER", "-noout", "-text")
		if want := "Public-Key: (" + strconv.Itoa(bits) + " bit)"; !strings.Contains(string(text), want) {
			t.Errorf("%s: openssl says %q", spec, text)
		}
	}
	for _, spec := range []kmsapi.WrappingKeySpec{kmsapi.WrappingKeySpecSm2, "", "RSA_1024", "rsa_2048"} {
		if _, _, err := GenerateWrappingKey(spec, nil); err != ErrUnsupportedWrappingKeySpec {
			t.Errorf("GenerateWrappingKey(%q): %v", spec, err)
		}
	}
}

// opensslMaterial is key material made the way AWS's "Step 3: Encrypt the
// key material" page makes test material, with OpenSSL.
type opensslMaterial struct {
	spec     kmsapi.KeySpec
	material []byte
}

var (
	materialOnce sync.Once
	materials    []opensslMaterial
)

func testMaterials(t *testing.T) []opensslMaterial {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	materialOnce.Do(func() {
		pkcs8 := func(genpkeyArgs ...string) []byte {
			pem := openssl(t, nil, append([]string{"genpkey"}, genpkeyArgs...)...)
			return openssl(t, pem, "pkcs8", "-topk8", "-outform", "der", "-nocrypt")
		}
		materials = []opensslMaterial{
			{kmsapi.KeySpecSymmetricDefault, openssl(t, nil, "rand", "32")},
			{kmsapi.KeySpecHmac224, openssl(t, nil, "rand", "28")},
			{kmsapi.KeySpecHmac512, openssl(t, nil, "rand", "64")},
			{kmsapi.KeySpecEccNistP256, pkcs8("-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256")},
			{kmsapi.KeySpecEccNistP384, pkcs8("-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-384")},
			{kmsapi.KeySpecEccNistP521, pkcs8("-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-521")},
			{kmsapi.KeySpecEccSecgP256k1, pkcs8("-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:secp256k1")},
			{kmsapi.KeySpecEccNistEdwards25519, pkcs8("-algorithm", "ed25519")},
			{kmsapi.KeySpecRsa2048, pkcs8("-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:2048")},
		}
	})
	if len(materials) == 0 {
		t.Fatal("test material could not be made")
	}
	return materials
}

// opensslOAEP encrypts data for pub with RSA-OAEP as AWS's instructions do:
// `openssl pkeyutl -encrypt -keyform DER -pubin -pkeyopt
// rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:shaX -pkeyopt rsa_mgf1_md:shaX`.
func opensslOAEP(t *testing.T, pub []byte, md string, data []byte) ([]byte, error) {
	t.Helper()
	return tryOpenSSL(t, data, "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER",
		"-inkey", writeTemp(t, "WrappingPublicKey.bin", pub),
		"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:"+md, "-pkeyopt", "rsa_mgf1_md:"+md)
}

func mdName(alg kmsapi.AlgorithmSpec) string {
	if strings.HasSuffix(string(alg), "_SHA_1") {
		return "sha1"
	}
	return "sha256"
}

// opensslWrap builds an ImportKeyMaterial blob with OpenSSL pieces only:
// for RSAES_OAEP one pkeyutl call; for RSA_AES_KEY_WRAP `openssl rand 32`,
// `openssl enc -id-aes256-wrap-pad`, pkeyutl on the AES key, and the two
// outputs concatenated (AWS's `cat aes-key-wrapped.bin
// key-material-wrapped.bin`).
func opensslWrap(t *testing.T, pub []byte, alg kmsapi.AlgorithmSpec, material []byte) ([]byte, error) {
	t.Helper()
	md := mdName(alg)
	if strings.HasPrefix(string(alg), "RSAES_OAEP") {
		return opensslOAEP(t, pub, md, material)
	}
	aesKey := openssl(t, nil, "rand", "32")
	kw := openssl(t, material, "enc", "-id-aes256-wrap-pad", "-K", hex.EncodeToString(aesKey), "-iv", "A65959A6")
	rsaBlock, err := opensslOAEP(t, pub, md, aesKey)
	if err != nil {
		return nil, err
	}
	return append(rsaBlock, kw...), nil
}

// Blobs made by OpenSSL unwrap to the original material, for every
// algorithm and every kind of material the algorithm may carry (per
// CheckAllowed) under an RSA_2048 wrapping key, and under RSA_3072 and
// RSA_4096 for a few. The material then parses with keyspec.Parse where
// keyspec takes PKCS #8 (RSA, NIST curves, Ed25519) or raw HMAC keys.
func TestUnwrapOpenSSLBlobs(t *testing.T) {
	mats := testMaterials(t)
	ran := map[kmsapi.AlgorithmSpec]int{}
	check := func(wspec kmsapi.WrappingKeySpec, alg kmsapi.AlgorithmSpec, m opensslMaterial) {
		t.Helper()
		priv := wrappingKey(t, wspec)
		blob, err := opensslWrap(t, pubDER(t, priv), alg, m.material)
		if err != nil {
			t.Fatalf("%s/%s/%s: openssl: %v", wspec, alg, m.spec, err)
		}
		got, err := Unwrap(priv, alg, blob)
		if err != nil || !bytes.Equal(got, m.material) {
			t.Fatalf("%s/%s/%s: Unwrap: %v", wspec, alg, m.spec, err)
		}
		ran[alg]++
		switch m.spec {
		case kmsapi.KeySpecSymmetricDefault:
			if len(got) != 32 {
				t.Fatalf("symmetric material of %d bytes", len(got))
			}
		case kmsapi.KeySpecEccSecgP256k1:
			// keyspec.Parse takes a raw 32-byte scalar for secp256k1, not
			// the PKCS #8 that importers send: see the package doc.
		default:
			if _, err := keyspec.Parse(m.spec, got); err != nil {
				t.Fatalf("%s/%s/%s: keyspec.Parse: %v", wspec, alg, m.spec, err)
			}
		}
	}
	for _, alg := range allAlgorithms {
		for _, m := range mats {
			if CheckAllowed(alg, kmsapi.WrappingKeySpecRsa2048, m.spec) != nil {
				continue
			}
			check(kmsapi.WrappingKeySpecRsa2048, alg, m)
		}
	}
	for _, alg := range allAlgorithms {
		if ran[alg] == 0 {
			t.Errorf("no material was tested with %s", alg)
		}
	}
	byName := map[kmsapi.KeySpec]opensslMaterial{}
	for _, m := range mats {
		byName[m.spec] = m
	}
	// P-521 directly under RSA-OAEP needs a 3072-bit key or larger.
	check(kmsapi.WrappingKeySpecRsa3072, kmsapi.AlgorithmSpecRsaesOaepSha256, byName[kmsapi.KeySpecEccNistP521])
	check(kmsapi.WrappingKeySpecRsa4096, kmsapi.AlgorithmSpecRsaesOaepSha1, byName[kmsapi.KeySpecEccNistP521])
	check(kmsapi.WrappingKeySpecRsa4096, kmsapi.AlgorithmSpecRsaesOaepSha256, byName[kmsapi.KeySpecSymmetricDefault])
	check(kmsapi.WrappingKeySpecRsa3072, kmsapi.AlgorithmSpecRsaAesKeyWrapSha1, byName[kmsapi.KeySpecRsa2048])
	check(kmsapi.WrappingKeySpecRsa4096, kmsapi.AlgorithmSpecRsaAesKeyWrapSha256, byName[kmsapi.KeySpecRsa2048])
	t.Logf("blobs unwrapped per algorithm under RSA_2048 and larger: %v", ran)
}

// The combinations CheckAllowed refuses for size are the ones OpenSSL
// cannot produce: RSA-OAEP under a 2048-bit key carries at most 214 (SHA-1)
// or 190 (SHA-256) bytes, less than a P-521 or RSA PKCS #8 key.
func TestOpenSSLCannotWrapWhatIsRefused(t *testing.T) {
	mats := testMaterials(t)
	pub := pubDER(t, wrappingKey(t, kmsapi.WrappingKeySpecRsa2048))
	for _, m := range mats {
		if m.spec != kmsapi.KeySpecEccNistP521 && m.spec != kmsapi.KeySpecRsa2048 {
			continue
		}
		for _, alg := range []kmsapi.AlgorithmSpec{kmsapi.AlgorithmSpecRsaesOaepSha1, kmsapi.AlgorithmSpecRsaesOaepSha256} {
			if CheckAllowed(alg, kmsapi.WrappingKeySpecRsa2048, m.spec) == nil {
				t.Errorf("CheckAllowed(%s, RSA_2048, %s) allowed", alg, m.spec)
			}
			if _, err := opensslWrap(t, pub, alg, m.material); err == nil {
				t.Errorf("openssl wrapped %d bytes of %s with %s under RSA_2048", len(m.material), m.spec, alg)
			}
		}
	}
}

// Our Wrap is what OpenSSL unwraps (pkeyutl -decrypt, enc -d
// -id-aes256-wrap-pad), and Unwrap(Wrap(x)) = x.
func TestWrapOpenSSLDecrypts(t *testing.T) {
	priv := wrappingKey(t, kmsapi.WrappingKeySpecRsa2048)
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	privFile := writeTemp(t, "wrapping.der", privDER)
	k := priv.Size()
	for _, alg := range allAlgorithms {
		material := randomBytes(t, 32)
		if strings.HasPrefix(string(alg), "RSA_AES") {
			material = randomBytes(t, 1217) // an RSA_4096 PKCS #8 is about this long
		}
		blob, err := Wrap(&priv.PublicKey, alg, material, nil)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := Unwrap(priv, alg, blob); err != nil || !bytes.Equal(back, material) {
			t.Fatalf("%s: Unwrap(Wrap(x)): %v", alg, err)
		}
		md := mdName(alg)
		decrypt := func(in []byte) []byte {
			return openssl(t, in, "pkeyutl", "-decrypt", "-keyform", "DER", "-inkey", privFile,
				"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:"+md, "-pkeyopt", "rsa_mgf1_md:"+md)
		}
		var got []byte
		if strings.HasPrefix(string(alg), "RSAES_OAEP") {
			got = decrypt(blob)
		} else {
			aesKey := decrypt(blob[:k])
			got, err = opensslUnwrapPad(t, aesKey, blob[k:])
			if err != nil {
				t.Fatalf("%s: openssl enc -d: %v", alg, err)
			}
		}
		if !bytes.Equal(got, material) {
			t.Errorf("%s: openssl recovered %x", alg, got)
		}
	}
}

// blobFor wraps 32 bytes of material for priv with OpenSSL.
func blobFor(t *testing.T, priv *rsa.PrivateKey, alg kmsapi.AlgorithmSpec) (blob, material []byte) {
	t.Helper()
	material = randomBytes(t, 32)
	blob, err := opensslWrap(t, pubDER(t, priv), alg, material)
	if err != nil {
		t.Fatal(err)
	}
	return blob, material
}

func mustRefuse(t *testing.T, priv *rsa.PrivateKey, alg kmsapi.AlgorithmSpec, blob []byte, what string) {
	t.Helper()
	out, err := Unwrap(priv, alg, blob)
	if err != ErrInvalidCiphertext || out != nil {
		t.Fatalf("%s, %s: Unwrap = %x, %v; want nil, ErrInvalidCiphertext", alg, what, out, err)
	}
}

// Every single-bit change of an OpenSSL-made blob is refused, for each
// algorithm: every bit of the blob, or with -short one bit of every byte
// (each RSA decryption takes milliseconds under the race detector).
func TestUnwrapRefusesBitFlips(t *testing.T) {
	priv := wrappingKey(t, kmsapi.WrappingKeySpecRsa2048)
	for _, alg := range allAlgorithms {
		blob, _ := blobFor(t, priv, alg)
		for i := range blob {
			bits := []int{i % 8}
			if !testing.Short() {
				bits = []int{0, 1, 2, 3, 4, 5, 6, 7}
			}
			for _, bit := range bits {
				b := bytes.Clone(blob)
				b[i] ^= 1 << bit
				mustRefuse(t, priv, alg, b, "byte "+strconv.Itoa(i)+" bit "+strconv.Itoa(bit)+" flipped")
			}
		}
	}
}

// Every truncation and extension is refused, and so is a blob with the
// RSA block's leading byte dropped or doubled.
func TestUnwrapRefusesTruncationAndExtension(t *testing.T) {
	priv := wrappingKey(t, kmsapi.WrappingKeySpecRsa2048)
	for _, alg := range allAlgorithms {
		blob, material := blobFor(t, priv, alg)
		if got, err := Unwrap(priv, alg, blob); err != nil || !bytes.Equal(got, material) {
			t.Fatalf("%s: the untouched blob: %v", alg, err)
		}
		for l := range len(blob) {
			mustRefuse(t, priv, alg, blob[:l], "truncated to "+strconv.Itoa(l))
		}
		for extra := 1; extra <= 24; extra++ {
			mustRefuse(t, priv, alg, append(bytes.Clone(blob), randomBytes(t, extra)...), "extended by "+strconv.Itoa(extra))
			mustRefuse(t, priv, alg, append(make([]byte, extra), blob...), "zero-prefixed by "+strconv.Itoa(extra))
		}
		mustRefuse(t, priv, alg, blob[1:], "first byte dropped")
		mustRefuse(t, priv, alg, append([]byte{blob[0]}, blob...), "first byte doubled")
		if strings.HasPrefix(string(alg), "RSA_AES") { // the AES-KWP part alone, or the RSA block alone
			mustRefuse(t, priv, alg, blob[priv.Size():], "RSA block removed")
			mustRefuse(t, priv, alg, blob[:priv.Size()], "only the RSA block")
		}
	}
}

// A blob is refused under any algorithm but its own, and under any key but
// its own.
func TestUnwrapRefusesWrongAlgorithmOrKey(t *testing.T) {
	priv := wrappingKey(t, kmsapi.WrappingKeySpecRsa2048)
	other, _, err := GenerateWrappingKey(kmsapi.WrappingKeySpecRsa2048, nil)
	if err != nil {
		t.Fatal(err)
	}
	big := wrappingKey(t, kmsapi.WrappingKeySpecRsa3072)
	for _, alg := range allAlgorithms {
		blob, _ := blobFor(t, priv, alg)
		for _, wrong := range allAlgorithms {
			if wrong != alg {
				mustRefuse(t, priv, wrong, blob, "made with "+string(alg))
			}
		}
		for _, bad := range []kmsapi.AlgorithmSpec{kmsapi.AlgorithmSpecRsaesPkcs1V15, kmsapi.AlgorithmSpecSm2pke, "", "rsaes_oaep_sha_256"} {
			mustRefuse(t, priv, bad, blob, "unknown algorithm")
		}
		mustRefuse(t, other, alg, blob, "another RSA_2048 key")
		mustRefuse(t, big, alg, blob, "an RSA_3072 key")
		mustRefuse(t, nil, alg, blob, "no key")
	}
}

// RSA_AES_KEY_WRAP blobs whose RSA block is a valid RSA-OAEP encryption of
// the wrong thing are refused: an AES key of 16 or 24 bytes (even when the
// AES-KWP part is valid under it), or a valid 32-byte key with an AES-KWP
// part made under another key.
func TestUnwrapRefusesWrongAESKey(t *testing.T) {
	priv := wrappingKey(t, kmsapi.WrappingKeySpecRsa2048)
	pub := pubDER(t, priv)
	material := randomBytes(t, 48)
	for _, alg := range []kmsapi.AlgorithmSpec{kmsapi.AlgorithmSpecRsaAesKeyWrapSha1, kmsapi.AlgorithmSpecRsaAesKeyWrapSha256} {
		md := mdName(alg)
		for _, n := range []int{16, 24, 31, 33} {
			aesKey := randomBytes(t, n)
			block, err := opensslOAEP(t, pub, md, aesKey)
			if err != nil {
				t.Fatal(err)
			}
			kwKey := aesKey // a valid AES-KWP part under the wrong-size key
			switch n {
			case 31:
				kwKey = append(bytes.Clone(aesKey), 0)
			case 33:
				kwKey = aesKey[:32]
			}
			kw, err := WrapPad(kwKey, material)
			if err != nil {
				t.Fatal(err)
			}
			mustRefuse(t, priv, alg, append(block, kw...), strconv.Itoa(n)+"-byte AES key")
		}
		aesKey := randomBytes(t, 32)
		block, err := opensslOAEP(t, pub, md, aesKey)
		if err != nil {
			t.Fatal(err)
		}
		kw, _ := WrapPad(randomBytes(t, 32), material)
		mustRefuse(t, priv, alg, append(block, kw...), "AES-KWP under another key")
		// Two valid blobs spliced: the RSA block of one, the AES-KWP part
		// of the other.
		a, _ := blobFor(t, priv, alg)
		b, _ := blobFor(t, priv, alg)
		mustRefuse(t, priv, alg, append(bytes.Clone(a[:priv.Size()]), b[priv.Size():]...), "spliced blobs")
	}
}

// Empty material under RSA-OAEP is a valid encryption, but never key
// material: refused.
func TestUnwrapRefusesEmptyMaterial(t *testing.T) {
	priv := wrappingKey(t, kmsapi.WrappingKeySpecRsa2048)
	for _, alg := range []kmsapi.AlgorithmSpec{kmsapi.AlgorithmSpecRsaesOaepSha1, kmsapi.AlgorithmSpecRsaesOaepSha256} {
		blob, err := opensslOAEP(t, pubDER(t, priv), mdName(alg), nil)
		if err != nil {
			t.Fatal(err)
		}
		mustRefuse(t, priv, alg, blob, "empty material")
	}
}

func TestWrapArguments(t *testing.T) {
	priv := wrappingKey(t, kmsapi.WrappingKeySpecRsa2048)
	for _, alg := range []kmsapi.AlgorithmSpec{kmsapi.AlgorithmSpecRsaesPkcs1V15, kmsapi.AlgorithmSpecSm2pke, ""} {
		if _, err := Wrap(&priv.PublicKey, alg, []byte("x"), nil); err != ErrUnsupportedAlgorithm {
			t.Errorf("Wrap(%q): %v", alg, err)
		}
	}
	// 190 bytes is the RSA_2048/SHA-256 OAEP limit, 214 the SHA-1 one.
	if _, err := Wrap(&priv.PublicKey, kmsapi.AlgorithmSpecRsaesOaepSha256, make([]byte, 190), nil); err != nil {
		t.Error(err)
	}
	if _, err := Wrap(&priv.PublicKey, kmsapi.AlgorithmSpecRsaesOaepSha256, make([]byte, 191), nil); err == nil {
		t.Error("Wrap of 191 bytes with RSAES_OAEP_SHA_256 under RSA_2048 succeeded")
	}
	if _, err := Wrap(&priv.PublicKey, kmsapi.AlgorithmSpecRsaesOaepSha1, make([]byte, 214), nil); err != nil {
		t.Error(err)
	}
	if _, err := Wrap(&priv.PublicKey, kmsapi.AlgorithmSpecRsaesOaepSha1, make([]byte, 215), nil); err == nil {
		t.Error("Wrap of 215 bytes with RSAES_OAEP_SHA_1 under RSA_2048 succeeded")
	}
	if _, err := Wrap(&priv.PublicKey, kmsapi.AlgorithmSpecRsaAesKeyWrapSha256, nil, nil); err == nil {
		t.Error("Wrap of empty material with RSA_AES_KEY_WRAP_SHA_256 succeeded")
	}
}

// Unwrap may be called concurrently with one key (the service caches it).
func TestUnwrapConcurrent(t *testing.T) {
	priv := wrappingKey(t, kmsapi.WrappingKeySpecRsa2048)
	type pair struct{ blob, material []byte }
	var pairs []pair
	for _, alg := range allAlgorithms {
		m := randomBytes(t, 32)
		b, err := Wrap(&priv.PublicKey, alg, m, nil)
		if err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, pair{b, m})
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			alg := allAlgorithms[i%4]
			p := pairs[i%4]
			if got, err := Unwrap(priv, alg, p.blob); err != nil || !bytes.Equal(got, p.material) {
				t.Errorf("%s: %v", alg, err)
			}
		})
	}
	wg.Wait()
}

// An RSA block is exactly the modulus length: one whose encoding starts
// with a zero byte is refused with that byte stripped, though the integer,
// and so the RSA decryption, would be the same.
func TestUnwrapRefusesShortRSABlock(t *testing.T) {
	priv := wrappingKey(t, kmsapi.WrappingKeySpecRsa2048)
	for _, alg := range allAlgorithms {
		material := randomBytes(t, 32)
		var blob []byte
		for tries := 0; len(blob) == 0 || blob[0] != 0; tries++ {
			if tries == 10000 {
				t.Fatal("no blob with a leading zero byte in 10000 tries")
			}
			var err error
			if blob, err = Wrap(&priv.PublicKey, alg, material, nil); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := Unwrap(priv, alg, blob); err != nil || !bytes.Equal(got, material) {
			t.Fatalf("%s: the blob itself: %v", alg, err)
		}
		mustRefuse(t, priv, alg, blob[1:], "leading zero byte stripped")
	}
}
