package kms

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/testclock"
)

var predefinedNames = []string{
	"alias/aws/acm", "alias/aws/dynamodb", "alias/aws/ebs", "alias/aws/elasticfilesystem", "alias/aws/es",
	"alias/aws/glue", "alias/aws/kinesisvideo", "alias/aws/lambda", "alias/aws/rds", "alias/aws/redshift",
	"alias/aws/s3", "alias/aws/secretsmanager", "alias/aws/sns", "alias/aws/sqs", "alias/aws/ssm", "alias/aws/xray",
}

// listAliases pages through ListAliases with the given page size and
// returns "name->target" (target empty for a predefined alias without key).
func listAliases(t *testing.T, s *Service, call Call, keyID *string, limit int32) []string {
	t.Helper()
	var got []string
	var marker *string
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("ListAliases does not end")
		}
		out, err := s.ListAliases(context.Background(), &call, &kmsapi.ListAliasesRequest{KeyId: keyID, Limit: new(limit), Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Aliases) > int(limit) {
			t.Fatalf("ListAliases gave %d aliases for Limit %d", len(out.Aliases), limit)
		}
		for _, a := range out.Aliases {
			if a.GetAliasArn() != "arn:aws:kms:us-east-1:111122223333:"+a.GetAliasName() {
				t.Fatalf("alias entry %+v", a)
			}
			if a.TargetKeyId == nil && (a.CreationDate != nil || a.LastUpdatedDate != nil) {
				t.Fatalf("predefined alias entry %+v has dates", a)
			}
			got = append(got, a.GetAliasName()+"->"+a.GetTargetKeyId())
		}
		if !out.GetTruncated() {
			if out.NextMarker != nil {
				t.Fatal("NextMarker on the last page")
			}
			return got
		}
		marker = out.NextMarker
	}
}

func TestPredefinedAliasesAreListed(t *testing.T) {
	ctx := context.Background()
	s, db := newTestService(t, t.TempDir())
	defer db.Close()
	call := devCall
	a := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	b := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	for name, target := range map[string]string{"alias/app": a, "alias/zeta": b, "alias/aws-like": a} {
		if err := s.CreateAlias(ctx, &call, &kmsapi.CreateAliasRequest{AliasName: new(name), TargetKeyId: new(target)}); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	want = append(want, "alias/app->"+a)
	for _, n := range predefinedNames {
		want = append(want, n+"->")
	}
	want = append(want, "alias/aws-like->"+a, "alias/zeta->"+b) // "aws-" sorts after "aws/"
	slices.Sort(want)
	for _, limit := range []int32{1, 2, 3, 7, 50, 100} {
		if got := listAliases(t, s, call, nil, limit); !slices.Equal(got, want) {
			t.Fatalf("ListAliases (Limit %d) =\n%v\nwant\n%v", limit, got, want)
		}
	}
	// A KeyId filter never shows a predefined alias.
	if got := listAliases(t, s, call, new(b), 50); !slices.Equal(got, []string{"alias/zeta->" + b}) {
		t.Fatalf("ListAliases(KeyId) = %v", got)
	}
	// Every account and region has them.
	other := devCall
	other.Region = "eu-west-1"
	out, err := s.ListAliases(ctx, &other, &kmsapi.ListAliasesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Aliases) != len(predefinedNames) || out.Aliases[0].GetAliasArn() != "arn:aws:kms:eu-west-1:111122223333:alias/aws/acm" {
		t.Fatalf("ListAliases in eu-west-1 = %+v", out.Aliases)
	}

	// Once made, the managed key's alias takes the predefined one's place.
	ebs := describe(t, s, call, "alias/aws/ebs")
	for i, w := range want {
		if w == "alias/aws/ebs->" {
			want[i] = "alias/aws/ebs->" + ebs.GetKeyId()
		}
	}
	for _, limit := range []int32{1, 4, 50} {
		if got := listAliases(t, s, call, nil, limit); !slices.Equal(got, want) {
			t.Fatalf("ListAliases (Limit %d) after DescribeKey =\n%v\nwant\n%v", limit, got, want)
		}
	}
	if got := listAliases(t, s, call, new(ebs.GetArn()), 50); !slices.Equal(got, []string{"alias/aws/ebs->" + ebs.GetKeyId()}) {
		t.Fatalf("ListAliases(KeyId managed key) = %v", got)
	}
}

func TestDescribeKeyMakesManagedKey(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(t0)
	s, db := newTestServiceWith(t, t.TempDir(), Config{Now: clock.Now})
	defer db.Close()
	call := devCall
	m := describe(t, s, call, "alias/aws/ebs")
	if m.GetKeyManager() != kmsapi.KeyManagerTypeAws || m.GetKeySpec() != kmsapi.KeySpecSymmetricDefault ||
		m.GetKeyUsage() != kmsapi.KeyUsageTypeEncryptDecrypt || m.GetOrigin() != kmsapi.OriginTypeAwsKms ||
		m.GetKeyState() != kmsapi.KeyStateEnabled || !m.GetEnabled() || m.GetMultiRegion() ||
		m.GetDescription() != "Default master key that protects my EBS volumes when no other key is defined" ||
		!m.GetCreationDate().Equal(t0) || m.GetArn() != "arn:aws:kms:us-east-1:111122223333:key/"+m.GetKeyId() {
		t.Fatalf("managed key metadata %+v", m)
	}
	// The same key, however the alias is named, from now on.
	for _, id := range []string{"alias/aws/ebs", "arn:aws:kms:us-east-1:111122223333:alias/aws/ebs", m.GetKeyId()} {
		if got := describe(t, s, call, id); got.GetKeyId() != m.GetKeyId() {
			t.Fatalf("DescribeKey(%s) = %s, want %s", id, got.GetKeyId(), m.GetKeyId())
		}
	}
	// A customer key stays CUSTOMER.
	if cm := describe(t, s, call, createKey(t, s, call, &kmsapi.CreateKeyRequest{})); cm.GetKeyManager() != kmsapi.KeyManagerTypeCustomer {
		t.Fatalf("customer key has KeyManager %s", cm.GetKeyManager())
	}
	keys, err := s.ListKeys(ctx, &call, &kmsapi.ListKeysRequest{})
	if err != nil || len(keys.Keys) != 2 {
		t.Fatalf("ListKeys = %+v, %v", keys, err)
	}

	st := rotationStatus(t, s, call, m.GetKeyId())
	if !st.GetKeyRotationEnabled() || st.GetRotationPeriodInDays() != 365 || !st.GetNextRotationDate().Equal(t0.Add(365*24*time.Hour)) {
		t.Fatalf("GetKeyRotationStatus = %+v", st)
	}
	pol, err := s.GetKeyPolicy(ctx, &call, &kmsapi.GetKeyPolicyRequest{KeyId: m.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	wantPolicy := `{
  "Version" : "2012-10-17",
  "Id" : "auto-ebs-2",
  "Statement" : [ {
    "Sid" : "Allow access through EBS for all principals in the account that are authorized to use EBS",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "*"
    },
    "Action" : [ "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey" ],
    "Resource" : "*",
    "Condition" : {
      "StringEquals" : {
        "kms:CallerAccount" : "111122223333",
        "kms:ViaService" : "ec2.us-east-1.amazonaws.com"
      }
    }
  }, {
    "Sid" : "Allow direct access to key metadata to the account",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::111122223333:root"
    },
    "Action" : [ "kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant" ],
    "Resource" : "*"
  } ]
}`
	if pol.GetPolicy() != wantPolicy {
		t.Fatalf("GetKeyPolicy =\n%s\nwant\n%s", pol.GetPolicy(), wantPolicy)
	}

	// It rotates yearly, by itself.
	clock.Advance(365*24*time.Hour + time.Minute)
	if _, err := s.RunScheduledWork(ctx); err != nil {
		t.Fatal(err)
	}
	rot, err := s.ListKeyRotations(ctx, &call, &kmsapi.ListKeyRotationsRequest{KeyId: m.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	if len(rot.Rotations) != 1 || rot.Rotations[0].GetRotationType() != kmsapi.RotationTypeAutomatic {
		t.Fatalf("ListKeyRotations after a year = %+v", rot.Rotations)
	}
}

// TestManagedKeyPolicies parses every managed key's policy and checks what
// differs between services.
func TestManagedKeyPolicies(t *testing.T) {
	var names []string
	for i := range managedServices {
		m := &managedServices[i]
		names = append(names, m.aliasName())
		doc := m.policy("111122223333", "eu-west-1")
		if _, err := policy.Parse(doc, policy.KeyPolicy); err != nil {
			t.Fatalf("%s: the managed key policy does not parse: %v\n%s", m.name, err, doc)
		}
		if !strings.Contains(doc, `"kms:ViaService" : "`+m.via+`.eu-west-1.amazonaws.com"`) ||
			!strings.Contains(doc, `"kms:CallerAccount" : "111122223333"`) ||
			!strings.HasPrefix(m.description(), "Default master key that protects my ") {
			t.Fatalf("%s: policy\n%s", m.name, doc)
		}
		if managedServiceFor(m.aliasName()) != m {
			t.Fatalf("managedServiceFor(%s) does not find it", m.aliasName())
		}
	}
	if !slices.Equal(names, predefinedNames) {
		t.Fatalf("predefined aliases %v, want %v (sorted)", names, predefinedNames)
	}
	for _, n := range []string{"alias/aws/", "alias/aws/EBS", "alias/aws/ebs/x", "alias/ebs", "alias/aws/backup"} {
		if managedServiceFor(n) != nil {
			t.Fatalf("%s is taken for a predefined alias", n)
		}
	}
	// Published policies: S3's has no grants and no RevokeGrant, Lambda's
	// lets the account only describe, RDS's lets the service list grants.
	if doc := managedServiceFor("alias/aws/s3").policy("111122223333", "us-east-1"); strings.Contains(doc, "Grant") ||
		!strings.Contains(doc, `"Id" : "auto-s3-2"`) {
		t.Fatalf("S3's managed key policy:\n%s", doc)
	}
	if doc := managedServiceFor("alias/aws/lambda").policy("111122223333", "us-east-1"); !strings.Contains(doc, `"Action" : "kms:Describe*",`) {
		t.Fatalf("Lambda's managed key policy:\n%s", doc)
	}
	if doc := managedServiceFor("alias/aws/rds").policy("111122223333", "us-east-1"); !strings.Contains(doc, `"kms:CreateGrant", "kms:ListGrants", "kms:DescribeKey"`) {
		t.Fatalf("RDS's managed key policy:\n%s", doc)
	}
}

// TestManagedKeyMadeOnce races DescribeKeys of one predefined alias: one
// key is made, and every answer names it.
func TestManagedKeyMadeOnce(t *testing.T) {
	s, db := newTestService(t, t.TempDir())
	defer db.Close()
	const n = 16
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			call := devCall
			<-start
			out, err := s.DescribeKey(context.Background(), &call, &kmsapi.DescribeKeyRequest{KeyId: new("alias/aws/s3")})
			errs[i] = err
			if err == nil {
				ids[i] = out.KeyMetadata.GetKeyId()
			}
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("DescribeKey %d: %s, %v; first: %s", i, ids[i], errs[i], ids[0])
		}
	}
	var stored int
	db.View(func(tx store.Tx) error {
		return tx.Scan(store.Keys, "", "", func(string, []byte) (bool, error) {
			stored++
			return true, nil
		})
	})
	if stored != 1 {
		t.Fatalf("%d keys stored, want 1", stored)
	}
}

// TestManagedKeyRefusals: customers can read an AWS managed key but not
// manage or use it. The policy refuses; the messages are AWS's.
func TestManagedKeyRefusals(t *testing.T) {
	ctx := context.Background()
	s, db := newTestService(t, t.TempDir())
	defer db.Close()
	call := devCall
	mk := describe(t, s, call, "alias/aws/ebs")
	id, arn := mk.GetKeyId(), mk.GetArn()
	denied := func(action string) string {
		return "User: arn:aws:iam::111122223333:root is not authorized to perform: kms:" + action +
			" on resource: " + arn + " because no resource-based policy allows the kms:" + action + " action"
	}
	mine := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	if err := s.CreateAlias(ctx, &call, &kmsapi.CreateAliasRequest{AliasName: new("alias/mine"), TargetKeyId: new(mine)}); err != nil {
		t.Fatal(err)
	}
	blob := encrypt(t, s, call, mine, "x")
	for _, tc := range []struct {
		action string
		do     func(c *Call) error
	}{
		{"PutKeyPolicy", func(c *Call) error {
			return s.PutKeyPolicy(ctx, c, &kmsapi.PutKeyPolicyRequest{KeyId: new(id), Policy: new(defaultPolicy("111122223333"))})
		}},
		{"ScheduleKeyDeletion", func(c *Call) error {
			_, err := s.ScheduleKeyDeletion(ctx, c, &kmsapi.ScheduleKeyDeletionRequest{KeyId: new(id)})
			return err
		}},
		{"CancelKeyDeletion", func(c *Call) error {
			_, err := s.CancelKeyDeletion(ctx, c, &kmsapi.CancelKeyDeletionRequest{KeyId: new(id)})
			return err
		}},
		{"DisableKey", func(c *Call) error { return s.DisableKey(ctx, c, &kmsapi.DisableKeyRequest{KeyId: new(id)}) }},
		{"EnableKey", func(c *Call) error { return s.EnableKey(ctx, c, &kmsapi.EnableKeyRequest{KeyId: new(id)}) }},
		{"EnableKeyRotation", func(c *Call) error {
			return s.EnableKeyRotation(ctx, c, &kmsapi.EnableKeyRotationRequest{KeyId: new(id)})
		}},
		{"DisableKeyRotation", func(c *Call) error {
			return s.DisableKeyRotation(ctx, c, &kmsapi.DisableKeyRotationRequest{KeyId: new(id)})
		}},
		{"RotateKeyOnDemand", func(c *Call) error {
			_, err := s.RotateKeyOnDemand(ctx, c, &kmsapi.RotateKeyOnDemandRequest{KeyId: new(id)})
			return err
		}},
		{"UpdateKeyDescription", func(c *Call) error {
			return s.UpdateKeyDescription(ctx, c, &kmsapi.UpdateKeyDescriptionRequest{KeyId: new(id), Description: new("mine")})
		}},
		{"TagResource", func(c *Call) error {
			return s.TagResource(ctx, c, &kmsapi.TagResourceRequest{KeyId: new(id), Tags: []kmsapi.Tag{{TagKey: new("a"), TagValue: new("b")}}})
		}},
		{"UntagResource", func(c *Call) error {
			return s.UntagResource(ctx, c, &kmsapi.UntagResourceRequest{KeyId: new(id), TagKeys: []string{"a"}})
		}},
		{"CreateAlias", func(c *Call) error {
			return s.CreateAlias(ctx, c, &kmsapi.CreateAliasRequest{AliasName: new("alias/to-managed"), TargetKeyId: new(id)})
		}},
		{"UpdateAlias", func(c *Call) error {
			return s.UpdateAlias(ctx, c, &kmsapi.UpdateAliasRequest{AliasName: new("alias/mine"), TargetKeyId: new(id)})
		}},
		{"CreateGrant", func(c *Call) error {
			_, err := s.CreateGrant(ctx, c, &kmsapi.CreateGrantRequest{KeyId: new(id), GranteePrincipal: new("arn:aws:iam::111122223333:root"),
				Operations: []kmsapi.GrantOperation{kmsapi.GrantOperationDecrypt}})
			return err
		}},
		{"Encrypt", func(c *Call) error {
			_, err := s.Encrypt(ctx, c, &kmsapi.EncryptRequest{KeyId: new("alias/aws/ebs"), Plaintext: []byte("x")})
			return err
		}},
		{"GenerateDataKey", func(c *Call) error {
			_, err := s.GenerateDataKey(ctx, c, &kmsapi.GenerateDataKeyRequest{KeyId: new(id), KeySpec: new(kmsapi.DataKeySpecAes256)})
			return err
		}},
		{"ReEncryptTo", func(c *Call) error {
			_, err := s.ReEncrypt(ctx, c, &kmsapi.ReEncryptRequest{CiphertextBlob: blob, DestinationKeyId: new("alias/aws/ebs")})
			return err
		}},
		{"ReplicateKey", func(c *Call) error {
			_, err := s.ReplicateKey(ctx, c, &kmsapi.ReplicateKeyRequest{KeyId: new(id), ReplicaRegion: new("eu-west-1")})
			return err
		}},
	} {
		c := call
		wantCode(t, tc.do(&c), kmsapi.AccessDeniedException)
		err := tc.do(&c)
		if kerr := err.(*kmsapi.Error); kerr.Message != denied(tc.action) {
			t.Fatalf("%s: message\n %q\nwant\n %q", tc.action, kerr.Message, denied(tc.action))
		}
	}
	// Its alias is AWS's: reserved.
	for _, err := range []error{
		s.DeleteAlias(ctx, &call, &kmsapi.DeleteAliasRequest{AliasName: new("alias/aws/ebs")}),
		s.UpdateAlias(ctx, &call, &kmsapi.UpdateAliasRequest{AliasName: new("alias/aws/ebs"), TargetKeyId: new(mine)}),
		s.CreateAlias(ctx, &call, &kmsapi.CreateAliasRequest{AliasName: new("alias/aws/ebs"), TargetKeyId: new(mine)}),
	} {
		wantCode(t, err, kmsapi.NotAuthorizedException)
		if err.(*kmsapi.Error).Message != "" {
			t.Fatalf("NotAuthorizedException with message %q", err.(*kmsapi.Error).Message)
		}
	}
	// Nothing changed.
	after := describe(t, s, call, "alias/aws/ebs")
	if after.GetKeyState() != kmsapi.KeyStateEnabled || after.GetDescription() != mk.GetDescription() || after.GetKeyId() != id {
		t.Fatalf("managed key after refusals: %+v", after)
	}
	if got := listAliases(t, s, call, new(id), 50); !slices.Equal(got, []string{"alias/aws/ebs->" + id}) {
		t.Fatalf("aliases of the managed key: %v", got)
	}
	// Reading is allowed: Describe*, Get*, List*.
	if _, err := s.ListGrants(ctx, &call, &kmsapi.ListGrantsRequest{KeyId: new(id)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListResourceTags(ctx, &call, &kmsapi.ListResourceTagsRequest{KeyId: new(id)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetKeyLastUsage(ctx, &call, &kmsapi.GetKeyLastUsageRequest{KeyId: new(id)}); err != nil {
		t.Fatal(err)
	}
}

// TestManagedKeyOnlyDescribeKeyMakesIt: the other operations that take an
// alias find no key behind a predefined alias that has none yet.
func TestManagedKeyOnlyDescribeKeyMakesIt(t *testing.T) {
	ctx := context.Background()
	s, db := newTestService(t, t.TempDir())
	defer db.Close()
	call := devCall
	notFound := "Alias arn:aws:kms:us-east-1:111122223333:alias/aws/s3 is not found."
	_, err := s.Encrypt(ctx, &call, &kmsapi.EncryptRequest{KeyId: new("alias/aws/s3"), Plaintext: []byte("x")})
	wantCode(t, err, kmsapi.NotFoundException, notFound)
	_, err = s.GenerateDataKey(ctx, &call, &kmsapi.GenerateDataKeyRequest{KeyId: new("arn:aws:kms:us-east-1:111122223333:alias/aws/s3"), NumberOfBytes: new(int32(32))})
	wantCode(t, err, kmsapi.NotFoundException, notFound)
	_, err = s.GetPublicKey(ctx, &call, &kmsapi.GetPublicKeyRequest{KeyId: new("alias/aws/s3")})
	wantCode(t, err, kmsapi.NotFoundException, notFound)
	// Another region's alias ARN is not the caller's to make.
	_, err = s.DescribeKey(ctx, &call, &kmsapi.DescribeKeyRequest{KeyId: new("arn:aws:kms:eu-west-1:111122223333:alias/aws/s3")})
	wantCode(t, err, kmsapi.NotFoundException, "Invalid arn eu-west-1")
	// Nor another account's.
	_, err = s.DescribeKey(ctx, &call, &kmsapi.DescribeKeyRequest{KeyId: new("arn:aws:kms:us-east-1:444455556666:alias/aws/s3")})
	wantCode(t, err, kmsapi.AccessDeniedException, "on this resource because the resource does not exist in this Region")
	// An alias/aws/ name that is not predefined is just absent.
	_, err = s.DescribeKey(ctx, &call, &kmsapi.DescribeKeyRequest{KeyId: new("alias/aws/backup")})
	wantCode(t, err, kmsapi.NotFoundException, "Alias arn:aws:kms:us-east-1:111122223333:alias/aws/backup is not found.")
	keys, err := s.ListKeys(ctx, &call, &kmsapi.ListKeysRequest{})
	if err != nil || len(keys.Keys) != 0 {
		t.Fatalf("keys made: %+v %v", keys, err)
	}
}

// TestManagedKeyNotMadeForDeniedCaller: a caller who may not describe the
// key makes nothing.
func TestManagedKeyNotMadeForDeniedCaller(t *testing.T) {
	ctx := context.Background()
	s, db := newTestService(t, t.TempDir())
	defer db.Close()
	alice := Call{Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/alice", Region: "us-east-1",
		Principal: policy.Principal{ARN: "arn:aws:iam::111122223333:user/alice", Account: "111122223333", Type: policy.TypeUser,
			UserID: "AIDAALICE", Username: "alice"}}
	_, err := s.DescribeKey(ctx, &alice, &kmsapi.DescribeKeyRequest{KeyId: new("alias/aws/sqs")})
	wantCode(t, err, kmsapi.AccessDeniedException,
		"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:DescribeKey on resource: arn:aws:kms:us-east-1:111122223333:key/",
		"because no identity-based policy allows the kms:DescribeKey action")
	keys, err := s.ListKeys(ctx, &devCall, &kmsapi.ListKeysRequest{})
	if err != nil || len(keys.Keys) != 0 {
		t.Fatalf("a denied DescribeKey made a key: %+v %v", keys, err)
	}
	// With an IAM policy that allows it, alice's DescribeKey makes it.
	iam, err := policy.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:DescribeKey","Resource":"arn:aws:kms:*:111122223333:key/*"}]}`, policy.IdentityPolicy)
	if err != nil {
		t.Fatal(err)
	}
	alice.Policies = []*policy.Policy{iam}
	if m := describe(t, s, alice, "alias/aws/sqs"); m.GetKeyManager() != kmsapi.KeyManagerTypeAws {
		t.Fatalf("alice's DescribeKey: %+v", m)
	}
}
