package ciphertext

import (
	"bytes"
	"testing"
)

// FuzzParse feeds arbitrary bytes to ParseHeader and Open. Neither may
// panic; Open must reject everything (a random blob cannot authenticate);
// a blob that parses must re-encode to its own header prefix.
func FuzzParse(f *testing.F) {
	m := mustKey(f, seq(0x00, 32))
	f.Add(mustSeal(f, m, testHeader(), []byte("seed"), map[string]string{"a": "b"}))
	f.Add([]byte{})
	f.Add([]byte{Version, 1, 'k'})
	f.Add(append([]byte{Version, 1, 'k'}, make([]byte, 80)...))
	f.Fuzz(func(t *testing.T, blob []byte) {
		h, err := ParseHeader(blob)
		if err != nil {
			if err != ErrInvalid {
				t.Fatalf("ParseHeader error %v is not ErrInvalid", err)
			}
		} else {
			if len(blob) < Overhead(len(h.KeyID)) {
				t.Fatalf("ParseHeader accepted a %d-byte blob for a %d-byte key id", len(blob), len(h.KeyID))
			}
			var hdr []byte
			hdr = append(hdr, blob[0], byte(len(h.KeyID))) // either version
			hdr = append(hdr, h.KeyID...)
			hdr = append(hdr, h.MaterialID[:]...)
			if !bytes.HasPrefix(blob, hdr) {
				t.Fatalf("header %+v does not re-encode to the blob prefix", h)
			}
		}
		pt, err := Open(m, blob, nil)
		if err != ErrInvalid {
			t.Fatalf("Open(arbitrary) = %q, %v; want ErrInvalid", pt, err)
		}
	})
}

// FuzzOpen seals fuzzed inputs and checks that ParseHeader(Seal(...))
// round-trips, that Open returns the plaintext, and that the blob with one
// fuzz-chosen byte changed fails with ErrInvalid.
func FuzzOpen(f *testing.F) {
	f.Add(testKeyID, []byte("hello"), "k", "v", uint16(0), byte(1))
	f.Add("mrk-1234abcd12ab34cd56ef1234567890ab", []byte{}, "", "", uint16(70), byte(0x80))
	f.Add("k", bytes.Repeat([]byte{0xff}, 300), "a", "bc", uint16(1), byte(0xff))
	f.Fuzz(func(t *testing.T, keyID string, pt []byte, k, v string, pos uint16, xor byte) {
		m := mustKey(t, seq(0x20, 32))
		h := Header{KeyID: keyID}
		copy(h.MaterialID[:], pt) // vary it a little
		ec := map[string]string{k: v}
		blob, err := Seal(m, h, pt, ec, nil)
		if !validKeyID(keyID) {
			if err == nil {
				t.Fatalf("Seal accepted key id %q", keyID)
			}
			return
		}
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		if len(blob) != len(pt)+Overhead(len(keyID)) {
			t.Fatalf("len(blob) = %d, want %d", len(blob), len(pt)+Overhead(len(keyID)))
		}
		got, err := ParseHeader(blob)
		if err != nil || got != h {
			t.Fatalf("ParseHeader(Seal(%+v)) = %+v, %v", h, got, err)
		}
		out, err := Open(m, blob, map[string]string{k: v})
		if err != nil || !bytes.Equal(out, pt) {
			t.Fatalf("Open = %x, %v; want %x", out, err, pt)
		}
		if xor != 0 {
			mod := bytes.Clone(blob)
			mod[int(pos)%len(mod)] ^= xor
			if out, err := Open(m, mod, ec); err != ErrInvalid {
				t.Fatalf("modified byte %d: Open = %x, %v", int(pos)%len(mod), out, err)
			}
		}
		if _, err := Open(m, blob, map[string]string{k: v + "x"}); err != ErrInvalid {
			t.Fatalf("wrong context: err = %v", err)
		}
	})
}
