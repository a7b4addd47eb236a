package keyimport

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// openssl runs the openssl command line tool with args and returns its
// standard output. The tests that use it are skipped where openssl is not
// installed (Debian's openssl 3 is, on the project's machines).
func openssl(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	out, err := tryOpenSSL(t, stdin, args...)
	if err != nil {
		t.Fatalf("openssl %v: %v", args, err)
	}
	return out
}

// tryOpenSSL is openssl that reports failure instead of failing the test.
func tryOpenSSL(t *testing.T, stdin []byte, args ...string) ([]byte, error) {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed")
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, &opensslError{err: err, stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}

type opensslError struct {
	err    error
	stderr string
}

func (e *opensslError) Error() string { return e.err.Error() + ": " + e.stderr }

// writeTemp writes data to a new file in a per-test temporary directory.
func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// kwpCipherName is OpenSSL's name for AES Key Wrap with Padding (RFC 5649)
// under a KEK of the given size.
func kwpCipherName(kek []byte) string {
	switch len(kek) {
	case 16:
		return "-id-aes128-wrap-pad"
	case 24:
		return "-id-aes192-wrap-pad"
	default:
		return "-id-aes256-wrap-pad"
	}
}

// opensslWrapPad wraps plaintext with `openssl enc -id-aesN-wrap-pad`, the
// command AWS's instructions use. -iv A65959A6 is the RFC 5649 constant.
func opensslWrapPad(t *testing.T, kek, plaintext []byte) []byte {
	t.Helper()
	return openssl(t, plaintext, "enc", kwpCipherName(kek), "-K", hex.EncodeToString(kek), "-iv", "A65959A6")
}

// opensslUnwrapPad unwraps with `openssl enc -d -id-aesN-wrap-pad`.
func opensslUnwrapPad(t *testing.T, kek, ciphertext []byte) ([]byte, error) {
	t.Helper()
	return tryOpenSSL(t, ciphertext, "enc", "-d", kwpCipherName(kek), "-K", hex.EncodeToString(kek), "-iv", "A65959A6")
}
