package kms

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	json "github.com/go-json-experiment/json"

	"github.com/trent-kms/trent/internal/keycache"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/rootkey"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/bolt"
	"github.com/trent-kms/trent/internal/store/sealed"
)

// openWithRing opens a service over the store in dir with a ring of root
// keys. Closing the store is the test's business.
func openWithRing(t *testing.T, dir string, ring *rootkey.Ring) (*Service, *sealed.Store) {
	t.Helper()
	raw, err := bolt.Open(filepath.Join(dir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	db, _, err := sealed.OpenRing(raw, ring, nil)
	if err != nil {
		raw.Close()
		t.Fatal(err)
	}
	// Import tokens and grant tokens are authenticated with keys derived
	// from the store secret, as the server does, so that they outlive the
	// process.
	s, err := New(Config{Store: db, RootKeys: ring, ScheduleInterval: -1,
		GrantTokenKey: db.Key("trent grant token v1"), ImportKey: db.Key("trent import v1")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, db
}

func newRootKeyFile(t *testing.T, name string) *rootkey.File {
	t.Helper()
	k, err := rootkey.LoadOrCreateFile(filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// wrappedBy lists what is wrapped in the store, by root key ID: each
// present material and each import wrapping key.
func wrappedBy(t *testing.T, st store.Store) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := st.View(func(tx store.Tx) error {
		clear(out)
		err := tx.Scan(store.Keys, "", "", func(_ string, v []byte) (bool, error) {
			k, err := decodeKey(v)
			for _, m := range k.Materials {
				if m.present() {
					out[m.RootKey]++
				}
			}
			return true, err
		})
		if err != nil {
			return err
		}
		return tx.Scan(store.ImportParams, "", "", func(_ string, v []byte) (bool, error) {
			var p importParameters
			err := json.Unmarshal(v, &p)
			out[p.RootKey]++
			return true, err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func register(t *testing.T, st store.Store) []string {
	t.Helper()
	ids, found, err := RootKeysInUse(st)
	if err != nil || !found {
		t.Fatalf("the register: %v, found %v", err, found)
	}
	return ids
}

// TestRewrapMovesEverythingWhileServing: key material of every kind (all
// versions of a rotated key, an RSA and an HMAC key, both Regions of a
// multi-Region key) and an import wrapping key move from the old root key
// to the new one in small batches while requests encrypt, decrypt and
// change the same keys; no request fails, no change is lost, the cache
// holds nothing stale, and afterwards the new root key alone serves
// everything while a ring without it is refused.
func TestRewrapMovesEverythingWhileServing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old := newRootKeyFile(t, "old.key")
	oldRing, _ := rootkey.NewRing(old)
	s, db := openWithRing(t, dir, oldRing)
	call, west := devCall, inRegion(devCall, "eu-west-1")

	var sym []string
	for range 6 {
		sym = append(sym, createKey(t, s, call, &kmsapi.CreateKeyRequest{}))
	}
	for range 2 {
		must[*kmsapi.RotateKeyOnDemandResponse](t)(s.RotateKeyOnDemand(ctx, &call, &kmsapi.RotateKeyOnDemandRequest{KeyId: new(sym[0])}))
		runScheduled(t, s)
	}
	rsaKey := createKey(t, s, call, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecRsa2048), KeyUsage: new(kmsapi.KeyUsageTypeSignVerify)})
	hmacKey := createKey(t, s, call, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecHmac256), KeyUsage: new(kmsapi.KeyUsageTypeGenerateVerifyMac)})
	ext := createKey(t, s, call, &kmsapi.CreateKeyRequest{Origin: new(kmsapi.OriginTypeExternal)})
	token, pub := importParams(t, s, call, ext, kmsapi.AlgorithmSpecRsaesOaepSha256, kmsapi.WrappingKeySpecRsa2048)
	mrk := createKey(t, s, call, &kmsapi.CreateKeyRequest{MultiRegion: new(true)})
	must[*kmsapi.ReplicateKeyResponse](t)(s.ReplicateKey(ctx, &call, &kmsapi.ReplicateKeyRequest{KeyId: new(mrk), ReplicaRegion: new("eu-west-1")}))
	runScheduled(t, s)

	blobs := map[string][]byte{}
	for _, id := range append(slices.Clone(sym), mrk) {
		blobs[id] = encrypt(t, s, call, id, "plaintext of "+id)
	}
	westBlob := encrypt(t, s, west, mrk, "made in eu-west-1")
	msg := []byte("signed before the rotation")
	sig := must[*kmsapi.SignResponse](t)(s.Sign(ctx, &call, &kmsapi.SignRequest{KeyId: new(rsaKey), Message: msg, SigningAlgorithm: new(kmsapi.SigningAlgorithmSpecRsassaPssSha256)})).Signature
	mac := must[*kmsapi.GenerateMacResponse](t)(s.GenerateMac(ctx, &call, &kmsapi.GenerateMacRequest{KeyId: new(hmacKey), Message: msg, MacAlgorithm: new(kmsapi.MacAlgorithmSpecHmacSha256)})).Mac
	// 8 symmetric materials (6 keys, one rotated twice), RSA, HMAC, two
	// copies of the multi-Region key, one import wrapping key.
	if got := wrappedBy(t, db); len(got) != 1 || got[old.ID()] != 13 {
		t.Fatalf("before the rotation: %v", got)
	}
	s.Close()
	db.Close()

	next := newRootKeyFile(t, "next.key")
	ring, err := rootkey.NewRing(next, old)
	if err != nil {
		t.Fatal(err)
	}
	s, db = openWithRing(t, dir, ring)
	// The store predates the register: PrepareRootKeys builds it.
	stale, err := PrepareRootKeys(db, ring, nil)
	if err != nil || !slices.Equal(stale, []string{old.ID()}) {
		t.Fatalf("PrepareRootKeys: %v, %v", stale, err)
	}
	if ids := register(t, db); !slices.Equal(ids, slices.Sorted(slices.Values([]string{old.ID(), next.ID()}))) {
		t.Fatalf("register after start: %v", ids)
	}

	// Load on every symmetric key: decrypt the old blob, encrypt and
	// decrypt anew, change the description. Each worker remembers the
	// last description it set.
	var failures atomic.Int64
	var firstErr atomic.Pointer[error]
	fail := func(err error) {
		failures.Add(1)
		firstErr.CompareAndSwap(nil, &err)
	}
	stop := make(chan struct{})
	lastDesc := make([]string, len(sym))
	rounds := make([]atomic.Int64, len(sym))
	var wg sync.WaitGroup
	for i, id := range sym {
		wg.Go(func() {
			for n := 0; ; n++ {
				rounds[i].Add(1)
				select {
				case <-stop:
					return
				default:
				}
				// A Call belongs to one request: each gets its own.
				c1, c2, c3, c4 := devCall, devCall, devCall, devCall
				if out, err := s.Decrypt(ctx, &c1, &kmsapi.DecryptRequest{CiphertextBlob: blobs[id]}); err != nil {
					fail(err)
				} else if string(out.Plaintext) != "plaintext of "+id {
					fail(fmt.Errorf("key %s decrypted %q", id, out.Plaintext))
				}
				enc, err := s.Encrypt(ctx, &c2, &kmsapi.EncryptRequest{KeyId: new(id), Plaintext: []byte("fresh")})
				if err != nil {
					fail(err)
				} else if out, err := s.Decrypt(ctx, &c3, &kmsapi.DecryptRequest{CiphertextBlob: enc.CiphertextBlob}); err != nil || string(out.Plaintext) != "fresh" {
					fail(fmt.Errorf("fresh blob: %v", err))
				}
				desc := fmt.Sprintf("worker %d change %d", i, n)
				if err := s.UpdateKeyDescription(ctx, &c4, &kmsapi.UpdateKeyDescriptionRequest{KeyId: new(id), Description: new(desc)}); err != nil {
					fail(err)
				} else {
					lastDesc[i] = desc
				}
			}
		})
	}
	// Keys the load does not change are cached too: only the rewrap's
	// evictions take them out.
	decrypt(t, s, call, blobs[mrk])
	must[*kmsapi.SignResponse](t)(s.Sign(ctx, &call, &kmsapi.SignRequest{KeyId: new(rsaKey), Message: msg, SigningAlgorithm: new(kmsapi.SigningAlgorithmSpecRsassaPssSha256)}))
	must[*kmsapi.GenerateMacResponse](t)(s.GenerateMac(ctx, &call, &kmsapi.GenerateMacRequest{KeyId: new(hmacKey), Message: msg, MacAlgorithm: new(kmsapi.MacAlgorithmSpecHmacSha256)}))
	if lk := s.cache.Get(keycache.Name{Region: call.Region, ID: rsaKey}, s.now()); lk == nil {
		t.Fatal("the RSA key is not cached")
	} else {
		lk.Release()
	}
	// A key created now is wrapped by the new root key at once.
	created := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	createdBlob := encrypt(t, s, call, created, "made during the rotation")

	// waitRounds waits until every worker has begun n more rounds.
	waitRounds := func(n int64) {
		at := make([]int64, len(sym))
		for i := range sym {
			at[i] = rounds[i].Load()
		}
		for i := range sym {
			for rounds[i].Load() < at[i]+n {
				runtime.Gosched()
			}
		}
	}
	waitRounds(2) // the load runs, the keys are cached
	report, err := RewrapRootKeys(ctx, db, ring, RewrapOptions{BatchSize: 2, Evict: s.cache.Evict})
	waitRounds(2) // and goes on with the rewrapped records
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d requests failed during the rewrap; the first: %v", n, *firstErr.Load())
	}
	if !report.Done() || report.Failed != 0 || len(report.Remaining) != 0 || report.Materials != 12 || report.Keys != 10 || report.ImportParams != 1 {
		t.Fatalf("report: %+v", report)
	}
	if got := wrappedBy(t, db); len(got) != 1 || got[next.ID()] != 14 {
		t.Fatalf("after the rewrap: %v", got)
	}
	if ids := register(t, db); !slices.Equal(ids, []string{next.ID()}) {
		t.Fatalf("register after the rewrap: %v", ids)
	}
	// The cache holds no record from before the rewrap.
	s.cache.Each(func(lk *liveKey) {
		for _, m := range lk.Materials {
			if m.present() && m.RootKey != next.ID() {
				t.Errorf("the cache holds %v with material under %s", lk.CacheName(), m.RootKey)
			}
		}
	})
	// A second rewrap has nothing to do.
	again, err := RewrapRootKeys(ctx, db, ring, RewrapOptions{})
	if err != nil || again.Materials != 0 || again.Keys != 0 || again.ImportParams != 0 || !again.Done() {
		t.Fatalf("second rewrap: %+v, %v", again, err)
	}
	if moved, err := db.RewrapSecret(ring); err != nil || !moved {
		t.Fatalf("RewrapSecret: %v, %v", moved, err)
	}
	s.Close()
	db.Close()

	// The new root key alone.
	alone, _ := rootkey.NewRing(next)
	s, db = openWithRing(t, dir, alone)
	defer db.Close()
	if stale, err := PrepareRootKeys(db, alone, nil); err != nil || len(stale) != 0 {
		t.Fatalf("PrepareRootKeys with the new key alone: %v, %v", stale, err)
	}
	for id, blob := range blobs {
		if pt, _ := decrypt(t, s, call, blob); pt != "plaintext of "+id {
			t.Fatalf("key %s decrypts %q", id, pt)
		}
	}
	if pt, _ := decrypt(t, s, west, westBlob); pt != "made in eu-west-1" {
		t.Fatalf("eu-west-1 blob: %q", pt)
	}
	if pt, _ := decrypt(t, s, call, createdBlob); pt != "made during the rotation" {
		t.Fatalf("blob of the key created during the rewrap: %q", pt)
	}
	v := must[*kmsapi.VerifyResponse](t)(s.Verify(ctx, &call, &kmsapi.VerifyRequest{KeyId: new(rsaKey), Message: msg, Signature: sig, SigningAlgorithm: new(kmsapi.SigningAlgorithmSpecRsassaPssSha256)}))
	m := must[*kmsapi.VerifyMacResponse](t)(s.VerifyMac(ctx, &call, &kmsapi.VerifyMacRequest{KeyId: new(hmacKey), Message: msg, Mac: mac, MacAlgorithm: new(kmsapi.MacAlgorithmSpecHmacSha256)}))
	if !v.GetSignatureValid() || !m.GetMacValid() {
		t.Fatal("signature or MAC does not verify")
	}
	newSig := must[*kmsapi.SignResponse](t)(s.Sign(ctx, &call, &kmsapi.SignRequest{KeyId: new(rsaKey), Message: msg, SigningAlgorithm: new(kmsapi.SigningAlgorithmSpecRsassaPssSha256)}))
	if len(newSig.Signature) != 256 {
		t.Fatal("RSA key does not sign after the rewrap")
	}
	// The import token from before the rotation still works: its wrapping
	// key was rewrapped.
	material := random(t, 32)
	if _, err := importMaterial(s, call, ext, token, wrapFor(t, pub, kmsapi.AlgorithmSpecRsaesOaepSha256, material), nil); err != nil {
		t.Fatalf("import with the token made before the rotation: %v", err)
	}
	if pt, _ := decrypt(t, s, call, encrypt(t, s, call, ext, "imported")); pt != "imported" {
		t.Fatalf("imported key: %q", pt)
	}
	// No change made during the rewrap was lost.
	for i, id := range sym {
		if lastDesc[i] == "" {
			continue
		}
		if got := describe(t, s, call, id).GetDescription(); got != lastDesc[i] {
			t.Fatalf("key %s: description %q, last set %q", id, got, lastDesc[i])
		}
	}

	// A ring without the new root key is refused, naming it.
	oldOnly, _ := rootkey.NewRing(old)
	_, err = PrepareRootKeys(db, oldOnly, nil)
	if !errors.Is(err, rootkey.ErrUnknownRootKey) || !strings.Contains(err.Error(), "wrapped by root key "+next.ID()) {
		t.Fatalf("PrepareRootKeys without the new key: %v", err)
	}
}

// TestRewrapLeavesWhatDoesNotUnwrap: material that does not unwrap (here
// its wrapped bytes were changed) is counted and left as it is, the old
// root key stays in the register, and everything else moves.
func TestRewrapLeavesWhatDoesNotUnwrap(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, db := newTestService(t, dir)
	defer db.Close()
	old := s.root
	call := devCall
	good := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	bad := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	err := db.Update(func(tx store.Tx) error {
		k, err := getKey(tx, call.Region, bad)
		if err != nil {
			return err
		}
		k.Materials[0].Wrapped[len(k.Materials[0].Wrapped)-1] ^= 1
		return putKey(tx, k)
	})
	if err != nil {
		t.Fatal(err)
	}
	next := newRootKeyFile(t, "next.key")
	ring, _ := rootkey.NewRing(next, old)
	if _, err := PrepareRootKeys(db, ring, nil); err != nil {
		t.Fatal(err)
	}
	report, err := RewrapRootKeys(ctx, db, ring, RewrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if report.Done() || report.Failed != 1 || report.Remaining[old.ID()] != 1 || report.Materials != 1 {
		t.Fatalf("report: %+v", report)
	}
	if got := wrappedBy(t, db); got[old.ID()] != 1 || got[next.ID()] != 1 {
		t.Fatalf("after the rewrap: %v", got)
	}
	if ids := register(t, db); !slices.Contains(ids, old.ID()) {
		t.Fatalf("the old root key left the register: %v", ids)
	}
	var k *Key
	db.View(func(tx store.Tx) (err error) { k, err = getKey(tx, call.Region, good); return err })
	if k.Materials[0].RootKey != next.ID() {
		t.Fatal("the good key was not rewrapped")
	}
}

// TestPrepareRootKeysRefusesAMissingKey: a store whose register names a
// root key the ring lacks is refused before anything is wrapped, and the
// register is not changed.
func TestPrepareRootKeysRefusesAMissingKey(t *testing.T) {
	s, db := newTestService(t, t.TempDir())
	defer db.Close()
	createKey(t, s, devCall, &kmsapi.CreateKeyRequest{})
	first, _ := rootkey.NewRing(s.root)
	if stale, err := PrepareRootKeys(db, first, nil); err != nil || len(stale) != 0 {
		t.Fatalf("the store's own root key: %v, %v", stale, err)
	}
	other := newRootKeyFile(t, "other.key")
	ring, _ := rootkey.NewRing(other)
	_, err := PrepareRootKeys(db, ring, nil)
	if !errors.Is(err, rootkey.ErrUnknownRootKey) || !strings.Contains(err.Error(), "wrapped by root key "+s.root.ID()) ||
		!strings.Contains(err.Error(), "holds only "+other.ID()) {
		t.Fatalf("PrepareRootKeys with another key: %v", err)
	}
	if ids := register(t, db); !slices.Equal(ids, []string{s.root.ID()}) {
		t.Fatalf("register after a refusal: %v", ids)
	}
	// With the store's key as previous, it starts and has a rewrap to do.
	both, _ := rootkey.NewRing(other, s.root)
	if stale, err := PrepareRootKeys(db, both, nil); err != nil || !slices.Equal(stale, []string{s.root.ID()}) {
		t.Fatalf("with the old key as previous: %v, %v", stale, err)
	}
}

// TestRewrapKeepsChangesMadeMeanwhile: what other writers do to a key
// between the rewrap's read and its write (a new description, a rotation
// that adds material, a deletion scheduled, imported material deleted) is
// kept, and what is still under the old root key after a pass (a blob
// wrapped anew by a process on the old key) is taken up by the next one.
func TestRewrapKeepsChangesMadeMeanwhile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old := newRootKeyFile(t, "old.key")
	oldRing, _ := rootkey.NewRing(old)
	s, db := openWithRing(t, dir, oldRing)
	call := devCall
	described := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	rotated := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	deleted := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	imported := createKey(t, s, call, &kmsapi.CreateKeyRequest{Origin: new(kmsapi.OriginTypeExternal)})
	token, pub := importParams(t, s, call, imported, kmsapi.AlgorithmSpecRsaesOaepSha256, kmsapi.WrappingKeySpecRsa2048)
	if _, err := importMaterial(s, call, imported, token, wrapFor(t, pub, kmsapi.AlgorithmSpecRsaesOaepSha256, random(t, 32)), nil); err != nil {
		t.Fatal(err)
	}
	blob := encrypt(t, s, call, rotated, "before")
	s.Close()
	db.Close()

	next := newRootKeyFile(t, "next.key")
	ring, _ := rootkey.NewRing(next, old)
	s, db = openWithRing(t, dir, ring)
	defer db.Close()
	if _, err := PrepareRootKeys(db, ring, nil); err != nil {
		t.Fatal(err)
	}
	calls := 0
	hook := func(batch []*Key) {
		calls++
		if calls > 1 {
			return
		}
		if len(batch) != 4 {
			t.Errorf("first batch holds %d keys", len(batch))
		}
		c := devCall
		must[struct{}](t)(struct{}{}, s.UpdateKeyDescription(ctx, &c, &kmsapi.UpdateKeyDescriptionRequest{KeyId: new(described), Description: new("changed meanwhile")}))
		// A process still on the old root key wraps that key's material
		// anew: this pass must leave it, the next one moves it.
		err := db.Update(func(tx store.Tx) error {
			k, err := getKey(tx, call.Region, described)
			if err != nil {
				return err
			}
			m := &k.Materials[0]
			pt, err := old.Unwrap(m.Wrapped, materialAAD(k, m.ID))
			if err != nil {
				return err
			}
			if m.Wrapped, err = old.Wrap(pt, materialAAD(k, m.ID)); err != nil {
				return err
			}
			return putKey(tx, k)
		})
		if err != nil {
			t.Error(err)
		}
		must[*kmsapi.RotateKeyOnDemandResponse](t)(s.RotateKeyOnDemand(ctx, &c, &kmsapi.RotateKeyOnDemandRequest{KeyId: new(rotated)}))
		runScheduled(t, s)
		must[*kmsapi.ScheduleKeyDeletionResponse](t)(s.ScheduleKeyDeletion(ctx, &c, &kmsapi.ScheduleKeyDeletionRequest{KeyId: new(deleted), PendingWindowInDays: new(int32(7))}))
		must[*kmsapi.DeleteImportedKeyMaterialResponse](t)(s.DeleteImportedKeyMaterial(ctx, &c, &kmsapi.DeleteImportedKeyMaterialRequest{KeyId: new(imported)}))
	}
	report, err := RewrapRootKeys(ctx, db, ring, RewrapOptions{betweenReadAndWrite: hook})
	if err != nil {
		t.Fatal(err)
	}
	// The imported material was deleted: nothing to rewrap there. The
	// import wrapping key is rewrapped.
	if !report.Done() || report.Materials != 3 || report.Keys != 3 || report.ImportParams != 1 || calls < 2 {
		t.Fatalf("report: %+v", report)
	}
	if got := wrappedBy(t, db); len(got) != 1 || got[next.ID()] != 5 {
		t.Fatalf("after the rewrap: %v", got)
	}
	if d := describe(t, s, call, described); d.GetDescription() != "changed meanwhile" {
		t.Fatalf("description: %q", d.GetDescription())
	}
	if d := describe(t, s, call, deleted); d.GetKeyState() != kmsapi.KeyStatePendingDeletion {
		t.Fatalf("state: %s", d.GetKeyState())
	}
	if d := describe(t, s, call, imported); d.GetKeyState() != kmsapi.KeyStatePendingImport {
		t.Fatalf("imported key's state: %s", d.GetKeyState())
	}
	if rs := rotations(t, s, call, rotated, kmsapi.IncludeKeyMaterialAllKeyMaterial); len(rs) != 2 {
		t.Fatalf("rotations of the rotated key: %+v", rs)
	}
	if pt, _ := decrypt(t, s, call, blob); pt != "before" {
		t.Fatalf("blob of the rotated key: %q", pt)
	}
}

// TestUnwrapTellsAMissingRootKeyFromTampering: material whose root key is
// not in the ring, or whose token cannot be reached, is not reported as
// tampered; material that does not authenticate is.
func TestUnwrapTellsAMissingRootKeyFromTampering(t *testing.T) {
	s, db := newTestService(t, t.TempDir())
	defer db.Close()
	id := createKey(t, s, devCall, &kmsapi.CreateKeyRequest{})
	var k *Key
	if err := db.View(func(tx store.Tx) (err error) { k, err = getKey(tx, devCall.Region, id); return err }); err != nil {
		t.Fatal(err)
	}
	m := k.Materials[0]
	m.RootKey = "file:0000000000000000"
	_, err := s.unwrap(k, &m)
	if tampered(err) || !errors.Is(err, rootkey.ErrUnknownRootKey) || !strings.Contains(err.Error(), "file:0000000000000000") {
		t.Fatalf("unknown root key: %v", err)
	}
	m = k.Materials[0]
	m.Wrapped = append([]byte{}, m.Wrapped...)
	m.Wrapped[5] ^= 1
	if _, err := s.unwrap(k, &m); !tampered(err) {
		t.Fatalf("changed blob: %v", err)
	}
	outage := &Service{ring: must[*rootkey.Ring](t)(rootkey.NewRing(unreachable{s.root}))}
	if _, err := outage.unwrap(k, &k.Materials[0]); tampered(err) || !errors.Is(err, rootkey.ErrUnwrap) {
		t.Fatalf("unreachable token: %v", err)
	}
}

// unreachable is a root key whose token cannot be reached: its Unwrap
// fails as rootkey.PKCS11's does then.
type unreachable struct{ rootkey.Wrapper }

func (unreachable) Unwrap([]byte, []byte) ([]byte, error) {
	return nil, fmt.Errorf("%w: pkcs11 token \"t\": CKR_DEVICE_REMOVED", rootkey.ErrUnwrap)
}
