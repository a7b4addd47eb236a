package grant

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
)

// Grant tokens. A token names a grant and is authenticated with the
// service's grant token key; it carries no permission of its own. It is
// base64 of
//
//	0x01 ‖ len(region) ‖ region ‖ len(key ID) ‖ key ID ‖ grant ID (32) ‖ nonce (16) ‖ HMAC-SHA256 (32)
//
// with the HMAC over everything before it. Each CreateGrant returns a new
// one (the nonce), as AWS does.

const tokenVersion = 0x01

// NonceSize is the size of a token's nonce.
const NonceSize = 16

// ErrInvalidToken is what ParseToken says of a token this service did not
// make, or that was changed.
var ErrInvalidToken = errors.New("grant: invalid grant token")

// Token makes a grant token for g with the token key and a fresh nonce.
func Token(key []byte, g *Grant, nonce []byte) (string, error) {
	id, err := hex.DecodeString(g.ID)
	if err != nil || len(id) != 32 || len(nonce) != NonceSize || len(g.Region) > 255 || len(g.KeyID) > 255 {
		return "", errors.New("grant: cannot make a token for this grant")
	}
	b := []byte{tokenVersion, byte(len(g.Region))}
	b = append(b, g.Region...)
	b = append(b, byte(len(g.KeyID)))
	b = append(b, g.KeyID...)
	b = append(b, id...)
	b = append(b, nonce...)
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return base64.StdEncoding.EncodeToString(m.Sum(b)), nil
}

// TokenRef is what a grant token names.
type TokenRef struct{ Region, KeyID, GrantID string }

// ParseToken checks a grant token's authenticity with the token key and
// returns the grant it names, or ErrInvalidToken.
func ParseToken(key []byte, tok string) (TokenRef, error) {
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil || len(b) < 1+1+1+32+NonceSize+sha256.Size || b[0] != tokenVersion {
		return TokenRef{}, ErrInvalidToken
	}
	body, mac := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	m := hmac.New(sha256.New, key)
	m.Write(body)
	if !hmac.Equal(m.Sum(nil), mac) {
		return TokenRef{}, ErrInvalidToken
	}
	p := body[1:]
	take := func() (string, bool) {
		if len(p) < 1 || len(p) < 1+int(p[0]) {
			return "", false
		}
		v := string(p[1 : 1+int(p[0])])
		p = p[1+int(p[0]):]
		return v, true
	}
	region, ok1 := take()
	keyID, ok2 := take()
	if !ok1 || !ok2 || len(p) != 32+NonceSize {
		return TokenRef{}, ErrInvalidToken
	}
	return TokenRef{Region: region, KeyID: keyID, GrantID: hex.EncodeToString(p[:32])}, nil
}
