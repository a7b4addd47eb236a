package ciphertext

import (
	"encoding/binary"
	"math"
	"slices"
)

// EncodeContext returns the canonical encoding of an encryption context:
//
//	count uint16 ‖ count × (len(k) uint16 ‖ k ‖ len(v) uint16 ‖ v)
//
// with pairs sorted by key bytes. nil and empty maps both encode as 00 00.
// It fails with ErrContextTooLarge if a key or value is longer than 65535
// bytes or there are more than 65535 pairs.
func EncodeContext(ec map[string]string) ([]byte, error) {
	n, err := contextLen(ec)
	if err != nil {
		return nil, err
	}
	return appendContext(make([]byte, 0, n), ec), nil
}

// contextLen validates ec and returns the length of its encoding.
func contextLen(ec map[string]string) (int, error) {
	if len(ec) > math.MaxUint16 {
		return 0, ErrContextTooLarge
	}
	n := 2
	for k, v := range ec {
		if len(k) > math.MaxUint16 || len(v) > math.MaxUint16 {
			return 0, ErrContextTooLarge
		}
		n += 4 + len(k) + len(v)
	}
	return n, nil
}

// appendContext appends the canonical encoding of ec, which must have been
// validated by contextLen, to dst.
func appendContext(dst []byte, ec map[string]string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(ec)))
	if len(ec) == 0 {
		return dst
	}
	var small [16]string // typical contexts have a few pairs: no allocation
	keys := small[:0]
	if len(ec) > len(small) {
		keys = make([]string, 0, len(ec))
	}
	for k := range ec {
		keys = append(keys, k)
	}
	slices.Sort(keys) // Go string order is byte order
	for _, k := range keys {
		v := ec[k]
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(k)))
		dst = append(dst, k...)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(v)))
		dst = append(dst, v...)
	}
	return dst
}
