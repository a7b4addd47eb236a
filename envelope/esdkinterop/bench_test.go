package esdkinterop

import (
	"bytes"
	"context"
	"io"
	"testing"

	mpltypes "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygeneratedtypes"

	"github.com/trent-kms/trent/envelope"
	"github.com/trent-kms/trent/envelope/internal/trenttest"
)

// The same work for the official SDK and for the envelope package: one
// message of benchSize bytes, one KMS key on an in-process trent.
const benchSize = 64 << 20

type benchEnv struct {
	o   *official
	key string
	kr  mpltypes.IKeyring
	c   envelope.KMSClient
}

func newBenchEnv(b *testing.B) *benchEnv {
	_, c := trenttest.Start(b)
	key := trenttest.CreateKey(b, c)
	o := newOfficial(&testing.T{}, c)
	return &benchEnv{o: o, key: key, kr: o.keyring(key), c: c}
}

func benchOfficialEncrypt(b *testing.B, suite *envelope.AlgorithmSuite, frame int64) {
	env := newBenchEnv(b)
	pt := make([]byte, benchSize)
	b.SetBytes(benchSize)
	for b.Loop() {
		env.o.encrypt(pt, suite, frame, nil, env.kr)
	}
}

func benchOfficialDecrypt(b *testing.B, suite *envelope.AlgorithmSuite, frame int64) {
	env := newBenchEnv(b)
	msg := env.o.encrypt(make([]byte, benchSize), suite, frame, nil, env.kr)
	b.SetBytes(benchSize)
	for b.Loop() {
		if _, err := env.o.decrypt(msg, nil, env.kr); err != nil {
			b.Fatal(err)
		}
	}
}

func benchTrentEncrypt(b *testing.B, suite *envelope.AlgorithmSuite, frame int) {
	env := newBenchEnv(b)
	pt := make([]byte, benchSize)
	kr := &envelope.KMSKeyring{Client: env.c, Generator: env.key}
	b.SetBytes(benchSize)
	for b.Loop() {
		e, err := envelope.NewEncryptor(context.Background(), io.Discard, envelope.EncryptConfig{Keyring: kr, Suite: suite, FrameLength: frame})
		if err != nil {
			b.Fatal(err)
		}
		e.ReadFrom(bytes.NewReader(pt))
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func benchTrentDecrypt(b *testing.B, suite *envelope.AlgorithmSuite, frame int) {
	env := newBenchEnv(b)
	kr := &envelope.KMSKeyring{Client: env.c, Generator: env.key, KeyIDs: []string{env.key}}
	msg, _, err := envelope.Encrypt(context.Background(), make([]byte, benchSize), envelope.EncryptConfig{Keyring: &envelope.KMSKeyring{Client: env.c, Generator: env.key}, Suite: suite, FrameLength: frame})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchSize)
	for b.Loop() {
		d, err := envelope.NewDecryptor(context.Background(), bytes.NewReader(msg), envelope.DecryptConfig{Keyring: kr})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
		d.Close()
	}
}

var (
	signed   = envelope.SuiteCommitKeyECDSAP384
	unsigned = envelope.SuiteCommitKey
)

func BenchmarkOfficialEncryptSigned4KiB(b *testing.B)   { benchOfficialEncrypt(b, signed, 4096) }
func BenchmarkOfficialEncryptUnsigned4KiB(b *testing.B) { benchOfficialEncrypt(b, unsigned, 4096) }
func BenchmarkOfficialEncryptUnsigned1MiB(b *testing.B) { benchOfficialEncrypt(b, unsigned, 1<<20) }
func BenchmarkOfficialDecryptSigned4KiB(b *testing.B)   { benchOfficialDecrypt(b, signed, 4096) }
func BenchmarkOfficialDecryptUnsigned4KiB(b *testing.B) { benchOfficialDecrypt(b, unsigned, 4096) }
func BenchmarkOfficialDecryptUnsigned1MiB(b *testing.B) { benchOfficialDecrypt(b, unsigned, 1<<20) }
func BenchmarkTrentEncryptSigned1MiB(b *testing.B)      { benchTrentEncrypt(b, signed, 1<<20) }
func BenchmarkTrentEncryptUnsigned4KiB(b *testing.B)    { benchTrentEncrypt(b, unsigned, 4096) }
func BenchmarkTrentEncryptUnsigned1MiB(b *testing.B)    { benchTrentEncrypt(b, unsigned, 1<<20) }
func BenchmarkTrentDecryptSigned1MiB(b *testing.B)      { benchTrentDecrypt(b, signed, 1<<20) }
func BenchmarkTrentDecryptUnsigned4KiB(b *testing.B)    { benchTrentDecrypt(b, unsigned, 4096) }
func BenchmarkTrentDecryptUnsigned1MiB(b *testing.B)    { benchTrentDecrypt(b, unsigned, 1<<20) }
func BenchmarkOfficialEncryptSigned1MiB(b *testing.B)   { benchOfficialEncrypt(b, signed, 1<<20) }
func BenchmarkOfficialDecryptSigned1MiB(b *testing.B)   { benchOfficialDecrypt(b, signed, 1<<20) }
