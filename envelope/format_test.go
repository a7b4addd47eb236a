package envelope

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"testing"
)

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestRoundTripSizes(t *testing.T) {
	ctx := context.Background()
	kr := newStaticKeyring()
	for _, suite := range []*AlgorithmSuite{SuiteCommitKeyECDSAP384, SuiteCommitKey} {
		for _, fl := range []int{1, 7, 4096, 1 << 20} {
			for _, n := range []int{0, 1, 6, 7, 8, 4095, 4096, 4097, 3 * 4096, 1<<20 + 5, 3 << 20} {
				if n/fl > 20000 {
					continue
				}
				name := fmt.Sprintf("%04x/frame%d/len%d", suite.ID, fl, n)
				pt := randBytes(n)
				msg, _, err := Encrypt(ctx, pt, EncryptConfig{Keyring: kr, Suite: suite, FrameLength: fl, Context: map[string]string{"a": "b"}})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				got, h, err := Decrypt(ctx, msg, DecryptConfig{Keyring: kr, Context: map[string]string{"a": "b"}})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !bytes.Equal(got, pt) {
					t.Fatalf("%s: plaintext differs", name)
				}
				if h.Suite != suite || h.FrameLength != uint32(fl) {
					t.Fatalf("%s: header %v %d", name, h.Suite, h.FrameLength)
				}
			}
		}
	}
}

// TestStreamingWriteSizes writes in odd chunk sizes through Write and ReadFrom.
func TestStreamingChunks(t *testing.T) {
	ctx := context.Background()
	kr := newStaticKeyring()
	pt := randBytes(5<<20 + 123)
	for _, mode := range []string{"write", "readfrom"} {
		var msg bytes.Buffer
		e, err := NewEncryptor(ctx, &msg, EncryptConfig{Keyring: kr, FrameLength: 64 << 10})
		if err != nil {
			t.Fatal(err)
		}
		if mode == "write" {
			for p := pt; len(p) > 0; {
				n := min(len(p), 1000+len(p)%77777)
				if _, err := e.Write(p[:n]); err != nil {
					t.Fatal(err)
				}
				p = p[n:]
			}
		} else if _, err := e.ReadFrom(io.LimitReader(bytes.NewReader(pt), int64(len(pt)))); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		d, err := NewDecryptor(ctx, bytes.NewReader(msg.Bytes()), DecryptConfig{Keyring: kr})
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if mode == "write" {
			_, err = io.Copy(&got, d)
		} else {
			_, err = io.CopyBuffer(&got, struct{ io.Reader }{d}, make([]byte, 333))
		}
		if err != nil {
			t.Fatal(mode, err)
		}
		d.Close()
		if !bytes.Equal(got.Bytes(), pt) {
			t.Fatal(mode, "plaintext differs")
		}
	}
}

// TestBitFlips flips bits all over a small message, for both suites: each
// must be refused, and no plaintext may come out of a refused message.
func TestBitFlips(t *testing.T) {
	ctx := context.Background()
	kr := newStaticKeyring()
	for _, suite := range []*AlgorithmSuite{SuiteCommitKeyECDSAP384, SuiteCommitKey} {
		pt := randBytes(40)
		msg, _, err := Encrypt(ctx, pt, EncryptConfig{Keyring: kr, Suite: suite, FrameLength: 16, Context: map[string]string{"purpose": "test"}})
		if err != nil {
			t.Fatal(err)
		}
		// Every bit of the unsigned message; for the signed one, whose every
		// refusal may cost a signature check, one bit of every byte.
		step := 1
		if suite.Signed() {
			step = 9
		}
		for i := 0; i < len(msg)*8; i += step {
			bad := bytes.Clone(msg)
			bad[i/8] ^= 1 << (i % 8)
			got, _, err := Decrypt(ctx, bad, DecryptConfig{Keyring: kr})
			if err == nil {
				t.Fatalf("suite %04x: flipping bit %d of %d was not noticed", suite.ID, i, len(msg)*8)
			}
			if got != nil {
				t.Fatalf("plaintext returned with an error")
			}
		}
		// Truncations and an extra byte.
		for n := 0; n < len(msg); n++ {
			if _, _, err := Decrypt(ctx, msg[:n], DecryptConfig{Keyring: kr}); err == nil {
				t.Fatalf("truncated to %d bytes: no error", n)
			}
		}
		if _, _, err := Decrypt(ctx, append(bytes.Clone(msg), 0), DecryptConfig{Keyring: kr}); !errors.Is(err, ErrMalformed) {
			t.Fatalf("trailing byte: %v", err)
		}
	}
}

func TestContextRules(t *testing.T) {
	ctx := context.Background()
	kr := newStaticKeyring()
	ec := map[string]string{"tenant": "a", "purpose": "backup"}
	msg, _, err := Encrypt(ctx, []byte("data"), EncryptConfig{Keyring: kr, Context: ec})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		ctx  map[string]string
		ok   bool
	}{
		{"none", nil, true},
		{"subset", map[string]string{"tenant": "a"}, true},
		{"all", ec, true},
		{"wrong value", map[string]string{"tenant": "b"}, false},
		{"missing pair", map[string]string{"other": "x"}, false},
	} {
		_, _, err := Decrypt(ctx, msg, DecryptConfig{Keyring: kr, Context: c.ctx})
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v", c.name, err)
		}
	}
	if _, _, err := Encrypt(ctx, nil, EncryptConfig{Keyring: kr, Context: map[string]string{"aws-crypto-public-key": "x"}}); err == nil {
		t.Error("reserved key accepted")
	}
	if _, _, err := Encrypt(ctx, nil, EncryptConfig{Keyring: kr, Context: map[string]string{"aws-crypto-other": "x"}}); err == nil {
		t.Error("reserved prefix accepted")
	}

	// Required keys: authenticated, not stored, and needed to decrypt.
	msg, h, err := Encrypt(ctx, []byte("data"), EncryptConfig{Keyring: kr, Context: ec, RequiredContextKeys: []string{"tenant"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, stored := h.Context["tenant"]; stored {
		t.Fatal("required key stored in the header")
	}
	if bytes.Contains(msg, []byte("tenant")) {
		t.Fatal("required key in the message bytes")
	}
	if _, _, err := Decrypt(ctx, msg, DecryptConfig{Keyring: kr}); err == nil {
		t.Error("decrypted without the required pair")
	}
	if _, _, err := Decrypt(ctx, msg, DecryptConfig{Keyring: kr, Context: map[string]string{"tenant": "b"}}); err == nil {
		t.Error("decrypted with a wrong required pair")
	}
	if _, _, err := Decrypt(ctx, msg, DecryptConfig{Keyring: kr, Context: map[string]string{"tenant": "a"}}); err != nil {
		t.Errorf("with the required pair: %v", err)
	}
	if _, _, err := Encrypt(ctx, nil, EncryptConfig{Keyring: kr, Context: ec, RequiredContextKeys: []string{"absent"}}); err == nil {
		t.Error("required key absent from the context accepted")
	}
}

func TestLimits(t *testing.T) {
	ctx := context.Background()
	kr := newStaticKeyring()
	msg, _, err := Encrypt(ctx, []byte("data"), EncryptConfig{Keyring: multiKeyring{kr, kr, kr}, Suite: SuiteCommitKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Decrypt(ctx, msg, DecryptConfig{Keyring: kr, MaxEncryptedDataKeys: 2}); !errors.Is(err, ErrPolicy) {
		t.Errorf("3 keys with a limit of 2: %v", err)
	}
	if _, _, err := Decrypt(ctx, msg, DecryptConfig{Keyring: kr, MaxEncryptedDataKeys: 3}); err != nil {
		t.Errorf("3 keys with a limit of 3: %v", err)
	}
	if _, _, err := Encrypt(ctx, nil, EncryptConfig{Keyring: multiKeyring{kr, kr, kr}, MaxEncryptedDataKeys: 2}); err == nil {
		t.Error("encrypt with more keys than the limit")
	}
	signed, _, _ := Encrypt(ctx, []byte("data"), EncryptConfig{Keyring: kr})
	if _, _, err := Decrypt(ctx, signed, DecryptConfig{Keyring: kr, RefuseSigned: true}); !errors.Is(err, ErrPolicy) {
		t.Errorf("RefuseSigned: %v", err)
	}
	big, _, _ := Encrypt(ctx, []byte("data"), EncryptConfig{Keyring: kr, FrameLength: 1 << 20})
	if _, _, err := Decrypt(ctx, big, DecryptConfig{Keyring: kr, MaxFrameLength: 1 << 19}); !errors.Is(err, ErrPolicy) {
		t.Errorf("MaxFrameLength: %v", err)
	}
	// A bound on the plaintext is enforced.
	var out bytes.Buffer
	e, err := NewEncryptor(ctx, &out, EncryptConfig{Keyring: kr, MaxPlaintextLength: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Write(make([]byte, 11)); err == nil {
		t.Error("write past the bound accepted")
	}
	if err := e.Close(); err == nil {
		t.Error("close after a refused write succeeded")
	}
}

// multiKeyring runs several keyrings: the first makes the data key.
type multiKeyring []Keyring

func (m multiKeyring) OnEncrypt(ctx context.Context, mat *EncryptionMaterials) error {
	for _, k := range m {
		if err := k.OnEncrypt(ctx, mat); err != nil {
			return err
		}
	}
	return nil
}

func (m multiKeyring) OnDecrypt(ctx context.Context, mat *DecryptionMaterials, keys []EncryptedDataKey) error {
	return m[0].OnDecrypt(ctx, mat, keys)
}

// A source that fails must not leave a message that looks complete.
func TestReadFromErrorIsSticky(t *testing.T) {
	kr := newStaticKeyring()
	var out bytes.Buffer
	e, err := NewEncryptor(context.Background(), &out, EncryptConfig{Keyring: kr})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk on fire")
	if _, err := e.ReadFrom(io.MultiReader(bytes.NewReader(make([]byte, 100)), iotestErr{boom})); !errors.Is(err, boom) {
		t.Fatalf("ReadFrom: %v", err)
	}
	if err := e.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close after a failed source: %v", err)
	}
}

type iotestErr struct{ err error }

func (r iotestErr) Read([]byte) (int, error) { return 0, r.err }
