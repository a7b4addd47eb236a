package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// Identity is the result of a successful authentication.
type Identity struct {
	Principal    Principal
	AccessKeyID  string
	Region       string // from the credential scope
	SessionToken bool   // the credential is a temporary one (has a session token)
}

// Verifier checks SigV4 header-signed requests against a Keyring.
// Its fields must not change while it is in use.
type Verifier struct {
	Keyring *Keyring
	Service string            // signing name; "" means "kms"
	Region  func(string) bool // regions this server serves; nil: every region
	Now     func() time.Time  // nil: time.Now
}

const (
	maxSkew       = 5 * time.Minute
	amzDateLayout = "20060102T150405Z"
	terminator    = "aws4_request"
)

// Verify authenticates r, whose body the caller has already read into
// body: Preauthenticate, then Signed.Verify. On failure the error is always
// a *kmsapi.Error.
func (v *Verifier) Verify(r *http.Request, body []byte) (*Identity, error) {
	s, err := v.Preauthenticate(r)
	if err != nil {
		return nil, err
	}
	return s.Verify(r, body)
}

// Signed is a request whose headers passed Preauthenticate: well formed,
// signed with a known access key, current. Only its body and signature are
// left to check.
type Signed struct {
	a       authorization
	e       *entry
	amzDate string
	scope   string
	date    string
	region  string
	service string
}

// Preauthenticate checks everything about r that does not need its body,
// so that a caller without credentials gets nowhere near the point where
// the body is read. On failure the error is always a *kmsapi.Error.
//
// The checks run in this order, each failing with the code AWS uses:
// Authorization header present (MissingAuthenticationToken); header
// syntax, parameters and X-Amz-Date present, algorithm, credential syntax,
// X-Amz-Date syntax (IncompleteSignature); scope date, terminator, service
// and region, host / x-amz-date / x-amz-security-token / x-amz-target /
// content-type signed, clock skew (InvalidSignature); access key and
// session token (UnrecognizedClient); credential expiry (ExpiredToken).
// Signed.Verify then checks X-Amz-Content-Sha256 and the signature itself
// (InvalidSignature; a signed header missing from the request is
// IncompleteSignature).
func (v *Verifier) Preauthenticate(r *http.Request) (Signed, error) {
	s, err := v.preauthenticate(r)
	if err != nil {
		return Signed{}, err
	}
	return s, nil
}

func (v *Verifier) preauthenticate(r *http.Request) (Signed, *kmsapi.Error) {
	var none Signed
	// Presigned (query-string) requests carry no Authorization header and
	// end up here too: KMS traffic never uses them.
	hs := r.Header["Authorization"]
	if len(hs) == 0 || trimBlanks(hs[0]) == "" {
		return none, kmsapi.Errorf(kmsapi.MissingAuthenticationTokenException, msgMissingToken)
	}
	if len(hs) > 1 {
		return none, kmsapi.Errorf(kmsapi.IncompleteSignatureException, msgMultipleAuthorization)
	}
	a, err := parseAuthorization(hs[0])
	if err != nil {
		return none, err
	}
	dates := r.Header["X-Amz-Date"]
	if m := a.missing(len(dates) > 0); m != "" {
		return none, kmsapi.Errorf(kmsapi.IncompleteSignatureException, "%s", m)
	}
	if a.Algorithm != algorithm {
		return none, kmsapi.Errorf(kmsapi.IncompleteSignatureException, msgUnsupportedAlgorithm, safeToken(a.Algorithm))
	}
	akid, date, region, service, term, ok := splitCredential(a.Credential)
	if !ok {
		return none, kmsapi.Errorf(kmsapi.IncompleteSignatureException, msgCredentialElements, clip(a.Credential))
	}
	scope := a.Credential[len(akid)+1:] // date/region/service/aws4_request

	amzDate := dates[0]
	if len(dates) > 1 {
		amzDate = strings.Join(dates, ",") // never a valid date
	}
	t, ok := parseAmzDate(amzDate)
	if !ok {
		return none, kmsapi.Errorf(kmsapi.IncompleteSignatureException, msgBadDate, clip(amzDate))
	}
	if date != amzDate[:8] {
		return none, kmsapi.Errorf(kmsapi.InvalidSignatureException, msgScopeDate, clip(date), amzDate[:8], amzDate)
	}
	if term != terminator {
		return none, kmsapi.Errorf(kmsapi.InvalidSignatureException, msgScopeTerminator, clip(term))
	}
	svc := v.Service
	if svc == "" {
		svc = "kms"
	}
	if service != svc {
		return none, kmsapi.Errorf(kmsapi.InvalidSignatureException, msgScopeService, svc)
	}
	if region == "" || v.Region != nil && !v.Region(region) {
		return none, kmsapi.Errorf(kmsapi.InvalidSignatureException, msgScopeRegion)
	}

	// host and x-amz-date must be signed, and so must a session token when
	// one is sent. AWS (DynamoDB) answers an unsigned host with
	// InvalidSignatureException; the others follow it. x-amz-target names
	// the operation and content-type the protocol: unsigned, a captured
	// request could be replayed as another operation (every SDK signs both).
	var hasHost, hasDate, hasToken, hasTarget, hasType bool
	for rest := a.SignedHeaders; ; {
		name, tail, more := strings.Cut(rest, ";")
		switch name {
		case "host":
			hasHost = true
		case "x-amz-date":
			hasDate = true
		case "x-amz-security-token":
			hasToken = true
		case "x-amz-target":
			hasTarget = true
		case "content-type":
			hasType = true
		}
		if !more {
			break
		}
		rest = tail
	}
	tokens := r.Header["X-Amz-Security-Token"]
	switch {
	case !hasHost:
		return none, kmsapi.Errorf(kmsapi.InvalidSignatureException, msgHostNotSigned)
	case !hasDate:
		return none, kmsapi.Errorf(kmsapi.InvalidSignatureException, msgDateNotSigned)
	case len(tokens) > 0 && !hasToken:
		return none, kmsapi.Errorf(kmsapi.InvalidSignatureException, msgTokenNotSigned)
	case !hasTarget:
		return none, kmsapi.Errorf(kmsapi.InvalidSignatureException, msgTargetNotSigned)
	case !hasType:
		return none, kmsapi.Errorf(kmsapi.InvalidSignatureException, msgContentTypeNotSigned)
	}

	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	if lo := now.Add(-maxSkew); t.Before(lo) {
		return none, kmsapi.Errorf(kmsapi.InvalidSignatureException, msgExpired,
			amzDate, lo.UTC().Format(amzDateLayout), now.UTC().Format(amzDateLayout))
	}
	if hi := now.Add(maxSkew); t.After(hi) {
		return none, kmsapi.Errorf(kmsapi.InvalidSignatureException, msgNotCurrent,
			amzDate, hi.UTC().Format(amzDateLayout), now.UTC().Format(amzDateLayout))
	}

	e := v.Keyring.entry(akid)
	if e == nil {
		return none, kmsapi.Errorf(kmsapi.UnrecognizedClientException, msgInvalidToken)
	}
	c := &e.cred
	if c.SessionToken != "" {
		if len(tokens) != 1 || !constantTimeEqual(tokens[0], c.SessionToken) {
			return none, kmsapi.Errorf(kmsapi.UnrecognizedClientException, msgInvalidToken)
		}
	} else if len(tokens) > 0 {
		return none, kmsapi.Errorf(kmsapi.UnrecognizedClientException, msgInvalidToken)
	}
	if !c.Expires.IsZero() && now.After(c.Expires) {
		return none, kmsapi.Errorf(kmsapi.ExpiredTokenException, msgExpiredToken)
	}

	return Signed{a: a, e: e, amzDate: amzDate, scope: scope, date: date, region: region, service: service}, nil
}

// Verify checks the body's hash and the signature of a request that
// passed Preauthenticate. body is the whole request body.
func (s *Signed) Verify(r *http.Request, body []byte) (*Identity, error) {
	id, err := s.verify(r, body)
	if err != nil {
		return nil, err
	}
	return id, nil
}

func (s *Signed) verify(r *http.Request, body []byte) (*Identity, *kmsapi.Error) {
	a, e, amzDate, scope, date, region, service := s.a, s.e, s.amzDate, s.scope, s.date, s.region, s.service
	c := &e.cred
	sum := sha256.Sum256(body)
	var payloadHash [2 * sha256.Size]byte
	hex.Encode(payloadHash[:], sum[:])
	if cs := r.Header["X-Amz-Content-Sha256"]; len(cs) > 0 {
		// KMS has no unsigned or streaming payloads: the header, if sent,
		// must be the body's hash (lowercase hex, as the SDKs send it).
		if len(cs) != 1 || cs[0] != string(payloadHash[:]) {
			return nil, kmsapi.Errorf(kmsapi.InvalidSignatureException, msgContentSHA256)
		}
	}

	var crBuf [2048]byte
	cr, err := appendCanonicalRequest(crBuf[:0], r, a.SignedHeaders, payloadHash[:])
	if err != nil {
		return nil, err
	}
	crHash := sha256.Sum256(cr)
	got := signature(e.signingKey(date, region, service), amzDate, scope, &crHash)
	want, ok := decodeSignature(a.Signature)
	if !ok || !hmac.Equal(got[:], want[:]) {
		return nil, kmsapi.Errorf(kmsapi.InvalidSignatureException, msgSignatureMismatch)
	}
	return &Identity{
		Principal:    c.Principal,
		AccessKeyID:  c.AccessKeyID,
		Region:       region,
		SessionToken: c.SessionToken != "",
	}, nil
}

// splitCredential splits "AKID/date/region/service/terminator".
func splitCredential(c string) (akid, date, region, service, term string, ok bool) {
	var parts [5]string
	n, start := 0, 0
	for i := 0; i < len(c); i++ {
		if c[i] == '/' {
			if n == 4 {
				return
			}
			parts[n] = c[start:i]
			n++
			start = i + 1
		}
	}
	if n != 4 {
		return
	}
	parts[4] = c[start:]
	return parts[0], parts[1], parts[2], parts[3], parts[4], true
}

// parseAmzDate parses "yyyymmddThhmmssZ" strictly (no allocation).
func parseAmzDate(s string) (time.Time, bool) {
	if len(s) != 16 || s[8] != 'T' || s[15] != 'Z' {
		return time.Time{}, false
	}
	var f [6]int
	pos := [6][2]int{{0, 4}, {4, 6}, {6, 8}, {9, 11}, {11, 13}, {13, 15}}
	for i, p := range pos {
		n := 0
		for j := p[0]; j < p[1]; j++ {
			c := s[j]
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
			n = n*10 + int(c-'0')
		}
		f[i] = n
	}
	if f[1] < 1 || f[1] > 12 || f[2] < 1 || f[3] > 23 || f[4] > 59 || f[5] > 59 {
		return time.Time{}, false
	}
	t := time.Date(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], 0, time.UTC)
	if t.Day() != f[2] { // e.g. February 30th
		return time.Time{}, false
	}
	return t, true
}

// appendCanonicalRequest appends the SigV4 canonical request of r to b.
// It fails if a signed header is absent from the request or the query
// string is malformed.
func appendCanonicalRequest(b []byte, r *http.Request, signedHeaders string, payloadHash []byte) ([]byte, *kmsapi.Error) {
	b = append(b, r.Method...)
	b = append(b, '\n')
	b = appendCanonicalURI(b, r.URL.EscapedPath())
	b = append(b, '\n')
	b, ok := appendCanonicalQuery(b, r.URL.RawQuery)
	if !ok {
		// The SDK signs url.URL.Query(), which drops malformed pairs; we
		// refuse to accept a query part no signature covers.
		return nil, kmsapi.Errorf(kmsapi.InvalidSignatureException, msgSignatureMismatch)
	}
	b = append(b, '\n')
	for rest := signedHeaders; ; {
		name, tail, more := strings.Cut(rest, ";")
		b = append(b, name...)
		b = append(b, ':')
		switch name {
		case "host": // net/http moves Host out of r.Header
			if r.Host == "" {
				return nil, kmsapi.Errorf(kmsapi.IncompleteSignatureException, msgSignedHeaderAbsent, clip(name))
			}
			b = appendHeaderValue(b, r.Host)
		case "content-length": // and keeps the length in r.ContentLength
			if r.ContentLength < 0 {
				return nil, kmsapi.Errorf(kmsapi.IncompleteSignatureException, msgSignedHeaderAbsent, clip(name))
			}
			b = strconv.AppendInt(b, r.ContentLength, 10)
		default:
			vals := headerValues(r.Header, name)
			if len(vals) == 0 {
				return nil, kmsapi.Errorf(kmsapi.IncompleteSignatureException, msgSignedHeaderAbsent, clip(name))
			}
			for i, v := range vals {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendHeaderValue(b, v)
			}
		}
		b = append(b, '\n')
		if !more {
			break
		}
		rest = tail
	}
	b = append(b, '\n')
	b = append(b, signedHeaders...)
	b = append(b, '\n')
	b = append(b, payloadHash...)
	return b, nil
}

// appendCanonicalURI URI-encodes the (already escaped) request path once
// more, as SigV4 does for every service but S3: every byte but the
// unreserved ones and '/' becomes %XX.
func appendCanonicalURI(b []byte, path string) []byte {
	if path == "" || path == "/" {
		return append(b, '/')
	}
	const upperhex = "0123456789ABCDEF"
	for i := 0; i < len(path); i++ {
		c := path[i]
		if isUnreserved(c) || c == '/' {
			b = append(b, c)
		} else {
			b = append(b, '%', upperhex[c>>4], upperhex[c&15])
		}
	}
	return b
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// appendCanonicalQuery appends the canonical query string: every name and
// value URI-encoded (space as %20), pairs sorted after encoding. KMS
// requests have no query, so this allocates only when there is one.
// It reports false for a malformed query.
func appendCanonicalQuery(b []byte, raw string) ([]byte, bool) {
	if raw == "" {
		return b, true
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return b, false
	}
	type pair struct{ k, v string }
	pairs := make([]pair, 0, len(q))
	for k, vs := range q {
		ek := queryEscape(k)
		for _, v := range vs {
			pairs = append(pairs, pair{ek, queryEscape(v)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	for i, p := range pairs {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, p.k...)
		b = append(b, '=')
		b = append(b, p.v...)
	}
	return b, true
}

func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// headerValues returns the values of the header whose lowercase name is
// given, without allocating for the common case of a canonical key.
func headerValues(h http.Header, lower string) []string {
	var kb [64]byte
	if len(lower) <= len(kb) {
		k := kb[:len(lower)]
		upper := true
		for i := 0; i < len(lower); i++ {
			c := lower[i]
			if upper && 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			} else if !upper && 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			k[i] = c
			upper = c == '-'
		}
		if v, ok := h[string(k)]; ok {
			return v
		}
	}
	// Keys net/http leaves non-canonical (unusual bytes) or very long ones.
	for k, v := range h {
		if strings.EqualFold(k, lower) {
			return v
		}
	}
	return nil
}

// appendHeaderValue appends v trimmed of surrounding white space and with
// every run of spaces collapsed to one, as the SDK signers do.
func appendHeaderValue(b []byte, v string) []byte {
	for len(v) > 0 && isTrimSpace(v[0]) {
		v = v[1:]
	}
	for len(v) > 0 && isTrimSpace(v[len(v)-1]) {
		v = v[:len(v)-1]
	}
	if !strings.Contains(v, "  ") {
		return append(b, v...)
	}
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b = append(b, c)
	}
	return b
}

func isTrimSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// signature computes HMAC-SHA256(key, string to sign) without allocating:
// the string to sign is built right after the HMAC inner pad.
func signature(key *[sha256.Size]byte, amzDate, scope string, crHash *[sha256.Size]byte) [sha256.Size]byte {
	const blockSize = 64
	var buf [blockSize + 256]byte
	b := buf[:blockSize]
	for i := range b {
		b[i] = 0x36
	}
	for i, k := range key {
		b[i] ^= k
	}
	b = append(b, algorithm+"\n"...)
	b = append(b, amzDate...)
	b = append(b, '\n')
	b = append(b, scope...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, crHash[:])
	inner := sha256.Sum256(b)

	var outer [blockSize + sha256.Size]byte
	for i := 0; i < blockSize; i++ {
		outer[i] = 0x5c
	}
	for i, k := range key {
		outer[i] ^= k
	}
	copy(outer[blockSize:], inner[:])
	return sha256.Sum256(outer[:])
}

// decodeSignature decodes 64 lowercase hex digits, the only form the SDKs
// send; anything else cannot match and is reported as a mismatch.
func decodeSignature(s string) (sig [sha256.Size]byte, ok bool) {
	if len(s) != 2*sha256.Size {
		return sig, false
	}
	for i := range sig {
		hi, ok1 := fromHexLower(s[2*i])
		lo, ok2 := fromHexLower(s[2*i+1])
		if !ok1 || !ok2 {
			return sig, false
		}
		sig[i] = hi<<4 | lo
	}
	return sig, true
}

func fromHexLower(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// constantTimeEqual compares two strings in time that depends only on
// their lengths.
func constantTimeEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var d byte
	for i := 0; i < len(a); i++ {
		d |= a[i] ^ b[i]
	}
	return d == 0
}
