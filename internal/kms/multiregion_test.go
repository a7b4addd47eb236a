package kms

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/testclock"
)

func inRegion(call Call, region string) Call {
	call.Region = region
	return call
}

// TestMultiRegionKey: a multi-Region key replicates, shares its material
// (a ciphertext made in one region decrypts in the other), keeps state,
// description and policy per region, survives UpdatePrimaryRegion, and
// rotates in every region at once.
func TestMultiRegionKey(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(t0)
	s, _ := newTestServiceWith(t, t.TempDir(), Config{Now: clock.Now, ServesRegion: func(r string) bool { return r != "ap-south-2" }})
	east, west := devCall, inRegion(devCall, "eu-west-1")
	id := createKey(t, s, east, &kmsapi.CreateKeyRequest{MultiRegion: new(true), Description: new("primary")})
	if !validKeyID(id) || id[:4] != "mrk-" {
		t.Fatalf("multi-Region key ID %q", id)
	}
	md := describe(t, s, east, id)
	c := md.MultiRegionConfiguration
	if !md.GetMultiRegion() || c == nil || c.GetMultiRegionKeyType() != kmsapi.MultiRegionKeyTypePrimary ||
		c.PrimaryKey.GetRegion() != "us-east-1" || c.ReplicaKeys == nil || len(c.ReplicaKeys) != 0 {
		t.Fatalf("new primary: %+v", md)
	}
	_, err := s.DescribeKey(ctx, &west, &kmsapi.DescribeKeyRequest{KeyId: new(id)})
	wantCode(t, err, kmsapi.NotFoundException, "Key '"+keyARN("eu-west-1", east.Account, id)+"' does not exist")

	out, err := s.ReplicateKey(ctx, &east, &kmsapi.ReplicateKeyRequest{KeyId: new(id), ReplicaRegion: new("eu-west-1")})
	if err != nil {
		t.Fatal(err)
	}
	rm := out.ReplicaKeyMetadata
	if rm.GetKeyState() != kmsapi.KeyStateCreating || rm.GetEnabled() || rm.CurrentKeyMaterialId != nil || rm.GetDescription() != "" ||
		rm.GetArn() != keyARN("eu-west-1", east.Account, id) || out.ReplicaTags != nil || out.GetReplicaPolicy() != defaultPolicy(east.Account) {
		t.Fatalf("ReplicateKey: %+v", out)
	}
	_, err = s.ReplicateKey(ctx, &east, &kmsapi.ReplicateKeyRequest{KeyId: new(id), ReplicaRegion: new("eu-west-1")})
	wantCode(t, err, kmsapi.AlreadyExistsException)
	_, err = s.ReplicateKey(ctx, &east, &kmsapi.ReplicateKeyRequest{KeyId: new(id), ReplicaRegion: new("ap-south-2")})
	wantCode(t, err, kmsapi.UnsupportedOperationException)
	_, err = s.ReplicateKey(ctx, &west, &kmsapi.ReplicateKeyRequest{KeyId: new(id), ReplicaRegion: new("ap-south-1")})
	wantCode(t, err, kmsapi.KMSInvalidStateException, "is creating.") // its state first
	single := createKey(t, s, east, &kmsapi.CreateKeyRequest{})
	_, err = s.ReplicateKey(ctx, &east, &kmsapi.ReplicateKeyRequest{KeyId: new(single), ReplicaRegion: new("eu-west-1")})
	wantCode(t, err, kmsapi.UnsupportedOperationException)
	// The state comes before the kind of key, as everywhere.
	must[struct{}](t)(struct{}{}, s.DisableKey(ctx, &east, &kmsapi.DisableKeyRequest{KeyId: new(single)}))
	_, err = s.ReplicateKey(ctx, &east, &kmsapi.ReplicateKeyRequest{KeyId: new(single), ReplicaRegion: new("eu-west-1")})
	wantCode(t, err, kmsapi.DisabledException)
	wantCode(t, s.UpdatePrimaryRegion(ctx, &east, &kmsapi.UpdatePrimaryRegionRequest{KeyId: new(single), PrimaryRegion: new("eu-west-1")}),
		kmsapi.DisabledException)

	runScheduled(t, s)
	_, err = s.ReplicateKey(ctx, &west, &kmsapi.ReplicateKeyRequest{KeyId: new(id), ReplicaRegion: new("ap-south-1")})
	wantCode(t, err, kmsapi.UnsupportedOperationException, "is not a multi-region primary key.")
	wm := describe(t, s, west, id)
	if wm.GetKeyState() != kmsapi.KeyStateEnabled || wm.MultiRegionConfiguration.GetMultiRegionKeyType() != kmsapi.MultiRegionKeyTypeReplica ||
		wm.GetCurrentKeyMaterialId() != md.GetCurrentKeyMaterialId() {
		t.Fatalf("replica after creation: %+v", wm)
	}
	if rk := describe(t, s, east, id).MultiRegionConfiguration.ReplicaKeys; len(rk) != 1 || rk[0].GetRegion() != "eu-west-1" {
		t.Fatalf("primary's replicas: %+v", rk)
	}
	blob := encrypt(t, s, east, id, "across")
	if pt, _ := decrypt(t, s, west, blob); pt != "across" {
		t.Fatal("the replica does not decrypt the primary's ciphertext")
	}
	// State is per region.
	must[struct{}](t)(struct{}{}, s.DisableKey(ctx, &west, &kmsapi.DisableKeyRequest{KeyId: new(id)}))
	decrypt(t, s, east, blob)
	must[struct{}](t)(struct{}{}, s.EnableKey(ctx, &west, &kmsapi.EnableKeyRequest{KeyId: new(id)}))

	// Rotation is set on the primary and reaches the replica.
	wantCode(t, s.EnableKeyRotation(ctx, &west, &kmsapi.EnableKeyRotationRequest{KeyId: new(id)}), kmsapi.UnsupportedOperationException)
	must[struct{}](t)(struct{}{}, s.EnableKeyRotation(ctx, &east, &kmsapi.EnableKeyRotationRequest{KeyId: new(id), RotationPeriodInDays: new(int32(90))}))
	if !rotationStatus(t, s, west, id).GetKeyRotationEnabled() {
		t.Fatal("the replica does not show the primary's rotation setting")
	}
	clock.Advance(90 * 24 * time.Hour)
	runScheduled(t, s)
	cur := describe(t, s, east, id).GetCurrentKeyMaterialId()
	if cur == md.GetCurrentKeyMaterialId() || describe(t, s, west, id).GetCurrentKeyMaterialId() != cur {
		t.Fatal("the rotation did not reach the replica")
	}
	fresh := encrypt(t, s, west, id, "rotated")
	if pt, mid := decrypt(t, s, east, fresh); pt != "rotated" || mid != cur {
		t.Fatal("the primary does not decrypt the replica's new ciphertext")
	}

	// UpdatePrimaryRegion: eu-west-1 becomes the primary.
	if err := s.UpdatePrimaryRegion(ctx, &west, &kmsapi.UpdatePrimaryRegionRequest{KeyId: new(id), PrimaryRegion: new("us-east-1")}); err == nil {
		t.Fatal("UpdatePrimaryRegion on a replica succeeded")
	}
	if err := s.UpdatePrimaryRegion(ctx, &east, &kmsapi.UpdatePrimaryRegionRequest{KeyId: new(id), PrimaryRegion: new("eu-west-1")}); err != nil {
		t.Fatal(err)
	}
	if typ := describe(t, s, west, id).MultiRegionConfiguration.GetMultiRegionKeyType(); typ != kmsapi.MultiRegionKeyTypePrimary {
		t.Fatalf("eu-west-1 is %s after UpdatePrimaryRegion", typ)
	}
	ec := describe(t, s, east, id).MultiRegionConfiguration
	if ec.GetMultiRegionKeyType() != kmsapi.MultiRegionKeyTypeReplica || ec.PrimaryKey.GetRegion() != "eu-west-1" ||
		len(ec.ReplicaKeys) != 1 || ec.ReplicaKeys[0].GetRegion() != "us-east-1" {
		t.Fatalf("us-east-1 after UpdatePrimaryRegion: %+v", ec)
	}
	if pt, _ := decrypt(t, s, east, blob); pt != "across" {
		t.Fatal("old ciphertexts no longer decrypt after UpdatePrimaryRegion")
	}
	if pt, _ := decrypt(t, s, west, blob); pt != "across" {
		t.Fatal("old ciphertexts no longer decrypt in the new primary region")
	}

	// Deletion: the primary (now eu-west-1) waits for its replica.
	del := must[*kmsapi.ScheduleKeyDeletionResponse](t)(s.ScheduleKeyDeletion(ctx, &west, &kmsapi.ScheduleKeyDeletionRequest{KeyId: new(id), PendingWindowInDays: new(int32(7))}))
	if del.GetKeyState() != kmsapi.KeyStatePendingReplicaDeletion || del.DeletionDate != nil || del.GetPendingWindowInDays() != 7 {
		t.Fatalf("ScheduleKeyDeletion of a primary with a replica: %+v", del)
	}
	decrypt(t, s, east, blob) // the replica is unaffected
	_, err = s.Decrypt(ctx, &west, &kmsapi.DecryptRequest{CiphertextBlob: blob})
	wantCode(t, err, kmsapi.KMSInvalidStateException, "is pending replica deletion.")
	must[*kmsapi.ScheduleKeyDeletionResponse](t)(s.ScheduleKeyDeletion(ctx, &east, &kmsapi.ScheduleKeyDeletionRequest{KeyId: new(id), PendingWindowInDays: new(int32(7))}))
	replicaGone := clock.Now().Add(7 * 24 * time.Hour)
	clock.Set(replicaGone)
	runScheduled(t, s)
	_, err = s.DescribeKey(ctx, &east, &kmsapi.DescribeKeyRequest{KeyId: new(id)})
	wantCode(t, err, kmsapi.NotFoundException)
	pm := describe(t, s, west, id)
	if pm.GetKeyState() != kmsapi.KeyStatePendingDeletion || !pm.DeletionDate.Equal(replicaGone.Add(7*24*time.Hour)) ||
		len(pm.MultiRegionConfiguration.ReplicaKeys) != 0 {
		t.Fatalf("primary after its replica was deleted: %+v", pm)
	}
	clock.Set(replicaGone.Add(7 * 24 * time.Hour))
	runScheduled(t, s)
	_, err = s.DescribeKey(ctx, &west, &kmsapi.DescribeKeyRequest{KeyId: new(id)})
	wantCode(t, err, kmsapi.NotFoundException)
}

// TestMultiRegionImportedKey: an imported multi-Region key's replica waits
// for the same material; other material is refused.
func TestMultiRegionImportedKey(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService(t, t.TempDir())
	east, west := devCall, inRegion(devCall, "eu-west-1")
	id := createKey(t, s, east, &kmsapi.CreateKeyRequest{MultiRegion: new(true), Origin: new(kmsapi.OriginTypeExternal)})
	alg := kmsapi.AlgorithmSpecRsaesOaepSha256
	material := random(t, 32)
	token, pub := importParams(t, s, east, id, alg, kmsapi.WrappingKeySpecRsa2048)
	first := must[*kmsapi.ImportKeyMaterialResponse](t)(importMaterial(s, east, id, token, wrapFor(t, pub, alg, material), nil))
	must[*kmsapi.ReplicateKeyResponse](t)(s.ReplicateKey(ctx, &east, &kmsapi.ReplicateKeyRequest{KeyId: new(id), ReplicaRegion: new("eu-west-1")}))
	runScheduled(t, s)
	if st := describe(t, s, west, id).GetKeyState(); st != kmsapi.KeyStatePendingImport {
		t.Fatalf("imported replica is %s before its import", st)
	}
	token, pub = importParams(t, s, west, id, alg, kmsapi.WrappingKeySpecRsa2048)
	_, err := importMaterial(s, west, id, token, wrapFor(t, pub, alg, random(t, 32)), nil)
	wantCode(t, err, kmsapi.IncorrectKeyMaterialException)
	second := must[*kmsapi.ImportKeyMaterialResponse](t)(importMaterial(s, west, id, token, wrapFor(t, pub, alg, material), nil))
	if second.GetKeyMaterialId() != first.GetKeyMaterialId() {
		t.Fatal("the same material has different IDs in the two regions")
	}
	blob := encrypt(t, s, east, id, "byok")
	if pt, _ := decrypt(t, s, west, blob); pt != "byok" {
		t.Fatal("the replica does not decrypt")
	}

	// New material on the primary waits until every replica has it.
	next := random(t, 32)
	token, pub = importParams(t, s, east, id, alg, kmsapi.WrappingKeySpecRsa2048)
	pending := must[*kmsapi.ImportKeyMaterialResponse](t)(importMaterial(s, east, id, token, wrapFor(t, pub, alg, next), func(in *kmsapi.ImportKeyMaterialRequest) {
		in.ImportType = new(kmsapi.ImportTypeNewKeyMaterial)
	}))
	states := func(c Call) []kmsapi.KeyMaterialState {
		var out []kmsapi.KeyMaterialState
		for _, r := range rotations(t, s, c, id, kmsapi.IncludeKeyMaterialAllKeyMaterial) {
			out = append(out, r.GetKeyMaterialState())
		}
		return out
	}
	if got := states(east); !slices.Equal(got, []kmsapi.KeyMaterialState{kmsapi.KeyMaterialStateCurrent, kmsapi.KeyMaterialStatePendingMultiRegionImportAndRotation}) {
		t.Fatalf("primary's materials: %v", got)
	}
	_, err = s.RotateKeyOnDemand(ctx, &east, &kmsapi.RotateKeyOnDemandRequest{KeyId: new(id)})
	wantCode(t, err, kmsapi.KMSInvalidStateException)
	token, pub = importParams(t, s, west, id, alg, kmsapi.WrappingKeySpecRsa2048)
	must[*kmsapi.ImportKeyMaterialResponse](t)(importMaterial(s, west, id, token, wrapFor(t, pub, alg, next), nil))
	if got := states(east); got[1] != kmsapi.KeyMaterialStatePendingRotation {
		t.Fatalf("primary's materials once imported everywhere: %v", got)
	}
	must[*kmsapi.RotateKeyOnDemandResponse](t)(s.RotateKeyOnDemand(ctx, &east, &kmsapi.RotateKeyOnDemandRequest{KeyId: new(id)}))
	runScheduled(t, s)
	for _, c := range []Call{east, west} {
		if describe(t, s, c, id).GetCurrentKeyMaterialId() != pending.GetKeyMaterialId() {
			t.Fatalf("%s: the rotation to imported material did not happen", c.Region)
		}
	}
	if pt, _ := decrypt(t, s, west, blob); pt != "byok" {
		t.Fatal("old ciphertexts no longer decrypt")
	}
}

// TestKeyLastUsage: uses are tracked in memory, written to the store in
// the background, and survive a restart; unused keys report none.
func TestKeyLastUsage(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(t0)
	dir := t.TempDir()
	s, db := newTestServiceWith(t, dir, Config{Now: clock.Now})
	call := devCall
	id := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	out, err := s.GetKeyLastUsage(ctx, &call, &kmsapi.GetKeyLastUsageRequest{KeyId: new(id)})
	if err != nil {
		t.Fatal(err)
	}
	if out.KeyLastUsage != nil || !out.TrackingStartDate.Equal(t0) || !out.KeyCreationDate.Equal(t0) {
		t.Fatalf("unused key: %+v", out)
	}
	clock.Advance(time.Hour)
	c := call
	c.RequestID, c.EventID = "req-1", "evt-1"
	blob := encrypt(t, s, c, id, "x")
	_, err = s.Encrypt(ctx, &call, &kmsapi.EncryptRequest{KeyId: new(id), Plaintext: []byte("x"), DryRun: new(true)})
	wantCode(t, err, kmsapi.DryRunOperationException)
	out = must[*kmsapi.GetKeyLastUsageResponse](t)(s.GetKeyLastUsage(ctx, &call, &kmsapi.GetKeyLastUsageRequest{KeyId: new(id)}))
	u := out.KeyLastUsage
	if u == nil || u.GetOperation() != kmsapi.KeyLastUsageTrackingOperationEncrypt || !u.Timestamp.Equal(t0.Add(time.Hour)) ||
		u.GetKmsRequestId() != "req-1" || u.GetCloudTrailEventId() != "evt-1" {
		t.Fatalf("after Encrypt: %+v", u)
	}
	clock.Advance(time.Hour)
	c.RequestID, c.EventID = "req-2", "evt-2"
	decrypt(t, s, c, blob)
	if err := s.Close(); err != nil { // flushes
		t.Fatal(err)
	}
	s2, err := New(Config{Store: db, RootKey: s.root, Now: clock.Now, ScheduleInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	out = must[*kmsapi.GetKeyLastUsageResponse](t)(s2.GetKeyLastUsage(ctx, &call, &kmsapi.GetKeyLastUsageRequest{KeyId: new(id)}))
	if u := out.KeyLastUsage; u == nil || u.GetOperation() != kmsapi.KeyLastUsageTrackingOperationDecrypt || u.GetKmsRequestId() != "req-2" {
		t.Fatalf("after a restart: %+v", out.KeyLastUsage)
	}
	if !out.TrackingStartDate.Equal(t0) {
		t.Fatalf("tracking start moved on restart: %v", out.TrackingStartDate)
	}
}

// TestReplicaOwnPolicyTagsAliases: a replica made with its own description,
// policy and tags has them, the primary keeps its own, and aliases are per
// region: the same alias name can name the key in each region
// independently.
func TestReplicaOwnPolicyTagsAliases(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService(t, t.TempDir())
	east, west := devCall, inRegion(devCall, "eu-west-1")
	id := createKey(t, s, east, &kmsapi.CreateKeyRequest{MultiRegion: new(true), Description: new("primary"),
		Tags: []kmsapi.Tag{{TagKey: new("team"), TagValue: new("a")}}})
	replicaPolicy := `{"Version":"2012-10-17","Statement":[{"Sid":"replica","Effect":"Allow",` +
		`"Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`
	out := must[*kmsapi.ReplicateKeyResponse](t)(s.ReplicateKey(ctx, &east, &kmsapi.ReplicateKeyRequest{
		KeyId: new(id), ReplicaRegion: new("eu-west-1"), Description: new("replica"), Policy: new(replicaPolicy),
		Tags: []kmsapi.Tag{{TagKey: new("env"), TagValue: new("west")}}}))
	if out.GetReplicaPolicy() != replicaPolicy || len(out.ReplicaTags) != 1 || out.ReplicaTags[0].GetTagKey() != "env" ||
		out.ReplicaKeyMetadata.GetDescription() != "replica" {
		t.Fatalf("ReplicateKey's answer: %+v", out)
	}
	runScheduled(t, s)
	policyIn := func(c Call) string {
		return must[*kmsapi.GetKeyPolicyResponse](t)(s.GetKeyPolicy(ctx, &c, &kmsapi.GetKeyPolicyRequest{KeyId: new(id)})).GetPolicy()
	}
	tagsIn := func(c Call) string {
		var kv []string
		for _, tg := range must[*kmsapi.ListResourceTagsResponse](t)(s.ListResourceTags(ctx, &c, &kmsapi.ListResourceTagsRequest{KeyId: new(id)})).Tags {
			kv = append(kv, tg.GetTagKey()+"="+tg.GetTagValue())
		}
		return strings.Join(kv, ",")
	}
	if policyIn(west) != replicaPolicy || policyIn(east) != defaultPolicy(east.Account) {
		t.Fatalf("policies: west %s, east %s", policyIn(west), policyIn(east))
	}
	if tagsIn(west) != "env=west" || tagsIn(east) != "team=a" {
		t.Fatalf("tags: west %s, east %s", tagsIn(west), tagsIn(east))
	}
	if describe(t, s, west, id).GetDescription() != "replica" || describe(t, s, east, id).GetDescription() != "primary" {
		t.Fatal("descriptions are not per region")
	}

	// Aliases: per region.
	other := createKey(t, s, west, &kmsapi.CreateKeyRequest{})
	must[struct{}](t)(struct{}{}, s.CreateAlias(ctx, &east, &kmsapi.CreateAliasRequest{AliasName: new("alias/app"), TargetKeyId: new(id)}))
	_, err := s.DescribeKey(ctx, &west, &kmsapi.DescribeKeyRequest{KeyId: new("alias/app")})
	wantCode(t, err, kmsapi.NotFoundException)
	must[struct{}](t)(struct{}{}, s.CreateAlias(ctx, &west, &kmsapi.CreateAliasRequest{AliasName: new("alias/app"), TargetKeyId: new(other)}))
	if got := describe(t, s, west, "alias/app").GetKeyId(); got != other {
		t.Fatalf("alias/app in eu-west-1 names %s, want %s", got, other)
	}
	must[struct{}](t)(struct{}{}, s.DeleteAlias(ctx, &east, &kmsapi.DeleteAliasRequest{AliasName: new("alias/app")}))
	if got := describe(t, s, west, "alias/app").GetKeyId(); got != other {
		t.Fatal("deleting the alias in us-east-1 removed eu-west-1's")
	}
}
