//go:build !cgo

package rootkey

import "fmt"

// PKCS11Supported reports whether this build can use a PKCS#11 root key.
// It needs cgo (the module is loaded with dlopen); this build has none.
const PKCS11Supported = false

// PKCS11 is a root key held in a PKCS#11 token. This build was made with
// CGO_ENABLED=0, so none can be opened; the type exists so that callers
// compile the same way in both builds.
type PKCS11 struct{}

var _ Wrapper = (*PKCS11)(nil)

func unsupported() error { return fmt.Errorf("rootkey: %w", ErrPKCS11Unsupported) }

// OpenPKCS11 returns ErrPKCS11Unsupported in this build.
func OpenPKCS11(PKCS11Config) (*PKCS11, error) { return nil, unsupported() }

// GeneratePKCS11Key returns ErrPKCS11Unsupported in this build.
func GeneratePKCS11Key(PKCS11Config) (*PKCS11, error) { return nil, unsupported() }

// ID is empty: no PKCS11 exists in this build.
func (*PKCS11) ID() string { return "" }

// Wrap returns ErrPKCS11Unsupported.
func (*PKCS11) Wrap(plaintext, aad []byte) ([]byte, error) { return nil, unsupported() }

// Unwrap returns ErrUnwrap.
func (*PKCS11) Unwrap(wrapped, aad []byte) ([]byte, error) { return nil, ErrUnwrap }

// Close does nothing.
func (*PKCS11) Close() error { return nil }
