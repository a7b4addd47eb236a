package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func TestAliases(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	k1 := createKey(t, c, "one")
	k2 := createKey(t, c, "two")
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: k1.Arn}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/other"), TargetKeyId: k2.KeyId}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: k2.KeyId})
	wantAPIError(t, err, "AlreadyExistsException", "An alias with the name arn:aws:kms:us-east-1:111122223333:alias/app already exists")
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("app2"), TargetKeyId: k2.KeyId})
	wantAPIError(t, err, "ValidationException", `Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html`)
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/aws/s3"), TargetKeyId: k2.KeyId})
	wantAPIError(t, err, "NotAuthorizedException", "")
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/bad name"), TargetKeyId: k2.KeyId})
	wantAPIError(t, err, "ValidationException",
		"1 validation error detected: Value 'alias/bad name' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$")
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/x"), TargetKeyId: aws.String("alias/app")})
	wantAPIError(t, err, "NotFoundException", "Invalid keyId 'alias/app'")

	list := func(keyID *string) []string {
		t.Helper()
		var names []string
		p := kms.NewListAliasesPaginator(c, &kms.ListAliasesInput{KeyId: keyID, Limit: aws.Int32(1)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range page.Aliases {
				if aws.ToString(a.AliasArn) != "arn:aws:kms:us-east-1:111122223333:"+aws.ToString(a.AliasName) {
					t.Fatalf("alias entry %+v", a)
				}
				if a.TargetKeyId == nil && strings.HasPrefix(*a.AliasName, "alias/aws/") {
					continue // AWS's predefined aliases: TestManagedKeys
				}
				if a.CreationDate == nil {
					t.Fatalf("alias entry %+v", a)
				}
				names = append(names, fmt.Sprintf("%s->%s", *a.AliasName, *a.TargetKeyId))
			}
		}
		return names
	}
	want := []string{"alias/app->" + *k1.KeyId, "alias/other->" + *k2.KeyId}
	if got := list(nil); !slices.Equal(got, want) {
		t.Fatalf("ListAliases = %v, want %v", got, want)
	}
	if got := list(k2.Arn); !slices.Equal(got, want[1:]) {
		t.Fatalf("ListAliases(KeyId k2) = %v", got)
	}

	if _, err := c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: k2.KeyId}); err != nil {
		t.Fatal(err)
	}
	d, _ := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/app")})
	if *d.KeyMetadata.KeyId != *k2.KeyId {
		t.Fatal("UpdateAlias did not move the alias")
	}
	_, err = c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/ghost"), TargetKeyId: k2.KeyId})
	wantAPIError(t, err, "NotFoundException", "Alias arn:aws:kms:us-east-1:111122223333:alias/ghost is not found.")
	if _, err := c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/app")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/app")})
	wantAPIError(t, err, "NotFoundException", "Alias arn:aws:kms:us-east-1:111122223333:alias/app is not found.")
	if got := list(nil); !slices.Equal(got, want[1:]) {
		t.Fatalf("ListAliases after delete = %v", got)
	}
}

func TestTags(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	k := createKey(t, c, "tags")
	tag := func(k, v string) types.Tag { return types.Tag{TagKey: aws.String(k), TagValue: aws.String(v)} }
	if _, err := c.TagResource(ctx, &kms.TagResourceInput{KeyId: k.KeyId, Tags: []types.Tag{tag("b", "2"), tag("a", "1"), tag("c", "")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TagResource(ctx, &kms.TagResourceInput{KeyId: k.Arn, Tags: []types.Tag{tag("a", "one")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &kms.UntagResourceInput{KeyId: k.KeyId, TagKeys: []string{"b", "never-set"}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	p := kms.NewListResourceTagsPaginator(c, &kms.ListResourceTagsInput{KeyId: k.KeyId, Limit: aws.Int32(1)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range page.Tags {
			got = append(got, *tg.TagKey+"="+*tg.TagValue)
		}
	}
	if want := []string{"a=one", "c="}; !slices.Equal(got, want) {
		t.Fatalf("tags = %v, want %v", got, want)
	}
	_, err := c.TagResource(ctx, &kms.TagResourceInput{KeyId: k.KeyId, Tags: []types.Tag{tag("aws:x", "1")}})
	wantAPIError(t, err, "TagException", "Tags beginning with aws: are reserved")
	_, err = c.TagResource(ctx, &kms.TagResourceInput{KeyId: k.KeyId, Tags: []types.Tag{tag("d", "1"), tag("d", "2")}})
	wantAPIError(t, err, "TagException", "Duplicate tag keys")
	var many []types.Tag
	for i := range 49 {
		many = append(many, tag(fmt.Sprint("k", i), "v"))
	}
	_, err = c.TagResource(ctx, &kms.TagResourceInput{KeyId: k.KeyId, Tags: many})
	wantAPIError(t, err, "TagException", "Too many tags")
	_, err = c.TagResource(ctx, &kms.TagResourceInput{KeyId: k.KeyId, Tags: []types.Tag{tag(string(make([]byte, 129)), "v")}})
	wantAPIError(t, err, "ValidationException", "")
}

func TestKeyPolicies(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	k := createKey(t, c, "default policy")
	got, err := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: k.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version   string
		Id        string
		Statement []struct {
			Sid       string
			Effect    string
			Principal struct{ AWS string }
			Action    string
			Resource  string
		}
	}
	if err := json.Unmarshal([]byte(aws.ToString(got.Policy)), &doc); err != nil {
		t.Fatalf("default policy is not JSON: %v", err)
	}
	if doc.Id != "key-default-1" || len(doc.Statement) != 1 || doc.Statement[0].Principal.AWS != "arn:aws:iam::111122223333:root" ||
		doc.Statement[0].Action != "kms:*" || aws.ToString(got.PolicyName) != "default" {
		t.Fatalf("default policy = %s", aws.ToString(got.Policy))
	}
	names, err := c.ListKeyPolicies(ctx, &kms.ListKeyPoliciesInput{KeyId: k.KeyId})
	if err != nil || !slices.Equal(names.PolicyNames, []string{"default"}) || names.Truncated {
		t.Fatalf("ListKeyPolicies = %v, %v", names, err)
	}

	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`
	created, err := c.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(policy)})
	if err != nil {
		t.Fatal(err)
	}
	got, err = c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: created.KeyMetadata.KeyId, PolicyName: aws.String("default")})
	if err != nil || aws.ToString(got.Policy) != policy {
		t.Fatalf("stored policy = %q, %v", aws.ToString(got.Policy), err)
	}
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(`{"Statement": [`)})
	wantAPIError(t, err, "MalformedPolicyDocumentException", "")
	// A policy under which the caller could not change the policy again is
	// refused (the lockout safety check)...
	lockout := `{"Version":"2012-10-17","Statement":[{"Sid":"x","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}]}`
	_, err = c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: k.KeyId, Policy: aws.String(lockout)})
	wantAPIError(t, err, "MalformedPolicyDocumentException", "The new key policy will not allow you to update the key policy in the future.")
	newPolicy := `{"Version":"2012-10-17","Statement":[{"Sid":"x","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"},` +
		`{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}]}`
	if _, err := c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: k.KeyId, Policy: aws.String(newPolicy)}); err != nil {
		t.Fatal(err)
	}
	got, _ = c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: k.KeyId})
	if aws.ToString(got.Policy) != newPolicy {
		t.Fatal("PutKeyPolicy did not replace the policy")
	}
	_, err = c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: k.KeyId, PolicyName: aws.String("other")})
	wantAPIError(t, err, "NotFoundException", "")
}
