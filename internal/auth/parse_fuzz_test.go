package auth

import (
	"testing"

	"github.com/trent-kms/trent/internal/kmsapi"
)

func TestParseAuthorization(t *testing.T) {
	const h = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
	a, err := parseAuthorization(h)
	if err != nil {
		t.Fatal(err)
	}
	want := authorization{
		Algorithm:     "AWS4-HMAC-SHA256",
		Credential:    "AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request",
		SignedHeaders: "content-type;host;x-amz-date",
		Signature:     "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
	}
	if a != want {
		t.Fatalf("got %+v, want %+v", a, want)
	}
	if a.String() != h {
		t.Fatalf("String() = %q", a.String())
	}
	for _, s := range []string{
		"  " + h + "  ",
		"AWS4-HMAC-SHA256\tSignature=" + want.Signature + ",,SignedHeaders=" + want.SignedHeaders + " ,Credential=" + want.Credential + ",",
	} {
		if a, err := parseAuthorization(s); err != nil || a != want {
			t.Errorf("parse(%q) = %+v, %v", s, a, err)
		}
	}
}

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
		"AWS4-HMAC-SHA256 Credential=a/b/c/d/e,SignedHeaders=host,Signature=00",
		"AWS4-HMAC-SHA256 Signature=x, Signature=y",
		"AWS4-HMAC-SHA256 Credential= AKID/20240101/us-east-1/kms/aws4_request",
		"Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig",
		"eyJhbGciOiJIUzI1NiJ9",
		"",
		" ",
		",,,",
		"x =,= ,=",
		"AWS4-HMAC-SHA256 Credential==, SignedHeaders==;=, Signature===",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			if err.Code != kmsapi.IncompleteSignatureException {
				t.Fatalf("code %s", err.Code)
			}
			return
		}
		// The echo used in messages never carries the signature: the
		// message does not depend on the signature's value at all.
		if a.Signature != "" {
			other := a
			other.Signature = "a-different-signature"
			if msg, want := a.missing(false), other.missing(false); msg != want {
				t.Fatalf("message %q depends on the signature (with another signature: %q)", msg, want)
			}
		}
		if a.Credential == "" || a.SignedHeaders == "" || a.Signature == "" {
			return
		}
		// A complete parse round-trips through the SDK layout.
		b, err := parseAuthorization(a.String())
		if err != nil {
			t.Fatalf("reparse of %q: %v", a.String(), err)
		}
		if b != a {
			t.Fatalf("round trip: %+v != %+v", b, a)
		}
	})
}
