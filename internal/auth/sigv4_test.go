package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/trent-kms/trent/internal/kmsapi"
)

const (
	permAKID   = "AKIAIOSFODNN7EXAMPLE"
	permSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	tempAKID   = "ASIAQWERTYUIOPEXAMPL"
	tempSecret = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
	tempToken  = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQDEXAMPLETOKEN+/=="
	expAKID    = "ASIAEXPIREDEXAMPLE00"
	expSecret  = "expiredsecretexpiredsecretexpiredsecret0"
	expToken   = "expired-session-token"
	account    = "111122223333"
	testRegion = "us-east-1"
)

// signTime is when test requests are signed; the verifier's clock reads it
// too unless a test says otherwise.
var signTime = time.Date(2024, 1, 1, 0, 10, 0, 0, time.UTC)

var defaultBody = []byte(`{"KeyId":"alias/test","Plaintext":"aGVsbG8gd29ybGQ="}`)

func testKeyring(t testing.TB) *Keyring {
	t.Helper()
	kr, err := NewKeyring(
		Credential{
			AccessKeyID: permAKID, SecretAccessKey: permSecret,
			Principal: Principal{Account: account, ARN: "arn:aws:iam::" + account + ":root", UserID: account},
		},
		Credential{
			AccessKeyID: tempAKID, SecretAccessKey: tempSecret, SessionToken: tempToken,
			Expires:   signTime.Add(time.Hour),
			Principal: Principal{Account: account, ARN: "arn:aws:sts::" + account + ":assumed-role/Admin/alice", UserID: "AROAEXAMPLEID:alice"},
		},
		Credential{
			AccessKeyID: expAKID, SecretAccessKey: expSecret, SessionToken: expToken,
			Expires:   signTime.Add(-time.Second),
			Principal: Principal{Account: account, ARN: "arn:aws:iam::" + account + ":user/bob", UserID: "AIDAEXAMPLEBOB"},
		},
	)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func testVerifier(t testing.TB) *Verifier {
	return &Verifier{
		Keyring: testKeyring(t),
		Service: "kms",
		Region:  func(r string) bool { return r == "us-east-1" || r == "eu-west-1" },
		Now:     func() time.Time { return signTime },
	}
}

// result is what the test server reports about one Verify call.
type result struct {
	Code, Message string
	AccessKeyID   string
	Region        string
	ARN           string
	SessionToken  bool
}

// newServer starts a server whose handler runs v.Verify on the request as
// net/http delivers it (so r.Host and r.ContentLength are real).
func newServer(t testing.TB, v *Verifier) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		var res result
		id, err := v.Verify(r, body)
		switch {
		case err != nil:
			ke, ok := err.(*kmsapi.Error)
			if !ok {
				res.Code = "NOT A *kmsapi.Error"
				res.Message = err.Error()
				break
			}
			res.Code, res.Message = string(ke.Code), ke.Message
			if id != nil {
				res.Code = "IDENTITY WITH ERROR"
			}
		case id == nil:
			res.Code = "NIL IDENTITY WITHOUT ERROR"
		default:
			res.AccessKeyID, res.Region, res.ARN, res.SessionToken = id.AccessKeyID, id.Region, id.Principal.ARN, id.SessionToken
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(res)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// req describes one signed request.
type req struct {
	cli           bool // sign like the AWS CLI instead of the Go SDK
	akid, secret  string
	token         string
	region        string
	service       string
	time          time.Time
	path          string // default "/"
	body          []byte
	before, after func(*http.Request) // run just before / just after signing
}

func (q req) withDefaults() req {
	if q.akid == "" {
		q.akid = permAKID
	}
	if q.secret == "" {
		q.secret = permSecret
	}
	if q.region == "" {
		q.region = testRegion
	}
	if q.service == "" {
		q.service = "kms"
	}
	if q.time.IsZero() {
		q.time = signTime
	}
	if q.path == "" {
		q.path = "/"
	}
	if q.body == nil {
		q.body = defaultBody
	}
	return q
}

// newRequest builds and signs a request with the real AWS signer, setting
// the headers the Go SDK or the AWS CLI set for a KMS call.
func newRequest(t testing.TB, base string, q req) *http.Request {
	t.Helper()
	q = q.withDefaults()
	r, err := http.NewRequest(http.MethodPost, base+q.path, bytes.NewReader(q.body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "TrentService.Encrypt")
	if q.cli {
		r.Header.Set("User-Agent", "aws-cli/1.45.11 md/Botocore#1.40.11 ua/2.1 os/linux#6.8.0 md/arch#x86_64 lang/python#3.12.3")
	} else {
		r.Header.Set("User-Agent", "aws-sdk-go-v2/1.48.0 ua/2.1 os/linux lang/go#1.26.8 md/GOOS#linux md/GOARCH#amd64 api/kms#1.62.5 m/E")
		r.Header.Set("Amz-Sdk-Invocation-Id", "6a1e4b9c-3f0d-4c8e-9a57-0d2f3b1c7e42")
		r.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
	}
	if q.before != nil {
		q.before(r)
	}
	sum := sha256.Sum256(q.body)
	length := r.ContentLength
	if q.cli {
		r.ContentLength = 0 // botocore does not sign content-length
	}
	creds := aws.Credentials{AccessKeyID: q.akid, SecretAccessKey: q.secret, SessionToken: q.token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), q.service, q.region, q.time); err != nil {
		t.Fatal(err)
	}
	r.ContentLength = length
	if q.after != nil {
		q.after(r)
	}
	return r
}

// do sends r to srv and returns the server's verdict. It fails the test if
// the verdict's message leaks a secret or the request's signature.
func do(t testing.TB, srv *httptest.Server, r *http.Request) result {
	t.Helper()
	resp, err := srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res result
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{permSecret, tempSecret, expSecret, tempToken, expToken} {
		if strings.Contains(res.Message, secret) {
			t.Errorf("message leaks a secret: %q", res.Message)
		}
	}
	if a, err := parseAuthorization(r.Header.Get("Authorization")); err == nil && len(a.Signature) >= 8 && strings.Contains(res.Message, a.Signature) {
		t.Errorf("message leaks the signature: %q", res.Message)
	}
	return res
}

func send(t testing.TB, srv *httptest.Server, q req) result {
	t.Helper()
	return do(t, srv, newRequest(t, srv.URL, q))
}

func wantOK(t *testing.T, res result, akid string) {
	t.Helper()
	if res.Code != "" {
		t.Fatalf("got %s: %q, want success", res.Code, res.Message)
	}
	if res.AccessKeyID != akid {
		t.Fatalf("AccessKeyID = %q, want %q", res.AccessKeyID, akid)
	}
}

func wantErr(t *testing.T, res result, code kmsapi.ErrorCode, msg string) {
	t.Helper()
	if res.Code != string(code) || res.Message != msg {
		t.Fatalf("got\n  %s: %q\nwant\n  %s: %q", res.Code, res.Message, code, msg)
	}
}

// setAuth returns an after-hook that rewrites the signed Authorization
// header with f.
func setAuth(f func(a authorization) string) func(*http.Request) {
	return func(r *http.Request) {
		a, err := parseAuthorization(r.Header.Get("Authorization"))
		if err != nil {
			panic(err)
		}
		r.Header.Set("Authorization", f(a))
	}
}

func signedHeadersOf(t *testing.T, r *http.Request) string {
	t.Helper()
	a, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		t.Fatal(err)
	}
	return a.SignedHeaders
}

func TestValidRequests(t *testing.T) {
	srv := newServer(t, testVerifier(t))
	cases := []struct {
		name          string
		q             req
		signedHeaders string
		wantRegion    string
		wantToken     bool
	}{
		{
			name:          "go sdk",
			q:             req{},
			signedHeaders: "amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;x-amz-target",
		},
		{
			name:          "go sdk with session token",
			q:             req{akid: tempAKID, secret: tempSecret, token: tempToken},
			signedHeaders: "amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;x-amz-security-token;x-amz-target",
			wantToken:     true,
		},
		{
			name:          "cli",
			q:             req{cli: true},
			signedHeaders: "content-type;host;x-amz-date;x-amz-target",
		},
		{
			name:          "cli with session token",
			q:             req{cli: true, akid: tempAKID, secret: tempSecret, token: tempToken},
			signedHeaders: "content-type;host;x-amz-date;x-amz-security-token;x-amz-target",
			wantToken:     true,
		},
		{
			name:          "other served region",
			q:             req{region: "eu-west-1"},
			signedHeaders: "amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;x-amz-target",
			wantRegion:    "eu-west-1",
		},
		{
			name:          "empty body",
			q:             req{body: []byte{}},
			signedHeaders: "amz-sdk-invocation-id;amz-sdk-request;content-type;host;x-amz-date;x-amz-target",
		},
		{
			name:          "4m59s old",
			q:             req{time: signTime.Add(-5*time.Minute + time.Second)},
			signedHeaders: "amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;x-amz-target",
		},
		{
			name:          "exactly 5 min old",
			q:             req{time: signTime.Add(-5 * time.Minute)},
			signedHeaders: "amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;x-amz-target",
		},
		{
			name:          "exactly 5 min ahead",
			q:             req{time: signTime.Add(5 * time.Minute)},
			signedHeaders: "amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;x-amz-target",
		},
		{
			name: "correct X-Amz-Content-Sha256",
			q: req{before: func(r *http.Request) {
				sum := sha256.Sum256(defaultBody)
				r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
			}},
			signedHeaders: "amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target",
		},
		{
			name: "repeated spaces and multiple values",
			q: req{before: func(r *http.Request) {
				r.Header.Set("X-Trent-Note", "  a   b    c  d ")
				r.Header.Add("X-Trent-Multi", "one")
				r.Header.Add("X-Trent-Multi", "  two   three ")
				r.Header.Add("X-Trent-Multi", "four")
			}},
			signedHeaders: "amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;x-amz-target;x-trent-multi;x-trent-note",
		},
		{
			name: "inner spaces changed after signing",
			q: req{
				before: func(r *http.Request) { r.Header.Set("X-Trent-Note", "a   b c") },
				after:  func(r *http.Request) { r.Header.Set("X-Trent-Note", "   a b    c") },
			},
			signedHeaders: "amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;x-amz-target;x-trent-note",
		},
		{
			name:          "escaped path",
			q:             req{path: "/a%20b/c~d/%E2%82%AC"},
			signedHeaders: "amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;x-amz-target",
		},
		{
			name:          "query string",
			q:             req{path: "/?b=2&a=1&a=0&c=x%20y&d=%2F+"},
			signedHeaders: "amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;x-amz-target",
		},
		{
			name: "parameters reordered without blanks",
			q: req{after: setAuth(func(a authorization) string {
				return a.Algorithm + " Signature=" + a.Signature + ",Credential=" + a.Credential + ",SignedHeaders=" + a.SignedHeaders
			})},
			signedHeaders: "amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;x-amz-target",
		},
		{
			name: "unknown parameter ignored",
			q: req{after: setAuth(func(a authorization) string {
				return a.String() + ", Foo=bar"
			})},
			signedHeaders: "amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;x-amz-target",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest(t, srv.URL, tc.q)
			if got := signedHeadersOf(t, r); got != tc.signedHeaders {
				t.Fatalf("SignedHeaders = %q, want %q", got, tc.signedHeaders)
			}
			res := do(t, srv, r)
			akid := tc.q.withDefaults().akid
			wantOK(t, res, akid)
			wantRegion := tc.wantRegion
			if wantRegion == "" {
				wantRegion = testRegion
			}
			if res.Region != wantRegion || res.SessionToken != tc.wantToken {
				t.Fatalf("Region, SessionToken = %q, %v; want %q, %v", res.Region, res.SessionToken, wantRegion, tc.wantToken)
			}
		})
	}
}

func TestIdentity(t *testing.T) {
	srv := newServer(t, testVerifier(t))
	res := send(t, srv, req{akid: tempAKID, secret: tempSecret, token: tempToken})
	wantOK(t, res, tempAKID)
	if want := "arn:aws:sts::" + account + ":assumed-role/Admin/alice"; res.ARN != want {
		t.Fatalf("ARN = %q, want %q", res.ARN, want)
	}
}

// TestMidnight signs just before midnight UTC and verifies just after: the
// scope keeps the signing day.
func TestMidnight(t *testing.T) {
	v := testVerifier(t)
	v.Now = func() time.Time { return time.Date(2024, 1, 2, 0, 2, 0, 0, time.UTC) }
	srv := newServer(t, v)
	wantOK(t, send(t, srv, req{time: time.Date(2024, 1, 1, 23, 58, 0, 0, time.UTC)}), permAKID)
	wantOK(t, send(t, srv, req{time: time.Date(2024, 1, 2, 0, 1, 0, 0, time.UTC)}), permAKID)
	wantOK(t, send(t, srv, req{time: time.Date(2024, 1, 1, 23, 59, 0, 0, time.UTC)}), permAKID)
}

func TestMissingAuthentication(t *testing.T) {
	srv := newServer(t, testVerifier(t))
	t.Run("no header", func(t *testing.T) {
		wantErr(t, send(t, srv, req{after: func(r *http.Request) { r.Header.Del("Authorization") }}),
			kmsapi.MissingAuthenticationTokenException, "Missing Authentication Token")
	})
	t.Run("empty header", func(t *testing.T) {
		wantErr(t, send(t, srv, req{after: func(r *http.Request) { r.Header.Set("Authorization", "") }}),
			kmsapi.MissingAuthenticationTokenException, "Missing Authentication Token")
	})
	t.Run("unsigned", func(t *testing.T) {
		r, err := http.NewRequest(http.MethodPost, srv.URL+"/", bytes.NewReader(defaultBody))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		r.Header.Set("X-Amz-Target", "TrentService.Encrypt")
		wantErr(t, do(t, srv, r), kmsapi.MissingAuthenticationTokenException, "Missing Authentication Token")
	})
	t.Run("presigned", func(t *testing.T) {
		r, err := http.NewRequest(http.MethodPost, srv.URL+"/", bytes.NewReader(defaultBody))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		r.Header.Set("X-Amz-Target", "TrentService.Encrypt")
		sum := sha256.Sum256(defaultBody)
		u, hdr, err := v4.NewSigner().PresignHTTP(context.Background(),
			aws.Credentials{AccessKeyID: permAKID, SecretAccessKey: permSecret},
			r, hex.EncodeToString(sum[:]), "kms", testRegion, signTime)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(u, "X-Amz-Signature=") {
			t.Fatalf("presigned URL without signature: %s", u)
		}
		p, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(defaultBody))
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range hdr {
			if !strings.EqualFold(k, "host") {
				p.Header[k] = vs
			}
		}
		wantErr(t, do(t, srv, p), kmsapi.MissingAuthenticationTokenException, "Missing Authentication Token")
	})
}

func TestMalformedAuthorization(t *testing.T) {
	srv := newServer(t, testVerifier(t))
	const (
		cred = permAKID + "/20240101/us-east-1/kms/aws4_request"
		sh   = "amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;x-amz-target"
		jwt  = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	)
	hashed := func(h string) string {
		sum := sha256.Sum256([]byte(h))
		return "Invalid key=value pair (missing equal-sign) in Authorization header (hashed with SHA-256 and encoded with Base64): '" +
			b64(sum[:]) + "'."
	}
	cases := []struct {
		name string
		auth func(a authorization) string
		code kmsapi.ErrorCode
		msg  string
	}{
		{
			name: "no Signature",
			auth: func(a authorization) string {
				return a.Algorithm + " Credential=" + a.Credential + ", SignedHeaders=" + a.SignedHeaders
			},
			code: kmsapi.IncompleteSignatureException,
			msg:  "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=" + sh,
		},
		{
			name: "empty Signature",
			auth: func(a authorization) string {
				return a.Algorithm + " Credential=" + a.Credential + ", SignedHeaders=" + a.SignedHeaders + ", Signature="
			},
			code: kmsapi.IncompleteSignatureException,
			msg:  "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=" + sh,
		},
		{
			name: "no Credential",
			auth: func(a authorization) string {
				return a.Algorithm + " SignedHeaders=" + a.SignedHeaders + ", Signature=" + a.Signature
			},
			code: kmsapi.IncompleteSignatureException,
			msg:  "Authorization header requires 'Credential' parameter. Authorization=AWS4-HMAC-SHA256 SignedHeaders=" + sh + ", Signature=<redacted>",
		},
		{
			name: "no SignedHeaders",
			auth: func(a authorization) string {
				return a.Algorithm + " Credential=" + a.Credential + ", Signature=" + a.Signature
			},
			code: kmsapi.IncompleteSignatureException,
			msg:  "Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Credential=" + cred + ", Signature=<redacted>",
		},
		{
			name: "algorithm only",
			auth: func(a authorization) string { return a.Algorithm },
			code: kmsapi.IncompleteSignatureException,
			msg: "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. " +
				"Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256",
		},
		{
			name: "bare token",
			auth: func(authorization) string { return jwt },
			code: kmsapi.IncompleteSignatureException,
			msg: "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. " +
				"Authorization header requires 'SignedHeaders' parameter. Authorization=<redacted>",
		},
		{
			name: "bearer token",
			auth: func(authorization) string { return "Bearer " + jwt },
			code: kmsapi.IncompleteSignatureException,
			msg:  hashed("Bearer " + jwt),
		},
		{
			name: "blank inside credential",
			auth: func(a authorization) string {
				return a.Algorithm + " Credential= " + a.Credential + ", SignedHeaders=" + a.SignedHeaders + ", Signature=" + a.Signature
			},
			code: kmsapi.IncompleteSignatureException,
			msg:  "", // filled in below: the hash of the header
		},
		{
			name: "duplicate Signature",
			auth: func(a authorization) string { return a.String() + ", Signature=" + a.Signature },
			code: kmsapi.IncompleteSignatureException,
			msg:  "Authorization header has more than one 'Signature' parameter.",
		},
		{
			name: "other algorithm",
			auth: func(a authorization) string { a.Algorithm = "AWS4-HMAC-SHA512"; return a.String() },
			code: kmsapi.IncompleteSignatureException,
			msg:  "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'.",
		},
		{
			name: "lowercase algorithm",
			auth: func(a authorization) string { a.Algorithm = "aws4-hmac-sha256"; return a.String() },
			code: kmsapi.IncompleteSignatureException,
			msg:  "Unsupported AWS 'algorithm': 'aws4-hmac-sha256'.",
		},
		{
			name: "credential with 4 elements",
			auth: func(a authorization) string { a.Credential = permAKID + "/20240101/us-east-1/kms"; return a.String() },
			code: kmsapi.IncompleteSignatureException,
			msg:  "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '" + permAKID + "/20240101/us-east-1/kms'",
		},
		{
			name: "credential with 6 elements",
			auth: func(a authorization) string { a.Credential = "AKIA/X/" + cred; return a.String() },
			code: kmsapi.IncompleteSignatureException,
			msg:  "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIA/X/" + cred + "'",
		},
		{
			name: "wrong terminator",
			auth: func(a authorization) string {
				a.Credential = strings.Replace(a.Credential, "aws4_request", "aws4_reqest", 1)
				return a.String()
			},
			code: kmsapi.InvalidSignatureException,
			msg:  "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_reqest'. ",
		},
		{
			name: "empty region",
			auth: func(a authorization) string {
				a.Credential = strings.Replace(a.Credential, "/us-east-1/", "//", 1)
				return a.String()
			},
			code: kmsapi.InvalidSignatureException,
			msg:  "Credential should be scoped to a valid region. ",
		},
		{
			name: "uppercase signature",
			auth: func(a authorization) string { a.Signature = strings.ToUpper(a.Signature); return a.String() },
			code: kmsapi.InvalidSignatureException,
			msg:  msgSignatureMismatch,
		},
		{
			name: "short signature",
			auth: func(a authorization) string { a.Signature = a.Signature[:63]; return a.String() },
			code: kmsapi.InvalidSignatureException,
			msg:  msgSignatureMismatch,
		},
		{
			name: "signature of another request",
			auth: func(a authorization) string {
				a.Signature = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
				return a.String()
			},
			code: kmsapi.InvalidSignatureException,
			msg:  msgSignatureMismatch,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest(t, srv.URL, req{after: setAuth(tc.auth)})
			msg := tc.msg
			if msg == "" {
				msg = hashed(r.Header.Get("Authorization"))
			}
			wantErr(t, do(t, srv, r), tc.code, msg)
		})
	}

	t.Run("two Authorization headers", func(t *testing.T) {
		r := newRequest(t, srv.URL, req{after: func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) }})
		wantErr(t, do(t, srv, r), kmsapi.IncompleteSignatureException, "Authorization header must be sent only once.")
	})
}

func TestAmzDate(t *testing.T) {
	srv := newServer(t, testVerifier(t))
	const sig = "AWS4-HMAC-SHA256 Credential=" + permAKID + "/20240101/us-east-1/kms/aws4_request, " +
		"SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;x-amz-target, Signature=<redacted>"
	setDate := func(d string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("X-Amz-Date", d) }
	}
	cases := []struct {
		name  string
		q     req
		code  kmsapi.ErrorCode
		msg   string
		clock time.Time
	}{
		{
			name: "missing",
			q:    req{after: func(r *http.Request) { r.Header.Del("X-Amz-Date") }},
			code: kmsapi.IncompleteSignatureException,
			msg:  "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=" + sig,
		},
		{
			name: "missing with Date header",
			q: req{after: func(r *http.Request) {
				r.Header.Del("X-Amz-Date")
				r.Header.Set("Date", signTime.Format(http.TimeFormat))
			}},
			code: kmsapi.IncompleteSignatureException,
			msg:  "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=" + sig,
		},
		{
			name: "extended format",
			q:    req{after: setDate("2024-01-01T00:10:00Z")},
			code: kmsapi.IncompleteSignatureException,
			msg:  "Date must be in ISO-8601 'basic format'. Got '2024-01-01T00:10:00Z'. See http://en.wikipedia.org/wiki/ISO_8601",
		},
		{
			name: "month 13",
			q:    req{after: setDate("20241301T001000Z")},
			code: kmsapi.IncompleteSignatureException,
			msg:  "Date must be in ISO-8601 'basic format'. Got '20241301T001000Z'. See http://en.wikipedia.org/wiki/ISO_8601",
		},
		{
			name: "february 30",
			q:    req{after: setDate("20240230T001000Z")},
			code: kmsapi.IncompleteSignatureException,
			msg:  "Date must be in ISO-8601 'basic format'. Got '20240230T001000Z'. See http://en.wikipedia.org/wiki/ISO_8601",
		},
		{
			name: "two values",
			q:    req{after: func(r *http.Request) { r.Header.Add("X-Amz-Date", "20240101T001000Z") }},
			code: kmsapi.IncompleteSignatureException,
			msg:  "Date must be in ISO-8601 'basic format'. Got '20240101T001000Z,20240101T001000Z'. See http://en.wikipedia.org/wiki/ISO_8601",
		},
		{
			name: "date not matching scope",
			q:    req{after: setDate("20240102T000100Z")},
			code: kmsapi.InvalidSignatureException,
			msg:  "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20240101' != '20240102', from '20240102T000100Z'.",
		},
		{
			name: "10 minutes old",
			q:    req{time: signTime.Add(-10 * time.Minute)},
			code: kmsapi.InvalidSignatureException,
			msg:  "Signature expired: 20240101T000000Z is now earlier than 20240101T000500Z (20240101T001000Z - 5 min.)",
		},
		{
			name: "5m01s old",
			q:    req{time: signTime.Add(-5*time.Minute - time.Second)},
			code: kmsapi.InvalidSignatureException,
			msg:  "Signature expired: 20240101T000459Z is now earlier than 20240101T000500Z (20240101T001000Z - 5 min.)",
		},
		{
			name: "10 minutes ahead",
			q:    req{time: signTime.Add(10 * time.Minute)},
			code: kmsapi.InvalidSignatureException,
			msg:  "Signature not yet current: 20240101T002000Z is still later than 20240101T001500Z (20240101T001000Z + 5 min.)",
		},
		{
			name: "6 minutes ahead",
			q:    req{time: signTime.Add(6 * time.Minute)},
			code: kmsapi.InvalidSignatureException,
			msg:  "Signature not yet current: 20240101T001600Z is still later than 20240101T001500Z (20240101T001000Z + 5 min.)",
		},
		{
			name:  "clock with sub-second part",
			q:     req{time: signTime.Add(-10 * time.Minute)},
			clock: signTime.Add(500 * time.Millisecond),
			code:  kmsapi.InvalidSignatureException,
			msg:   "Signature expired: 20240101T000000Z is now earlier than 20240101T000500Z (20240101T001000Z - 5 min.)",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := srv
			if !tc.clock.IsZero() {
				v := testVerifier(t)
				v.Now = func() time.Time { return tc.clock }
				s = newServer(t, v)
			}
			wantErr(t, send(t, s, tc.q), tc.code, tc.msg)
		})
	}
}

func TestScope(t *testing.T) {
	srv := newServer(t, testVerifier(t))
	t.Run("wrong service", func(t *testing.T) {
		wantErr(t, send(t, srv, req{service: "s3"}), kmsapi.InvalidSignatureException, "Credential should be scoped to correct service: 'kms'. ")
	})
	t.Run("unserved region", func(t *testing.T) {
		wantErr(t, send(t, srv, req{region: "ap-south-1"}), kmsapi.InvalidSignatureException, "Credential should be scoped to a valid region. ")
	})
	t.Run("every region served", func(t *testing.T) {
		v := testVerifier(t)
		v.Region = nil
		s := newServer(t, v)
		res := send(t, s, req{region: "ap-south-1"})
		wantOK(t, res, permAKID)
		if res.Region != "ap-south-1" {
			t.Fatalf("Region = %q", res.Region)
		}
	})
	t.Run("default service", func(t *testing.T) {
		v := testVerifier(t)
		v.Service = ""
		s := newServer(t, v)
		wantOK(t, send(t, s, req{}), permAKID)
		wantErr(t, send(t, s, req{service: "kms-fips"}), kmsapi.InvalidSignatureException, "Credential should be scoped to correct service: 'kms'. ")
	})
}

func TestSignedHeaders(t *testing.T) {
	srv := newServer(t, testVerifier(t))
	drop := func(name string) func(*http.Request) {
		return setAuth(func(a authorization) string {
			var keep []string
			for _, h := range strings.Split(a.SignedHeaders, ";") {
				if h != name {
					keep = append(keep, h)
				}
			}
			a.SignedHeaders = strings.Join(keep, ";")
			return a.String()
		})
	}
	t.Run("host not signed", func(t *testing.T) {
		wantErr(t, send(t, srv, req{after: drop("host")}), kmsapi.InvalidSignatureException,
			"'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	})
	t.Run("x-amz-date not signed", func(t *testing.T) {
		wantErr(t, send(t, srv, req{after: drop("x-amz-date")}), kmsapi.InvalidSignatureException,
			"'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
	})
	t.Run("token not signed", func(t *testing.T) {
		q := req{akid: tempAKID, secret: tempSecret, token: tempToken, after: drop("x-amz-security-token")}
		wantErr(t, send(t, srv, q), kmsapi.InvalidSignatureException,
			"'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.")
	})
	t.Run("x-amz-target not signed", func(t *testing.T) {
		wantErr(t, send(t, srv, req{after: drop("x-amz-target")}), kmsapi.InvalidSignatureException,
			"'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.")
	})
	t.Run("content-type not signed", func(t *testing.T) {
		wantErr(t, send(t, srv, req{after: drop("content-type")}), kmsapi.InvalidSignatureException,
			"'Content-Type' must be a 'SignedHeader' in the AWS Authorization.")
	})
	t.Run("x-amz-target added after signing", func(t *testing.T) {
		// A captured DescribeKey of a client that signs few headers, turned
		// into a DisableKey: refused before anything else.
		q := req{
			before: func(r *http.Request) { r.Header.Del("X-Amz-Target") },
			after:  func(r *http.Request) { r.Header.Set("X-Amz-Target", "TrentService.DisableKey") },
		}
		wantErr(t, send(t, srv, q), kmsapi.InvalidSignatureException,
			"'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.")
	})
	t.Run("x-amz-target repeated after signing", func(t *testing.T) {
		q := req{after: func(r *http.Request) { r.Header.Add("X-Amz-Target", "TrentService.DisableKey") }}
		wantErr(t, send(t, srv, q), kmsapi.InvalidSignatureException, msgSignatureMismatch)
	})
	t.Run("token added after signing", func(t *testing.T) {
		q := req{akid: tempAKID, secret: tempSecret, after: func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", tempToken) }}
		wantErr(t, send(t, srv, q), kmsapi.InvalidSignatureException,
			"'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.")
	})
	t.Run("signed header absent", func(t *testing.T) {
		q := req{after: func(r *http.Request) { r.Header.Del("Amz-Sdk-Request") }}
		wantErr(t, send(t, srv, q), kmsapi.IncompleteSignatureException,
			"'amz-sdk-request' is named as a SignedHeader, but it does not exist in the HTTP request.")
	})
	t.Run("unsent header named", func(t *testing.T) {
		q := req{after: setAuth(func(a authorization) string { a.SignedHeaders += ";x-trent-none"; return a.String() })}
		wantErr(t, send(t, srv, q), kmsapi.IncompleteSignatureException,
			"'x-trent-none' is named as a SignedHeader, but it does not exist in the HTTP request.")
	})
	t.Run("content-length unknown", func(t *testing.T) {
		// A chunked body has no Content-Length on the server side.
		q := req{after: func(r *http.Request) { r.ContentLength = -1; r.Body = io.NopCloser(bytes.NewReader(defaultBody)) }}
		wantErr(t, send(t, srv, q), kmsapi.IncompleteSignatureException,
			"'content-length' is named as a SignedHeader, but it does not exist in the HTTP request.")
	})
}

func TestTampering(t *testing.T) {
	srv := newServer(t, testVerifier(t))
	mismatch := func(t *testing.T, q req) {
		t.Helper()
		wantErr(t, send(t, srv, q), kmsapi.InvalidSignatureException, msgSignatureMismatch)
	}
	t.Run("body", func(t *testing.T) {
		tampered := bytes.Replace(defaultBody, []byte("alias/test"), []byte("alias/TEST"), 1)
		mismatch(t, req{after: func(r *http.Request) { r.Body = io.NopCloser(bytes.NewReader(tampered)) }})
	})
	t.Run("body cli", func(t *testing.T) {
		tampered := bytes.Replace(defaultBody, []byte("alias/test"), []byte("alias/other-key"), 1)
		mismatch(t, req{cli: true, after: func(r *http.Request) {
			r.Body = io.NopCloser(bytes.NewReader(tampered))
			r.ContentLength = int64(len(tampered))
		}})
	})
	t.Run("signed header", func(t *testing.T) {
		mismatch(t, req{after: func(r *http.Request) { r.Header.Set("X-Amz-Target", "TrentService.Decrypt") }})
	})
	t.Run("multi-value header order", func(t *testing.T) {
		mismatch(t, req{
			before: func(r *http.Request) { r.Header["X-Trent-Multi"] = []string{"one", "two"} },
			after:  func(r *http.Request) { r.Header["X-Trent-Multi"] = []string{"two", "one"} },
		})
	})
	t.Run("host", func(t *testing.T) {
		mismatch(t, req{after: func(r *http.Request) { r.Host = "kms.us-east-1.amazonaws.com" }})
	})
	t.Run("path", func(t *testing.T) {
		mismatch(t, req{after: func(r *http.Request) { r.URL.Path = "/other" }})
	})
	t.Run("query", func(t *testing.T) {
		mismatch(t, req{path: "/?a=1", after: func(r *http.Request) { r.URL.RawQuery = "a=2" }})
	})
	t.Run("malformed query", func(t *testing.T) {
		mismatch(t, req{path: "/?a=1", after: func(r *http.Request) { r.URL.RawQuery = "a=1&b=%zz" }})
	})
	t.Run("scope region", func(t *testing.T) {
		mismatch(t, req{after: setAuth(func(a authorization) string {
			a.Credential = strings.Replace(a.Credential, "us-east-1", "eu-west-1", 1)
			return a.String()
		})})
	})
	t.Run("wrong secret", func(t *testing.T) {
		mismatch(t, req{secret: tempSecret})
	})
	t.Run("session token with wrong secret", func(t *testing.T) {
		mismatch(t, req{akid: tempAKID, secret: permSecret, token: tempToken})
	})
	t.Run("method", func(t *testing.T) {
		mismatch(t, req{after: func(r *http.Request) { r.Method = http.MethodPut }})
	})
}

func TestContentSHA256(t *testing.T) {
	srv := newServer(t, testVerifier(t))
	for _, v := range []string{
		"0000000000000000000000000000000000000000000000000000000000000000",
		"UNSIGNED-PAYLOAD",
		"STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
	} {
		t.Run(v, func(t *testing.T) {
			q := req{before: func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", v) }}
			wantErr(t, send(t, srv, q), kmsapi.InvalidSignatureException,
				"The provided 'x-amz-content-sha256' header does not match what was computed.")
		})
	}
	t.Run("hash of the signed body, body tampered", func(t *testing.T) {
		tampered := bytes.Replace(defaultBody, []byte("alias/test"), []byte("alias/TEST"), 1)
		q := req{
			before: func(r *http.Request) {
				sum := sha256.Sum256(defaultBody)
				r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
			},
			after: func(r *http.Request) { r.Body = io.NopCloser(bytes.NewReader(tampered)) },
		}
		wantErr(t, send(t, srv, q), kmsapi.InvalidSignatureException,
			"The provided 'x-amz-content-sha256' header does not match what was computed.")
	})
}

func TestCredentials(t *testing.T) {
	srv := newServer(t, testVerifier(t))
	const invalid = "The security token included in the request is invalid."
	t.Run("unknown access key", func(t *testing.T) {
		wantErr(t, send(t, srv, req{akid: "AKIAUNKNOWNEXAMPLE00", secret: permSecret}), kmsapi.UnrecognizedClientException, invalid)
	})
	t.Run("unknown access key with token", func(t *testing.T) {
		wantErr(t, send(t, srv, req{akid: "ASIAUNKNOWNEXAMPLE00", secret: tempSecret, token: tempToken}), kmsapi.UnrecognizedClientException, invalid)
	})
	t.Run("token missing", func(t *testing.T) {
		wantErr(t, send(t, srv, req{akid: tempAKID, secret: tempSecret}), kmsapi.UnrecognizedClientException, invalid)
	})
	t.Run("token mismatched", func(t *testing.T) {
		wantErr(t, send(t, srv, req{akid: tempAKID, secret: tempSecret, token: tempToken + "x"}), kmsapi.UnrecognizedClientException, invalid)
	})
	t.Run("token of another credential", func(t *testing.T) {
		wantErr(t, send(t, srv, req{akid: tempAKID, secret: tempSecret, token: expToken}), kmsapi.UnrecognizedClientException, invalid)
	})
	t.Run("token unexpected", func(t *testing.T) {
		wantErr(t, send(t, srv, req{token: tempToken}), kmsapi.UnrecognizedClientException, invalid)
	})
	t.Run("token sent twice", func(t *testing.T) {
		q := req{akid: tempAKID, secret: tempSecret, token: tempToken,
			after: func(r *http.Request) { r.Header.Add("X-Amz-Security-Token", tempToken) }}
		wantErr(t, send(t, srv, q), kmsapi.UnrecognizedClientException, invalid)
	})
	t.Run("expired credential", func(t *testing.T) {
		wantErr(t, send(t, srv, req{akid: expAKID, secret: expSecret, token: expToken}), kmsapi.ExpiredTokenException,
			"The security token included in the request is expired")
	})
	t.Run("expired credential, wrong token", func(t *testing.T) {
		wantErr(t, send(t, srv, req{akid: expAKID, secret: expSecret, token: "nope"}), kmsapi.UnrecognizedClientException, invalid)
	})
	t.Run("nil keyring", func(t *testing.T) {
		v := testVerifier(t)
		v.Keyring = nil
		wantErr(t, send(t, newServer(t, v), req{}), kmsapi.UnrecognizedClientException, invalid)
	})
}

// TestKeyRotation checks that replacing a credential also drops the signing
// keys cached for the old secret.
func TestKeyRotation(t *testing.T) {
	v := testVerifier(t)
	srv := newServer(t, v)
	wantOK(t, send(t, srv, req{}), permAKID)
	if !v.Keyring.Remove(permAKID) {
		t.Fatal("Remove: not found")
	}
	wantErr(t, send(t, srv, req{}), kmsapi.UnrecognizedClientException, "The security token included in the request is invalid.")
	const newSecret = "rotatedrotatedrotatedrotatedrotatedrotat"
	if err := v.Keyring.Add(Credential{AccessKeyID: permAKID, SecretAccessKey: newSecret}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, send(t, srv, req{}), kmsapi.InvalidSignatureException, msgSignatureMismatch)
	wantOK(t, send(t, srv, req{secret: newSecret}), permAKID)
}

// TestSigningKeyCache verifies requests for more scopes than the cache
// holds, concurrently, so that -race checks the cache.
func TestSigningKeyCache(t *testing.T) {
	v := testVerifier(t)
	v.Region = nil
	base := signTime
	type job struct {
		r    *http.Request
		body []byte
		now  time.Time
	}
	var jobs []job
	for day := 0; day < 3; day++ {
		for _, region := range []string{"us-east-1", "eu-west-1", "ap-south-1"} {
			ts := base.AddDate(0, 0, day)
			r := serverRequest(t, newRequest(t, "http://kms.test", req{region: region, time: ts}))
			jobs = append(jobs, job{r, defaultBody, ts})
		}
	}
	done := make(chan error)
	for g := 0; g < 8; g++ {
		go func() {
			var err error
			for i := 0; i < 50 && err == nil; i++ {
				j := jobs[(g+i)%len(jobs)]
				vv := *v
				vv.Now = func() time.Time { return j.now }
				_, err = vv.Verify(j.r, j.body)
			}
			done <- err
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// serverRequest turns a client request into the request a net/http server
// would hand to its handler.
func serverRequest(t testing.TB, r *http.Request) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	sr, err := http.ReadRequest(bufioReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	return sr
}

func TestKeyring(t *testing.T) {
	good := Credential{AccessKeyID: "AKIA1", SecretAccessKey: "s1"}
	for _, tc := range []struct {
		name  string
		creds []Credential
	}{
		{"empty id", []Credential{{SecretAccessKey: "s"}}},
		{"empty secret", []Credential{{AccessKeyID: "AKIA2"}}},
		{"slash in id", []Credential{{AccessKeyID: "AKIA/2", SecretAccessKey: "s"}}},
		{"blank in id", []Credential{{AccessKeyID: "AKIA 2", SecretAccessKey: "s"}}},
		{"duplicate id", []Credential{good, {AccessKeyID: "AKIA1", SecretAccessKey: "s2"}}},
	} {
		if _, err := NewKeyring(tc.creds...); err == nil {
			t.Errorf("%s: NewKeyring succeeded", tc.name)
		}
	}
	kr, err := NewKeyring()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := kr.Lookup("AKIA1"); ok {
		t.Fatal("Lookup in empty keyring succeeded")
	}
	if err := kr.Add(good); err != nil {
		t.Fatal(err)
	}
	if err := kr.Add(good); err == nil {
		t.Fatal("Add of a duplicate succeeded")
	}
	if err := kr.Add(Credential{AccessKeyID: "AKIA3"}); err == nil {
		t.Fatal("Add without secret succeeded")
	}
	if c, ok := kr.Lookup("AKIA1"); !ok || c.AccessKeyID != good.AccessKeyID || c.SecretAccessKey != good.SecretAccessKey || c.Principal.ARN != good.Principal.ARN {
		t.Fatalf("Lookup = %+v, %v", c, ok)
	}
	if !kr.Remove("AKIA1") || kr.Remove("AKIA1") {
		t.Fatal("Remove did not report presence correctly")
	}
}

func TestDeriveSigningKey(t *testing.T) {
	// Example from the AWS General Reference ("Examples of how to derive a
	// signing key for Signature Version 4").
	got := deriveSigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
	const want = "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
	if hex.EncodeToString(got[:]) != want {
		t.Fatalf("got %x, want %s", got, want)
	}
}

func TestVerifyDoesNotAllocateMuch(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	v := testVerifier(t)
	r := serverRequest(t, newRequest(t, "http://kms.us-east-1.amazonaws.com", req{akid: tempAKID, secret: tempSecret, token: tempToken}))
	if _, err := v.Verify(r, defaultBody); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := v.Verify(r, defaultBody); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 { // the returned *Identity
		t.Fatalf("Verify allocates %v times per call, want at most 1", allocs)
	}
}
