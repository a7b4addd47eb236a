package envelope

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

// PublicKeyContextKey is the encryption context key under which a signed
// message carries its verification key. It is reserved: callers may not set it.
const PublicKeyContextKey = "aws-crypto-public-key"

// reservedPrefix is reserved for the Encryption SDK itself.
const reservedPrefix = "aws-crypto-"

// checkCallerContext refuses an encryption context a caller may not use.
func checkCallerContext(c map[string]string) error {
	for k, v := range c {
		if len(k) >= len(reservedPrefix) && k[:len(reservedPrefix)] == reservedPrefix {
			return fmt.Errorf("envelope: encryption context key %q uses the reserved prefix %q", k, reservedPrefix)
		}
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return errors.New("envelope: encryption context keys and values must be UTF-8")
		}
	}
	return nil
}

// serializeContext is the specification's serialization of an encryption
// context: empty for an empty context, else a count and the pairs sorted by
// key bytes.
func serializeContext(c map[string]string) ([]byte, error) {
	if len(c) == 0 {
		return nil, nil
	}
	if len(c) > 0xFFFF {
		return nil, errors.New("envelope: encryption context has too many pairs")
	}
	keys := make([]string, 0, len(c))
	n := 2
	for k, v := range c {
		if len(k) > 0xFFFF || len(v) > 0xFFFF {
			return nil, errors.New("envelope: encryption context key or value longer than 65535 bytes")
		}
		keys = append(keys, k)
		n += 4 + len(k) + len(v)
	}
	slices.Sort(keys) // Go compares strings bytewise: the UTF-8 order the format asks for
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint16(b, uint16(len(c)))
	for _, k := range keys {
		b = appendShort(b, []byte(k))
		b = appendShort(b, []byte(c[k]))
	}
	return b, nil
}

// parseContext reads a serialized encryption context (without its length
// prefix), refusing duplicates, unsorted keys and trailing bytes.
func parseContext(b []byte) (map[string]string, error) {
	c := map[string]string{}
	if len(b) == 0 {
		return c, nil
	}
	if len(b) < 2 {
		return nil, errMalformed("encryption context")
	}
	count := int(binary.BigEndian.Uint16(b))
	if count == 0 {
		return nil, errMalformed("encryption context with a zero pair count")
	}
	b = b[2:]
	prev := ""
	for i := 0; i < count; i++ {
		var k, v []byte
		var ok bool
		if k, b, ok = readShort(b); !ok {
			return nil, errMalformed("encryption context key")
		}
		if v, b, ok = readShort(b); !ok {
			return nil, errMalformed("encryption context value")
		}
		ks := string(k)
		if i > 0 && ks <= prev {
			return nil, errMalformed("encryption context keys not sorted or repeated")
		}
		if !utf8.Valid(k) || !utf8.Valid(v) {
			return nil, errMalformed("encryption context not UTF-8")
		}
		prev = ks
		c[ks] = string(v)
	}
	if len(b) != 0 {
		return nil, errMalformed("bytes after the encryption context")
	}
	return c, nil
}

func appendShort(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

func readShort(b []byte) (v, rest []byte, ok bool) {
	if len(b) < 2 {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return nil, nil, false
	}
	return b[2 : 2+n], b[2+n:], true
}

func copyContext(c map[string]string) map[string]string {
	out := make(map[string]string, len(c)+1)
	for k, v := range c {
		out[k] = v
	}
	return out
}

// splitContext returns the pairs of c to store in the header and the pairs
// to authenticate only (those under the required keys).
func splitContext(c map[string]string, required []string) (stored, authOnly map[string]string) {
	stored = copyContext(c)
	authOnly = map[string]string{}
	for _, k := range required {
		if v, ok := stored[k]; ok {
			authOnly[k] = v
			delete(stored, k)
		}
	}
	return stored, authOnly
}
