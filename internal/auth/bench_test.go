package auth

import (
	"testing"
)

// BenchmarkVerify verifies a typical Go-SDK-signed Encrypt request (with
// session token) as a net/http server delivers it.
func BenchmarkVerify(b *testing.B) {
	v := testVerifier(b)
	r := serverRequest(b, newRequest(b, "https://kms.us-east-1.amazonaws.com", req{akid: tempAKID, secret: tempSecret, token: tempToken}))
	if _, err := v.Verify(r, defaultBody); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(defaultBody)))
	for b.Loop() {
		if _, err := v.Verify(r, defaultBody); err != nil {
			b.Fatal(err)
		}
	}
}
