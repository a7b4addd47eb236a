package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trent-kms/trent/internal/policy"
)

// Principal is who a request acts for.
type Principal struct {
	Account string // "111122223333"
	// ARN is the caller: "arn:aws:iam::111122223333:root",
	// "arn:aws:iam::111122223333:user/alice" or, for a role session,
	// "arn:aws:sts::111122223333:assumed-role/app/s1".
	ARN    string
	UserID string // principalId in CloudTrail terms (for root: the account id)
	// Type is policy.TypeAccount (the root user), TypeUser or
	// TypeAssumedRole.
	Type string
	// RoleARN is the role of a role session ("arn:aws:iam::…:role/app").
	RoleARN string
	// Username is the IAM user's name (aws:username).
	Username string
	// Policies are the identity's IAM policies, parsed.
	Policies []*policy.Policy
}

// ForPolicy is the principal as package policy sees it.
func (p *Principal) ForPolicy() policy.Principal {
	return policy.Principal{ARN: p.ARN, Account: p.Account, Type: p.Type, RoleARN: p.RoleARN, UserID: p.UserID, Username: p.Username}
}

// Credential is one access key.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken, if set, must arrive, signed, as the request's
	// X-Amz-Security-Token; a request for a credential without one must
	// not carry that header.
	SessionToken string
	// Expires is when the credential stops working (zero: never). After it,
	// requests fail with ExpiredTokenException.
	Expires   time.Time
	Principal Principal
}

// Keyring holds the credentials the server accepts. It is safe for
// concurrent use and optimised for reads: lookups take no lock.
type Keyring struct {
	mu      sync.Mutex                        // serialises writers
	entries atomic.Pointer[map[string]*entry] // copy-on-write
}

// entry is one credential plus its cache of derived signing keys. An entry
// is never modified after it is published except for the cache, so
// replacing a credential (Remove then Add) also drops its cached keys.
type entry struct {
	cred Credential
	keys [signingKeySlots]atomic.Pointer[signingKey]
	next atomic.Uint32
}

// signingKeySlots bounds the derived-key cache per credential. A client
// normally uses one (date, region) at a time, two around midnight UTC.
const signingKeySlots = 4

// signingKey is a derived SigV4 signing key for one scope. It depends only
// on the secret and the scope, not on any request, so caching it is safe.
type signingKey struct {
	date, region, service string
	key                   [sha256.Size]byte
}

// NewKeyring returns a keyring holding creds. It fails if an access key id
// is empty, contains '/', or appears twice, or if a secret is empty.
func NewKeyring(creds ...Credential) (*Keyring, error) {
	m, err := entriesOf(creds)
	if err != nil {
		return nil, err
	}
	k := &Keyring{}
	k.entries.Store(&m)
	return k, nil
}

func entriesOf(creds []Credential) (map[string]*entry, error) {
	m := make(map[string]*entry, len(creds))
	for _, c := range creds {
		if err := checkCredential(c); err != nil {
			return nil, err
		}
		if _, dup := m[c.AccessKeyID]; dup {
			return nil, fmt.Errorf("auth: duplicate access key id %q", c.AccessKeyID)
		}
		m[c.AccessKeyID] = &entry{cred: c}
	}
	return m, nil
}

// Replace swaps every credential for creds at once (a configuration
// reload): a request verifies against the old set or the new one, never a
// mix. It fails, changing nothing, if creds are invalid.
func (k *Keyring) Replace(creds ...Credential) error {
	m, err := entriesOf(creds)
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.entries.Store(&m)
	return nil
}

func checkCredential(c Credential) error {
	switch {
	case c.AccessKeyID == "":
		return errors.New("auth: empty access key id")
	case strings.ContainsAny(c.AccessKeyID, "/, \t"):
		return fmt.Errorf("auth: access key id %q contains '/', ',' or white space", c.AccessKeyID)
	case c.SecretAccessKey == "":
		return fmt.Errorf("auth: empty secret access key for %q", c.AccessKeyID)
	}
	return nil
}

// Add adds c. It fails if c is invalid or its access key id is already
// present; to replace a credential, Remove it first.
func (k *Keyring) Add(c Credential) error {
	if err := checkCredential(c); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	old := k.load()
	if _, dup := old[c.AccessKeyID]; dup {
		return fmt.Errorf("auth: duplicate access key id %q", c.AccessKeyID)
	}
	m := make(map[string]*entry, len(old)+1)
	for id, e := range old {
		m[id] = e
	}
	m[c.AccessKeyID] = &entry{cred: c}
	k.entries.Store(&m)
	return nil
}

// Remove removes the credential with the given access key id and reports
// whether it was present.
func (k *Keyring) Remove(accessKeyID string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	old := k.load()
	if _, ok := old[accessKeyID]; !ok {
		return false
	}
	m := make(map[string]*entry, len(old))
	for id, e := range old {
		if id != accessKeyID {
			m[id] = e
		}
	}
	k.entries.Store(&m)
	return true
}

// Lookup returns the credential with the given access key id.
func (k *Keyring) Lookup(accessKeyID string) (Credential, bool) {
	if e := k.entry(accessKeyID); e != nil {
		return e.cred, true
	}
	return Credential{}, false
}

func (k *Keyring) load() map[string]*entry {
	if k == nil {
		return nil
	}
	if p := k.entries.Load(); p != nil {
		return *p
	}
	return nil
}

func (k *Keyring) entry(accessKeyID string) *entry {
	return k.load()[accessKeyID]
}

// signingKey returns the SigV4 signing key for the scope, deriving and
// caching it on a miss. date, region and service may be substrings of a
// request header; they are copied before being cached.
func (e *entry) signingKey(date, region, service string) *[sha256.Size]byte {
	for i := range e.keys {
		if sk := e.keys[i].Load(); sk != nil && sk.date == date && sk.region == region && sk.service == service {
			return &sk.key
		}
	}
	sk := &signingKey{
		date:    strings.Clone(date),
		region:  strings.Clone(region),
		service: strings.Clone(service),
		key:     deriveSigningKey(e.cred.SecretAccessKey, date, region, service),
	}
	e.keys[e.next.Add(1)%signingKeySlots].Store(sk)
	return &sk.key
}

// deriveSigningKey computes HMAC chain "AWS4"+secret → date → region →
// service → "aws4_request".
func deriveSigningKey(secret, date, region, service string) [sha256.Size]byte {
	k := hmacSum([]byte("AWS4"+secret), date)
	k = hmacSum(k, region)
	k = hmacSum(k, service)
	k = hmacSum(k, "aws4_request")
	var out [sha256.Size]byte
	copy(out[:], k)
	return out
}

func hmacSum(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
