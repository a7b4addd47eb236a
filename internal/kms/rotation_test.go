package kms

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/testclock"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// wantCode fails unless err is a KMS error with code (and, if given, a
// message containing msg).
func wantCode(t *testing.T, err error, code kmsapi.ErrorCode, msg ...string) {
	t.Helper()
	var kerr *kmsapi.Error
	if !errors.As(err, &kerr) || kerr.Code != code {
		t.Fatalf("got %v, want %s", err, code)
	}
	for _, m := range msg {
		if !strings.Contains(kerr.Message, m) {
			t.Fatalf("message %q does not contain %q", kerr.Message, m)
		}
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func createKey(t *testing.T, s *Service, call Call, in *kmsapi.CreateKeyRequest) string {
	t.Helper()
	out, err := s.CreateKey(context.Background(), &call, in)
	if err != nil {
		t.Fatal(err)
	}
	return out.KeyMetadata.GetKeyId()
}

func encrypt(t *testing.T, s *Service, call Call, id string, plaintext string) []byte {
	t.Helper()
	out, err := s.Encrypt(context.Background(), &call, &kmsapi.EncryptRequest{KeyId: new(id), Plaintext: []byte(plaintext)})
	if err != nil {
		t.Fatal(err)
	}
	return out.CiphertextBlob
}

// decrypt returns the plaintext and the key material ID of a ciphertext.
func decrypt(t *testing.T, s *Service, call Call, blob []byte) (string, string) {
	t.Helper()
	out, err := s.Decrypt(context.Background(), &call, &kmsapi.DecryptRequest{CiphertextBlob: blob})
	if err != nil {
		t.Fatal(err)
	}
	return string(out.Plaintext), out.GetKeyMaterialId()
}

func describe(t *testing.T, s *Service, call Call, id string) *kmsapi.KeyMetadata {
	t.Helper()
	out, err := s.DescribeKey(context.Background(), &call, &kmsapi.DescribeKeyRequest{KeyId: new(id)})
	if err != nil {
		t.Fatal(err)
	}
	return out.KeyMetadata
}

func rotationStatus(t *testing.T, s *Service, call Call, id string) *kmsapi.GetKeyRotationStatusResponse {
	t.Helper()
	out, err := s.GetKeyRotationStatus(context.Background(), &call, &kmsapi.GetKeyRotationStatusRequest{KeyId: new(id)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func rotations(t *testing.T, s *Service, call Call, id string, include kmsapi.IncludeKeyMaterial) []kmsapi.RotationsListEntry {
	t.Helper()
	out, err := s.ListKeyRotations(context.Background(), &call, &kmsapi.ListKeyRotationsRequest{KeyId: new(id), IncludeKeyMaterial: &include})
	if err != nil {
		t.Fatal(err)
	}
	return out.Rotations
}

func runScheduled(t *testing.T, s *Service) int {
	t.Helper()
	n, err := s.RunScheduledWork(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAutomaticRotation: a key with rotation on rotates when its period
// has passed and not a second before; both materials decrypt their own
// ciphertexts; the next rotation is a period later.
func TestAutomaticRotation(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(t0)
	s, _ := newTestServiceWith(t, t.TempDir(), Config{Now: clock.Now})
	call := devCall
	id := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	if st := rotationStatus(t, s, call, id); st.GetKeyRotationEnabled() || st.RotationPeriodInDays != nil || st.NextRotationDate != nil {
		t.Fatalf("new key: rotation status %+v, want off and nothing else", st)
	}
	if err := s.EnableKeyRotation(ctx, &call, &kmsapi.EnableKeyRotationRequest{KeyId: new(id)}); err != nil {
		t.Fatal(err)
	}
	st := rotationStatus(t, s, call, id)
	if !st.GetKeyRotationEnabled() || st.GetRotationPeriodInDays() != 365 || !st.NextRotationDate.Equal(t0.Add(365*24*time.Hour)) {
		t.Fatalf("after EnableKeyRotation: %+v", st)
	}
	if !strings.HasPrefix(st.GetKeyId(), "arn:aws:kms:") {
		t.Errorf("KeyId %q is not the ARN", st.GetKeyId())
	}
	first := describe(t, s, call, id).GetCurrentKeyMaterialId()
	old := encrypt(t, s, call, id, "before")

	clock.Set(t0.Add(365*24*time.Hour - time.Second))
	runScheduled(t, s)
	if got := describe(t, s, call, id).GetCurrentKeyMaterialId(); got != first {
		t.Fatal("rotated a second early")
	}
	clock.Set(t0.Add(365 * 24 * time.Hour))
	if n := runScheduled(t, s); n != 1 {
		t.Fatalf("scheduled work attended %d keys, want 1", n)
	}
	second := describe(t, s, call, id).GetCurrentKeyMaterialId()
	if second == first || len(second) != 64 {
		t.Fatalf("CurrentKeyMaterialId %q after rotation (was %q)", second, first)
	}
	fresh := encrypt(t, s, call, id, "after")
	if pt, mid := decrypt(t, s, call, old); pt != "before" || mid != first {
		t.Fatalf("old ciphertext: %q with material %s", pt, mid)
	}
	if pt, mid := decrypt(t, s, call, fresh); pt != "after" || mid != second {
		t.Fatalf("new ciphertext: %q with material %s", pt, mid)
	}
	st = rotationStatus(t, s, call, id)
	if !st.NextRotationDate.Equal(t0.Add(2 * 365 * 24 * time.Hour)) {
		t.Fatalf("next rotation %v, want a period after the rotation", st.NextRotationDate)
	}
	rs := rotations(t, s, call, id, kmsapi.IncludeKeyMaterialRotationsOnly)
	if len(rs) != 1 || rs[0].GetKeyMaterialId() != second || rs[0].GetRotationType() != kmsapi.RotationTypeAutomatic ||
		!rs[0].RotationDate.Equal(clock.Now()) || rs[0].GetKeyMaterialState() != kmsapi.KeyMaterialStateCurrent {
		t.Fatalf("ListKeyRotations: %+v", rs)
	}
	all := rotations(t, s, call, id, kmsapi.IncludeKeyMaterialAllKeyMaterial)
	if len(all) != 2 || all[0].GetKeyMaterialId() != first || all[0].RotationDate != nil ||
		all[0].GetKeyMaterialState() != kmsapi.KeyMaterialStateNonCurrent {
		t.Fatalf("ListKeyRotations ALL_KEY_MATERIAL: %+v", all)
	}

	// Down for three years: one rotation catches up, then a period from then.
	clock.Set(t0.Add(5 * 365 * 24 * time.Hour))
	runScheduled(t, s)
	runScheduled(t, s)
	if n := len(rotations(t, s, call, id, kmsapi.IncludeKeyMaterialRotationsOnly)); n != 2 {
		t.Fatalf("%d rotations after the downtime, want 2", n)
	}
	if st := rotationStatus(t, s, call, id); !st.NextRotationDate.Equal(clock.Now().Add(365 * 24 * time.Hour)) {
		t.Fatalf("next rotation %v after catching up", st.NextRotationDate)
	}
}

// TestRotationOfDisabledAndDeletedKeys: a disabled key keeps its setting and
// does not rotate; enabled again past its date, it rotates at once. A key
// pending deletion reads rotation off, and back on when cancelled.
func TestRotationOfDisabledAndDeletedKeys(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(t0)
	s, _ := newTestServiceWith(t, t.TempDir(), Config{Now: clock.Now})
	call := devCall
	id := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	must[struct{}](t)(struct{}{}, s.EnableKeyRotation(ctx, &call, &kmsapi.EnableKeyRotationRequest{KeyId: new(id), RotationPeriodInDays: new(int32(90))}))
	must[struct{}](t)(struct{}{}, s.DisableKey(ctx, &call, &kmsapi.DisableKeyRequest{KeyId: new(id)}))
	wantCode(t, s.EnableKeyRotation(ctx, &call, &kmsapi.EnableKeyRotationRequest{KeyId: new(id)}), kmsapi.DisabledException, "is disabled.")
	clock.Set(t0.Add(100 * 24 * time.Hour))
	runScheduled(t, s)
	if n := len(rotations(t, s, call, id, kmsapi.IncludeKeyMaterialRotationsOnly)); n != 0 {
		t.Fatal("a disabled key rotated")
	}
	if st := rotationStatus(t, s, call, id); !st.GetKeyRotationEnabled() {
		t.Fatal("a disabled key lost its rotation setting")
	}
	must[struct{}](t)(struct{}{}, s.EnableKey(ctx, &call, &kmsapi.EnableKeyRequest{KeyId: new(id)}))
	runScheduled(t, s)
	if n := len(rotations(t, s, call, id, kmsapi.IncludeKeyMaterialRotationsOnly)); n != 1 {
		t.Fatalf("%d rotations after enabling a key past its rotation date, want 1", n)
	}

	clock.Set(t0.Add(185 * 24 * time.Hour)) // the next rotation is due on day 190
	must[*kmsapi.ScheduleKeyDeletionResponse](t)(s.ScheduleKeyDeletion(ctx, &call, &kmsapi.ScheduleKeyDeletionRequest{KeyId: new(id)}))
	if rotationStatus(t, s, call, id).GetKeyRotationEnabled() {
		t.Fatal("a key pending deletion reads rotation on")
	}
	wantCode(t, s.EnableKeyRotation(ctx, &call, &kmsapi.EnableKeyRotationRequest{KeyId: new(id)}), kmsapi.KMSInvalidStateException, "is pending deletion.")
	clock.Set(t0.Add(200 * 24 * time.Hour))
	runScheduled(t, s)
	if n := len(rotations(t, s, call, id, kmsapi.IncludeKeyMaterialRotationsOnly)); n != 1 {
		t.Fatal("a key pending deletion rotated")
	}
	must[*kmsapi.CancelKeyDeletionResponse](t)(s.CancelKeyDeletion(ctx, &call, &kmsapi.CancelKeyDeletionRequest{KeyId: new(id)}))
	if !rotationStatus(t, s, call, id).GetKeyRotationEnabled() {
		t.Fatal("cancelling the deletion did not restore the rotation setting")
	}
	must[struct{}](t)(struct{}{}, s.EnableKey(ctx, &call, &kmsapi.EnableKeyRequest{KeyId: new(id)}))
	runScheduled(t, s)
	if n := len(rotations(t, s, call, id, kmsapi.IncludeKeyMaterialRotationsOnly)); n != 2 {
		t.Fatalf("%d rotations after the cancelled deletion, want 2 (the one missed, at once)", n)
	}
	must[struct{}](t)(struct{}{}, s.DisableKeyRotation(ctx, &call, &kmsapi.DisableKeyRotationRequest{KeyId: new(id)}))
	if st := rotationStatus(t, s, call, id); st.GetKeyRotationEnabled() || st.NextRotationDate != nil {
		t.Fatalf("after DisableKeyRotation: %+v", st)
	}
}

// TestRotationOfOtherKeys: asymmetric and HMAC keys do not rotate, with
// AWS's answers, and AWS checks the state first.
func TestRotationOfOtherKeys(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService(t, t.TempDir())
	call := devCall
	rsa := createKey(t, s, call, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecRsa2048), KeyUsage: new(kmsapi.KeyUsageTypeSignVerify)})
	hmac := createKey(t, s, call, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecHmac256), KeyUsage: new(kmsapi.KeyUsageTypeGenerateVerifyMac)})
	for _, id := range []string{rsa, hmac} {
		if st := rotationStatus(t, s, call, id); st.GetKeyRotationEnabled() {
			t.Fatal("an asymmetric or HMAC key reads rotation on")
		}
		wantCode(t, s.EnableKeyRotation(ctx, &call, &kmsapi.EnableKeyRotationRequest{KeyId: new(id)}), kmsapi.UnsupportedOperationException)
		_, err := s.RotateKeyOnDemand(ctx, &call, &kmsapi.RotateKeyOnDemandRequest{KeyId: new(id)})
		wantCode(t, err, kmsapi.UnsupportedOperationException)
		_, err = s.ListKeyRotations(ctx, &call, &kmsapi.ListKeyRotationsRequest{KeyId: new(id)})
		wantCode(t, err, kmsapi.UnsupportedOperationException)
	}
	must[struct{}](t)(struct{}{}, s.DisableKey(ctx, &call, &kmsapi.DisableKeyRequest{KeyId: new(rsa)}))
	_, err := s.RotateKeyOnDemand(ctx, &call, &kmsapi.RotateKeyOnDemandRequest{KeyId: new(rsa)})
	wantCode(t, err, kmsapi.DisabledException, "is disabled.")
}

// TestOnDemandRotation: it runs asynchronously, leaves the automatic
// schedule alone, conflicts with one in progress or an automatic one due
// soon, and is limited per key.
func TestOnDemandRotation(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(t0)
	s, _ := newTestServiceWith(t, t.TempDir(), Config{Now: clock.Now, OnDemandRotationLimit: 3})
	call := devCall
	id := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	must[struct{}](t)(struct{}{}, s.EnableKeyRotation(ctx, &call, &kmsapi.EnableKeyRotationRequest{KeyId: new(id), RotationPeriodInDays: new(int32(90))}))
	next := rotationStatus(t, s, call, id).NextRotationDate
	first := describe(t, s, call, id).GetCurrentKeyMaterialId()
	out, err := s.RotateKeyOnDemand(ctx, &call, &kmsapi.RotateKeyOnDemandRequest{KeyId: new(id)})
	if err != nil {
		t.Fatal(err)
	}
	if out.GetKeyId() != keyARN(call.Region, call.Account, id) {
		t.Fatalf("RotateKeyOnDemand KeyId %q, want the ARN", out.GetKeyId())
	}
	if st := rotationStatus(t, s, call, id); !st.OnDemandRotationStartDate.Equal(t0) {
		t.Fatalf("OnDemandRotationStartDate %v while in progress", st.OnDemandRotationStartDate)
	}
	if describe(t, s, call, id).GetCurrentKeyMaterialId() != first {
		t.Fatal("current material changed before the rotation completed")
	}
	_, err = s.RotateKeyOnDemand(ctx, &call, &kmsapi.RotateKeyOnDemandRequest{KeyId: new(id)})
	wantCode(t, err, kmsapi.ConflictException)
	runScheduled(t, s)
	st := rotationStatus(t, s, call, id)
	if st.OnDemandRotationStartDate != nil || !st.NextRotationDate.Equal(next.Time) {
		t.Fatalf("after completion: %+v (next was %v)", st, next)
	}
	if describe(t, s, call, id).GetCurrentKeyMaterialId() == first {
		t.Fatal("current material did not change")
	}
	for range 2 {
		must[*kmsapi.RotateKeyOnDemandResponse](t)(s.RotateKeyOnDemand(ctx, &call, &kmsapi.RotateKeyOnDemandRequest{KeyId: new(id)}))
		runScheduled(t, s)
	}
	_, err = s.RotateKeyOnDemand(ctx, &call, &kmsapi.RotateKeyOnDemandRequest{KeyId: new(id)})
	wantCode(t, err, kmsapi.LimitExceededException,
		"The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: "+keyARN(call.Region, call.Account, id))
	rs := rotations(t, s, call, id, kmsapi.IncludeKeyMaterialRotationsOnly)
	if len(rs) != 3 || rs[2].GetRotationType() != kmsapi.RotationTypeOnDemand {
		t.Fatalf("rotations: %+v", rs)
	}

	// An automatic rotation due within 20 minutes conflicts.
	other := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	must[struct{}](t)(struct{}{}, s.EnableKeyRotation(ctx, &call, &kmsapi.EnableKeyRotationRequest{KeyId: new(other), RotationPeriodInDays: new(int32(90))}))
	clock.Set(clock.Now().Add(90*24*time.Hour - 10*time.Minute))
	_, err = s.RotateKeyOnDemand(ctx, &call, &kmsapi.RotateKeyOnDemandRequest{KeyId: new(other)})
	wantCode(t, err, kmsapi.ConflictException)
}

// TestListKeyRotationsPages walks ListKeyRotations page by page.
func TestListKeyRotationsPages(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService(t, t.TempDir())
	call := devCall
	id := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	for range 5 {
		must[*kmsapi.RotateKeyOnDemandResponse](t)(s.RotateKeyOnDemand(ctx, &call, &kmsapi.RotateKeyOnDemandRequest{KeyId: new(id)}))
		runScheduled(t, s)
	}
	var got []string
	var marker *string
	for {
		out, err := s.ListKeyRotations(ctx, &call, &kmsapi.ListKeyRotationsRequest{KeyId: new(id), Limit: new(int32(2)), Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Rotations {
			got = append(got, r.GetKeyMaterialId())
		}
		if !out.GetTruncated() {
			break
		}
		marker = out.NextMarker
	}
	if len(got) != 5 {
		t.Fatalf("%d rotations over the pages, want 5", len(got))
	}
	_, err := s.ListKeyRotations(ctx, &call, &kmsapi.ListKeyRotationsRequest{KeyId: new(id), Marker: new("bogus")})
	wantCode(t, err, kmsapi.InvalidMarkerException)
}

// recordedEvents is an EventLog that keeps what it is given.
type recordedEvents struct {
	mu     sync.Mutex
	events []ServiceEvent
}

func (r *recordedEvents) Healthy() error { return nil }

func (r *recordedEvents) RecordServiceEvent(e ServiceEvent) error {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	return nil
}

func (r *recordedEvents) count(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Name == name {
			n++
		}
	}
	return n
}

// TestSchedulersRacing: two services sharing one store (as two trent
// processes share a networked store, through the store interface) run the
// scheduled work at the same time, over and over: every rotation and
// deletion happens exactly once. With the lease, one service does all the
// work while the other holds off; without it (forced here), the
// transactions' re-check alone keeps every job to one run.
func TestSchedulersRacing(t *testing.T) {
	for _, lease := range []bool{true, false} {
		name := "lease"
		if !lease {
			name = "no lease"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clock := testclock.New(t0)
			dir := t.TempDir()
			eventsA, eventsB := &recordedEvents{}, &recordedEvents{}
			a, db := newTestServiceWith(t, dir, Config{Now: clock.Now, Events: eventsA})
			b, err := New(Config{Store: db, RootKey: a.root, Now: clock.Now, ScheduleInterval: -1, Events: eventsB})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			call := devCall
			const n = 12
			var rotating, deleting []string
			for i := range n {
				id := createKey(t, a, call, &kmsapi.CreateKeyRequest{})
				if i%2 == 0 {
					must[struct{}](t)(struct{}{}, a.EnableKeyRotation(ctx, &call, &kmsapi.EnableKeyRotationRequest{KeyId: new(id), RotationPeriodInDays: new(int32(90))}))
					rotating = append(rotating, id)
				} else {
					must[*kmsapi.ScheduleKeyDeletionResponse](t)(a.ScheduleKeyDeletion(ctx, &call, &kmsapi.ScheduleKeyDeletionRequest{KeyId: new(id), PendingWindowInDays: new(int32(7))}))
					deleting = append(deleting, id)
				}
			}
			// Imported material that expires in 30 days, and replicas of
			// multi-Region keys scheduled for deletion.
			var expiring, replicas []string
			for range 4 {
				id := createKey(t, a, call, &kmsapi.CreateKeyRequest{Origin: new(kmsapi.OriginTypeExternal)})
				token, pub := importParams(t, a, call, id, kmsapi.AlgorithmSpecRsaesOaepSha256, kmsapi.WrappingKeySpecRsa2048)
				must[*kmsapi.ImportKeyMaterialResponse](t)(importMaterial(a, call, id, token, wrapFor(t, pub, kmsapi.AlgorithmSpecRsaesOaepSha256, random(t, 32)),
					func(in *kmsapi.ImportKeyMaterialRequest) {
						in.ExpirationModel = new(kmsapi.ExpirationModelTypeKeyMaterialExpires)
						in.ValidTo = new(kmsapi.Time{Time: t0.Add(30 * 24 * time.Hour)})
					}))
				expiring = append(expiring, id)
				id = createKey(t, a, call, &kmsapi.CreateKeyRequest{MultiRegion: new(true)})
				must[*kmsapi.ReplicateKeyResponse](t)(a.ReplicateKey(ctx, &call, &kmsapi.ReplicateKeyRequest{KeyId: new(id), ReplicaRegion: new("eu-west-1")}))
				replicas = append(replicas, id)
			}
			runScheduled(t, a) // the replicas finish their creation
			west := inRegion(call, "eu-west-1")
			for _, id := range replicas {
				must[*kmsapi.ScheduleKeyDeletionResponse](t)(a.ScheduleKeyDeletion(ctx, &west, &kmsapi.ScheduleKeyDeletionRequest{KeyId: new(id), PendingWindowInDays: new(int32(7))}))
			}
			eventsA.events, eventsB.events = nil, nil
			clock.Set(t0.Add(91 * 24 * time.Hour))
			var wg sync.WaitGroup
			errs := make(chan error, 40)
			for i := range 40 {
				s := a
				if i%2 == 1 {
					s = b
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					var err error
					if lease {
						_, err = s.RunScheduledWork(ctx)
					} else {
						_, err = s.runDueWork(ctx, clock.Now())
					}
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			for _, id := range rotating {
				if n := len(rotations(t, a, call, id, kmsapi.IncludeKeyMaterialRotationsOnly)); n != 1 {
					t.Fatalf("key rotated %d times, want once", n)
				}
			}
			for _, id := range deleting {
				_, err := a.DescribeKey(ctx, &call, &kmsapi.DescribeKeyRequest{KeyId: new(id)})
				wantCode(t, err, kmsapi.NotFoundException)
			}
			for _, id := range replicas {
				_, err := a.DescribeKey(ctx, &west, &kmsapi.DescribeKeyRequest{KeyId: new(id)})
				wantCode(t, err, kmsapi.NotFoundException)
				if rk := describe(t, a, call, id).MultiRegionConfiguration.ReplicaKeys; len(rk) != 0 {
					t.Fatalf("the primary still lists %v", rk)
				}
			}
			for _, id := range expiring {
				if st := describe(t, a, call, id).GetKeyState(); st != kmsapi.KeyStatePendingImport {
					t.Fatalf("a key whose material expired is %s", st)
				}
			}
			rotated := eventsA.count("RotateKey") + eventsB.count("RotateKey")
			deleted := eventsA.count("DeleteKey") + eventsB.count("DeleteKey")
			expired := eventsA.count("DeleteExpiredKeyMaterial") + eventsB.count("DeleteExpiredKeyMaterial")
			if rotated != len(rotating) || deleted != len(deleting)+len(replicas) || expired != len(expiring) {
				t.Fatalf("%d rotations, %d deletions and %d expiries recorded, want %d, %d and %d",
					rotated, deleted, expired, len(rotating), len(deleting)+len(replicas), len(expiring))
			}
			if lease && eventsA.count("RotateKey") > 0 && eventsB.count("RotateKey") > 0 {
				t.Fatal("both services did work while one held the lease")
			}
		})
	}
}

// TestSchedulerLease: a second service takes the work over only once the
// first one's lease has ended.
func TestSchedulerLease(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(t0)
	a, db := newTestServiceWith(t, t.TempDir(), Config{Now: clock.Now})
	b, err := New(Config{Store: db, RootKey: a.root, Now: clock.Now, ScheduleInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	call := devCall
	id := createKey(t, a, call, &kmsapi.CreateKeyRequest{})
	runScheduled(t, a) // a holds the lease
	must[*kmsapi.RotateKeyOnDemandResponse](t)(a.RotateKeyOnDemand(ctx, &call, &kmsapi.RotateKeyOnDemandRequest{KeyId: new(id)}))
	if n := runScheduled(t, b); n != 0 {
		t.Fatal("b worked while a held the lease")
	}
	clock.Advance(a.lease.TTL)
	if n := runScheduled(t, b); n != 1 {
		t.Fatal("b did not take over an ended lease")
	}
	if n := runScheduled(t, a); n != 0 {
		t.Fatal("a worked while b held the lease")
	}
}

// TestLegacyDeletionScheduleMoves: a deletion scheduled by trent 0.1 (in
// store.Deletions) is moved into the schedule when the service starts.
func TestLegacyDeletionScheduleMoves(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(t0)
	dir := t.TempDir()
	s, db := newTestServiceWith(t, dir, Config{Now: clock.Now})
	call := devCall
	id := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	must[*kmsapi.ScheduleKeyDeletionResponse](t)(s.ScheduleKeyDeletion(ctx, &call, &kmsapi.ScheduleKeyDeletionRequest{KeyId: new(id), PendingWindowInDays: new(int32(7))}))
	// Make the store look like 0.1's: the entry in Deletions only.
	err := db.Update(func(tx store.Tx) error {
		var entries []string
		tx.Scan(store.Schedule, "", "", func(e string, _ []byte) (bool, error) { entries = append(entries, e); return true, nil })
		for _, e := range entries {
			if err := tx.Delete(store.Schedule, e); err != nil {
				return err
			}
			if err := tx.Put(store.Deletions, e, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := New(Config{Store: db, RootKey: s.root, Now: clock.Now, ScheduleInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	clock.Advance(7 * 24 * time.Hour)
	runScheduled(t, s2)
	_, err = s2.DescribeKey(ctx, &call, &kmsapi.DescribeKeyRequest{KeyId: new(id)})
	wantCode(t, err, kmsapi.NotFoundException)
	db.View(func(tx store.Tx) error {
		return tx.Scan(store.Deletions, "", "", func(e string, _ []byte) (bool, error) {
			t.Errorf("legacy entry %q left", e)
			return true, nil
		})
	})
}

// TestKeyQuota: an account may hold KeyQuota keys per region; a deleted key
// frees its place; a store from before the count existed is counted once.
func TestKeyQuota(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(t0)
	s, db := newTestServiceWith(t, t.TempDir(), Config{Now: clock.Now, KeyQuota: 3})
	call := devCall
	var ids []string
	for range 3 {
		ids = append(ids, createKey(t, s, call, &kmsapi.CreateKeyRequest{}))
	}
	_, err := s.CreateKey(ctx, &call, &kmsapi.CreateKeyRequest{})
	wantCode(t, err, kmsapi.LimitExceededException, "Key quota for this account in this region is 3 but the current usage is 3.")
	// Another region, or another account, has its own count.
	createKey(t, s, inRegion(call, "eu-west-1"), &kmsapi.CreateKeyRequest{})
	must[*kmsapi.ScheduleKeyDeletionResponse](t)(s.ScheduleKeyDeletion(ctx, &call, &kmsapi.ScheduleKeyDeletionRequest{KeyId: new(ids[0]), PendingWindowInDays: new(int32(7))}))
	_, err = s.CreateKey(ctx, &call, &kmsapi.CreateKeyRequest{})
	wantCode(t, err, kmsapi.LimitExceededException) // a key pending deletion still counts
	clock.Advance(7 * 24 * time.Hour)
	runScheduled(t, s)
	createKey(t, s, call, &kmsapi.CreateKeyRequest{})

	// Forget the counts, as a store written before them: they are rebuilt.
	err = db.Update(func(tx store.Tx) error {
		if err := tx.Delete(store.Meta, keyCountsMarker); err != nil {
			return err
		}
		var counts []string
		tx.Scan(store.KeysByAcc, keyCountPrefix(call.Account, call.Region), "", func(k string, _ []byte) (bool, error) {
			counts = append(counts, k)
			return true, nil
		})
		for _, k := range counts {
			if err := tx.Delete(store.KeysByAcc, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := New(Config{Store: db, RootKey: s.root, Now: clock.Now, ScheduleInterval: -1, KeyQuota: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	_, err = s2.CreateKey(ctx, &call, &kmsapi.CreateKeyRequest{})
	wantCode(t, err, kmsapi.LimitExceededException, "current usage is 3.")
	// ListKeys does not see the count entries.
	out := must[*kmsapi.ListKeysResponse](t)(s2.ListKeys(ctx, &call, &kmsapi.ListKeysRequest{}))
	if len(out.Keys) != 3 {
		t.Fatalf("ListKeys lists %d keys, want 3", len(out.Keys))
	}
}
