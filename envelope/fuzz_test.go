package envelope

import (
	"bytes"
	"context"
	"testing"
)

// fuzzKeyring has a fixed data key, so that the corpus stays meaningful
// from one run to the next.
var fuzzKeyring = &staticKeyring{key: bytes.Repeat([]byte{0x42}, 32)}

func fuzzSeeds(f *testing.F) {
	ctx := context.Background()
	for _, suite := range []*AlgorithmSuite{SuiteCommitKeyECDSAP384, SuiteCommitKey} {
		for _, n := range []int{0, 5, 40} {
			msg, _, err := Encrypt(ctx, bytes.Repeat([]byte("p"), n), EncryptConfig{
				Keyring: fuzzKeyring, Suite: suite, FrameLength: 16, Context: map[string]string{"a": "b", "c": ""},
			})
			if err != nil {
				f.Fatal(err)
			}
			f.Add(msg)
		}
	}
	f.Add([]byte{0x02, 0x05, 0x78})
	f.Add([]byte{0x01, 0x80, 0x03, 0x78})
}

// FuzzParseHeader: any input either fails to parse or parses into a header
// that serializes back to the bytes read.
func FuzzParseHeader(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHeader(bytes.NewReader(data), HeaderLimits{MaxHeaderLength: 1 << 16})
		if err != nil {
			return
		}
		body, err := h.serializeBody()
		if err != nil {
			t.Fatalf("parsed header does not serialize: %v", err)
		}
		if !bytes.Equal(body, h.body) {
			t.Fatalf("header body does not round-trip:\n read %x\nwrote %x", h.body, body)
		}
		if !bytes.HasPrefix(data, h.Bytes()) {
			t.Fatal("header bytes are not a prefix of the input")
		}
	})
}

// FuzzDecrypt: decrypting any input neither panics nor returns plaintext
// with an error; what it accepts re-encrypts to a message that decrypts to
// the same plaintext.
func FuzzDecrypt(f *testing.F) {
	fuzzSeeds(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		pt, _, err := Decrypt(ctx, data, DecryptConfig{Keyring: fuzzKeyring, MaxFrameLength: 1 << 16, MaxHeaderLength: 1 << 16, Concurrency: 2})
		if err != nil {
			if pt != nil {
				t.Fatal("plaintext returned with an error")
			}
			return
		}
		msg, _, err := Encrypt(ctx, pt, EncryptConfig{Keyring: fuzzKeyring, FrameLength: 16})
		if err != nil {
			t.Fatal(err)
		}
		again, _, err := Decrypt(ctx, msg, DecryptConfig{Keyring: fuzzKeyring})
		if err != nil || !bytes.Equal(again, pt) {
			t.Fatalf("re-encrypted plaintext does not round-trip: %v", err)
		}
	})
}
