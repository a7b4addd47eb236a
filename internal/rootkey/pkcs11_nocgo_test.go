//go:build !cgo

package rootkey

import (
	"errors"
	"strings"
	"testing"
)

// Without cgo there is no PKCS#11, and a config that asks for it gets a
// message that says why.
func TestPKCS11Unsupported(t *testing.T) {
	if PKCS11Supported {
		t.Fatal("PKCS11Supported in a build without cgo")
	}
	cfg := PKCS11Config{Module: "/usr/lib/softhsm/libsofthsm2.so", TokenLabel: "t", PinFile: "/p", KeyLabel: "k"}
	for name, open := range map[string]func(PKCS11Config) (*PKCS11, error){
		"OpenPKCS11":        OpenPKCS11,
		"GeneratePKCS11Key": GeneratePKCS11Key,
	} {
		_, err := open(cfg)
		if !errors.Is(err, ErrPKCS11Unsupported) || !strings.Contains(err.Error(), "this trent was built without PKCS#11 support (CGO_ENABLED=0)") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
