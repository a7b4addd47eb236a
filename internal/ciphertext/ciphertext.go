package ciphertext

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// Format constants; see the package documentation for the layout.
const (
	Version1       = 0x01     // first byte of a v1 blob: K derived from the material itself
	Version2       = 0x02     // first byte of a v2 blob: K derived from the material's blob-key subkey
	Version        = Version2 // what Seal writes
	MaterialSize   = 32       // length of key material accepted by Seal and Open
	MaterialIDSize = 32       // length of a MaterialID
	NonceSize      = 16       // N, the KDF context
	IVSize         = 12       // AES-GCM nonce
	TagSize        = 16       // AES-GCM tag
	MaxKeyIDLen    = 255      // a key id is 1..MaxKeyIDLen bytes

	// FixedOverhead is the blob size minus plaintext and key id lengths:
	// version, key id length, material id, N, IV and tag.
	FixedOverhead = 1 + 1 + MaterialIDSize + NonceSize + IVSize + TagSize // 78

	// kdfLabel1 and kdfLabel2 are the SP 800-108 Labels of the per-blob
	// key derivation in each version.
	kdfLabel1 = "trent symmetric v1"
	kdfLabel2 = "trent symmetric v2"
	// blobKeyInfo is the HKDF info of the v2 blob-key subkey.
	blobKeyInfo = "trent blob key v2"
)

// Offsets relative to the end of the key id (2+L).
const (
	offMaterialID = 0
	offNonce      = offMaterialID + MaterialIDSize
	offIV         = offNonce + NonceSize
	offBody       = offIV + IVSize // = header length - (2+L)
)

// ErrInvalid is returned by Open and ParseHeader for any blob that is
// malformed, was modified, or does not open with the given material and
// encryption context. It is deliberately the only error for these cases.
var ErrInvalid = errors.New("ciphertext: invalid")

// ErrContextTooLarge is returned when an encryption context cannot be
// encoded: a key or value longer than 65535 bytes, or more than 65535 pairs.
var ErrContextTooLarge = errors.New("ciphertext: encryption context too large")

// MaterialID identifies one version of a KMS key's material (AWS calls its
// hex form KeyMaterialId).
type MaterialID [MaterialIDSize]byte

// String returns the 64-character lowercase hex form.
func (id MaterialID) String() string { return hex.EncodeToString(id[:]) }

// MarshalText encodes the ID as 64 lowercase hex digits.
func (id MaterialID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText is the inverse of MarshalText.
func (id *MaterialID) UnmarshalText(b []byte) error {
	parsed, err := ParseMaterialID(string(b))
	if err != nil {
		return err
	}
	*id = parsed
	return nil
}

// ParseMaterialID parses the 64-character hex form produced by String
// (either case).
func ParseMaterialID(s string) (MaterialID, error) {
	var id MaterialID
	if len(s) != 2*MaterialIDSize {
		return id, fmt.Errorf("ciphertext: material id must be %d hex characters, got %d", 2*MaterialIDSize, len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return MaterialID{}, fmt.Errorf("ciphertext: material id is not hex")
	}
	return id, nil
}

// Header is the cleartext, authenticated part of a blob.
type Header struct {
	KeyID      string     // bare key id, 1..255 bytes of printable ASCII
	MaterialID MaterialID // the material version the blob was sealed with
}

// Overhead returns len(blob) - len(plaintext) for a key id of keyIDLen bytes.
func Overhead(keyIDLen int) int { return FixedOverhead + keyIDLen }

// validKeyID reports whether id is an acceptable key id: 1..255 bytes of
// printable ASCII (0x21..0x7e). The key store owns the finer syntax (UUID
// or mrk-…); this only keeps control characters and spaces out of the
// header, since the parsed id may end up in logs and error messages.
func validKeyID[S string | []byte](id S) bool {
	if len(id) == 0 || len(id) > MaxKeyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// parse checks the framing of blob and returns the key id bytes (aliasing
// blob) and the header length. It does not allocate.
func parse(blob []byte) (keyID []byte, hdrLen int, ok bool) {
	if len(blob) < 2 || (blob[0] != Version1 && blob[0] != Version2) {
		return nil, 0, false
	}
	l := int(blob[1])
	if len(blob) < Overhead(l) { // header and tag must be present
		return nil, 0, false
	}
	keyID = blob[2 : 2+l]
	if !validKeyID(keyID) {
		return nil, 0, false
	}
	return keyID, 2 + l + offBody, true
}

// ParseHeader reads the header without decrypting; Decrypt uses it to find
// the key. Any malformed blob gives ErrInvalid. A blob that parses may still
// fail to Open.
func ParseHeader(blob []byte) (Header, error) {
	keyID, _, ok := parse(blob)
	if !ok {
		return Header{}, ErrInvalid
	}
	h := Header{KeyID: string(keyID)}
	copy(h.MaterialID[:], blob[2+len(keyID)+offMaterialID:])
	return h, nil
}

// deriveKey returns K = SP 800-108 counter-mode HMAC-SHA256 KDF of kdk
// (the material for v1, its blob-key subkey for v2) with the version's
// Label, Context nonce and L = 256 bits (a single PRF block):
//
//	K = HMAC-SHA256(kdk, [1]_32 ‖ Label ‖ 0x00 ‖ nonce ‖ [256]_32)
func deriveKey(kdk []byte, label string, nonce []byte) [32]byte {
	// Fixed input: Label ‖ 0x00 ‖ Context ‖ [L]_32. Both labels have the same length.
	const fixedLen = len(kdfLabel2) + 1 + NonceSize + 4
	var fixed [fixedLen]byte
	n := copy(fixed[:], label)
	fixed[n] = 0x00
	n++
	n += copy(fixed[n:], nonce[:NonceSize])
	binary.BigEndian.PutUint32(fixed[n:], 256)
	return kdfCounterBlock(kdk, 1, fixed[:])
}

// Key is one version of a symmetric key's material, ready for Seal and
// Open: the material (v1 blobs derive from it directly) and its blob-key
// subkey (v2 blobs derive from that). Wipe clears both.
type Key struct {
	material [MaterialSize]byte
	blobKey  [32]byte
}

// NewKey prepares 32 bytes of key material for Seal and Open. It computes
//
//	blobKey = HKDF-SHA256(IKM = material, salt = none, info = "trent blob key v2", L = 32)
//
// The material enters HKDF as the HMAC message, never as an HMAC key, so no
// HMAC computed with the material as key (what GenerateMac does with an
// HMAC key's material) can equal the blob key or anything derived from it:
// a symmetric key's material, even relabelled as an HMAC key, cannot be
// made to reveal the key of any v2 blob. The caller may clear material
// afterwards.
func NewKey(material []byte) (*Key, error) {
	if err := checkMaterial(material); err != nil {
		return nil, err
	}
	k := new(Key)
	copy(k.material[:], material)
	sub, err := hkdf.Key(sha256.New, material, nil, blobKeyInfo, len(k.blobKey))
	if err != nil {
		return nil, err
	}
	copy(k.blobKey[:], sub)
	clear(sub)
	return k, nil
}

// Wipe overwrites the key's material and subkey with zeros. The Key must
// not be used afterwards.
func (k *Key) Wipe() {
	clear(k.material[:])
	clear(k.blobKey[:])
}

// kdfCounterBlock returns block i of SP 800-108 KDF in counter mode with
// HMAC-SHA256 and a 32-bit counter before the fixed input:
//
//	HMAC-SHA256(key, [i]_32 ‖ fixed)
func kdfCounterBlock(key []byte, i uint32, fixed []byte) [32]byte {
	m := hmac.New(sha256.New, key)
	var counter [4]byte
	binary.BigEndian.PutUint32(counter[:], i)
	m.Write(counter[:])
	m.Write(fixed)
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// newAEAD derives the blob key K of a blob of the given version from key
// and nonce, and returns AES-256-GCM under K.
func newAEAD(key *Key, version byte, nonce []byte) (cipher.AEAD, error) {
	var k [32]byte
	if version == Version1 {
		k = deriveKey(key.material[:], kdfLabel1, nonce)
	} else {
		k = deriveKey(key.blobKey[:], kdfLabel2, nonce)
	}
	block, err := aes.NewCipher(k[:])
	clear(k[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func checkMaterial(material []byte) error {
	if len(material) != MaterialSize {
		return fmt.Errorf("ciphertext: key material must be %d bytes, got %d", MaterialSize, len(material))
	}
	return nil
}

// Seal encrypts plaintext under key with the encryption context bound as
// AAD, reading N and the IV from rand (nil means crypto/rand). The result is
// a v2 blob of len(plaintext) + Overhead(len(h.KeyID)) bytes.
func Seal(key *Key, h Header, plaintext []byte, ec map[string]string, rand io.Reader) ([]byte, error) {
	return seal(key, Version2, h, plaintext, ec, rand)
}

// seal writes a blob of the given version; only tests write v1.
func seal(key *Key, version byte, h Header, plaintext []byte, ec map[string]string, rand io.Reader) ([]byte, error) {
	if !validKeyID(h.KeyID) {
		return nil, fmt.Errorf("ciphertext: key id must be 1..%d bytes of printable ASCII", MaxKeyIDLen)
	}
	ecLen, err := contextLen(ec)
	if err != nil {
		return nil, err
	}
	if rand == nil {
		rand = crand.Reader
	}

	l := len(h.KeyID)
	hdrLen := 2 + l + offBody
	blobLen := hdrLen + len(plaintext) + TagSize

	// One allocation: the blob, followed (beyond its length, hidden by the
	// returned slice's capacity) by scratch space for the AAD, header ‖
	// canonical context, because GCM wants contiguous AAD.
	buf := make([]byte, blobLen+hdrLen+ecLen)

	buf[0] = version
	buf[1] = byte(l)
	p := 2 + copy(buf[2:], h.KeyID)
	copy(buf[p+offMaterialID:], h.MaterialID[:])
	// N and IV are adjacent: one read.
	if _, err := io.ReadFull(rand, buf[p+offNonce:p+offBody]); err != nil {
		return nil, fmt.Errorf("ciphertext: reading random nonce: %w", err)
	}
	nonce := buf[p+offNonce : p+offIV]
	iv := buf[p+offIV : p+offBody]
	aad := appendContext(append(buf[blobLen:blobLen], buf[:hdrLen]...), ec)

	aead, err := newAEAD(key, version, nonce)
	if err != nil {
		return nil, err
	}
	// Seal appends exactly len(plaintext)+TagSize bytes within buf's
	// capacity, so the scratch AAD (at buf[blobLen:]) is not overwritten.
	out := aead.Seal(buf[:hdrLen], iv, plaintext, aad)
	return out[:blobLen:blobLen], nil
}

// Open decrypts a v1 or v2 blob made by Seal. A malformed or modified blob,
// the wrong key or a different encryption context all give ErrInvalid. A
// context that cannot be encoded is a caller error and gives a different
// error.
func Open(key *Key, blob []byte, ec map[string]string) ([]byte, error) {
	ecLen, err := contextLen(ec)
	if err != nil {
		return nil, err
	}
	_, hdrLen, ok := parse(blob)
	if !ok {
		return nil, ErrInvalid
	}
	body := blob[hdrLen:] // ciphertext ‖ tag, at least TagSize bytes
	ptLen := len(body) - TagSize

	// One allocation: the plaintext, followed by scratch for the AAD.
	buf := make([]byte, ptLen+hdrLen+ecLen)
	aad := appendContext(append(buf[ptLen:ptLen], blob[:hdrLen]...), ec)

	p := hdrLen - offBody
	aead, err := newAEAD(key, blob[0], blob[p+offNonce:p+offIV])
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(buf[:0:ptLen], blob[p+offIV:hdrLen], body, aad)
	if err != nil {
		return nil, ErrInvalid
	}
	return pt[:ptLen:ptLen], nil
}

// Wiped reports whether the key's material and subkey are all zeros, as
// Wipe leaves them.
func (k *Key) Wiped() bool {
	return k.material == [MaterialSize]byte{} && k.blobKey == [32]byte{}
}
