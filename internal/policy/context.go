package policy

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Context supplies the values of condition keys for one request:
// kms:EncryptionAlgorithm, kms:EncryptionContext:<k>, aws:SourceIp,
// aws:PrincipalTag/<k>, and so on. Lookup receives the key in lower case
// (condition key names are case-insensitive, including the <k> part of
// kms:EncryptionContext:<k> and aws:ResourceTag/<k>) and returns every value
// of the key. A key that is present with no values (an empty multi-valued
// key such as kms:EncryptionContextKeys for a request without a context)
// counts as absent for every operator.
//
// The principal keys aws:PrincipalArn, aws:PrincipalAccount,
// aws:PrincipalType, aws:userid and aws:username come from
// Request.Principal only (empty fields are absent keys), and
// aws:CurrentTime and aws:EpochTime from Request.Time, or from Context when
// Time is zero.
type Context interface {
	Lookup(lowercaseKey string) (values []string, present bool)
}

// MapContext is a Context over a map whose keys are lower case. Set
// lower-cases for the caller.
type MapContext map[string][]string

// Lookup implements Context.
func (m MapContext) Lookup(key string) ([]string, bool) {
	v, ok := m[key]
	return v, ok
}

// Set records the values of key.
func (m MapContext) Set(key string, values ...string) {
	m[strings.ToLower(key)] = values
}

// Entry is one condition key of a ListContext. The key is Prefix+Name,
// compared case-insensitively; splitting it lets a caller add
// kms:EncryptionContext:<k> for each pair of a request's encryption context
// without building a string per pair.
type Entry struct {
	Prefix string
	Name   string
	Values []string
}

// ListContext is a Context that is a plain slice, cheap to build per
// request: a handful of entries is searched faster than a map is filled.
// Entries are compared with the (lower-case) key byte length first, so a
// name with a character whose lower case has another UTF-8 length (the
// Kelvin sign) must be given in lower case.
// A caller with several single-valued keys can carve their Values out of
// one shared []string to keep to one allocation.
type ListContext []Entry

// Lookup implements Context.
func (c ListContext) Lookup(key string) ([]string, bool) {
	for i := range c {
		e := &c[i]
		if len(key) != len(e.Prefix)+len(e.Name) {
			continue
		}
		if equalLower(e.Prefix, key[:len(e.Prefix)]) && equalLower(e.Name, key[len(e.Prefix):]) {
			return e.Values, true
		}
	}
	return nil, false
}

// equalLower reports whether s equals lower (which is lower case) but for
// case: ASCII quickly, anything else by Unicode simple folding.
func equalLower(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || lower[i] >= utf8.RuneSelf {
			return strings.EqualFold(s[i:], lower[i:])
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// keyRef is a compiled condition key or variable name.
type keyRef struct {
	name    string // lower case
	builtin builtinKey
}

// builtinKey marks the keys that Evaluate answers from the Request itself.
type builtinKey uint8

const (
	notBuiltin builtinKey = iota
	keyPrincipalArn
	keyPrincipalAccount
	keyPrincipalType
	keyUserID
	keyUsername
	keyCurrentTime
	keyEpochTime
)

var builtinKeys = map[string]builtinKey{
	"aws:principalarn":     keyPrincipalArn,
	"aws:principalaccount": keyPrincipalAccount,
	"aws:principaltype":    keyPrincipalType,
	"aws:userid":           keyUserID,
	"aws:username":         keyUsername,
	"aws:currenttime":      keyCurrentTime,
	"aws:epochtime":        keyEpochTime,
}

func newKeyRef(name string) keyRef {
	name = strings.ToLower(name)
	return keyRef{name: name, builtin: builtinKeys[name]}
}

// lookup returns the values of k for r. buf holds a value taken from the
// Request so that no slice is allocated for it.
func lookup(r *Request, k *keyRef, buf *[1]string) ([]string, bool) {
	v := ""
	switch k.builtin {
	case keyPrincipalArn:
		v = r.Principal.principalArn()
	case keyPrincipalAccount:
		v = r.Principal.Account
	case keyPrincipalType:
		v = r.Principal.Type
	case keyUserID:
		v = r.Principal.UserID
	case keyUsername:
		v = r.Principal.Username
	case keyCurrentTime:
		if !r.Time.IsZero() {
			v = r.Time.UTC().Format(time.RFC3339)
		}
	case keyEpochTime:
		if !r.Time.IsZero() {
			v = strconv.FormatInt(r.Time.Unix(), 10)
		}
	}
	if v != "" {
		buf[0] = v
		return buf[:], true
	}
	if k.builtin != notBuiltin && k.builtin < keyCurrentTime {
		// Who the caller is comes from authentication only: a request
		// context must not be able to claim aws:username for a role session.
		return nil, false
	}
	if r.Context == nil {
		return nil, false
	}
	return r.Context.Lookup(k.name)
}
