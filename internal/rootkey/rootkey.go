package rootkey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Wrapper wraps and unwraps key material under a root key.
// Implementations: a key file (dev), later PKCS#11 HSMs.
type Wrapper interface {
	// Wrap encrypts plaintext, binding aad.
	Wrap(plaintext, aad []byte) ([]byte, error)
	// Unwrap reverses Wrap. A modified blob, a different aad or a blob
	// from another root key gives ErrUnwrap.
	Unwrap(wrapped, aad []byte) ([]byte, error)
	// ID is a stable identifier of the root key, stored next to wrapped
	// blobs so the right root key can be found (and a wrong one noticed).
	ID() string
}

// ErrUnwrap is the only error Unwrap returns for a blob that does not
// authenticate: tampered, truncated, wrong aad, wrong root key, unknown
// version.
var ErrUnwrap = errors.New("rootkey: unwrap failed")

const (
	// KeySize is the size of a root key: AES-256.
	KeySize = 32

	wrapVersion = 0x01
	nonceSize   = 12
	tagSize     = 16

	// WrapOverhead is len(Wrap(p)) - len(p).
	WrapOverhead = 1 + nonceSize + tagSize // 29

	// idLabel domain-separates the key check value in File.ID.
	idLabel = "trent rootkey file id v1\x00"
)

// File is a root key kept in a file: 32 random bytes, file mode 0600. It
// keeps only the AES-GCM instance built from the key, never the raw bytes.
// It is safe for concurrent use.
type File struct {
	aead cipher.AEAD
	id   string
}

var _ Wrapper = (*File)(nil)

// LoadOrCreateFile opens the root key file at path, or creates it with 32
// fresh random bytes if it does not exist. A missing parent directory is
// created with mode 0700; the file is created with O_EXCL and mode 0600.
// An existing file is refused if it grants any permission to group or
// others, is not a regular file, or is not exactly 32 bytes.
func LoadOrCreateFile(path string) (*File, error) {
	f, err := OpenFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return f, err
	}
	f, err = CreateFile(path)
	if errors.Is(err, fs.ErrExist) {
		// Someone else created it between our open and create: use theirs.
		return OpenFile(path)
	}
	return f, err
}

// CreateFile creates a new root key file at path with 32 fresh random
// bytes, as LoadOrCreateFile does, but refuses (fs.ErrExist) if the file
// exists: for an init command, which must never replace a root key.
func CreateFile(path string) (*File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("rootkey: creating directory for %s: %w", path, err)
	}
	key := make([]byte, KeySize)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("rootkey: generating root key: %w", err)
	}
	if err := createExclusive(path, key); err != nil {
		return nil, err
	}
	return newFile(key)
}

// createExclusive writes key to a new file at path with mode 0600, failing
// if path exists. A partially written file is removed.
func createExclusive(path string, key []byte) (err error) {
	// Write a temporary file completely, then link it into place: the key
	// file appears whole or not at all, even if trent crashes or two
	// processes start at once (link fails if the name exists).
	fh, err := os.CreateTemp(filepath.Dir(path), ".root-key-*")
	if err != nil {
		return fmt.Errorf("rootkey: creating a file next to %s: %w", path, err)
	}
	tmp := fh.Name()
	defer os.Remove(tmp)
	// A default ACL on the directory can widen the mode; set it explicitly.
	if err := fh.Chmod(0o600); err != nil {
		fh.Close()
		return fmt.Errorf("rootkey: chmod %s: %w", tmp, err)
	}
	if _, err := fh.Write(key); err != nil {
		fh.Close()
		return fmt.Errorf("rootkey: writing %s: %w", tmp, err)
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return fmt.Errorf("rootkey: syncing %s: %w", tmp, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("rootkey: closing %s: %w", tmp, err)
	}
	if err := os.Link(tmp, path); err != nil {
		return fmt.Errorf("rootkey: creating %s: %w", path, err)
	}
	// Make the new directory entry durable too (best effort: not every
	// platform can fsync a directory).
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// OpenFile loads an existing root key file; see LoadOrCreateFile for the
// checks. A missing file gives an error matching fs.ErrNotExist.
func OpenFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rootkey: opening %s: %w", path, err)
	}
	defer fh.Close()
	// Check the opened file, not the path, so the checks and the read see
	// the same file.
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("rootkey: stat %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("rootkey: %s is not a regular file (mode %v)", path, st.Mode())
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("rootkey: %s has mode %04o; a root key file must not be accessible to group or others (chmod 600 %s)", path, perm, path)
	}
	if st.Size() != KeySize {
		return nil, fmt.Errorf("rootkey: %s is %d bytes; a root key file must be exactly %d bytes", path, st.Size(), KeySize)
	}
	// Read one byte more than needed to catch a file that grew after Stat.
	buf := make([]byte, KeySize+1)
	defer clear(buf)
	n, err := io.ReadFull(fh, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("rootkey: reading %s: %w", path, err)
	}
	if n != KeySize {
		return nil, fmt.Errorf("rootkey: %s is not exactly %d bytes", path, KeySize)
	}
	return newFile(buf[:KeySize])
}

// newFile builds a File from a 32-byte key. The caller may clear key
// afterwards.
func newFile(key []byte) (*File, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("rootkey: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("rootkey: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("rootkey: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(idLabel))
	h.Write(key)
	sum := h.Sum(nil)
	return &File{aead: aead, id: "file:" + hex.EncodeToString(sum[:8])}, nil
}

// ID returns "file:" followed by 16 hex digits: the first 8 bytes of
// SHA-256("trent rootkey file id v1" ‖ 0x00 ‖ key). It identifies the key
// without revealing it.
func (f *File) ID() string { return f.id }

// Wrap returns 0x01 ‖ nonce ‖ AES-256-GCM(root key, nonce, plaintext, aad).
func (f *File) Wrap(plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, 1+nonceSize, len(plaintext)+WrapOverhead)
	out[0] = wrapVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("rootkey: generating nonce: %w", err)
	}
	return f.aead.Seal(out, out[1:], plaintext, aad), nil
}

// Unwrap reverses Wrap. Every failure is ErrUnwrap.
func (f *File) Unwrap(wrapped, aad []byte) ([]byte, error) {
	if len(wrapped) < WrapOverhead || wrapped[0] != wrapVersion {
		return nil, ErrUnwrap
	}
	pt, err := f.aead.Open(nil, wrapped[1:1+nonceSize], wrapped[1+nonceSize:], aad)
	if err != nil {
		return nil, ErrUnwrap
	}
	return pt, nil
}
