package envelope

import (
	"bytes"
	"context"
	"crypto/sha512"
	"io"
	"testing"
)

const benchSize = 64 << 20

// BenchmarkRawAESGCM is the ceiling: AES-256-GCM sealing 1 MiB chunks on one core.
func BenchmarkRawAESGCM(b *testing.B) {
	aead, _ := newGCM(make([]byte, 32))
	pt := make([]byte, 1<<20)
	out := make([]byte, 0, len(pt)+tagLen)
	iv := make([]byte, ivLen)
	b.SetBytes(int64(len(pt)))
	for b.Loop() {
		out = aead.Seal(out[:0], iv, pt, nil)
	}
}

// BenchmarkRawSHA384 is the signature hash on one core.
func BenchmarkRawSHA384(b *testing.B) {
	h := sha512.New384()
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		h.Write(buf)
	}
}

func benchEncrypt(b *testing.B, suite *AlgorithmSuite, frame int) {
	ctx := context.Background()
	kr := newStaticKeyring()
	pt := make([]byte, benchSize)
	b.SetBytes(benchSize)
	for b.Loop() {
		e, err := NewEncryptor(ctx, io.Discard, EncryptConfig{Keyring: kr, Suite: suite, FrameLength: frame})
		if err != nil {
			b.Fatal(err)
		}
		e.ReadFrom(bytes.NewReader(pt))
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func benchDecrypt(b *testing.B, suite *AlgorithmSuite, frame int) {
	ctx := context.Background()
	kr := newStaticKeyring()
	msg, _, err := Encrypt(ctx, make([]byte, benchSize), EncryptConfig{Keyring: kr, Suite: suite, FrameLength: frame})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchSize)
	for b.Loop() {
		d, err := NewDecryptor(ctx, bytes.NewReader(msg), DecryptConfig{Keyring: kr})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
		d.Close()
	}
}

func BenchmarkEncryptSigned(b *testing.B) {
	benchEncrypt(b, SuiteCommitKeyECDSAP384, DefaultFrameLength)
}
func BenchmarkEncryptUnsigned(b *testing.B)     { benchEncrypt(b, SuiteCommitKey, DefaultFrameLength) }
func BenchmarkEncryptUnsigned4KiB(b *testing.B) { benchEncrypt(b, SuiteCommitKey, 4096) }
func BenchmarkDecryptSigned(b *testing.B) {
	benchDecrypt(b, SuiteCommitKeyECDSAP384, DefaultFrameLength)
}
func BenchmarkDecryptUnsigned(b *testing.B)     { benchDecrypt(b, SuiteCommitKey, DefaultFrameLength) }
func BenchmarkDecryptUnsigned4KiB(b *testing.B) { benchDecrypt(b, SuiteCommitKey, 4096) }
