package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"github.com/trent-kms/trent/internal/kmsapi"
)

const algorithm = "AWS4-HMAC-SHA256"

// authorization is a parsed Authorization header. Its strings are
// substrings of the header.
type authorization struct {
	Algorithm     string
	Credential    string
	SignedHeaders string
	Signature     string
}

// parseAuthorization splits an Authorization header into its algorithm
// (everything before the first blank) and its Credential, SignedHeaders and
// Signature parameters. Like AWS, it separates parameters by any run of
// commas and blanks, takes keys case-sensitively and ignores unknown keys.
// A token without '=' or a repeated known key is an
// IncompleteSignatureException. Missing or empty parameters are not an
// error here: the caller reports them together with a missing X-Amz-Date,
// as AWS does. The algorithm is not checked here either.
func parseAuthorization(h string) (authorization, *kmsapi.Error) {
	var a authorization
	var seen [3]bool // Credential, SignedHeaders, Signature
	h = trimBlanks(h)
	i := 0
	for i < len(h) && !isBlank(h[i]) {
		i++
	}
	a.Algorithm = h[:i]
	rest := h[i:]
	for {
		// Skip separators, then take one token.
		j := 0
		for j < len(rest) && isSeparator(rest[j]) {
			j++
		}
		rest = rest[j:]
		if rest == "" {
			return a, nil
		}
		j = 0
		for j < len(rest) && !isSeparator(rest[j]) {
			j++
		}
		tok := rest[:j]
		rest = rest[j:]
		key, val, ok := strings.Cut(tok, "=")
		if !ok {
			return authorization{}, kmsapi.Errorf(kmsapi.IncompleteSignatureException, msgMissingEqualSign, hashHeader(h))
		}
		var dst *string
		var n int
		switch key {
		case "Credential":
			dst, n = &a.Credential, 0
		case "SignedHeaders":
			dst, n = &a.SignedHeaders, 1
		case "Signature":
			dst, n = &a.Signature, 2
		default:
			continue
		}
		if seen[n] {
			// Own wording: AWS's behaviour for a repeated parameter is not
			// known; accepting either copy would make the header ambiguous.
			return authorization{}, kmsapi.Errorf(kmsapi.IncompleteSignatureException, msgDuplicateParameter, key)
		}
		seen[n] = true
		*dst = val
	}
}

// String formats a in the layout the AWS SDKs use. It includes the
// signature, so it is for tests and clients only, never for messages.
func (a authorization) String() string {
	return a.Algorithm + " Credential=" + a.Credential + ", SignedHeaders=" + a.SignedHeaders + ", Signature=" + a.Signature
}

// missing returns AWS's message naming the absent parameters and, when
// hasDate is false, the absent X-Amz-Date header; "" if nothing is absent.
// The header is echoed as AWS does, but rebuilt from the known parameters
// with the signature redacted and an unexpected scheme token hidden.
func (a authorization) missing(hasDate bool) string {
	var b strings.Builder
	if a.Credential == "" {
		b.WriteString("Authorization header requires 'Credential' parameter. ")
	}
	if a.Signature == "" {
		b.WriteString("Authorization header requires 'Signature' parameter. ")
	}
	if a.SignedHeaders == "" {
		b.WriteString("Authorization header requires 'SignedHeaders' parameter. ")
	}
	if !hasDate {
		b.WriteString("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ")
	}
	if b.Len() == 0 {
		return ""
	}
	b.WriteString("Authorization=")
	b.WriteString(a.redacted())
	return b.String()
}

// redacted renders a for an error message: the signature is replaced by
// "<redacted>" and an algorithm token that does not look like a scheme name
// (it may be a bearer token sent by mistake) is replaced too.
func (a authorization) redacted() string {
	var b strings.Builder
	b.WriteString(safeToken(a.Algorithm))
	sep := " "
	if a.Credential != "" {
		b.WriteString(sep + "Credential=" + clip(a.Credential))
		sep = ", "
	}
	if a.SignedHeaders != "" {
		b.WriteString(sep + "SignedHeaders=" + clip(a.SignedHeaders))
		sep = ", "
	}
	if a.Signature != "" {
		b.WriteString(sep + "Signature=<redacted>")
	}
	return b.String()
}

// safeToken returns s if it looks like an authorization scheme name (short,
// letters, digits, '-', '_', '.'), else "<redacted>".
func safeToken(s string) string {
	if len(s) == 0 || len(s) > 24 {
		return "<redacted>"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "<redacted>"
		}
	}
	return s
}

// clip shortens a client-supplied value echoed in an error message.
func clip(s string) string {
	const max = 256
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// hashHeader is how current AWS front ends refer to a malformed
// Authorization header without echoing it: base64(sha256(header)).
func hashHeader(h string) string {
	sum := sha256.Sum256([]byte(h))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func isBlank(c byte) bool     { return c == ' ' || c == '\t' }
func isSeparator(c byte) bool { return c == ',' || c == ' ' || c == '\t' }

func trimBlanks(s string) string {
	for len(s) > 0 && isBlank(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isBlank(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}
