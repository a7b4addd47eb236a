package kms

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/trent-kms/trent/internal/grant"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/store"
)

// Grants: listing with filters and pages, who may retire a grant, and the
// per-key alias limit.

const (
	grantsAlice = "arn:aws:iam::111122223333:user/alice"
	grantsBob   = "arn:aws:iam::111122223333:user/bob"
	grantsApp   = "arn:aws:iam::111122223333:role/app"
)

// newGrant creates a grant as the root user and returns its ID and token.
func newGrant(t *testing.T, s *Service, keyID, grantee, retiring string, ops ...kmsapi.GrantOperation) (string, string) {
	t.Helper()
	in := &kmsapi.CreateGrantRequest{KeyId: new(keyID), GranteePrincipal: new(grantee), Operations: ops}
	if retiring != "" {
		in.RetiringPrincipal = new(retiring)
	}
	root := devCall
	out, err := s.CreateGrant(context.Background(), &root, in)
	if err != nil {
		t.Fatal(err)
	}
	return out.GetGrantId(), out.GetGrantToken()
}

// pageThrough calls list with each marker until the answer is not
// truncated, checking every page (at most limit grants, NextMarker exactly
// when Truncated), and returns the grants by ID, failing on any seen twice.
func pageThrough(t *testing.T, limit int32, list func(marker *string) (*kmsapi.ListGrantsResponse, error)) map[string]kmsapi.GrantListEntry {
	t.Helper()
	seen := map[string]kmsapi.GrantListEntry{}
	var marker *string
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("the listing does not end")
		}
		out, err := list(marker)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Grants) > int(limit) {
			t.Fatalf("page of %d grants for Limit %d", len(out.Grants), limit)
		}
		for _, g := range out.Grants {
			if _, dup := seen[g.GetGrantId()]; dup {
				t.Fatalf("grant %s listed twice (Limit %d)", g.GetGrantId(), limit)
			}
			seen[g.GetGrantId()] = g
		}
		if out.Truncated == nil {
			t.Fatal("Truncated missing")
		}
		if !*out.Truncated {
			if out.NextMarker != nil {
				t.Fatalf("NextMarker %q on the last page", *out.NextMarker)
			}
			return seen
		}
		if out.GetNextMarker() == "" || len(out.Grants) == 0 {
			t.Fatalf("truncated page of %d grants with NextMarker %v", len(out.Grants), out.NextMarker)
		}
		marker = out.NextMarker
	}
}

func listGrants(t *testing.T, s *Service, in kmsapi.ListGrantsRequest, limit int32) map[string]kmsapi.GrantListEntry {
	t.Helper()
	return pageThrough(t, limit, func(marker *string) (*kmsapi.ListGrantsResponse, error) {
		call, req := devCall, in
		req.Limit, req.Marker = new(limit), marker
		return s.ListGrants(context.Background(), &call, &req)
	})
}

func listRetirable(t *testing.T, s *Service, principal string, limit int32) map[string]kmsapi.GrantListEntry {
	t.Helper()
	return pageThrough(t, limit, func(marker *string) (*kmsapi.ListGrantsResponse, error) {
		call := devCall
		return s.ListRetirableGrants(context.Background(), &call, &kmsapi.ListRetirableGrantsRequest{
			RetiringPrincipal: new(principal), Limit: new(limit), Marker: marker})
	})
}

func grantIDs(m map[string]kmsapi.GrantListEntry) []string {
	return slices.Sorted(maps.Keys(m))
}

func sortedIDs(ids ...string) []string {
	return slices.Sorted(slices.Values(ids))
}

// TestListGrantsFilters: GrantId returns only that grant of the key,
// GranteePrincipal only the grants to that principal, both only a grant
// that is both; pages of a filtered listing hold only matching grants.
func TestListGrantsFilters(t *testing.T) {
	s, db := newTestService(t, t.TempDir())
	defer db.Close()
	key := createKey(t, s, devCall, &kmsapi.CreateKeyRequest{})
	other := createKey(t, s, devCall, &kmsapi.CreateKeyRequest{})
	a1, _ := newGrant(t, s, key, grantsAlice, "", kmsapi.GrantOperationDecrypt)
	b, _ := newGrant(t, s, key, grantsBob, grantsApp, kmsapi.GrantOperationEncrypt)
	a2, _ := newGrant(t, s, key, grantsAlice, "", kmsapi.GrantOperationEncrypt, kmsapi.GrantOperationDecrypt)
	app, _ := newGrant(t, s, key, grantsApp, "", kmsapi.GrantOperationDecrypt)
	elsewhere, _ := newGrant(t, s, other, grantsAlice, "", kmsapi.GrantOperationDecrypt)

	byKey := kmsapi.ListGrantsRequest{KeyId: new(key)}
	if got, want := grantIDs(listGrants(t, s, byKey, 50)), sortedIDs(a1, b, a2, app); !slices.Equal(got, want) {
		t.Fatalf("ListGrants = %v, want %v", got, want)
	}

	// GrantId.
	in := byKey
	in.GrantId = new(b)
	got := listGrants(t, s, in, 50)
	if ids := grantIDs(got); !slices.Equal(ids, []string{b}) {
		t.Fatalf("ListGrants(GrantId %s) = %v", b, ids)
	}
	e := got[b]
	if e.GetKeyId() != keyARN("us-east-1", "111122223333", key) || e.GetGranteePrincipal() != grantsBob ||
		e.GetRetiringPrincipal() != grantsApp || e.GetIssuingAccount() != "arn:aws:iam::111122223333:root" ||
		!slices.Equal(e.Operations, []kmsapi.GrantOperation{kmsapi.GrantOperationEncrypt}) {
		t.Fatalf("grant entry %+v", e)
	}
	for name, id := range map[string]string{"a grant of another key": elsewhere, "no grant": "ab" + fmt.Sprintf("%062d", 0)} {
		in := byKey
		in.GrantId = new(id)
		if got := listGrants(t, s, in, 50); len(got) != 0 {
			t.Fatalf("ListGrants(GrantId of %s) = %v", name, grantIDs(got))
		}
	}

	// GranteePrincipal, with pages of one.
	for grantee, want := range map[string][]string{
		grantsAlice:                            sortedIDs(a1, a2),
		grantsBob:                              {b},
		grantsApp:                              {app},
		"arn:aws:iam::111122223333:user/carol": nil,
	} {
		for _, limit := range []int32{1, 2, 50} {
			in := byKey
			in.GranteePrincipal = new(grantee)
			if got := grantIDs(listGrants(t, s, in, limit)); !slices.Equal(got, want) {
				t.Fatalf("ListGrants(GranteePrincipal %s, Limit %d) = %v, want %v", grantee, limit, got, want)
			}
		}
	}

	// Both: the grant must be both.
	in = byKey
	in.GrantId, in.GranteePrincipal = new(a2), new(grantsAlice)
	if got := grantIDs(listGrants(t, s, in, 50)); !slices.Equal(got, []string{a2}) {
		t.Fatalf("ListGrants(GrantId of alice's grant, GranteePrincipal alice) = %v", got)
	}
	in.GranteePrincipal = new(grantsBob)
	if got := listGrants(t, s, in, 50); len(got) != 0 {
		t.Fatalf("ListGrants(GrantId of alice's grant, GranteePrincipal bob) = %v", grantIDs(got))
	}
}

// TestGrantListsPaginate: ListGrants and ListRetirableGrants give every
// grant exactly once whatever the Limit, with NextMarker and Truncated
// consistent on every page. ListRetirableGrants spans keys and leaves out
// the grants of a principal whose ARN extends the one asked for.
func TestGrantListsPaginate(t *testing.T) {
	s, db := newTestService(t, t.TempDir())
	defer db.Close()
	k1 := createKey(t, s, devCall, &kmsapi.CreateKeyRequest{})
	k2 := createKey(t, s, devCall, &kmsapi.CreateKeyRequest{})
	var onK1, bobRetires []string
	grantees := []string{grantsAlice, grantsBob, grantsApp}
	for i := range 7 {
		retiring := ""
		if i%3 != 2 {
			retiring = grantsBob
		}
		id, _ := newGrant(t, s, k1, grantees[i%3], retiring, kmsapi.GrantOperationDecrypt)
		onK1 = append(onK1, id)
		if retiring != "" {
			bobRetires = append(bobRetires, id)
		}
	}
	for range 4 {
		id, _ := newGrant(t, s, k2, grantsAlice, grantsBob, kmsapi.GrantOperationEncrypt)
		bobRetires = append(bobRetires, id)
	}
	// Retired by others: the app role, and a user under the path /bob/.
	appRetires, _ := newGrant(t, s, k2, grantsAlice, grantsApp, kmsapi.GrantOperationEncrypt)
	newGrant(t, s, k2, grantsAlice, "arn:aws:iam::111122223333:user/bob/x", kmsapi.GrantOperationEncrypt)

	for _, limit := range []int32{1, 2, 3, 6, 7, 8, 100} {
		if got, want := grantIDs(listGrants(t, s, kmsapi.ListGrantsRequest{KeyId: new(k1)}, limit)), sortedIDs(onK1...); !slices.Equal(got, want) {
			t.Fatalf("ListGrants (Limit %d) = %v, want %v", limit, got, want)
		}
	}
	if len(bobRetires) != 9 {
		t.Fatalf("%d grants retired by bob", len(bobRetires))
	}
	for _, limit := range []int32{1, 2, 4, 8, 9, 10, 100} {
		got := listRetirable(t, s, grantsBob, limit)
		if ids, want := grantIDs(got), sortedIDs(bobRetires...); !slices.Equal(ids, want) {
			t.Fatalf("ListRetirableGrants(bob, Limit %d) = %v, want %v", limit, ids, want)
		}
		for _, e := range got {
			if e.GetRetiringPrincipal() != grantsBob {
				t.Fatalf("ListRetirableGrants(bob) lists %+v", e)
			}
		}
	}
	if got := grantIDs(listRetirable(t, s, grantsApp, 1)); !slices.Equal(got, []string{appRetires}) {
		t.Fatalf("ListRetirableGrants(app) = %v", got)
	}
}

// TestRetireGrantWho: as AWS's RetireGrant documentation says, a grant may
// be retired by its retiring principal, by its grantee when the grant
// gives RetireGrant, and within the key's account by the root user and by
// whom IAM policies allow kms:RetireGrant; nobody else, and an IAM Deny
// wins. A retired grant is gone and gives nothing.
func TestRetireGrantWho(t *testing.T) {
	ctx := context.Background()
	s, db := newTestService(t, t.TempDir())
	defer db.Close()
	key := createKey(t, s, devCall, &kmsapi.CreateKeyRequest{})
	keyArn := keyARN("us-east-1", "111122223333", key)
	env := &condEnv{t: t, ctx: ctx, s: s}
	alice := func(iam ...string) *Call { return env.as(condUser("alice"), iam...) }
	carol := func() *Call { return env.as(condUser("carol")) } // same account, no IAM policy
	// eve is of another account, with an IAM policy allowing RetireGrant anywhere.
	eve := func() *Call {
		c := condUser("eve")
		c.Account, c.ARN = "444455556666", "arn:aws:iam::444455556666:user/eve"
		c.Principal.Account, c.Principal.ARN = c.Account, c.ARN
		return env.as(c, condIAM(`"kms:RetireGrant"`, "*", ""))
	}
	retireByID := func(c *Call, id string) error {
		return s.RetireGrant(ctx, c, &kmsapi.RetireGrantRequest{KeyId: new(keyArn), GrantId: new(id)})
	}
	retireByToken := func(c *Call, token string) error {
		return s.RetireGrant(ctx, c, &kmsapi.RetireGrantRequest{GrantToken: new(token)})
	}
	refused := func(who string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s retired the grant", who)
		}
		wantCode(t, err, kmsapi.AccessDeniedException, "kms:RetireGrant")
	}
	gone := func(id string) {
		t.Helper()
		if got := listGrants(t, s, kmsapi.ListGrantsRequest{KeyId: new(key), GrantId: new(id)}, 50); len(got) != 0 {
			t.Fatalf("retired grant %s is still listed", id)
		}
	}
	present := func(id string) {
		t.Helper()
		if got := listGrants(t, s, kmsapi.ListGrantsRequest{KeyId: new(key), GrantId: new(id)}, 50); len(got) != 1 {
			t.Fatalf("grant %s is gone", id)
		}
	}

	// The grantee, when the grant gives RetireGrant; strangers never.
	id, token := newGrant(t, s, key, grantsAlice, "", kmsapi.GrantOperationEncrypt, kmsapi.GrantOperationRetireGrant)
	if err := env.encrypt(alice(), key, nil); err != nil {
		t.Fatalf("the grant does not give alice Encrypt: %v", err)
	}
	refused("a user of the account without permission", retireByID(carol(), id))
	refused("a user of the account without permission, with the token", retireByToken(carol(), token))
	refused("a user of another account", retireByID(eve(), id))
	refused("a user of another account, with the token", retireByToken(eve(), token))
	present(id)
	if err := retireByID(alice(), id); err != nil {
		t.Fatalf("the grantee of a grant giving RetireGrant: %v", err)
	}
	gone(id)
	wantCode(t, env.encrypt(alice(), key, nil), kmsapi.AccessDeniedException, "kms:Encrypt")

	// An IAM Deny of kms:RetireGrant wins over the grant.
	id, _ = newGrant(t, s, key, grantsAlice, "", kmsapi.GrantOperationEncrypt, kmsapi.GrantOperationRetireGrant)
	refused("a grantee denied kms:RetireGrant by IAM", retireByID(alice(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:RetireGrant","Resource":"*"}]}`), id))
	present(id)

	// The retiring principal (here by token); the grantee without
	// RetireGrant may not.
	id, token = newGrant(t, s, key, grantsAlice, grantsBob, kmsapi.GrantOperationEncrypt)
	refused("the grantee of a grant not giving RetireGrant", retireByToken(alice(), token))
	refused("a user of the account without permission", retireByToken(carol(), token))
	present(id)
	if err := retireByToken(env.as(condUser("bob")), token); err != nil {
		t.Fatalf("the retiring principal: %v", err)
	}
	gone(id)

	// A retiring role names its sessions.
	id, _ = newGrant(t, s, key, grantsAlice, grantsApp, kmsapi.GrantOperationEncrypt)
	refused("a session of another role", retireByID(env.as(condSession("batch", "s1")), id))
	if err := retireByID(env.as(condSession("app", "s1")), id); err != nil {
		t.Fatalf("a session of the retiring role: %v", err)
	}
	gone(id)

	// A retiring principal of another account.
	id, token = newGrant(t, s, key, grantsAlice, "arn:aws:iam::444455556666:user/eve", kmsapi.GrantOperationEncrypt)
	if err := retireByToken(eve(), token); err != nil {
		t.Fatalf("a retiring principal of another account: %v", err)
	}
	gone(id)

	// The account: a user its IAM policies allow kms:RetireGrant, and its
	// root user.
	id, _ = newGrant(t, s, key, grantsAlice, "", kmsapi.GrantOperationEncrypt)
	refused("the grantee of a grant not giving RetireGrant", retireByID(alice(), id))
	dave := env.as(condUser("dave"), condIAM(`"kms:RetireGrant"`, condAnyKey, ""))
	if err := retireByID(dave, id); err != nil {
		t.Fatalf("a user allowed kms:RetireGrant by IAM: %v", err)
	}
	gone(id)
	id, _ = newGrant(t, s, key, grantsAlice, "", kmsapi.GrantOperationEncrypt)
	root := devCall
	if err := retireByID(&root, id); err != nil {
		t.Fatalf("the account's root user: %v", err)
	}
	gone(id)
}

// TestAliasLimitPerKey: a key takes 50 aliases; a 51st, made or moved to
// it, is LimitExceededException and is not made; deleting one makes room.
// Other keys are not affected.
func TestAliasLimitPerKey(t *testing.T) {
	ctx := context.Background()
	s, db := newTestService(t, t.TempDir())
	defer db.Close()
	call := devCall
	key := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	other := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	create := func(name, target string) error {
		c := devCall
		return s.CreateAlias(ctx, &c, &kmsapi.CreateAliasRequest{AliasName: new(name), TargetKeyId: new(target)})
	}
	update := func(name, target string) error {
		c := devCall
		return s.UpdateAlias(ctx, &c, &kmsapi.UpdateAliasRequest{AliasName: new(name), TargetKeyId: new(target)})
	}
	for i := range 50 {
		if err := create(fmt.Sprintf("alias/k-%02d", i), key); err != nil {
			t.Fatalf("alias %d: %v", i+1, err)
		}
	}
	// trent's words; AWS has been seen answering "Aliases per key quota
	// for this account in this region is 50, current usage is ...".
	wantCode(t, create("alias/k-50", key), kmsapi.LimitExceededException, "Aliases per key quota for this account in this region is 50, current usage is 50.")
	if got := listAliases(t, s, call, new(key), 100); len(got) != 50 {
		t.Fatalf("the key has %d aliases", len(got))
	}
	c := devCall
	_, err := s.DescribeKey(ctx, &c, &kmsapi.DescribeKeyRequest{KeyId: new("alias/k-50")})
	wantCode(t, err, kmsapi.NotFoundException)

	// Another key is not affected, but no alias can move to the full one.
	if err := create("alias/other", other); err != nil {
		t.Fatal(err)
	}
	wantCode(t, update("alias/other", key), kmsapi.LimitExceededException, "Aliases per key quota for this account in this region is 50, current usage is 50.")
	if md := describe(t, s, call, "alias/other"); md.GetKeyId() != other {
		t.Fatalf("alias/other moved to %s", md.GetKeyId())
	}

	// Deleting one makes room for one.
	c = devCall
	if err := s.DeleteAlias(ctx, &c, &kmsapi.DeleteAliasRequest{AliasName: new("alias/k-00")}); err != nil {
		t.Fatal(err)
	}
	if err := update("alias/other", key); err != nil {
		t.Fatalf("moving an alias to a key with 49: %v", err)
	}
	wantCode(t, create("alias/k-50", key), kmsapi.LimitExceededException, "Aliases per key quota for this account in this region is 50, current usage is 50.")
	if got := listAliases(t, s, call, new(key), 100); len(got) != 50 {
		t.Fatalf("the key has %d aliases", len(got))
	}
}

// TestGrantQuotaPerKey: a key holds at most AWS's 50,000 grants; the one
// beyond is LimitExceededException, and retiring one makes room. The first
// 49,999 are written straight to the store in one transaction (through
// the grant package, which keeps the count), as 50,000 CreateGrant calls
// would take minutes.
func TestGrantQuotaPerKey(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 50,000 grants")
	}
	ctx := context.Background()
	s, db := newTestService(t, t.TempDir())
	call := devCall
	key := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	err := db.Update(func(tx store.Tx) error {
		for i := range grant.MaxPerKey - 1 {
			if err := grant.Add(tx, &grant.Grant{ID: fmt.Sprintf("%064x", i), Region: call.Region, KeyID: key, KeyAccount: call.Account,
				IssuingAccount: "arn:aws:iam::" + call.Account + ":root", Grantee: grantsAlice,
				Operations: []kmsapi.GrantOperation{kmsapi.GrantOperationEncrypt}, CreationDate: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	last, _ := newGrant(t, s, key, grantsBob, "", kmsapi.GrantOperationDecrypt) // the 50,000th
	_, err = s.CreateGrant(ctx, &call, &kmsapi.CreateGrantRequest{KeyId: new(key), GranteePrincipal: new(grantsBob),
		Operations: []kmsapi.GrantOperation{kmsapi.GrantOperationEncrypt}})
	wantCode(t, err, kmsapi.LimitExceededException, "The number of grants for "+keyARN(call.Region, call.Account, key)+" exceeds the limit of 50000.")
	must[struct{}](t)(struct{}{}, s.RevokeGrant(ctx, &call, &kmsapi.RevokeGrantRequest{KeyId: new(key), GrantId: new(last)}))
	newGrant(t, s, key, grantsBob, "", kmsapi.GrantOperationEncrypt)
}

// TestRetireGrantConditions: a RetireGrant permission conditioned on
// kms:GrantConstraintType or on the constraint's encryption context applies
// to the grant being retired, as it does to the grant being created.
func TestRetireGrantConditions(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService(t, t.TempDir())
	key := createKey(t, s, devCall, &kmsapi.CreateKeyRequest{})
	env := &condEnv{t: t, ctx: ctx, s: s}
	grantWith := func(c *kmsapi.GrantConstraints) string {
		t.Helper()
		root := devCall
		out, err := s.CreateGrant(ctx, &root, &kmsapi.CreateGrantRequest{KeyId: new(key), GranteePrincipal: new(grantsBob),
			Operations: []kmsapi.GrantOperation{kmsapi.GrantOperationEncrypt}, Constraints: c})
		if err != nil {
			t.Fatal(err)
		}
		return out.GetGrantId()
	}
	retire := func(c *Call, id string) error {
		return s.RetireGrant(ctx, c, &kmsapi.RetireGrantRequest{KeyId: new(key), GrantId: new(id)})
	}
	equals := grantWith(&kmsapi.GrantConstraints{EncryptionContextEquals: map[string]string{"dept": "it"}})
	subset := grantWith(&kmsapi.GrantConstraints{EncryptionContextSubset: map[string]string{"dept": "hr"}})
	none := grantWith(nil)

	// Each request is a new call, as each HTTP request is.
	byType := func() *Call {
		return env.alice(condIAM(`"kms:RetireGrant"`, "*", `{"StringEquals":{"kms:GrantConstraintType":"EncryptionContextEquals"}}`))
	}
	wantCode(t, retire(byType(), subset), kmsapi.AccessDeniedException, "kms:RetireGrant")
	wantCode(t, retire(byType(), none), kmsapi.AccessDeniedException, "kms:RetireGrant")
	if err := retire(byType(), equals); err != nil {
		t.Fatalf("the grant whose constraint the condition names: %v", err)
	}
	byContext := func() *Call {
		return env.alice(condIAM(`"kms:RetireGrant"`, "*", `{"StringEquals":{"kms:EncryptionContext:dept":"hr"}}`))
	}
	wantCode(t, retire(byContext(), none), kmsapi.AccessDeniedException, "kms:RetireGrant")
	if err := retire(byContext(), subset); err != nil {
		t.Fatalf("the grant whose context the condition names: %v", err)
	}
}
