package rootkey

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// PKCS11Config names a root key kept in a PKCS#11 token. All four fields
// are required. It is the "pkcs11" member of the config's "root_key".
type PKCS11Config struct {
	// Module is the absolute path of the vendor's PKCS#11 library, for
	// example /usr/lib/softhsm/libsofthsm2.so. A bare name is refused so
	// that the library search path cannot choose which code holds the PIN.
	Module string `json:"module"`
	// TokenLabel is the label of the token (at most 32 bytes); the slot is
	// found by it on every (re)connect, since slot numbers can change.
	TokenLabel string `json:"token_label"`
	// PinFile is a file holding the user PIN, mode 0600 or stricter. One
	// trailing newline is ignored. It is read at open and again whenever
	// trent has to log in again, and the PIN is not kept in between.
	PinFile string `json:"pin_file"`
	// KeyLabel is the CKA_LABEL of the AES-256 secret key in the token.
	KeyLabel string `json:"key_label"`
}

// Errors from OpenPKCS11 and GeneratePKCS11Key, for errors.Is. The
// returned errors wrap them with the module, token and key label.
var (
	// ErrPKCS11Unsupported: this binary was built without cgo.
	ErrPKCS11Unsupported = errors.New("this trent was built without PKCS#11 support (CGO_ENABLED=0)")
	// ErrTokenNotFound: no token with the configured label is present.
	ErrTokenNotFound = errors.New("PKCS#11 token not found")
	// ErrKeyNotFound: the token has no secret key with the configured label.
	ErrKeyNotFound = errors.New("PKCS#11 root key not found")
	// ErrKeyExists: GeneratePKCS11Key found a key with that label already.
	ErrKeyExists = errors.New("PKCS#11 root key already exists")
	// ErrPINIncorrect: the token refused the PIN from the PIN file.
	ErrPINIncorrect = errors.New("PKCS#11 PIN incorrect")
	// ErrKeyUnsuitable: the key is not an AES-256 key that is sensitive,
	// non-extractable, private and allowed to encrypt and decrypt.
	ErrKeyUnsuitable = errors.New("PKCS#11 root key unsuitable")
)

// maxPINFileSize bounds what is read from a PIN file: PKCS#11 PINs are
// short, and a big file there is a mistake.
const maxPINFileSize = 1024

// Check reports a configuration that cannot work, before anything is
// loaded (the config file's checks use it); OpenPKCS11 runs it too.
func (c PKCS11Config) Check() error { return c.check() }

// check reports a configuration that cannot work before anything is loaded.
func (c PKCS11Config) check() error {
	switch {
	case c.Module == "":
		return errors.New("rootkey: pkcs11: module is required")
	case !filepath.IsAbs(c.Module):
		return fmt.Errorf("rootkey: pkcs11: module %q must be an absolute path", c.Module)
	case c.TokenLabel == "":
		return errors.New("rootkey: pkcs11: token_label is required")
	case len(c.TokenLabel) > 32:
		return fmt.Errorf("rootkey: pkcs11: token_label %q is longer than the 32 bytes a PKCS#11 token label has", c.TokenLabel)
	case c.PinFile == "":
		return errors.New("rootkey: pkcs11: pin_file is required")
	case c.KeyLabel == "":
		return errors.New("rootkey: pkcs11: key_label is required")
	}
	return nil
}

// readPINFile reads the PIN with the checks OpenFile applies to key files:
// a regular file that grants nothing to group or others.
func readPINFile(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("rootkey: pkcs11: opening PIN file: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return "", fmt.Errorf("rootkey: pkcs11: stat PIN file %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("rootkey: pkcs11: PIN file %s is not a regular file (mode %v)", path, st.Mode())
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("rootkey: pkcs11: PIN file %s has mode %04o; it must not be accessible to group or others (chmod 600 %s)", path, perm, path)
	}
	buf, err := io.ReadAll(io.LimitReader(fh, maxPINFileSize+1))
	defer clear(buf)
	if err != nil {
		return "", fmt.Errorf("rootkey: pkcs11: reading PIN file %s: %w", path, err)
	}
	if len(buf) > maxPINFileSize {
		return "", fmt.Errorf("rootkey: pkcs11: PIN file %s is over %d bytes", path, maxPINFileSize)
	}
	// Files written with echo end in a newline that is not part of the PIN.
	pin := buf
	if bytes.HasSuffix(pin, []byte("\r\n")) {
		pin = pin[:len(pin)-2]
	} else if bytes.HasSuffix(pin, []byte("\n")) {
		pin = pin[:len(pin)-1]
	}
	if len(pin) == 0 {
		return "", fmt.Errorf("rootkey: pkcs11: PIN file %s is empty", path)
	}
	return string(pin), nil
}
