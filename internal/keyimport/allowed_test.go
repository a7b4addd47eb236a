package keyimport

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/kmsapi"
)

const (
	oaep1 = kmsapi.AlgorithmSpecRsaesOaepSha1
	oaep2 = kmsapi.AlgorithmSpecRsaesOaepSha256
	kw1   = kmsapi.AlgorithmSpecRsaAesKeyWrapSha1
	kw2   = kmsapi.AlgorithmSpecRsaAesKeyWrapSha256
)

// awsTable is AWS's table ("Step 2: Download the wrapping public key and
// import token", "Select a wrapping algorithm"), written out per key spec
// independently of allowed.go, without SM2PKE and RSAES_PKCS1_V1_5. A nil
// entry: the key spec takes no imported material here.
var awsTable = map[kmsapi.KeySpec][]kmsapi.AlgorithmSpec{
	"SYMMETRIC_DEFAULT": {oaep2, oaep1},
	"HMAC_224":          {oaep2, oaep1},
	"HMAC_256":          {oaep2, oaep1},
	"HMAC_384":          {oaep2, oaep1},
	"HMAC_512":          {oaep2, oaep1},
	"RSA_2048":          {kw2, kw1},
	"RSA_3072":          {kw2, kw1},
	"RSA_4096":          {kw2, kw1},
	"ECC_NIST_P256":     {kw2, kw1, oaep2, oaep1},
	"ECC_NIST_P384":     {kw2, kw1, oaep2, oaep1},
	"ECC_NIST_P521":     {kw2, kw1, oaep2, oaep1}, // but not RSAES_OAEP under RSA_2048
	"ECC_SECG_P256K1":   {kw2, kw1, oaep2, oaep1},
	// Inferred, not in the table: Ed25519 is an elliptic curve private key.
	"ECC_NIST_EDWARDS25519": {kw2, kw1, oaep2, oaep1},
	"SM2":                   nil, // China Regions only
	"ML_DSA_44":             nil, // "You can't import key material for ML-DSA KMS keys."
	"ML_DSA_65":             nil,
	"ML_DSA_87":             nil,
	"ML_KEM_512":            nil, // no statement found; refused
	"ML_KEM_768":            nil,
	"ML_KEM_1024":           nil,
}

func errorCode(err error) kmsapi.ErrorCode {
	var e *kmsapi.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Every (algorithm, wrapping key spec, key spec) of the API's enums, plus
// some values outside them, gets the table's answer.
func TestCheckAllowedMatrix(t *testing.T) {
	specs := kmsapi.KeySpec("").Values()
	if len(specs) != len(awsTable) {
		t.Fatalf("the KeySpec enum has %d values, the test table %d", len(specs), len(awsTable))
	}
	algs := append(kmsapi.AlgorithmSpec("").Values(), "", "RSAES_OAEP_SHA_512", "rsaes_oaep_sha_256")
	wraps := append(kmsapi.WrappingKeySpec("").Values(), "", "RSA_1024", "rsa_2048")
	allowedCount := 0
	for _, spec := range append(specs, "", "AES_256", "symmetric_default") {
		row, known := awsTable[spec]
		for _, w := range wraps {
			for _, a := range algs {
				err := CheckAllowed(a, w, spec)
				var want kmsapi.ErrorCode
				switch {
				case !known || row == nil:
					want = kmsapi.UnsupportedOperationException
				case w == kmsapi.WrappingKeySpecSm2:
					want = kmsapi.UnsupportedOperationException
				case w != "RSA_2048" && w != "RSA_3072" && w != "RSA_4096":
					want = kmsapi.ValidationException
				case a == kmsapi.AlgorithmSpecSm2pke:
					want = kmsapi.UnsupportedOperationException
				case !slices.Contains(row, a):
					want = kmsapi.ValidationException // PKCS1_V1_5, unknown, or not in the row
				case spec == "ECC_NIST_P521" && w == "RSA_2048" && (a == oaep1 || a == oaep2):
					want = kmsapi.ValidationException
				}
				if got := errorCode(err); got != want {
					t.Errorf("CheckAllowed(%q, %q, %q) = %v, want %q", a, w, spec, err, want)
				}
				if err == nil {
					allowedCount++
					continue
				}
				var e *kmsapi.Error
				if !errors.As(err, &e) || e.Message == "" || e.HTTPStatus() != 400 {
					t.Errorf("CheckAllowed(%q, %q, %q) = %#v", a, w, spec, err)
				}
			}
		}
	}
	// 5 symmetric/HMAC × 2 + 3 RSA × 2 + 5 ECC × 4 = 36 per RSA wrapping
	// size, less P-521 with the two RSAES_OAEP under RSA_2048.
	if want := 36*3 - 2; allowedCount != want {
		t.Errorf("%d combinations allowed, want %d", allowedCount, want)
	}
}

// The documented cases one by one, with their messages.
func TestCheckAllowedCases(t *testing.T) {
	for _, c := range []struct {
		alg  kmsapi.AlgorithmSpec
		wrap kmsapi.WrappingKeySpec
		spec kmsapi.KeySpec
		code kmsapi.ErrorCode
		text string // a part of the message
	}{
		{oaep2, "RSA_2048", "SYMMETRIC_DEFAULT", "", ""},
		{oaep1, "RSA_4096", "HMAC_384", "", ""},
		{kw2, "RSA_4096", "RSA_4096", "", ""},
		{kw1, "RSA_2048", "RSA_4096", "", ""},
		{kw2, "RSA_2048", "ECC_NIST_P521", "", ""},
		{oaep2, "RSA_3072", "ECC_NIST_P521", "", ""},
		{oaep1, "RSA_2048", "ECC_SECG_P256K1", "", ""},
		{oaep2, "RSA_2048", "ECC_NIST_P521", kmsapi.ValidationException, "ECC_NIST_P521 key material cannot be wrapped with the RSA_2048 wrapping key spec and RSAES_OAEP_SHA_256"},
		{oaep1, "RSA_2048", "ECC_NIST_P521", kmsapi.ValidationException, "RSA_AES_KEY_WRAP_SHA_*"},
		{oaep2, "RSA_4096", "RSA_2048", kmsapi.ValidationException, "Use one of: RSA_AES_KEY_WRAP_SHA_256, RSA_AES_KEY_WRAP_SHA_1."},
		{kw2, "RSA_4096", "SYMMETRIC_DEFAULT", kmsapi.ValidationException, "Use one of: RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1."},
		{kw1, "RSA_4096", "HMAC_256", kmsapi.ValidationException, "cannot wrap key material for key spec HMAC_256"},
		{kmsapi.AlgorithmSpecRsaesPkcs1V15, "RSA_2048", "SYMMETRIC_DEFAULT", kmsapi.ValidationException, "RSAES_PKCS1_V1_5"},
		{kmsapi.AlgorithmSpecSm2pke, "RSA_2048", "ECC_NIST_P256", kmsapi.UnsupportedOperationException, "China Regions"},
		{oaep2, "SM2", "ECC_NIST_P256", kmsapi.UnsupportedOperationException, "China Regions"},
		{oaep2, "RSA_2048", "SM2", kmsapi.UnsupportedOperationException, "China Regions"},
		{kw2, "RSA_4096", "ML_DSA_65", kmsapi.UnsupportedOperationException, "key spec ML_DSA_65"},
		{kw2, "RSA_4096", "ML_KEM_768", kmsapi.UnsupportedOperationException, "key spec ML_KEM_768"},
	} {
		err := CheckAllowed(c.alg, c.wrap, c.spec)
		if got := errorCode(err); got != c.code {
			t.Errorf("CheckAllowed(%s, %s, %s) = %v, want %s", c.alg, c.wrap, c.spec, err, c.code)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), c.text) {
			t.Errorf("CheckAllowed(%s, %s, %s) = %q, want it to contain %q", c.alg, c.wrap, c.spec, err, c.text)
		}
	}
}

// A nil result is an untyped nil: err == nil holds for the caller.
func TestCheckAllowedNil(t *testing.T) {
	var err error = CheckAllowed(oaep2, "RSA_2048", "SYMMETRIC_DEFAULT")
	if err != nil {
		t.Fatalf("err = %#v", err)
	}
}
