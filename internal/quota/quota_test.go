package quota

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/testclock"
)

func TestNames(t *testing.T) {
	for _, c := range []struct{ op, spec, want string }{
		{"Encrypt", "", ""}, // the key's quota (ForKey)
		{"GenerateMac", "", ""},
		{"Sign", "", ""},
		{"Decapsulate", "", ""},
		{"GenerateRandom", "", Symmetric},
		{"CreateKey", "", "CreateKey"},
		{"GenerateDataKeyPair", "RSA_4096", "GenerateDataKeyPair:RSA_4096"},
		{"GenerateDataKeyPairWithoutPlaintext", "ECC_NIST_P256", "GenerateDataKeyPair:ECC_NIST_P256"},
		{"GenerateDataKeyPair", "NOPE", ""},
		{"GetKeyLastUsage", "", ""},
		{"NoSuchOperation", "", ""},
	} {
		if got := Name(c.op, c.spec); got != c.want {
			t.Errorf("Name(%s, %s) = %q, want %q", c.op, c.spec, got, c.want)
		}
	}
}

// TestForKey: AWS charges a cryptographic operation to the quota of its
// key's kind; HMAC keys count as symmetric. Every key spec of the model is
// here, so that a new one is given its quota on purpose.
func TestForKey(t *testing.T) {
	want := map[kmsapi.KeySpec]string{
		kmsapi.KeySpecSymmetricDefault: Symmetric,
		kmsapi.KeySpecHmac224:          Symmetric, kmsapi.KeySpecHmac256: Symmetric, kmsapi.KeySpecHmac384: Symmetric, kmsapi.KeySpecHmac512: Symmetric,
		kmsapi.KeySpecRsa2048: RSA, kmsapi.KeySpecRsa3072: RSA, kmsapi.KeySpecRsa4096: RSA,
		kmsapi.KeySpecEccNistP256: ECC, kmsapi.KeySpecEccNistP384: ECC, kmsapi.KeySpecEccNistP521: ECC,
		kmsapi.KeySpecEccSecgP256k1: ECC, kmsapi.KeySpecEccNistEdwards25519: ECC, kmsapi.KeySpecSm2: ECC,
		kmsapi.KeySpecMlDsa44: MLDSA, kmsapi.KeySpecMlDsa65: MLDSA, kmsapi.KeySpecMlDsa87: MLDSA,
		kmsapi.KeySpecMlKem512: MLKEM, kmsapi.KeySpecMlKem768: MLKEM, kmsapi.KeySpecMlKem1024: MLKEM,
	}
	for _, spec := range kmsapi.KeySpec("").Values() {
		w, ok := want[spec]
		if !ok {
			t.Errorf("key spec %s has no quota here: decide which it counts against (ForKey)", spec)
			continue
		}
		if got := ForKey(string(spec)); got != w {
			t.Errorf("ForKey(%s) = %q, want %q", spec, got, w)
		}
	}
	for _, op := range []string{"Encrypt", "ReEncrypt", "VerifyMac", "DeriveSharedSecret", "Encapsulate"} {
		if !Keyed(op) {
			t.Errorf("%s is not keyed", op)
		}
	}
	for _, op := range []string{"GenerateRandom", "GenerateDataKeyPair", "GetPublicKey", "CreateKey"} {
		if Keyed(op) {
			t.Errorf("%s is keyed", op)
		}
	}
}

// TestAsymmetricSetsEach: cryptographic_asymmetric in a configuration sets
// every asymmetric quota that is not named on its own.
func TestAsymmetricSetsEach(t *testing.T) {
	l := New(map[string]float64{Asymmetric: 7, ECC: 9, MLKEM: Unlimited}, nil)
	for q, want := range map[string]float64{RSA: 7, MLDSA: 7, ECC: 9, Symmetric: 10000} {
		if got, ok := l.Rate(q); !ok || got != want {
			t.Errorf("%s: %v %v, want %v", q, got, ok, want)
		}
	}
	if _, ok := l.Rate(MLKEM); ok {
		t.Error("ML-KEM's quota named off is on")
	}
	if _, ok := l.Rate(Asymmetric); ok {
		t.Error("cryptographic_asymmetric is a quota of its own")
	}
}

func TestCheck(t *testing.T) {
	for rates, ok := range map[*map[string]float64]bool{
		{"CreateKey": 100, Symmetric: 0, Asymmetric: -1}: true,
		{"GenerateDataKeyPair:RSA_2048": 0.5}:            true,
		{RSA: 5, ECC: 5, MLDSA: 5, MLKEM: 5}:             true,
		{Asymmetric: -7}:                                 false,
		{"CreatKey": 1}:                                  false,
		{"CreateKey": -2}:                                false,
	} {
		if err := Check(*rates); (err == nil) != ok {
			t.Errorf("Check(%v) = %v", *rates, err)
		}
	}
}

// TestBucket: a quota of N per second lets N through at once, then one
// every 1/N seconds; accounts, regions and quotas have buckets of their own.
func TestBucket(t *testing.T) {
	clk := testclock.New(time.Unix(1e9, 0))
	l := New(map[string]float64{"CreateKey": 10}, clk.Now)
	passed := 0
	for range 25 {
		if l.Allow("111122223333", "us-east-1", "CreateKey") {
			passed++
		}
	}
	if passed != 10 {
		t.Fatalf("a burst of 25 at 10/s: %d passed", passed)
	}
	if !l.Allow("444455556666", "us-east-1", "CreateKey") || !l.Allow("111122223333", "eu-west-1", "CreateKey") ||
		!l.Allow("111122223333", "us-east-1", "CreateAlias") {
		t.Fatal("another account, region or quota was throttled")
	}
	clk.Advance(100 * time.Millisecond)
	if !l.Allow("111122223333", "us-east-1", "CreateKey") || l.Allow("111122223333", "us-east-1", "CreateKey") {
		t.Fatal("after 100ms at 10/s exactly one more should pass")
	}
	// Over 10 seconds of steady calls, about 10/s pass.
	passed = 0
	for range 1000 {
		clk.Advance(10 * time.Millisecond)
		if l.Allow("111122223333", "us-east-1", "CreateKey") {
			passed++
		}
	}
	if passed < 99 || passed > 101 {
		t.Fatalf("10s at 100 calls/s against 10/s: %d passed", passed)
	}
}

func TestSlowQuotaAndOff(t *testing.T) {
	clk := testclock.New(time.Unix(1e9, 0))
	l := New(map[string]float64{"CreateKey": Unlimited}, clk.Now)
	for range 100 {
		if !l.Allow("a", "r", "CreateKey") {
			t.Fatal("a quota turned off throttled")
		}
	}
	if !l.Allow("a", "r", "") {
		t.Fatal("no quota throttled")
	}
	// 0.1/s: one, then one every ten seconds.
	q := "GenerateDataKeyPair:RSA_4096"
	if !l.Allow("a", "r", q) || l.Allow("a", "r", q) {
		t.Fatal("0.1/s: the first passes, the second not")
	}
	clk.Advance(9 * time.Second)
	if l.Allow("a", "r", q) {
		t.Fatal("0.1/s: passed after 9s")
	}
	clk.Advance(time.Second)
	if !l.Allow("a", "r", q) {
		t.Fatal("0.1/s: not passed after 10s")
	}
	// Everything off, and on again.
	l.SetEnabled(false)
	for range 10 {
		if !l.Allow("a", "r", q) {
			t.Fatal("quotas turned off throttled")
		}
	}
	l.SetEnabled(true)
	if l.Allow("a", "r", q) {
		t.Fatal("quotas turned on again did not throttle")
	}
	// Set takes effect at once; a lowered rate caps what the bucket holds.
	l.Set(map[string]float64{"CreateKey": 2})
	if r, ok := l.Rate("CreateKey"); !ok || r != 2 {
		t.Fatalf("rate after Set: %v %v", r, ok)
	}
	if !l.Allow("a", "r", "CreateKey") || !l.Allow("a", "r", "CreateKey") || l.Allow("a", "r", "CreateKey") {
		t.Fatal("after Set to 2/s: two pass, the third not")
	}
}

// TestBucketsAreBounded: regions named by callers cannot grow the limiter
// without bound: refilled buckets are dropped.
func TestBucketsAreBounded(t *testing.T) {
	clk := testclock.New(time.Unix(1e9, 0))
	l := New(nil, clk.Now)
	for i := range 20000 {
		l.Allow("a", fmt.Sprintf("region-%d", i), "CreateKey")
		clk.Advance(time.Millisecond) // CreateKey refills in 1s: buckets older than that are full
	}
	if n := l.Buckets(); n > 2*sweepAfter {
		t.Fatalf("%d buckets after 20,000 regions", n)
	}
}

func TestConcurrentAllow(t *testing.T) {
	l := New(map[string]float64{"CreateKey": 1000}, nil)
	var passed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				if l.Allow("a", "r", "CreateKey") {
					passed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	if max := 1000 + 1000*elapsed + 1; float64(passed.Load()) > max {
		t.Fatalf("%d passed in %.3fs at 1000/s (burst 1000)", passed.Load(), elapsed)
	}
	if passed.Load() < 1000 {
		t.Fatalf("only %d of the burst of 1000 passed", passed.Load())
	}
}
