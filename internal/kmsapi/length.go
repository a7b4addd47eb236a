package kmsapi

// UTF16Len is the length of s as AWS counts the length of a string: in
// UTF-16 code units, as Java's String.length() does. A character outside the
// Basic Multilingual Plane (most emoji, for instance) counts 2; every other
// character counts 1. Bytes that are not valid UTF-8 count 1 each, as the
// U+FFFD that replaces them does.
//
// Every length constraint of a string in the model is checked with it; blobs
// are counted in bytes.
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}
