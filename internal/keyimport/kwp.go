package keyimport

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
)

// kwpICV is the 32-bit Alternative Initial Value constant of RFC 5649
// section 3 (the high half of the AIV; the low half is the plaintext length).
const kwpICV = 0xA65959A6

// maxKWPCiphertext bounds the ciphertext UnwrapPad looks at. RFC 5649 allows
// plaintexts up to 2^32 − 1 bytes; ImportKeyMaterial blobs are at most a few
// KiB. The bound keeps every length computation below 2^31, where the
// constant-time comparisons below are defined.
const maxKWPCiphertext = 1 << 30

var (
	// errKEKSize: the key-encryption key is not 16, 24 or 32 bytes.
	errKEKSize = errors.New("keyimport: AES key-encryption key must be 16, 24 or 32 bytes")
	// errKWPPlaintext: WrapPad was given an empty or oversized plaintext.
	errKWPPlaintext = errors.New("keyimport: AES-KWP plaintext must be 1 to 2^30 bytes")
)

// WrapPad wraps plaintext under kek with AES Key Wrap with Padding (RFC 5649,
// NIST SP 800-38F KWP-AE). kek is an AES-128, -192 or -256 key; plaintext is
// 1 to 2^30 bytes. The output is 8·(⌈len/8⌉ + 1) bytes and deterministic.
func WrapPad(kek, plaintext []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, errKEKSize
	}
	m := len(plaintext)
	if m == 0 || m > maxKWPCiphertext-16 {
		return nil, errKWPPlaintext
	}
	n := (m + 7) / 8 // 64-bit blocks of padded plaintext
	// out = AIV ‖ P1 ‖ … ‖ Pn, the plaintext zero-padded; wrapped in place.
	out := make([]byte, 8*(n+1))
	binary.BigEndian.PutUint32(out[0:4], kwpICV)
	binary.BigEndian.PutUint32(out[4:8], uint32(m))
	copy(out[8:], plaintext)
	if n == 1 {
		// RFC 5649 section 4.1: one block of padded plaintext is encrypted
		// together with the AIV as a single AES block (ECB).
		block.Encrypt(out, out)
		return out, nil
	}
	wrapW(block, out, n)
	return out, nil
}

// UnwrapPad reverses WrapPad. Every failure on the ciphertext (length not a
// multiple of 8 or below 16, wrong integrity value, length indicator out of
// range, non-zero padding) is ErrInvalidCiphertext, decided in constant time
// once the ciphertext is decrypted; a kek of the wrong size is a distinct
// error. The result is a fresh slice.
func UnwrapPad(kek, ciphertext []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, errKEKSize
	}
	c := len(ciphertext)
	if c < 16 || c%8 != 0 || c > maxKWPCiphertext {
		return nil, ErrInvalidCiphertext
	}
	n := c/8 - 1
	buf := bytes.Clone(ciphertext)
	defer clear(buf)
	if n == 1 {
		block.Decrypt(buf, buf)
	} else {
		unwrapW(block, buf, n)
	}
	mli, ok := checkAIV(buf, n)
	if ok != 1 {
		return nil, ErrInvalidCiphertext
	}
	return bytes.Clone(buf[8 : 8+mli]), nil
}

// checkAIV verifies, without branching on secret data, the decrypted
// A ‖ P1 ‖ … ‖ Pn in buf against RFC 5649 section 3: the high 32 bits of A
// are the constant, the low 32 bits (MLI) satisfy 8·(n−1) < MLI ≤ 8·n, and
// the 8·n − MLI padding octets are zero. It returns MLI and 1 if all hold.
func checkAIV(buf []byte, n int) (mli int, ok int) {
	icv := binary.BigEndian.Uint32(buf[0:4])
	m := uint64(binary.BigEndian.Uint32(buf[4:8]))
	ok = subtle.ConstantTimeEq(int32(icv^kwpICV), 0)
	ok &= ctLessOrEq(uint64(8*(n-1)+1), m)
	ok &= ctLessOrEq(m, uint64(8*n))
	// In range, every padding octet lies in the last block, Pn. Octet p of
	// the padded plaintext must be zero when p ≥ MLI.
	last := 8 * (n - 1)
	for i := range 8 {
		p := uint64(last + i)
		isPad := ctLessOrEq(m, p)
		isZero := subtle.ConstantTimeByteEq(buf[8+last+i], 0)
		ok &= (isPad ^ 1) | isZero
	}
	return int(m), ok
}

// ctLessOrEq returns 1 if x ≤ y and 0 otherwise, in constant time, for x
// and y below 2^63.
func ctLessOrEq(x, y uint64) int {
	return int(((y - x) >> 63) ^ 1)
}

// wrapW is the wrapping process W of RFC 3394 section 2.2.1 (index-based
// form) with the initial value already in buf[0:8]: buf = A ‖ R1 ‖ … ‖ Rn is
// replaced by the ciphertext C0 ‖ C1 ‖ … ‖ Cn. n ≥ 2.
func wrapW(block cipher.Block, buf []byte, n int) {
	var b [16]byte
	copy(b[:8], buf[:8]) // A
	for j := range 6 {
		for i := 1; i <= n; i++ {
			r := buf[8*i : 8*i+8]
			copy(b[8:], r)
			block.Encrypt(b[:], b[:]) // B = AES(K, A ‖ R[i])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(b[:8])^t) // A = MSB64(B) ⊕ t
			copy(r, b[8:])                                                      // R[i] = LSB64(B)
		}
	}
	copy(buf[:8], b[:8])
	clear(b[:])
}

// unwrapW is the unwrapping process W⁻¹ of RFC 3394 section 2.2.2
// (index-based form): buf = C0 ‖ … ‖ Cn is replaced by A ‖ R1 ‖ … ‖ Rn, the
// integrity value left in buf[0:8] for the caller to check. n ≥ 2.
func unwrapW(block cipher.Block, buf []byte, n int) {
	var b [16]byte
	copy(b[:8], buf[:8]) // A = C0
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			r := buf[8*i : 8*i+8]
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(b[:8])^t) // A ⊕ t
			copy(b[8:], r)
			block.Decrypt(b[:], b[:]) // B = AES⁻¹(K, (A ⊕ t) ‖ R[i])
			copy(r, b[8:])            // R[i] = LSB64(B); A = MSB64(B) stays in b[:8]
		}
	}
	copy(buf[:8], b[:8])
	clear(b[:])
}
