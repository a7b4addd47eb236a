package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"
)

// deriveKey turns the data key into the message's AES key and, for a
// committing suite, its commitment key (specification: transitive
// requirements, HKDF encryption key and HKDF commit key).
func deriveKey(s *AlgorithmSuite, dataKey, messageID []byte) (key, commit []byte, err error) {
	if len(dataKey) != s.KeyLength {
		return nil, nil, fmt.Errorf("envelope: data key of %d bytes for a suite that needs %d", len(dataKey), s.KeyLength)
	}
	suiteID := binary.BigEndian.AppendUint16(nil, s.ID)
	switch {
	case s.KDF == nil:
		return append([]byte(nil), dataKey...), nil, nil
	case s.Committing:
		prk, err := hkdf.Extract(s.KDF, dataKey, messageID)
		if err != nil {
			return nil, nil, err
		}
		if key, err = hkdf.Expand(s.KDF, prk, string(append(suiteID, "DERIVEKEY"...)), s.KeyLength); err != nil {
			return nil, nil, err
		}
		if commit, err = hkdf.Expand(s.KDF, prk, "COMMITKEY", suiteDataLen); err != nil {
			return nil, nil, err
		}
		return key, commit, nil
	default:
		// No salt: HKDF then uses a hash-length string of zeros, as the format asks.
		key, err = hkdf.Key(s.KDF, dataKey, nil, string(append(suiteID, messageID...)), s.KeyLength)
		return key, nil, err
	}
}

func commitmentMatches(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// headerAuthTag computes the header's authentication tag: AES-GCM over an
// empty plaintext with the header body and the authenticated-only context
// as AAD, under an all-zero IV.
func headerAuthTag(aead cipher.AEAD, body, authOnly []byte) []byte {
	aad := make([]byte, 0, len(body)+len(authOnly))
	aad = append(append(aad, body...), authOnly...)
	var iv [ivLen]byte
	return aead.Seal(nil, iv[:], nil, aad)
}

// Body AAD content strings.
const (
	aadFrame       = "AWSKMSEncryptionClient Frame"
	aadFinalFrame  = "AWSKMSEncryptionClient Final Frame"
	aadSingleBlock = "AWSKMSEncryptionClient Single Block"
)

// bodyAAD builds the AAD of one frame into buf.
func bodyAAD(buf []byte, messageID []byte, content string, seq uint32, length uint64) []byte {
	buf = append(buf[:0], messageID...)
	buf = append(buf, content...)
	buf = binary.BigEndian.AppendUint32(buf, seq)
	return binary.BigEndian.AppendUint64(buf, length)
}

// frameIV is the sequence number, big-endian, right-aligned in 12 bytes.
func frameIV(iv *[ivLen]byte, seq uint32) []byte {
	*iv = [ivLen]byte{}
	binary.BigEndian.PutUint32(iv[8:], seq)
	return iv[:]
}

// encodePublicKey is the context value of a verification key: the
// compressed point, Base64.
func encodePublicKey(pub *ecdsa.PublicKey) (string, error) {
	raw, err := pub.Bytes() // uncompressed point
	if err != nil {
		return "", err
	}
	byteLen := (pub.Curve.Params().BitSize + 7) / 8
	x, y := raw[1:1+byteLen], raw[1+byteLen:]
	out := make([]byte, 1+byteLen)
	out[0] = 2 | y[len(y)-1]&1
	copy(out[1:], x)
	return base64.StdEncoding.EncodeToString(out), nil
}

// decodePublicKey parses the context value of a verification key.
func decodePublicKey(s *AlgorithmSuite, v string) (*ecdsa.PublicKey, error) {
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not Base64", ErrMalformed, PublicKeyContextKey)
	}
	x, y := elliptic.UnmarshalCompressed(s.Curve, raw) //nolint:staticcheck // the format stores compressed points
	if x == nil {
		return nil, fmt.Errorf("%w: %s is not a compressed %s point", ErrMalformed, PublicKeyContextKey, s.Curve.Params().Name)
	}
	byteLen := (s.Curve.Params().BitSize + 7) / 8
	unc := make([]byte, 1+2*byteLen)
	unc[0] = 4
	x.FillBytes(unc[1 : 1+byteLen])
	y.FillBytes(unc[1+byteLen:])
	return ecdsa.ParseUncompressedPublicKey(s.Curve, unc)
}
