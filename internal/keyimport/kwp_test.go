package keyimport

import (
	"bytes"
	"crypto/aes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 5649 section 6: both examples use the same 192-bit KEK.
func TestWrapPadRFC5649Vectors(t *testing.T) {
	kek := unhex(t, "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")
	for _, v := range []struct{ key, wrapped string }{
		{"c37b7e6492584340bed12207808941155068f738", "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"},
		{"466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"},
	} {
		key, want := unhex(t, v.key), unhex(t, v.wrapped)
		got, err := WrapPad(kek, key)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("WrapPad(%s) = %x, want %x", v.key, got, want)
		}
		back, err := UnwrapPad(kek, want)
		if err != nil {
			t.Fatalf("UnwrapPad(%s): %v", v.wrapped, err)
		}
		if !bytes.Equal(back, key) {
			t.Errorf("UnwrapPad(%s) = %x, want %s", v.wrapped, back, v.key)
		}
	}
}

// RFC 3394 section 4 vectors check the inner W and W⁻¹ with the RFC 3394
// default initial value A6A6A6A6A6A6A6A6.
func TestWRFC3394Vectors(t *testing.T) {
	for _, v := range []struct{ kek, data, wrapped string }{
		{ // 4.1 Wrap 128 bits of Key Data with a 128-bit KEK
			"000102030405060708090A0B0C0D0E0F",
			"00112233445566778899AABBCCDDEEFF",
			"1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5",
		},
		{ // 4.3 Wrap 128 bits of Key Data with a 256-bit KEK
			"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
			"00112233445566778899AABBCCDDEEFF",
			"64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7",
		},
		{ // 4.6 Wrap 256 bits of Key Data with a 256-bit KEK
			"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
			"00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
			"28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21",
		},
	} {
		block, err := aes.NewCipher(unhex(t, v.kek))
		if err != nil {
			t.Fatal(err)
		}
		data, want := unhex(t, v.data), unhex(t, v.wrapped)
		n := len(data) / 8
		buf := append(bytes.Repeat([]byte{0xA6}, 8), data...)
		wrapW(block, buf, n)
		if !bytes.Equal(buf, want) {
			t.Errorf("W(%s) = %X, want %s", v.data, buf, v.wrapped)
		}
		unwrapW(block, buf, n)
		if !bytes.Equal(buf[:8], bytes.Repeat([]byte{0xA6}, 8)) || !bytes.Equal(buf[8:], data) {
			t.Errorf("W⁻¹(%s) = %X", v.wrapped, buf)
		}
	}
}

// Every length from 1 to 80 bytes (and some longer), under each AES key
// size, round-trips, has the RFC 5649 length, and is refused with any other
// key.
func TestWrapPadRoundTrip(t *testing.T) {
	for _, kekLen := range []int{16, 24, 32} {
		kek := randomBytes(t, kekLen)
		other := randomBytes(t, kekLen)
		for _, m := range append(seq(1, 80), 255, 256, 257, 1217, 2400) {
			pt := randomBytes(t, m)
			ct, err := WrapPad(kek, pt)
			if err != nil {
				t.Fatal(err)
			}
			if want := 8 * ((m+7)/8 + 1); len(ct) != want {
				t.Fatalf("len(WrapPad(%d bytes)) = %d, want %d", m, len(ct), want)
			}
			back, err := UnwrapPad(kek, ct)
			if err != nil || !bytes.Equal(back, pt) {
				t.Fatalf("kek %d, %d bytes: UnwrapPad = %x, %v", kekLen, m, back, err)
			}
			if _, err := UnwrapPad(other, ct); err != ErrInvalidCiphertext {
				t.Fatalf("kek %d, %d bytes: UnwrapPad with another key: %v", kekLen, m, err)
			}
		}
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func TestWrapPadArguments(t *testing.T) {
	if _, err := WrapPad(make([]byte, 32), nil); err == nil {
		t.Error("WrapPad of an empty plaintext succeeded")
	}
	for _, n := range []int{0, 8, 15, 17, 31, 33, 64} {
		if _, err := WrapPad(make([]byte, n), []byte("x")); err == nil {
			t.Errorf("WrapPad with a %d-byte KEK succeeded", n)
		}
		if _, err := UnwrapPad(make([]byte, n), make([]byte, 16)); err == nil || err == ErrInvalidCiphertext {
			t.Errorf("UnwrapPad with a %d-byte KEK: %v, want the KEK size error", n, err)
		}
	}
}

// Every single-bit change, every truncation and every extension of a
// wrapped key is refused, for the one-block (ECB) and the W forms.
func TestUnwrapPadTampering(t *testing.T) {
	kek := randomBytes(t, 32)
	for _, m := range []int{1, 8, 9, 32, 48, 121} {
		ct, err := WrapPad(kek, randomBytes(t, m))
		if err != nil {
			t.Fatal(err)
		}
		for bit := range 8 * len(ct) {
			c := bytes.Clone(ct)
			c[bit/8] ^= 1 << (bit % 8)
			if out, err := UnwrapPad(kek, c); err != ErrInvalidCiphertext || out != nil {
				t.Fatalf("%d bytes, bit %d flipped: %x, %v", m, bit, out, err)
			}
		}
		for l := range len(ct) {
			if out, err := UnwrapPad(kek, ct[:l]); err != ErrInvalidCiphertext || out != nil {
				t.Fatalf("%d bytes truncated to %d: %x, %v", m, l, out, err)
			}
		}
		for extra := 1; extra <= 24; extra++ {
			c := append(bytes.Clone(ct), randomBytes(t, extra)...)
			if out, err := UnwrapPad(kek, c); err != ErrInvalidCiphertext || out != nil {
				t.Fatalf("%d bytes extended by %d: %x, %v", m, extra, out, err)
			}
		}
	}
}

// wrapRaw wraps an arbitrary AIV ‖ padded plaintext, so that the checks on
// the decrypted value can be exercised one at a time.
func wrapRaw(t *testing.T, kek []byte, icv, mli uint32, padded []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(kek)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8+len(padded))
	binary.BigEndian.PutUint32(buf[0:4], icv)
	binary.BigEndian.PutUint32(buf[4:8], mli)
	copy(buf[8:], padded)
	if n := len(padded) / 8; n == 1 {
		block.Encrypt(buf, buf)
	} else {
		wrapW(block, buf, n)
	}
	return buf
}

func TestUnwrapPadChecks(t *testing.T) {
	kek := randomBytes(t, 32)
	good := func(n int, mli uint32) []byte { // n blocks, zero padding after mli
		p := randomBytes(t, 8*n)
		clear(p[mli:])
		return p
	}
	// Sanity: wrapRaw with valid values is what WrapPad makes.
	for _, c := range []struct {
		n   int
		mli uint32
	}{{1, 1}, {1, 8}, {2, 9}, {2, 16}, {5, 33}, {5, 40}} {
		p := good(c.n, c.mli)
		ct := wrapRaw(t, kek, kwpICV, c.mli, p)
		want, _ := WrapPad(kek, p[:c.mli])
		if !bytes.Equal(ct, want) {
			t.Fatalf("wrapRaw(n=%d, mli=%d) differs from WrapPad", c.n, c.mli)
		}
		if out, err := UnwrapPad(kek, ct); err != nil || !bytes.Equal(out, p[:c.mli]) {
			t.Fatalf("n=%d, mli=%d: %v", c.n, c.mli, err)
		}
	}
	bad := []struct {
		name   string
		icv    uint32
		mli    uint32
		padded []byte
	}{
		{"wrong constant", 0xA65959A7, 20, good(3, 20)},
		{"RFC 3394 constant", 0xA6A6A6A6, 20, good(3, 20)},
		{"MLI zero, one block", kwpICV, 0, good(1, 0)},
		{"MLI zero", kwpICV, 0, good(3, 0)},
		{"MLI one block short", kwpICV, 16, good(3, 16)},
		{"MLI far too short", kwpICV, 1, good(3, 1)},
		{"MLI past the end", kwpICV, 25, good(3, 24)},
		{"MLI past the end, one block", kwpICV, 9, good(1, 8)},
		{"MLI huge", kwpICV, 0xFFFFFFFF, good(3, 24)},
		{"MLI 2^31", kwpICV, 1 << 31, good(3, 24)},
	}
	for i := range 7 { // one non-zero padding octet at each padding position
		p := good(3, 17)
		p[17+i] = 0x80
		bad = append(bad, struct {
			name   string
			icv    uint32
			mli    uint32
			padded []byte
		}{fmt.Sprintf("padding octet %d non-zero", i), kwpICV, 17, p})
	}
	p := good(1, 3)
	p[7] = 1
	bad = append(bad, struct {
		name   string
		icv    uint32
		mli    uint32
		padded []byte
	}{"padding non-zero, one block", kwpICV, 3, p})
	for _, c := range bad {
		ct := wrapRaw(t, kek, c.icv, c.mli, c.padded)
		if out, err := UnwrapPad(kek, ct); err != ErrInvalidCiphertext || out != nil {
			t.Errorf("%s: %x, %v", c.name, out, err)
		}
	}
}

func TestCtLessOrEq(t *testing.T) {
	vals := []uint64{0, 1, 2, 7, 8, 9, 1<<31 - 1, 1 << 31, 1<<32 - 1, 1 << 32, 1<<62 - 1}
	for _, x := range vals {
		for _, y := range vals {
			want := 0
			if x <= y {
				want = 1
			}
			if got := ctLessOrEq(x, y); got != want {
				t.Errorf("ctLessOrEq(%d, %d) = %d", x, y, got)
			}
		}
	}
}

// OpenSSL's AES-KWP (the tool AWS's instructions use) and ours agree in
// both directions, for each key size and every length class.
func TestWrapPadOpenSSL(t *testing.T) {
	lengths := []int{1, 2, 7, 8, 9, 15, 16, 17, 24, 28, 32, 33, 48, 64, 65, 121, 1217}
	for _, kekLen := range []int{16, 24, 32} {
		kek := randomBytes(t, kekLen)
		for _, m := range lengths {
			pt := randomBytes(t, m)
			theirs := opensslWrapPad(t, kek, pt)
			ours, err := WrapPad(kek, pt)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(theirs, ours) {
				t.Fatalf("kek %d, %d bytes: openssl %x, ours %x", kekLen, m, theirs, ours)
			}
			back, err := UnwrapPad(kek, theirs)
			if err != nil || !bytes.Equal(back, pt) {
				t.Fatalf("kek %d, %d bytes: UnwrapPad(openssl's) = %v", kekLen, m, err)
			}
			back, err = opensslUnwrapPad(t, kek, ours)
			if err != nil || !bytes.Equal(back, pt) {
				t.Fatalf("kek %d, %d bytes: openssl unwrap of ours: %v", kekLen, m, err)
			}
		}
	}
	// OpenSSL also refuses what we refuse: a flipped bit.
	kek := randomBytes(t, 32)
	ct, _ := WrapPad(kek, randomBytes(t, 20))
	ct[3] ^= 4
	if _, err := opensslUnwrapPad(t, kek, ct); err == nil {
		t.Error("openssl unwrapped a tampered ciphertext")
	}
}

func TestUnwrapPadErrorText(t *testing.T) {
	kek := randomBytes(t, 32)
	_, err := UnwrapPad(kek, make([]byte, 40))
	if !errors.Is(err, ErrInvalidCiphertext) || err.Error() != "keyimport: invalid ciphertext" {
		t.Fatalf("err = %v", err)
	}
}
