// Package quota is trent's request-rate quotas, shaped like AWS KMS's: a
// token bucket per account, region and quota, where a quota is either
// shared by the cryptographic operations on one kind of key (symmetric,
// RSA, ECC, ML-DSA, as in AWS) or belongs to one operation.
//
// A bucket holds at most one second's worth of requests (at least one)
// and refills continuously at the quota's rate, so a caller can spend a
// quota's whole second at once and then gets its rate, never more: over
// any window of t seconds at most rate·t + rate requests pass. A request
// beyond it is refused; the front end answers ThrottlingException, which
// every AWS SDK retries with back-off.
//
// The defaults are AWS's published defaults (see Defaults); a
// configuration changes any of them, or turns a quota or every quota off.
package quota

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Quota names. The cryptographic operations share a quota per kind of
// key, as in AWS (ForKey); every other operation has a quota of its own,
// named by the operation (CreateKey, ...); GenerateDataKeyPair and
// GenerateDataKeyPairWithoutPlaintext share one per key pair spec, named
// "GenerateDataKeyPair:<spec>".
const (
	// Symmetric is AWS's "Cryptographic operations (symmetric) request
	// rate": Encrypt, Decrypt, ReEncrypt, GenerateDataKey,
	// GenerateDataKeyWithoutPlaintext, GenerateMac and VerifyMac with a
	// symmetric or HMAC key, and GenerateRandom.
	Symmetric = "cryptographic_symmetric"
	// RSA is AWS's "Cryptographic operations (RSA) request rate": Encrypt,
	// Decrypt, ReEncrypt, Sign and Verify with an RSA key.
	RSA = "cryptographic_rsa"
	// ECC is AWS's "Cryptographic operations (ECC) request rate": Sign,
	// Verify and DeriveSharedSecret with an elliptic curve (or SM2) key.
	ECC = "cryptographic_ecc"
	// MLDSA is AWS's "Cryptographic operations (ML-DSA) request rate":
	// Sign and Verify with an ML-DSA key.
	MLDSA = "cryptographic_ml_dsa"
	// MLKEM is Encapsulate and Decapsulate with an ML-KEM key. AWS's
	// quotas page does not list these operations yet; trent gives them the
	// rate of the other asymmetric quotas.
	MLKEM = "cryptographic_ml_kem"

	// Asymmetric, in a configuration, sets RSA, ECC, MLDSA and MLKEM at
	// once (trent's single asymmetric quota before they were told apart);
	// a rate given for one of them by name wins over it.
	Asymmetric = "cryptographic_asymmetric"

	dataKeyPairPrefix = "GenerateDataKeyPair:"
)

var asymmetricQuotas = []string{RSA, ECC, MLDSA, MLKEM}

// Unlimited is the rate of a quota that is turned off.
const Unlimited = -1

// Defaults are AWS KMS's default request quotas, in requests per second,
// as AWS's "Request quotas" page lists them (the symmetric quota is
// 10,000 in most regions; AWS grants 20,000 or 100,000 in some, which a
// configuration can set). Operations absent here have no request quota.
var Defaults = map[string]float64{
	Symmetric: 10000,
	RSA:       1000,
	ECC:       1000,
	MLDSA:     1000,
	MLKEM:     1000,

	"CancelKeyDeletion":         5,
	"ConnectCustomKeyStore":     5,
	"CreateAlias":               5,
	"CreateCustomKeyStore":      5,
	"CreateGrant":               50,
	"CreateKey":                 5,
	"DeleteAlias":               15,
	"DeleteCustomKeyStore":      5,
	"DeleteImportedKeyMaterial": 15,
	"DescribeCustomKeyStores":   5,
	"DescribeKey":               2000,
	"DisableKey":                5,
	"DisableKeyRotation":        5,
	"DisconnectCustomKeyStore":  5,
	"EnableKey":                 5,
	"EnableKeyRotation":         15,
	"GetKeyPolicy":              1000,
	"GetKeyRotationStatus":      1000,
	"GetParametersForImport":    0.25,
	"GetPublicKey":              2000,
	"ImportKeyMaterial":         5,
	"ListAliases":               500,
	"ListGrants":                100,
	"ListKeyPolicies":           100,
	"ListKeyRotations":          500,
	"ListKeys":                  2000,
	"ListResourceTags":          100,
	"ListRetirableGrants":       15,
	"PutKeyPolicy":              15,
	"ReplicateKey":              5,
	"RetireGrant":               30,
	"RevokeGrant":               30,
	"ScheduleKeyDeletion":       15,
	"TagResource":               10,
	"UntagResource":             5,
	"UpdateAlias":               5,
	"UpdateCustomKeyStore":      5,
	"UpdateKeyDescription":      5,
	"UpdatePrimaryRegion":       5,

	dataKeyPairPrefix + "RSA_2048":        1,
	dataKeyPairPrefix + "RSA_3072":        0.5,
	dataKeyPairPrefix + "RSA_4096":        0.1,
	dataKeyPairPrefix + "ECC_NIST_P256":   25,
	dataKeyPairPrefix + "ECC_NIST_P384":   10,
	dataKeyPairPrefix + "ECC_NIST_P521":   5,
	dataKeyPairPrefix + "ECC_SECG_P256K1": 25,
}

// keyed are the cryptographic operations whose quota depends on the key
// they use: AWS charges each to the quota of its key's kind (ForKey).
var keyed = map[string]bool{
	"Encrypt":                         true,
	"Decrypt":                         true,
	"ReEncrypt":                       true,
	"GenerateDataKey":                 true,
	"GenerateDataKeyWithoutPlaintext": true,
	"GenerateMac":                     true,
	"VerifyMac":                       true,
	"Sign":                            true,
	"Verify":                          true,
	"DeriveSharedSecret":              true,
	"Encapsulate":                     true,
	"Decapsulate":                     true,
}

// Keyed reports whether op's quota is the quota of the key it uses, which
// only the service knows once it has found the key (ForKey).
func Keyed(op string) bool { return keyed[op] }

// ForKey is the quota a cryptographic operation with a key of this spec
// counts against: SYMMETRIC_DEFAULT and HMAC keys, and any spec it does not
// know, count as symmetric. The test names a quota for every spec of the
// model, so a new one is decided on.
func ForKey(keySpec string) string {
	switch {
	case strings.HasPrefix(keySpec, "RSA_"):
		return RSA
	case strings.HasPrefix(keySpec, "ECC_"), keySpec == "SM2":
		return ECC
	case strings.HasPrefix(keySpec, "ML_DSA_"):
		return MLDSA
	case strings.HasPrefix(keySpec, "ML_KEM_"):
		return MLKEM
	}
	return Symmetric
}

// Name is the quota a request for op counts against as it arrives.
// keyPairSpec matters only for GenerateDataKeyPair and
// GenerateDataKeyPairWithoutPlaintext. A Keyed operation, and one with no
// quota, give "".
func Name(op, keyPairSpec string) string {
	if keyed[op] {
		return ""
	}
	if op == "GenerateRandom" {
		return Symmetric
	}
	if op == "GenerateDataKeyPair" || op == "GenerateDataKeyPairWithoutPlaintext" {
		name := dataKeyPairPrefix + keyPairSpec
		if _, ok := Defaults[name]; ok {
			return name
		}
		return ""
	}
	if _, ok := Defaults[op]; ok {
		return op
	}
	return ""
}

// Check reports the first quota name in rates that is not a quota, or a
// rate that is neither positive, 0 (the default) nor Unlimited.
func Check(rates map[string]float64) error {
	for _, name := range slices.Sorted(maps.Keys(rates)) {
		if _, ok := Defaults[name]; !ok && name != Asymmetric {
			return fmt.Errorf("quotas: %q is not a quota (the quotas are %s, an operation with a request quota, or GenerateDataKeyPair:<key pair spec>)",
				name, strings.Join(append([]string{Symmetric}, asymmetricQuotas...), ", "))
		}
		if r := rates[name]; r != Unlimited && (r < 0 || math.IsNaN(r) || math.IsInf(r, 0)) {
			return fmt.Errorf("quotas: %s: %v is not a rate (requests per second; 0 for AWS's default, -1 for none)", name, r)
		}
	}
	return nil
}

// Limiter enforces the quotas. It is safe for concurrent use; Set changes
// the rates while requests flow.
type Limiter struct {
	now func() time.Time
	off atomic.Bool

	mu      sync.RWMutex
	rates   map[string]float64 // in force: defaults overridden by the configuration; Unlimited entries removed
	buckets map[bucketKey]*bucket
	added   int // buckets added since the last sweep
}

type bucketKey struct{ account, region, quota string }

type bucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// New returns a Limiter with AWS's defaults overridden by rates (see Set).
// now is its clock; nil means time.Now.
func New(rates map[string]float64, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	l := &Limiter{now: now, buckets: map[bucketKey]*bucket{}}
	l.Set(rates)
	return l
}

// Set replaces the configured rates: a positive rate replaces AWS's
// default, 0 keeps it, Unlimited turns the quota off. Buckets keep what
// they hold, capped at the new burst.
func (l *Limiter) Set(rates map[string]float64) {
	inForce := maps.Clone(Defaults)
	if r, ok := rates[Asymmetric]; ok {
		rates = maps.Clone(rates)
		delete(rates, Asymmetric)
		for _, name := range asymmetricQuotas {
			if _, named := rates[name]; !named {
				rates[name] = r
			}
		}
	}
	for name, r := range rates {
		switch {
		case r == Unlimited:
			delete(inForce, name)
		case r > 0:
			inForce[name] = r
		}
	}
	l.mu.Lock()
	l.rates = inForce
	l.mu.Unlock()
}

// SetEnabled turns every quota on or off (a Limiter starts on).
func (l *Limiter) SetEnabled(on bool) { l.off.Store(!on) }

// Enabled reports whether the quotas are on.
func (l *Limiter) Enabled() bool { return !l.off.Load() }

// Rate is the rate in force for a quota, and false if it has none.
func (l *Limiter) Rate(quota string) (float64, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	r, ok := l.rates[quota]
	return r, ok
}

// Allow takes one request from the account's bucket for quota in region
// and reports whether there was one to take. An empty quota, or one that
// is turned off, always allows.
func (l *Limiter) Allow(account, region, quota string) bool {
	if quota == "" || l.off.Load() {
		return true
	}
	k := bucketKey{account, region, quota}
	l.mu.RLock()
	rate, limited := l.rates[quota]
	b := l.buckets[k]
	l.mu.RUnlock()
	if !limited {
		return true
	}
	now := l.now()
	if b == nil {
		b = l.add(k, now, rate)
	}
	burst := max(rate, 1)
	b.mu.Lock()
	defer b.mu.Unlock()
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(burst, b.tokens+elapsed.Seconds()*rate)
		b.last = now
	}
	b.tokens = min(b.tokens, burst) // the rate may have been lowered
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweepAfter is how many buckets may be added before full ones are
// dropped. Regions are whatever requests are signed for (when the
// configuration does not list them), so the number of buckets must not
// grow with what callers choose.
const sweepAfter = 4096

// add makes the bucket of k, full, unless another request just did.
func (l *Limiter) add(k bucketKey, now time.Time, rate float64) *bucket {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.buckets[k]; b != nil {
		return b
	}
	if l.added >= sweepAfter {
		l.sweep(now)
		l.added = 0
	}
	b := &bucket{tokens: max(rate, 1), last: now}
	l.buckets[k] = b
	l.added++
	return b
}

// sweep drops the buckets that have refilled: a full bucket is the same
// as a new one, so dropping it changes nothing a caller can see. l.mu is
// held.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		rate, ok := l.rates[k.quota]
		b.mu.Lock()
		full := !ok || b.tokens+now.Sub(b.last).Seconds()*rate >= max(rate, 1)
		b.mu.Unlock()
		if full {
			delete(l.buckets, k)
		}
	}
}

// Buckets is how many buckets the limiter holds (for tests and metrics).
func (l *Limiter) Buckets() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.buckets)
}
