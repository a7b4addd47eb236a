package ciphertext

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"strings"
	"testing"
)

const testKeyID = "1234abcd-12ab-34cd-56ef-1234567890ab"

func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newMaterial(t testing.TB) *Key {
	t.Helper()
	m := make([]byte, MaterialSize)
	if _, err := rand.Read(m); err != nil {
		t.Fatal(err)
	}
	return mustKey(t, m)
}

func mustKey(t testing.TB, material []byte) *Key {
	t.Helper()
	k, err := NewKey(material)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testHeader() Header {
	var h Header
	h.KeyID = testKeyID
	copy(h.MaterialID[:], seq(0x40, MaterialIDSize))
	return h
}

func mustSeal(t testing.TB, m *Key, h Header, pt []byte, ec map[string]string) []byte {
	t.Helper()
	blob, err := Seal(m, h, pt, ec, nil)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return blob
}

// TestDeriveKeyIndependent recomputes K with crypto/hmac from the formula in
// doc.go, written out byte by byte, and checks a known answer computed with
// an independent implementation (pyca/cryptography KBKDFHMAC, counter mode,
// rlen=4, llen=4, BeforeFixed, label "trent symmetric v1", context N).
func TestDeriveKeyIndependent(t *testing.T) {
	material := seq(0x00, 32)
	nonce := seq(0xf0, 16)

	var in []byte
	in = append(in, 0x00, 0x00, 0x00, 0x01) // [1]_32
	in = append(in, []byte("trent symmetric v1")...)
	in = append(in, 0x00)
	in = append(in, nonce...)
	in = append(in, 0x00, 0x00, 0x01, 0x00) // [256]_32
	m := hmac.New(sha256.New, material)
	m.Write(in)
	want := m.Sum(nil)

	got := deriveKey(material, kdfLabel1, nonce)
	if !bytes.Equal(got[:], want) {
		t.Fatalf("deriveKey = %x, crypto/hmac recomputation = %x", got, want)
	}
	const kat = "e3a270f73ec0ab5e0c83f42c0f6003de60a72a3e5261c04a8cb9cecce79c2faf"
	if hex.EncodeToString(got[:]) != kat {
		t.Fatalf("deriveKey = %x, want known answer %s", got, kat)
	}

	// K depends on every input.
	other := deriveKey(material, kdfLabel1, seq(0xf1, 16))
	if other == got {
		t.Fatal("different nonces gave the same key")
	}
	m2 := seq(0x00, 32)
	m2[31] ^= 1
	if deriveKey(m2, kdfLabel1, nonce) == got {
		t.Fatal("different material gave the same key")
	}
	if deriveKey(material, kdfLabel2, nonce) == got {
		t.Fatal("the v2 label gave the v1 key")
	}
}

// TestKDFCounterCAVP checks the PRF-block construction against NIST CAVP
// KBKDF vectors (CAVS 14.4 KDFCTR_gen.txt, [PRF=HMAC_SHA256]
// [CTRLOCATION=BEFORE_FIXED] [RLEN=32_BITS]). FixedInputData is opaque in
// these vectors, so they exercise kdfCounterBlock; deriveKey's fixed-input
// layout is checked by TestDeriveKeyIndependent.
func TestKDFCounterCAVP(t *testing.T) {
	for _, v := range []struct {
		name, ki, fixed, ko string
	}{
		{
			"COUNT=0 L=128",
			"dd1d91b7d90b2bd3138533ce92b272fbf8a369316aefe242e659cc0ae238afe0",
			"01322b96b30acd197979444e468e1c5c6859bf1b1cf951b7e725303e237e46b864a145fab25e517b08f8683d0315bb2911d80a0e8aba17f3b413faac",
			"10621342bfb0fd40046c0e29f2cfdbf0",
		},
		{
			"COUNT=10 L=256",
			"e204d6d466aad507ffaf6d6dab0a5b26152c9e21e764370464e360c8fbc765c6",
			"7b03b98d9f94b899e591f3ef264b71b193fba7043c7e953cde23bc5384bc1a6293580115fae3495fd845dadbd02bd6455cf48d0f62b33e62364a3a80",
			"770dfab6a6a4a4bee0257ff335213f78d8287b4fd537d5c1fffa956910e7c779",
		},
	} {
		t.Run(v.name, func(t *testing.T) {
			ko := unhex(t, v.ko)
			got := kdfCounterBlock(unhex(t, v.ki), 1, unhex(t, v.fixed))
			// L <= 256: KO is the leading L/8 bytes of block 1.
			if !bytes.Equal(got[:len(ko)], ko) {
				t.Fatalf("got %x, want %x", got[:len(ko)], ko)
			}
		})
	}
}

// TestGoldenBlob pins format v1, which trent no longer writes but must
// still open: the expected blob was computed with an independent
// implementation (Python, pyca/cryptography AESGCM and KBKDFHMAC) from the
// layout in doc.go.
func TestGoldenBlob(t *testing.T) {
	material := mustKey(t, seq(0x00, 32))
	h := testHeader()
	ec := map[string]string{"purpose": "test", "a": "b"}
	rnd := bytes.NewReader(seq(0x80, NonceSize+IVSize))
	blob, err := seal(material, Version1, h, []byte("hello, trent"), ec, rnd)
	if err != nil {
		t.Fatal(err)
	}
	const want = "01" + "24" + "31323334616263642d313261622d333463642d353665662d313233343536373839306162" +
		"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f" + // material id
		"808182838485868788898a8b8c8d8e8f" + // N
		"909192939495969798999a9b" + // IV
		"5f7c271df1752f2e1b7404ba" + // ciphertext
		"012ee9ab3cea29370ec954547daf85b6" // tag
	if got := hex.EncodeToString(blob); got != want {
		t.Fatalf("blob\n got %s\nwant %s", got, want)
	}
	if rnd.Len() != 0 {
		t.Fatalf("Seal left %d random bytes unread", rnd.Len())
	}
	pt, err := Open(material, blob, map[string]string{"a": "b", "purpose": "test"})
	if err != nil || string(pt) != "hello, trent" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
}

// TestGoldenBlobEmptyContext pins that an absent context still contributes
// its encoding 00 00 to the AAD (independent Python computation, as above).
func TestGoldenBlobEmptyContext(t *testing.T) {
	material := mustKey(t, seq(0x00, 32))
	const tail = "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f" +
		"808182838485868788898a8b8c8d8e8f" + "909192939495969798999a9b"
	for _, c := range []struct {
		keyID string
		pt    []byte
		want  string
	}{
		{testKeyID, nil, "0124" + "31323334616263642d313261622d333463642d353665662d313233343536373839306162" + tail +
			"8c76dd4d4f5a02e4e56a583de0eeee5f"},
		{"mrk-1234abcd12ab34cd56ef1234567890ab", make([]byte, 5), "0124" + "6d726b2d3132333461626364313261623334636435366566313233343536373839306162" + tail +
			"37194b719e" + "2253b20edd6e72e4db245367ac516809"},
	} {
		for _, ec := range []map[string]string{nil, {}} {
			h := testHeader()
			h.KeyID = c.keyID
			blob, err := seal(material, Version1, h, c.pt, ec, bytes.NewReader(seq(0x80, NonceSize+IVSize)))
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(blob); got != c.want {
				t.Fatalf("%s, ec %v:\n got %s\nwant %s", c.keyID, ec, got, c.want)
			}
		}
	}
}

// TestGoldenBlobV2 pins format v2, what Seal writes: the expected blobs and
// blob key were computed with pyca/cryptography (HKDF for the blob key,
// KBKDFHMAC and AESGCM as for v1) from the formulas in doc.go.
func TestGoldenBlobV2(t *testing.T) {
	k := mustKey(t, seq(0x00, 32))
	if got := hex.EncodeToString(k.blobKey[:]); got != "4ad09b7bd62adb0625e3e468866393889894132d92931b358e0bea9c11b966f9" {
		t.Fatalf("blob key = %s", got)
	}
	const head = "0224" + "31323334616263642d313261622d333463642d353665662d313233343536373839306162" +
		"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f" +
		"808182838485868788898a8b8c8d8e8f" + "909192939495969798999a9b"
	for _, c := range []struct {
		pt   string
		ec   map[string]string
		want string
	}{
		{"hello, trent", map[string]string{"purpose": "test", "a": "b"}, head + "bb818919f662eddfa2afdc19" + "4e31ffaafb9d0dae24a766d1934c2af8"},
		{"", nil, head + "cf0201cf3166c6aa23e3e6e867ba0728"},
	} {
		blob, err := Seal(k, testHeader(), []byte(c.pt), c.ec, bytes.NewReader(seq(0x80, NonceSize+IVSize)))
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(blob); got != c.want {
			t.Fatalf("blob\n got %s\nwant %s", got, c.want)
		}
		pt, err := Open(k, blob, c.ec)
		if err != nil || string(pt) != c.pt {
			t.Fatalf("Open = %q, %v", pt, err)
		}
	}
}

// TestVersionsAreSeparate: a blob's version byte selects its key
// derivation, so a v1 blob relabelled v2 (or the reverse) does not open,
// and both versions open with the same Key.
func TestVersionsAreSeparate(t *testing.T) {
	k := newMaterial(t)
	for _, v := range []byte{Version1, Version2} {
		blob, err := seal(k, v, testHeader(), []byte("x"), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := Open(k, blob, nil); err != nil || string(pt) != "x" {
			t.Fatalf("version %d: Open = %q, %v", v, pt, err)
		}
		blob[0] ^= Version1 ^ Version2
		if _, err := Open(k, blob, nil); err != ErrInvalid {
			t.Fatalf("version %d relabelled: err = %v", v, err)
		}
	}
}

// TestHMACOfMaterialIsNotABlobKey: the attack domain separation closes.
// An HMAC-SHA256 keyed with the material over the KDF's fixed input is the
// v1 blob key (which is why v1 is no longer written); for v2 no message
// that an HMAC keyed with the material could be asked for yields it, since
// the blob key enters the KDF instead of the material.
func TestHMACOfMaterialIsNotABlobKey(t *testing.T) {
	material := seq(0x00, 32)
	k := mustKey(t, material)
	nonce := seq(0x80, NonceSize)
	fixed := func(label string) []byte {
		b := []byte{0, 0, 0, 1}
		b = append(b, label...)
		b = append(b, 0)
		b = append(b, nonce...)
		return append(b, 0, 0, 1, 0)
	}
	macOf := func(msg []byte) []byte {
		m := hmac.New(sha256.New, material)
		m.Write(msg)
		return m.Sum(nil)
	}
	v1 := deriveKey(k.material[:], kdfLabel1, nonce)
	v2 := deriveKey(k.blobKey[:], kdfLabel2, nonce)
	if !bytes.Equal(macOf(fixed(kdfLabel1)), v1[:]) {
		t.Fatal("the v1 derivation is not what this test assumes")
	}
	for _, label := range []string{kdfLabel1, kdfLabel2} {
		if bytes.Equal(macOf(fixed(label)), v2[:]) {
			t.Fatalf("HMAC of the material over the %q input equals the v2 blob key", label)
		}
	}
	if bytes.Equal(macOf([]byte(blobKeyInfo+"\x01")), k.blobKey[:]) {
		t.Fatal("HMAC of the material over HKDF's expand input equals the blob key")
	}
}

func TestWipe(t *testing.T) {
	k := newMaterial(t)
	blob := mustSeal(t, k, testHeader(), []byte("x"), nil)
	k.Wipe()
	if k.material != [32]byte{} || k.blobKey != [32]byte{} {
		t.Fatal("Wipe left key bytes")
	}
	if _, err := Open(k, blob, nil); err != ErrInvalid {
		t.Fatalf("a wiped key opened a blob: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	m := newMaterial(t)
	contexts := []map[string]string{
		nil,
		{},
		{"k": "v"},
		{"Department": "10103.0", "aws:ebs:id": "vol-1234", "": "", "x": ""},
	}
	keyIDs := []string{testKeyID, "mrk-1234abcd12ab34cd56ef1234567890ab", "k", strings.Repeat("z", MaxKeyIDLen)}
	for _, size := range []int{0, 1, 15, 16, 17, 1024, 4096} {
		pt := seq(0x11, size)
		for _, ec := range contexts {
			for _, id := range keyIDs {
				h := testHeader()
				h.KeyID = id
				blob := mustSeal(t, m, h, pt, ec)
				if len(blob) != size+Overhead(len(id)) {
					t.Fatalf("len(blob) = %d, want %d", len(blob), size+Overhead(len(id)))
				}
				if cap(blob) != len(blob) {
					t.Fatalf("cap(blob) = %d, want %d (scratch must be hidden)", cap(blob), len(blob))
				}
				got, err := Open(m, blob, maps.Clone(ec))
				if err != nil {
					t.Fatalf("Open(size %d, ec %v, id %q): %v", size, ec, id, err)
				}
				if !bytes.Equal(got, pt) || cap(got) != len(got) {
					t.Fatalf("Open returned %d bytes (cap %d), want %d", len(got), cap(got), size)
				}
				ph, err := ParseHeader(blob)
				if err != nil || ph != h {
					t.Fatalf("ParseHeader = %+v, %v; want %+v", ph, err, h)
				}
			}
		}
	}
}

func TestSealRandomizes(t *testing.T) {
	m := newMaterial(t)
	a := mustSeal(t, m, testHeader(), []byte("same"), nil)
	b := mustSeal(t, m, testHeader(), []byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("two Seals of the same input are equal")
	}
}

func TestEveryBitFlip(t *testing.T) {
	m := newMaterial(t)
	ec := map[string]string{"a": "b"}
	blob := mustSeal(t, m, testHeader(), []byte("secret!"), ec)
	for i := range len(blob) * 8 {
		mod := bytes.Clone(blob)
		mod[i/8] ^= 1 << (i % 8)
		if pt, err := Open(m, mod, ec); err != ErrInvalid {
			t.Fatalf("flip bit %d (byte %d): Open = %q, %v; want ErrInvalid", i, i/8, pt, err)
		}
	}
}

func TestTruncatedAndExtended(t *testing.T) {
	m := newMaterial(t)
	blob := mustSeal(t, m, testHeader(), []byte("some plaintext"), nil)
	for n := range len(blob) {
		if _, err := Open(m, blob[:n], nil); err != ErrInvalid {
			t.Fatalf("Open(blob[:%d]) err = %v, want ErrInvalid", n, err)
		}
	}
	if _, err := Open(m, append(bytes.Clone(blob), 0), nil); err != ErrInvalid {
		t.Fatalf("Open(blob+1 byte) err = %v, want ErrInvalid", err)
	}
}

func TestWrongMaterial(t *testing.T) {
	m := newMaterial(t)
	blob := mustSeal(t, m, testHeader(), []byte("x"), nil)
	if _, err := Open(newMaterial(t), blob, nil); err != ErrInvalid {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}

func TestWrongContext(t *testing.T) {
	m := newMaterial(t)
	ec := map[string]string{"purpose": "test", "tenant": "a"}
	blob := mustSeal(t, m, testHeader(), []byte("x"), ec)
	for name, bad := range map[string]map[string]string{
		"missing":     nil,
		"empty":       {},
		"subset":      {"purpose": "test"},
		"superset":    {"purpose": "test", "tenant": "a", "x": "y"},
		"value":       {"purpose": "test", "tenant": "b"},
		"key case":    {"Purpose": "test", "tenant": "a"},
		"value case":  {"purpose": "Test", "tenant": "a"},
		"shifted len": {"purpose": "test", "tenan": "ta"},
	} {
		if _, err := Open(m, blob, bad); err != ErrInvalid {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	// A blob sealed without context does not open with one.
	blob = mustSeal(t, m, testHeader(), []byte("x"), nil)
	if _, err := Open(m, blob, map[string]string{"a": "b"}); err != ErrInvalid {
		t.Fatalf("unexpected context: err = %v, want ErrInvalid", err)
	}
	// nil and empty are the same context.
	if _, err := Open(m, blob, map[string]string{}); err != nil {
		t.Fatalf("empty vs nil context: %v", err)
	}
}

func TestEncodeContext(t *testing.T) {
	enc := func(ec map[string]string) string {
		t.Helper()
		b, err := EncodeContext(ec)
		if err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(b)
	}
	if got := enc(nil); got != "0000" {
		t.Fatalf("nil: %s", got)
	}
	if got := enc(map[string]string{}); got != "0000" {
		t.Fatalf("empty: %s", got)
	}
	// {"purpose":"test","a":"b"}: pairs sorted by key bytes.
	if got, want := enc(map[string]string{"purpose": "test", "a": "b"}),
		"0002"+"0001"+"61"+"0001"+"62"+"0007"+"707572706f7365"+"0004"+"74657374"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	// Sorting is by bytes, not by Unicode case folding: "B" (0x42) < "a" (0x61),
	// and "é" (c3 a9) sorts after "z".
	if got, want := enc(map[string]string{"a": "", "B": "", "é": "", "z": ""}),
		"0004"+"000142"+"0000"+"000161"+"0000"+"00017a"+"0000"+"0002c3a9"+"0000"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	// Pair boundaries are unambiguous.
	if enc(map[string]string{"a": "bc"}) == enc(map[string]string{"ab": "c"}) {
		t.Fatal(`{"a":"bc"} and {"ab":"c"} encode the same`)
	}
	if enc(map[string]string{"a": "", "b": ""}) == enc(map[string]string{"a": "\x00\x01b\x00\x00"}) {
		t.Fatal("pair count is ambiguous")
	}
	// Insertion order does not matter.
	a := map[string]string{}
	b := map[string]string{}
	var keys []string
	for i := range 40 { // more than the no-allocation fast path holds
		keys = append(keys, string(rune('A'+i)))
	}
	for _, k := range keys {
		a[k] = k + "v"
	}
	for i := len(keys) - 1; i >= 0; i-- {
		b[keys[i]] = keys[i] + "v"
	}
	for range 10 { // map iteration order is randomized
		if enc(a) != enc(b) {
			t.Fatal("encoding depends on insertion order")
		}
	}
}

func TestContextTooLarge(t *testing.T) {
	long := strings.Repeat("x", 65536)
	ok := strings.Repeat("x", 65535)
	for _, ec := range []map[string]string{{long: "v"}, {"k": long}} {
		if _, err := EncodeContext(ec); !errors.Is(err, ErrContextTooLarge) {
			t.Fatalf("EncodeContext err = %v", err)
		}
		if _, err := Seal(newMaterial(t), testHeader(), nil, ec, nil); !errors.Is(err, ErrContextTooLarge) {
			t.Fatalf("Seal err = %v", err)
		}
		if _, err := Open(newMaterial(t), make([]byte, 200), ec); !errors.Is(err, ErrContextTooLarge) {
			t.Fatalf("Open err = %v", err)
		}
	}
	if _, err := EncodeContext(map[string]string{ok: ok}); err != nil {
		t.Fatalf("65535-byte key and value: %v", err)
	}
	many := make(map[string]string, 65536)
	for i := range 65536 {
		many[string([]byte{byte(i >> 8), byte(i)})] = ""
	}
	if _, err := EncodeContext(many); !errors.Is(err, ErrContextTooLarge) {
		t.Fatalf("65536 pairs: err = %v", err)
	}
}

func TestUnknownVersion(t *testing.T) {
	m := newMaterial(t)
	blob := mustSeal(t, m, testHeader(), []byte("x"), nil)
	for _, v := range []byte{0x00, 0x03, 0x81, 0xff} {
		mod := bytes.Clone(blob)
		mod[0] = v
		if _, err := ParseHeader(mod); err != ErrInvalid {
			t.Fatalf("version %#x: ParseHeader err = %v", v, err)
		}
		if _, err := Open(m, mod, nil); err != ErrInvalid {
			t.Fatalf("version %#x: Open err = %v", v, err)
		}
	}
}

func TestParseHeaderGarbage(t *testing.T) {
	valid := mustSeal(t, newMaterial(t), testHeader(), nil, nil)
	cases := map[string][]byte{
		"nil":              nil,
		"empty":            {},
		"version only":     {Version},
		"zero key id":      append([]byte{Version, 0}, make([]byte, 100)...),
		"key id past end":  append([]byte{Version, 200}, make([]byte, 100)...),
		"no tag":           valid[:len(valid)-1],
		"space in key id":  append([]byte{Version, 3, 'a', ' ', 'b'}, make([]byte, 100)...),
		"ctrl in key id":   append([]byte{Version, 3, 'a', '\n', 'b'}, make([]byte, 100)...),
		"non-ascii key id": append([]byte{Version, 2, 0xc3, 0xa9}, make([]byte, 100)...),
		"text":             []byte("this is not a ciphertext blob at all, just some words........................."),
	}
	for name, b := range cases {
		if h, err := ParseHeader(b); err != ErrInvalid {
			t.Errorf("%s: ParseHeader = %+v, %v; want ErrInvalid", name, h, err)
		}
		if _, err := Open(newMaterial(t), b, nil); err != ErrInvalid {
			t.Errorf("%s: Open err = %v; want ErrInvalid", name, err)
		}
	}
	for range 1000 {
		b := make([]byte, 150)
		rand.Read(b)
		b[0] = Version
		// Random blobs may parse (ParseHeader only checks framing) but
		// must never open.
		if _, err := Open(newMaterial(t), b, nil); err != ErrInvalid {
			t.Fatalf("random blob opened: %v", err)
		}
	}
	// ParseHeader copies: the Header does not alias the blob.
	blob := mustSeal(t, newMaterial(t), testHeader(), nil, nil)
	h, _ := ParseHeader(blob)
	clear(blob)
	if h != testHeader() {
		t.Fatal("Header aliases blob")
	}
}

func TestSealRejects(t *testing.T) {
	m := newMaterial(t)
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewKey(make([]byte, n)); err == nil {
			t.Errorf("NewKey accepted %d-byte material", n)
		}
	}
	for _, id := range []string{"", strings.Repeat("a", 256), "has space", "tab\t", "é"} {
		h := testHeader()
		h.KeyID = id
		if _, err := Seal(m, h, nil, nil, nil); err == nil {
			t.Errorf("Seal accepted key id %q", id)
		}
	}
	if _, err := Seal(m, testHeader(), nil, nil, io.LimitReader(rand.Reader, 27)); err == nil {
		t.Error("Seal succeeded with a short random source")
	}
}

func TestSizes(t *testing.T) {
	if FixedOverhead != 78 || Overhead(36) != 114 {
		t.Fatalf("FixedOverhead = %d, Overhead(36) = %d", FixedOverhead, Overhead(36))
	}
	m := newMaterial(t)
	h := testHeader()
	h.KeyID = strings.Repeat("k", MaxKeyIDLen) // worst case
	blob := mustSeal(t, m, h, make([]byte, 4096), map[string]string{"a": "b"})
	if len(blob) > 6144 {
		t.Fatalf("4096-byte plaintext gives %d-byte blob, more than 6144", len(blob))
	}
	if len(blob) != 4096+Overhead(MaxKeyIDLen) {
		t.Fatalf("len = %d", len(blob))
	}
}

func TestMaterialID(t *testing.T) {
	var id MaterialID
	copy(id[:], seq(0xa0, 32))
	s := id.String()
	if s != "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf" {
		t.Fatalf("String = %s", s)
	}
	back, err := ParseMaterialID(strings.ToUpper(s))
	if err != nil || back != id {
		t.Fatalf("ParseMaterialID = %v, %v", back, err)
	}
	for _, bad := range []string{"", s[:62], s + "00", "zz" + s[2:]} {
		if _, err := ParseMaterialID(bad); err == nil {
			t.Errorf("ParseMaterialID(%q) succeeded", bad)
		}
	}
}

func TestOpenDoesNotModifyBlob(t *testing.T) {
	m := newMaterial(t)
	ec := map[string]string{"a": "b"}
	blob := mustSeal(t, m, testHeader(), []byte("payload"), ec)
	orig := bytes.Clone(blob)
	if _, err := Open(m, blob, ec); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(m, blob, nil); err != ErrInvalid {
		t.Fatal(err)
	}
	if !bytes.Equal(blob, orig) {
		t.Fatal("Open modified its input")
	}
}

func benchSetup(b *testing.B) (*Key, []byte, map[string]string) {
	m := newMaterial(b)
	pt := make([]byte, 1024)
	ec := map[string]string{"aws:ebs:id": "vol-0123456789abcdef0", "purpose": "bench"}
	return m, pt, ec
}

func BenchmarkSeal1KB(b *testing.B) {
	m, pt, ec := benchSetup(b)
	h := testHeader()
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Seal(m, h, pt, ec, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen1KB(b *testing.B) {
	m, pt, ec := benchSetup(b)
	blob := mustSeal(b, m, testHeader(), pt, ec)
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Open(m, blob, ec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDeriveKey(b *testing.B) {
	m := newMaterial(b)
	n := make([]byte, NonceSize)
	b.ReportAllocs()
	for b.Loop() {
		deriveKey(m.blobKey[:], kdfLabel2, n)
	}
}
