package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/testclock"
)

// Answers as AWS KMS gives them where several errors apply, for reserved
// tags and for AWS managed keys (docs/compatibility.md), with the Go SDK and
// the AWS CLI.

// cliErrorLine is how the AWS CLI prints a service error.
var cliErrorLine = regexp.MustCompile(`An error occurred \((\w+)\) when calling the (\w+) operation(?: \(reached max retries: \d+\))?: ?(.*)`)

// cliError runs an AWS CLI command that must fail and returns the error's
// code and message as the CLI printed them.
func (s *server) cliError(t *testing.T, args ...string) (code, message string) {
	t.Helper()
	out := s.cliErr(t, args...)
	m := cliErrorLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("aws %s: no service error in %q", strings.Join(args, " "), out)
	}
	return m[1], strings.TrimSpace(m[3])
}

func wantCLIError(t *testing.T, s *server, code, message string, args ...string) {
	t.Helper()
	gotCode, gotMessage := s.cliError(t, args...)
	if gotCode != code || gotMessage != message {
		t.Fatalf("aws %s:\n got %s: %q\nwant %s: %q", strings.Join(args, " "), gotCode, gotMessage, code, message)
	}
}

func tag(k, v string) types.Tag { return types.Tag{TagKey: aws.String(k), TagValue: aws.String(v)} }

const incorrectKey = "The key ID in the request does not identify a CMK that can perform this operation."

// TestErrorPrecedence: a KeyId that is not the key of a symmetric
// ciphertext is IncorrectKeyException before the named key's usage is
// looked at (captured on AWS: an HMAC key), and the request's own faults
// come before the key's.
func TestErrorPrecedence(t *testing.T) {
	s := startServer(t, t.TempDir())
	c := s.client()
	sym := createKey(t, c, "precedence")
	hmacKey := createAsymmetricKey(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	rsaSign := createAsymmetricKey(t, c, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify)
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: sym.KeyId, Plaintext: []byte("attack at dawn")})
	if err != nil {
		t.Fatal(err)
	}
	for _, named := range []*types.KeyMetadata{hmacKey, rsaSign} {
		_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyId: named.KeyId})
		wantAPIError(t, err, "IncorrectKeyException", incorrectKey)
		_, err = c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceKeyId: named.Arn, DestinationKeyId: sym.KeyId})
		wantAPIError(t, err, "IncorrectKeyException", incorrectKey)
	}
	// The named key's usage still decides for a ciphertext that is not a
	// symmetric one.
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: make([]byte, 256), KeyId: hmacKey.KeyId})
	wantAPIError(t, err, "InvalidKeyUsageException", *hmacKey.Arn+" key usage is GENERATE_VERIFY_MAC which is not valid for Decrypt.")
	// And the named key's state comes before the comparison.
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: hmacKey.KeyId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyId: hmacKey.KeyId})
	wantAPIError(t, err, "DisabledException", *hmacKey.Arn+" is disabled.")

	// The same through the AWS CLI.
	ct := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(ct, enc.CiphertextBlob, 0o600); err != nil {
		t.Fatal(err)
	}
	wantCLIError(t, s, "IncorrectKeyException", incorrectKey,
		"kms", "decrypt", "--ciphertext-blob", "fileb://"+ct, "--key-id", *rsaSign.KeyId)
	wantCLIError(t, s, "IncorrectKeyException", incorrectKey,
		"kms", "re-encrypt", "--ciphertext-blob", "fileb://"+ct, "--source-key-id", *rsaSign.Arn, "--destination-key-id", *sym.KeyId)

	// The request before the key: a reserved tag on a key that does not
	// exist, a malformed grant ID.
	absent := "1234abcd-12ab-34cd-56ef-1234567890ab"
	_, err = c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(absent), Tags: []types.Tag{tag("AWS:team", "x")}})
	wantAPIError(t, err, "TagException", "Tags beginning with aws: are reserved")
	_, err = c.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(absent), GrantId: aws.String("nope")})
	wantAPIError(t, err, "InvalidGrantIdException", "Invalid grant ID: nope")
	// A dry run answers last: here the plaintext is too large for the key.
	rsaEnc := createAsymmetricKey(t, c, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: rsaEnc.KeyId, Plaintext: make([]byte, 215),
		EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1, DryRun: aws.Bool(true)})
	wantAPIError(t, err, "ValidationException", "Algorithm RSAES_OAEP_SHA_1 and key spec RSA_2048 cannot encrypt data larger than 214 bytes.")
}

// TestReservedTagPrefix: "aws:" is reserved in any case, with the words
// AWS uses for "aws:", in TagResource and CreateKey.
func TestReservedTagPrefix(t *testing.T) {
	s := startServer(t, t.TempDir())
	c := s.client()
	k := createKey(t, c, "tags")
	const reserved = "Tags beginning with aws: are reserved"
	for _, key := range []string{"aws:x", "AWS:x", "Aws:cost-center"} {
		_, err := c.TagResource(ctx, &kms.TagResourceInput{KeyId: k.KeyId, Tags: []types.Tag{tag(key, "1")}})
		wantAPIError(t, err, "TagException", reserved)
		_, err = c.CreateKey(ctx, &kms.CreateKeyInput{Tags: []types.Tag{tag("ok", "1"), tag(key, "1")}})
		wantAPIError(t, err, "TagException", reserved)
		wantCLIError(t, s, "TagException", reserved, "kms", "tag-resource", "--key-id", *k.KeyId, "--tags", "TagKey="+key+",TagValue=1")
		wantCLIError(t, s, "TagException", reserved, "kms", "create-key", "--tags", "TagKey="+key+",TagValue=1")
	}
	s.cli(t, "kms", "tag-resource", "--key-id", *k.KeyId, "--tags", "TagKey=awsome,TagValue=1")
	tags, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: k.KeyId})
	if err != nil || len(tags.Tags) != 1 || *tags.Tags[0].TagKey != "awsome" {
		t.Fatalf("tags = %+v, %v", tags, err)
	}
	keys, err := c.ListKeys(ctx, &kms.ListKeysInput{})
	if err != nil || len(keys.Keys) != 1 {
		t.Fatalf("a refused CreateKey made a key: %+v %v", keys, err)
	}
}

var predefinedAliases = []string{
	"alias/aws/acm", "alias/aws/dynamodb", "alias/aws/ebs", "alias/aws/elasticfilesystem", "alias/aws/es",
	"alias/aws/glue", "alias/aws/kinesisvideo", "alias/aws/lambda", "alias/aws/rds", "alias/aws/redshift",
	"alias/aws/s3", "alias/aws/secretsmanager", "alias/aws/sns", "alias/aws/sqs", "alias/aws/ssm", "alias/aws/xray",
}

// TestManagedKeys: the predefined aliases, the AWS managed key DescribeKey
// makes for one, and what customers may and may not do with it.
func TestManagedKeys(t *testing.T) {
	s := startServer(t, t.TempDir())
	c := s.client()
	mine := createKey(t, c, "mine")
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/mine"), TargetKeyId: mine.KeyId}); err != nil {
		t.Fatal(err)
	}

	// list pages through ListAliases (SDK paginator, 3 at a time).
	list := func() map[string]string {
		t.Helper()
		got := map[string]string{}
		var names []string
		p := kms.NewListAliasesPaginator(c, &kms.ListAliasesInput{Limit: aws.Int32(3)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range page.Aliases {
				names = append(names, *a.AliasName)
				got[*a.AliasName] = aws.ToString(a.TargetKeyId)
				if *a.AliasArn != "arn:aws:kms:"+region+":"+account+":"+*a.AliasName {
					t.Fatalf("alias %+v", a)
				}
			}
		}
		if !slices.IsSorted(names) || len(names) != len(predefinedAliases)+1 {
			t.Fatalf("ListAliases names %v", names)
		}
		return got
	}
	before := list()
	for _, n := range predefinedAliases {
		if target, ok := before[n]; !ok || target != "" {
			t.Fatalf("ListAliases: %s = %q, %v; want listed without target", n, target, ok)
		}
	}
	// The CLI shows alias/aws/ebs without TargetKeyId.
	var cliAliases struct {
		Aliases []map[string]any
	}
	mustJSON(t, s.cli(t, "kms", "list-aliases"), &cliAliases)
	var ebsEntry map[string]any
	for _, a := range cliAliases.Aliases {
		if a["AliasName"] == "alias/aws/ebs" {
			ebsEntry = a
		}
	}
	if len(ebsEntry) != 2 || ebsEntry["AliasArn"] != "arn:aws:kms:"+region+":"+account+":alias/aws/ebs" {
		t.Fatalf("list-aliases entry of alias/aws/ebs: %v", ebsEntry)
	}

	// DescribeKey makes the key; the CLI and the SDK see the same one.
	var described struct {
		KeyMetadata struct {
			KeyId, Arn, KeyManager, KeySpec, Origin, KeyState, Description string
			Enabled                                                        bool
		}
	}
	mustJSON(t, s.cli(t, "kms", "describe-key", "--key-id", "alias/aws/ebs"), &described)
	m := described.KeyMetadata
	if m.KeyManager != "AWS" || m.KeySpec != "SYMMETRIC_DEFAULT" || m.Origin != "AWS_KMS" || m.KeyState != "Enabled" || !m.Enabled ||
		m.Description != "Default master key that protects my EBS volumes when no other key is defined" || m.Arn != keyARN(m.KeyId) {
		t.Fatalf("describe-key alias/aws/ebs = %+v", m)
	}
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("arn:aws:kms:" + region + ":" + account + ":alias/aws/ebs")})
	if err != nil || *d.KeyMetadata.KeyId != m.KeyId || d.KeyMetadata.KeyManager != types.KeyManagerTypeAws {
		t.Fatalf("DescribeKey by alias ARN = %+v, %v", d, err)
	}
	after := list()
	if after["alias/aws/ebs"] != m.KeyId {
		t.Fatalf("ListAliases after DescribeKey: alias/aws/ebs -> %q, want %s", after["alias/aws/ebs"], m.KeyId)
	}
	if my, _ := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/mine")}); my.KeyMetadata.KeyManager != types.KeyManagerTypeCustomer {
		t.Fatalf("a customer key: KeyManager %s", my.KeyMetadata.KeyManager)
	}

	// Rotated every year, and customers can read the fixed policy.
	rot, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(m.KeyId)})
	if err != nil || !rot.KeyRotationEnabled || aws.ToInt32(rot.RotationPeriodInDays) != 365 {
		t.Fatalf("GetKeyRotationStatus = %+v, %v", rot, err)
	}
	var pol struct{ Policy string }
	mustJSON(t, s.cli(t, "kms", "get-key-policy", "--key-id", m.KeyId, "--policy-name", "default"), &pol)
	var doc struct {
		Id        string
		Statement []struct {
			Sid       string
			Principal map[string]string
			Action    any
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal([]byte(pol.Policy), &doc); err != nil {
		t.Fatalf("get-key-policy: %v\n%s", err, pol.Policy)
	}
	if doc.Id != "auto-ebs-2" || len(doc.Statement) != 2 ||
		doc.Statement[0].Principal["AWS"] != "*" ||
		doc.Statement[0].Condition["StringEquals"]["kms:ViaService"] != "ec2."+region+".amazonaws.com" ||
		doc.Statement[0].Condition["StringEquals"]["kms:CallerAccount"] != account ||
		doc.Statement[1].Sid != "Allow direct access to key metadata to the account" ||
		doc.Statement[1].Principal["AWS"] != "arn:aws:iam::"+account+":root" {
		t.Fatalf("managed key policy:\n%s", pol.Policy)
	}

	// Customers cannot manage it, nor use it directly: the policy allows
	// the account only Describe*, Get* and List*.
	denied := func(action string) string {
		return "User: arn:aws:iam::" + account + ":root is not authorized to perform: kms:" + action + " on resource: " + m.Arn +
			" because no resource-based policy allows the kms:" + action + " action"
	}
	_, err = c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(m.KeyId), Policy: aws.String(pol.Policy)})
	wantAPIError(t, err, "AccessDeniedException", denied("PutKeyPolicy"))
	_, err = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(m.KeyId), PendingWindowInDays: aws.Int32(7)})
	wantAPIError(t, err, "AccessDeniedException", denied("ScheduleKeyDeletion"))
	_, err = c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(m.KeyId)})
	wantAPIError(t, err, "AccessDeniedException", denied("CancelKeyDeletion"))
	_, err = c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(m.KeyId)})
	wantAPIError(t, err, "AccessDeniedException", denied("EnableKey"))
	_, err = c.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: aws.String(m.KeyId)})
	wantAPIError(t, err, "AccessDeniedException", denied("DisableKeyRotation"))
	_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(m.KeyId)})
	wantAPIError(t, err, "AccessDeniedException", denied("EnableKeyRotation"))
	_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(m.KeyId)})
	wantAPIError(t, err, "AccessDeniedException", denied("RotateKeyOnDemand"))
	_, err = c.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: aws.String(m.KeyId), Description: aws.String("mine now")})
	wantAPIError(t, err, "AccessDeniedException", denied("UpdateKeyDescription"))
	_, err = c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(m.KeyId), Tags: []types.Tag{tag("team", "x")}})
	wantAPIError(t, err, "AccessDeniedException", denied("TagResource"))
	_, err = c.UntagResource(ctx, &kms.UntagResourceInput{KeyId: aws.String(m.KeyId), TagKeys: []string{"team"}})
	wantAPIError(t, err, "AccessDeniedException", denied("UntagResource"))
	_, err = c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(m.KeyId), GranteePrincipal: aws.String("arn:aws:iam::" + account + ":root"),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	wantAPIError(t, err, "AccessDeniedException", denied("CreateGrant"))
	_, err = c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/mine"), TargetKeyId: aws.String(m.KeyId)})
	wantAPIError(t, err, "AccessDeniedException", denied("UpdateAlias"))
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/aws/ebs"), Plaintext: []byte("x")})
	wantAPIError(t, err, "AccessDeniedException", denied("Encrypt"))
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/aws/ebs"), KeySpec: types.DataKeySpecAes256})
	wantAPIError(t, err, "AccessDeniedException", denied("GenerateDataKey"))
	// Its alias is reserved.
	_, err = c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/aws/ebs")})
	wantAPIError(t, err, "NotAuthorizedException", "")
	_, err = c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/aws/ebs"), TargetKeyId: mine.KeyId})
	wantAPIError(t, err, "NotAuthorizedException", "")
	// The CLI sees the same.
	wantCLIError(t, s, "AccessDeniedException", denied("DisableKey"), "kms", "disable-key", "--key-id", m.KeyId)
	wantCLIError(t, s, "AccessDeniedException", denied("CreateAlias"),
		"kms", "create-alias", "--alias-name", "alias/to-managed", "--target-key-id", m.KeyId)
	wantCLIError(t, s, "AccessDeniedException", denied("ScheduleKeyDeletion"),
		"kms", "schedule-key-deletion", "--key-id", m.KeyId, "--pending-window-in-days", "7")
	wantCLIError(t, s, "AccessDeniedException", denied("PutKeyPolicy"),
		"kms", "put-key-policy", "--key-id", m.KeyId, "--policy-name", "default", "--policy", pol.Policy)
	in := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(in, []byte("x"), 0o600)
	wantCLIError(t, s, "AccessDeniedException", denied("Encrypt"), "kms", "encrypt", "--key-id", "alias/aws/ebs", "--plaintext", "fileb://"+in)
	wantCLIError(t, s, "NotAuthorizedException", "", "kms", "delete-alias", "--alias-name", "alias/aws/ebs")

	// Nothing changed; it still has its one alias.
	d, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(m.KeyId)})
	if err != nil || d.KeyMetadata.KeyState != types.KeyStateEnabled || *d.KeyMetadata.Description != m.Description {
		t.Fatalf("managed key after the refusals: %+v, %v", d, err)
	}
	own, err := c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: aws.String(m.KeyId)})
	if err != nil || len(own.Aliases) != 1 || *own.Aliases[0].AliasName != "alias/aws/ebs" {
		t.Fatalf("aliases of the managed key: %+v, %v", own, err)
	}

	// A predefined alias without a key names nothing but for DescribeKey.
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/aws/s3"), Plaintext: []byte("x")})
	wantAPIError(t, err, "NotFoundException", "Alias arn:aws:kms:"+region+":"+account+":alias/aws/s3 is not found.")

	// Concurrent first DescribeKeys make one key.
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/s3")})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = *out.KeyMetadata.KeyId
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent DescribeKeys of alias/aws/s3 gave keys %v", ids)
		}
	}
	keys, err := c.ListKeys(ctx, &kms.ListKeysInput{})
	if err != nil || len(keys.Keys) != 3 {
		t.Fatalf("ListKeys = %+v, %v; want mine, aws/ebs and aws/s3", keys, err)
	}
	s3, err := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(ids[0])})
	if err != nil || !strings.Contains(*s3.Policy, `"kms:ViaService" : "s3.`+region+`.amazonaws.com"`) {
		t.Fatalf("aws/s3 policy: %v\n%s", err, aws.ToString(s3.Policy))
	}
}

// TestManagedKeyRotatesYearly: AWS rotates its managed keys a year after
// they are made, and every year after that, by itself.
func TestManagedKeyRotatesYearly(t *testing.T) {
	start := time.Now().UTC().Truncate(time.Second)
	clock := testclock.New(start)
	s := startWithClock(t, t.TempDir(), clock)
	c := s.client()
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/secretsmanager")})
	if err != nil {
		t.Fatal(err)
	}
	id := d.KeyMetadata.KeyId
	first := aws.ToString(d.KeyMetadata.CurrentKeyMaterialId)
	rot, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: id})
	if err != nil || !rot.KeyRotationEnabled || !rot.NextRotationDate.Equal(start.AddDate(0, 0, 365)) {
		t.Fatalf("GetKeyRotationStatus = %+v, %v", rot, err)
	}
	for year := 1; year <= 2; year++ {
		clock.Set(start.AddDate(0, 0, 365*year).Add(time.Minute))
		s.runScheduled(t)
	}
	list, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: id})
	if err != nil || len(list.Rotations) != 2 || list.Rotations[0].RotationType != types.RotationTypeAutomatic {
		t.Fatalf("ListKeyRotations after two years = %+v, %v", list, err)
	}
	d, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: id})
	if err != nil || aws.ToString(d.KeyMetadata.CurrentKeyMaterialId) == first {
		t.Fatalf("the current material did not change: %v", err)
	}
}
