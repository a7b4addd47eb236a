package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

// The access-control tests run one trent with two accounts:
//
//	A 111122223333: its root user; users admin, keyuser, noperm (no IAM
//	policy), iamuser (an IAM policy allowing the use of A's keys), denied
//	(an IAM policy allowing everything but denying Decrypt); a role app
//	with one session.
//	B 444455556666: its root user; bob (an IAM policy allowing the use of
//	A's keys) and carol (no IAM policy).
const (
	acctA = "111122223333"
	acctB = "444455556666"
)

type cred struct{ id, secret, token string }

var (
	rootA   = cred{"AKIDAROOT", "root-a-secret", ""}
	admin   = cred{"AKIDADMIN", "admin-secret", ""}
	keyuser = cred{"AKIDKEYUSER", "keyuser-secret", ""}
	noperm  = cred{"AKIDNOPERM", "noperm-secret", ""}
	iamuser = cred{"AKIDIAMUSER", "iamuser-secret", ""}
	denied  = cred{"AKIDDENIED", "denied-secret", ""}
	appS1   = cred{"ASIDAPPS1", "app-secret", "app-session-token"}
	rootB   = cred{"AKIDBROOT", "root-b-secret", ""}
	bob     = cred{"AKIDBOB", "bob-secret", ""}
	carol   = cred{"AKIDCAROL", "carol-secret", ""}
)

func arnOf(account, resource string) string { return "arn:aws:iam::" + account + ":" + resource }

const appSessionARN = "arn:aws:sts::" + acctA + ":assumed-role/app/s1"

func iamPolicy(statements ...string) map[string]any {
	var m map[string]any
	if err := json.Unmarshal([]byte(`{"Version":"2012-10-17","Statement":[`+strings.Join(statements, ",")+`]}`), &m); err != nil {
		panic(err)
	}
	return m
}

func accessConfig() map[string]any {
	key := func(c cred, extra map[string]any) map[string]any {
		m := map[string]any{"id": c.id, "secret": c.secret}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	useAKeys := `{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey","kms:GenerateDataKey"],"Resource":"arn:aws:kms:*:` + acctA + `:key/*"}`
	return map[string]any{
		"quotas":   map[string]any{"disabled": true}, // tests create keys faster than AWS's quotas allow
		"root_key": map[string]any{"file": "root.key"},
		"accounts": []any{
			map[string]any{
				"id": acctA,
				"access_keys": []any{
					key(rootA, nil),
					key(admin, map[string]any{"user": "admin"}),
					key(keyuser, map[string]any{"user": "keyuser"}),
					key(noperm, map[string]any{"user": "noperm"}),
					key(iamuser, map[string]any{"user": "iamuser"}),
					key(denied, map[string]any{"user": "denied"}),
					key(appS1, map[string]any{"role": "app", "session_name": "s1", "session_token": appS1.token}),
				},
				"users": []any{
					map[string]any{"name": "admin", "policies": []any{iamPolicy(`{"Effect":"Allow","Action":["kms:CreateKey","kms:ListKeys"],"Resource":"*"}`)}},
					map[string]any{"name": "keyuser"},
					map[string]any{"name": "noperm"},
					map[string]any{"name": "iamuser", "policies": []any{iamPolicy(useAKeys)}},
					map[string]any{"name": "denied", "policies": []any{iamPolicy(
						`{"Effect":"Allow","Action":"kms:*","Resource":"*"}`,
						`{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}`)}},
				},
				"roles": []any{map[string]any{"name": "app"}},
			},
			map[string]any{
				"id":          acctB,
				"access_keys": []any{key(rootB, nil), key(bob, map[string]any{"user": "bob"}), key(carol, map[string]any{"user": "carol"})},
				"users": []any{
					map[string]any{"name": "bob", "policies": []any{iamPolicy(useAKeys, `{"Effect":"Allow","Action":"kms:ScheduleKeyDeletion","Resource":"*"}`)}},
					map[string]any{"name": "carol"},
				},
			},
		},
	}
}

// startAccessServer starts trent with accessConfig; the config file's path
// is returned so a test can rewrite it.
func startAccessServer(t *testing.T) (*server, string) {
	t.Helper()
	s := startServerWithConfig(t, t.TempDir(), accessConfig())
	return s, s.configPath
}

func (s *server) as(c cred) *kms.Client {
	return kms.New(kms.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: c.id, SecretAccessKey: c.secret, SessionToken: c.token}, nil
		}),
		RetryMaxAttempts: 1,
	})
}

// wantDenied checks an AccessDeniedException with exactly msg.
func wantDenied(t *testing.T, err error, msg string) {
	t.Helper()
	wantAPIError(t, err, "AccessDeniedException", msg)
}

func deniedMsg(principal, action, resource, why string) string {
	return "User: " + principal + " is not authorized to perform: " + action + " on resource: " + resource + " " + why
}

func noIdentity(action string) string {
	return "because no identity-based policy allows the " + action + " action"
}

func noResource(action string) string {
	return "because no resource-based policy allows the " + action + " action"
}

func crossAccountMsg(principal, action string) string {
	return "User: " + principal + " is not authorized to perform: " + action +
		" on this resource because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access"
}

// createKeyAs creates a key with a policy (empty: the default one) as c.
func createKeyAs(t *testing.T, c *kms.Client, policy string) *types.KeyMetadata {
	t.Helper()
	in := &kms.CreateKeyInput{}
	if policy != "" {
		in.Policy = aws.String(policy)
	}
	out, err := c.CreateKey(ctx, in)
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return out.KeyMetadata
}

func keyPolicy(statements ...string) string {
	return `{"Version":"2012-10-17","Id":"test","Statement":[` + strings.Join(statements, ",") + `]}`
}

// rootStatement gives account A's root user, and through it IAM, the key
// (the default policy's statement).
var rootStatement = `{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"` + arnOf(acctA, "root") + `"},"Action":"kms:*","Resource":"*"}`

// TestDefaultPolicyDelegatesToIAM: under the default key policy, an IAM
// user gets exactly what its identity policies give: nothing without one.
func TestDefaultPolicyDelegatesToIAM(t *testing.T) {
	s, _ := startAccessServer(t)
	k := createKeyAs(t, s.as(rootA), "")
	_, err := s.as(noperm).Encrypt(ctx, &kms.EncryptInput{KeyId: k.Arn, Plaintext: []byte("x")})
	wantDenied(t, err, deniedMsg(arnOf(acctA, "user/noperm"), "kms:Encrypt", *k.Arn, noIdentity("kms:Encrypt")))
	_, err = s.as(noperm).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
	wantDenied(t, err, deniedMsg(arnOf(acctA, "user/noperm"), "kms:DescribeKey", *k.Arn, noIdentity("kms:DescribeKey")))

	c := s.as(iamuser)
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x")})
	if err != nil {
		t.Fatalf("an IAM policy allowing Encrypt on the key, default key policy: %v", err)
	}
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
		t.Fatal(err)
	}
	// Named by an alias, the key is still matched by its key ARN.
	if _, err := s.as(rootA).CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/shared"), TargetKeyId: k.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/shared"), Plaintext: []byte("x")}); err != nil {
		t.Fatalf("by alias: %v", err)
	}
	// What the IAM policy does not list stays closed.
	_, err = c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: k.KeyId})
	wantDenied(t, err, deniedMsg(arnOf(acctA, "user/iamuser"), "kms:DisableKey", *k.Arn, noIdentity("kms:DisableKey")))
	// IAM-only operations: no key policy is asked.
	_, err = s.as(noperm).CreateKey(ctx, &kms.CreateKeyInput{})
	wantDenied(t, err, deniedMsg(arnOf(acctA, "user/noperm"), "kms:CreateKey", "*", noIdentity("kms:CreateKey")))
	_, err = s.as(noperm).ListKeys(ctx, &kms.ListKeysInput{})
	wantDenied(t, err, deniedMsg(arnOf(acctA, "user/noperm"), "kms:ListKeys", "*", noIdentity("kms:ListKeys")))
	if _, err := s.as(admin).ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
		t.Fatal(err)
	}
	// Tags at creation need kms:TagResource too.
	_, err = s.as(admin).CreateKey(ctx, &kms.CreateKeyInput{Tags: []types.Tag{{TagKey: aws.String("k"), TagValue: aws.String("v")}}})
	wantDenied(t, err, "User: "+arnOf(acctA, "user/admin")+" is not authorized to perform: kms:TagResource because no identity-based policy allows the kms:TagResource action")
	// The account's root user needs no IAM policy.
	if _, err := s.as(rootA).DisableKey(ctx, &kms.DisableKeyInput{KeyId: k.KeyId}); err != nil {
		t.Fatal(err)
	}
}

// consolePolicy is the console's default key policy: administrators, and
// users of the key.
func consolePolicy() string {
	return keyPolicy(rootStatement,
		`{"Sid":"Allow access for Key Administrators","Effect":"Allow","Principal":{"AWS":"`+arnOf(acctA, "user/admin")+`"},
		  "Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion"],"Resource":"*"}`,
		`{"Sid":"Allow use of the key","Effect":"Allow","Principal":{"AWS":"`+arnOf(acctA, "user/keyuser")+`"},
		  "Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"}`)
}

// TestSeparationOfDuties: under the console's policy, a key user cannot
// change the policy or delete the key, and an administrator cannot decrypt.
func TestSeparationOfDuties(t *testing.T) {
	s, _ := startAccessServer(t)
	k := createKeyAs(t, s.as(rootA), consolePolicy())
	user, adm := s.as(keyuser), s.as(admin)
	enc, err := user.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("payroll")})
	if err != nil {
		t.Fatalf("the key user encrypts: %v", err)
	}
	if _, err := user.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
		t.Fatalf("the key user decrypts: %v", err)
	}
	_, err = user.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: k.KeyId, Policy: aws.String(keyPolicy(rootStatement))})
	// The key policy delegates to the account (its first statement), so AWS
	// names the identity-based policy that would have had to allow.
	wantDenied(t, err, deniedMsg(arnOf(acctA, "user/keyuser"), "kms:PutKeyPolicy", *k.Arn, noIdentity("kms:PutKeyPolicy")))
	_, err = user.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: k.KeyId})
	wantDenied(t, err, deniedMsg(arnOf(acctA, "user/keyuser"), "kms:ScheduleKeyDeletion", *k.Arn, noIdentity("kms:ScheduleKeyDeletion")))

	if _, err := adm.DisableKey(ctx, &kms.DisableKeyInput{KeyId: k.KeyId}); err != nil {
		t.Fatalf("the administrator disables: %v", err)
	}
	if _, err := adm.EnableKey(ctx, &kms.EnableKeyInput{KeyId: k.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.TagResource(ctx, &kms.TagResourceInput{KeyId: k.KeyId, Tags: []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("pay")}}}); err != nil {
		t.Fatal(err)
	}
	_, err = adm.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantDenied(t, err, deniedMsg(arnOf(acctA, "user/admin"), "kms:Decrypt", *k.Arn, noIdentity("kms:Decrypt")))
	_, err = adm.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x")})
	wantDenied(t, err, deniedMsg(arnOf(acctA, "user/admin"), "kms:Encrypt", *k.Arn, noIdentity("kms:Encrypt")))

	// The same with the AWS CLI: the key user may not schedule deletion.
	_, errOut, err := s.runCLIAs(t, keyuser, "kms", "schedule-key-deletion", "--key-id", *k.KeyId)
	if err == nil || !strings.Contains(errOut, "AccessDeniedException") || !strings.Contains(errOut, "user/keyuser is not authorized to perform: kms:ScheduleKeyDeletion") {
		t.Fatalf("CLI schedule-key-deletion as the key user: %v %s", err, errOut)
	}
	out, errOut, err := s.runCLIAs(t, admin, "kms", "describe-key", "--key-id", *k.KeyId)
	if err != nil || !strings.Contains(out, *k.KeyId) {
		t.Fatalf("CLI describe-key as the administrator: %v %s", err, errOut)
	}
}

// TestExplicitDenyWins: a Deny, in an identity policy or the key policy,
// beats every Allow, grants included.
func TestExplicitDenyWins(t *testing.T) {
	s, _ := startAccessServer(t)
	root := s.as(rootA)
	k := createKeyAs(t, root, keyPolicy(rootStatement,
		`{"Effect":"Allow","Principal":{"AWS":"`+arnOf(acctA, "user/denied")+`"},"Action":"kms:*","Resource":"*"}`,
		`{"Effect":"Deny","Principal":{"AWS":"`+arnOf(acctA, "role/app")+`"},"Action":"kms:Decrypt","Resource":"*"}`))
	enc, err := root.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	// The key policy and the identity policy allow; the identity policy denies.
	_, err = s.as(denied).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantDenied(t, err, deniedMsg(arnOf(acctA, "user/denied"), "kms:Decrypt", *k.Arn, "with an explicit deny in an identity-based policy"))
	if _, err := s.as(denied).Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x")}); err != nil {
		t.Fatalf("what is not denied: %v", err)
	}
	// A grant to the role's sessions, and a key-policy Deny for the role.
	g, err := root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: k.KeyId, GranteePrincipal: aws.String(arnOf(acctA, "role/app")),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt, types.GrantOperationEncrypt}})
	if err != nil {
		t.Fatal(err)
	}
	app := s.as(appS1)
	_, err = app.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, GrantTokens: []string{*g.GrantToken}})
	wantDenied(t, err, deniedMsg(appSessionARN, "kms:Decrypt", *k.Arn, "with an explicit deny in a resource-based policy"))
	if _, err := app.Encrypt(ctx, &kms.EncryptInput{KeyId: k.Arn, Plaintext: []byte("x")}); err != nil {
		t.Fatalf("the grant's other operation: %v", err)
	}
}

// TestEncryptionContextCondition: a key policy may admit a principal only
// for one encryption context; condition key names are case-insensitive,
// values are not.
func TestEncryptionContextCondition(t *testing.T) {
	s, _ := startAccessServer(t)
	root := s.as(rootA)
	k := createKeyAs(t, root, keyPolicy(rootStatement,
		`{"Effect":"Allow","Principal":{"AWS":"`+arnOf(acctA, "user/keyuser")+`"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*",
		  "Condition":{"StringEquals":{"kms:EncryptionContext:AppName":"ExampleApp"}}}`))
	user := s.as(keyuser)
	for _, ec := range []map[string]string{{"AppName": "ExampleApp"}, {"appname": "ExampleApp", "other": "x"}} {
		enc, err := user.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x"), EncryptionContext: ec})
		if err != nil {
			t.Fatalf("context %v: %v", ec, err)
		}
		if _, err := user.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}); err != nil {
			t.Fatalf("decrypt with context %v: %v", ec, err)
		}
	}
	for _, ec := range []map[string]string{nil, {"AppName": "exampleapp"}, {"Other": "ExampleApp"}} {
		_, err := user.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x"), EncryptionContext: ec})
		wantDenied(t, err, deniedMsg(arnOf(acctA, "user/keyuser"), "kms:Encrypt", *k.Arn, noIdentity("kms:Encrypt")))
	}
	// Without the statement that delegates to the account, the key policy
	// is the only one that could have allowed.
	strict := createKeyAs(t, root, keyPolicy(rootStatement[:0]+
		`{"Effect":"Allow","Principal":{"AWS":"`+arnOf(acctA, "root")+`"},"Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalType":"Account"}}}`,
		`{"Effect":"Allow","Principal":{"AWS":"`+arnOf(acctA, "user/keyuser")+`"},"Action":"kms:Encrypt","Resource":"*",
		  "Condition":{"StringEquals":{"kms:EncryptionContext:AppName":"ExampleApp"}}}`))
	_, err := user.Encrypt(ctx, &kms.EncryptInput{KeyId: strict.KeyId, Plaintext: []byte("x"), EncryptionContext: map[string]string{"AppName": "Other"}})
	wantDenied(t, err, deniedMsg(arnOf(acctA, "user/keyuser"), "kms:Encrypt", *strict.Arn, noResource("kms:Encrypt")))
	if _, err := user.Encrypt(ctx, &kms.EncryptInput{KeyId: strict.KeyId, Plaintext: []byte("x"), EncryptionContext: map[string]string{"AppName": "ExampleApp"}}); err != nil {
		t.Fatal(err)
	}
}

// TestCrossAccount: a key of account A serves account B only when both
// sides allow and the key is named by its ARN; only the operations AWS
// allows across accounts work.
func TestCrossAccount(t *testing.T) {
	s, _ := startAccessServer(t)
	root := s.as(rootA)
	k := createKeyAs(t, root, keyPolicy(rootStatement,
		`{"Sid":"Allow account B","Effect":"Allow","Principal":{"AWS":"`+arnOf(acctB, "root")+`"},"Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey","kms:ScheduleKeyDeletion"],"Resource":"*"}`))
	plain := createKeyAs(t, root, "") // default policy: A only
	b := s.as(bob)
	enc, err := b.Encrypt(ctx, &kms.EncryptInput{KeyId: k.Arn, Plaintext: []byte("shared")})
	if err != nil {
		t.Fatalf("bob, both sides allowing, by ARN: %v", err)
	}
	dec, err := b.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "shared" {
		t.Fatalf("bob decrypts: %v", err)
	}
	// By key ID, the key is looked for in bob's own account.
	_, err = b.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x")})
	wantAPIError(t, err, "NotFoundException", "Key 'arn:aws:kms:"+region+":"+acctB+":key/"+*k.KeyId+"' does not exist")
	// Without an identity policy in B, carol gets nothing; B's root needs none.
	_, err = s.as(carol).Encrypt(ctx, &kms.EncryptInput{KeyId: k.Arn, Plaintext: []byte("x")})
	wantDenied(t, err, crossAccountMsg(arnOf(acctB, "user/carol"), "kms:Encrypt"))
	if _, err := s.as(rootB).Encrypt(ctx, &kms.EncryptInput{KeyId: k.Arn, Plaintext: []byte("x")}); err != nil {
		t.Fatalf("B's root user: %v", err)
	}
	// A key whose policy does not name B, and one that does not exist: the same answer.
	_, err = b.Encrypt(ctx, &kms.EncryptInput{KeyId: plain.Arn, Plaintext: []byte("x")})
	wantDenied(t, err, crossAccountMsg(arnOf(acctB, "user/bob"), "kms:Encrypt"))
	_, err = b.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("arn:aws:kms:" + region + ":" + acctA + ":key/0b3a5c4e-1111-4222-8333-944455556666"), Plaintext: []byte("x")})
	wantDenied(t, err, crossAccountMsg(arnOf(acctB, "user/bob"), "kms:Encrypt"))
	// Scheduling deletion is never allowed across accounts, whatever the policies say.
	_, err = b.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: k.Arn})
	wantDenied(t, err, crossAccountMsg(arnOf(acctB, "user/bob"), "kms:ScheduleKeyDeletion"))
	// A's ciphertext of a key B may not use.
	encPlain, err := root.Encrypt(ctx, &kms.EncryptInput{KeyId: plain.KeyId, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: encPlain.CiphertextBlob})
	wantDenied(t, err, "User: "+arnOf(acctB, "user/bob")+" is not authorized to perform: kms:Decrypt on the resource associated with this ciphertext because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access")
	// Listing never shows another account's keys.
	list, err := s.as(rootB).ListKeys(ctx, &kms.ListKeysInput{})
	if err != nil || len(list.Keys) != 0 {
		t.Fatalf("B's ListKeys: %v %v", list, err)
	}
}

// TestGrants: a grant with constraints works with its token at once, only
// for the context it names, and stops after it is retired or revoked.
func TestGrants(t *testing.T) {
	s, _ := startAccessServer(t)
	root := s.as(rootA)
	k := createKeyAs(t, root, "")
	app := s.as(appS1)
	it := map[string]string{"Dept": "IT"}
	_, err := app.Encrypt(ctx, &kms.EncryptInput{KeyId: k.Arn, Plaintext: []byte("x"), EncryptionContext: it})
	wantDenied(t, err, deniedMsg(appSessionARN, "kms:Encrypt", *k.Arn, noIdentity("kms:Encrypt")))

	g, err := root.CreateGrant(ctx, &kms.CreateGrantInput{
		KeyId: k.KeyId, GranteePrincipal: aws.String(arnOf(acctA, "role/app")), RetiringPrincipal: aws.String(arnOf(acctA, "user/keyuser")),
		Operations:  []types.GrantOperation{types.GrantOperationEncrypt, types.GrantOperationDecrypt},
		Constraints: &types.GrantConstraints{EncryptionContextEquals: it}, Name: aws.String("it-only"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(*g.GrantId) != 64 {
		t.Fatalf("grant ID %q", *g.GrantId)
	}
	tokens := []string{*g.GrantToken}
	enc, err := app.Encrypt(ctx, &kms.EncryptInput{KeyId: k.Arn, Plaintext: []byte("x"), EncryptionContext: it, GrantTokens: tokens})
	if err != nil {
		t.Fatalf("with the grant token at once: %v", err)
	}
	if _, err := app.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: it}); err != nil {
		t.Fatalf("decrypt under the grant: %v", err)
	}
	_, err = app.Encrypt(ctx, &kms.EncryptInput{KeyId: k.Arn, Plaintext: []byte("x"), EncryptionContext: map[string]string{"Dept": "IT", "P": "x"}, GrantTokens: tokens})
	wantDenied(t, err, deniedMsg(appSessionARN, "kms:Encrypt", *k.Arn, noIdentity("kms:Encrypt")))
	_, err = app.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.Arn})
	wantDenied(t, err, deniedMsg(appSessionARN, "kms:DescribeKey", *k.Arn, noIdentity("kms:DescribeKey")))
	_, err = app.Encrypt(ctx, &kms.EncryptInput{KeyId: k.Arn, Plaintext: []byte("x"), EncryptionContext: it, GrantTokens: []string{"bm90IGEgdG9rZW4="}})
	wantAPIError(t, err, "InvalidGrantTokenException", "")

	// The same Name and properties: the same grant, a new token.
	again, err := root.CreateGrant(ctx, &kms.CreateGrantInput{
		KeyId: k.KeyId, GranteePrincipal: aws.String(arnOf(acctA, "role/app")), RetiringPrincipal: aws.String(arnOf(acctA, "user/keyuser")),
		Operations:  []types.GrantOperation{types.GrantOperationDecrypt, types.GrantOperationEncrypt},
		Constraints: &types.GrantConstraints{EncryptionContextEquals: it}, Name: aws.String("it-only"),
	})
	if err != nil || *again.GrantId != *g.GrantId || *again.GrantToken == *g.GrantToken {
		t.Fatalf("CreateGrant again with the same Name: %v %v", again, err)
	}
	// A Subset grant, revoked later by the key's owner.
	sub, err := root.CreateGrant(ctx, &kms.CreateGrantInput{
		KeyId: k.KeyId, GranteePrincipal: aws.String(arnOf(acctA, "user/noperm")),
		Operations:  []types.GrantOperation{types.GrantOperationGenerateDataKey},
		Constraints: &types.GrantConstraints{EncryptionContextSubset: it},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.as(noperm).GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: k.Arn, KeySpec: types.DataKeySpecAes256,
		EncryptionContext: map[string]string{"Dept": "IT", "Extra": "yes"}}); err != nil {
		t.Fatalf("a Subset grant with a larger context: %v", err)
	}
	list, err := root.ListGrants(ctx, &kms.ListGrantsInput{KeyId: k.KeyId})
	if err != nil || len(list.Grants) != 2 {
		t.Fatalf("ListGrants: %v %v", list, err)
	}
	retirable, err := root.ListRetirableGrants(ctx, &kms.ListRetirableGrantsInput{RetiringPrincipal: aws.String(arnOf(acctA, "user/keyuser"))})
	if err != nil || len(retirable.Grants) != 1 || *retirable.Grants[0].GrantId != *g.GrantId || *retirable.Grants[0].KeyId != *k.Arn {
		t.Fatalf("ListRetirableGrants: %+v %v", retirable, err)
	}
	// Validation.
	_, err = root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: k.KeyId, GranteePrincipal: aws.String(arnOf(acctA, "role/app")),
		Operations: []types.GrantOperation{types.GrantOperationCreateGrant}})
	wantAPIError(t, err, "ValidationException", "Grants must not contain only the CreateGrant operation.")
	_, err = root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: k.KeyId, GranteePrincipal: aws.String(arnOf(acctA, "role/app")),
		Operations: []types.GrantOperation{types.GrantOperationSign}})
	wantAPIError(t, err, "ValidationException", "")
	_, err = root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String("alias/x"), GranteePrincipal: aws.String(arnOf(acctA, "role/app")),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	wantAPIError(t, err, "InvalidArnException", "Key Aliases are not supported for this operation.")

	// Only the retiring principal (or the grantee with RetireGrant, or the
	// key's account) may retire.
	_, err = s.as(carol).RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: g.GrantToken})
	wantDenied(t, err, crossAccountMsg(arnOf(acctB, "user/carol"), "kms:RetireGrant"))
	_, err = s.as(noperm).RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: g.GrantToken})
	wantDenied(t, err, deniedMsg(arnOf(acctA, "user/noperm"), "kms:RetireGrant", *k.Arn, noIdentity("kms:RetireGrant")))
	if _, err := s.as(keyuser).RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: g.GrantToken}); err != nil {
		t.Fatalf("the retiring principal retires: %v", err)
	}
	_, err = app.Encrypt(ctx, &kms.EncryptInput{KeyId: k.Arn, Plaintext: []byte("x"), EncryptionContext: it, GrantTokens: tokens})
	wantDenied(t, err, deniedMsg(appSessionARN, "kms:Encrypt", *k.Arn, noIdentity("kms:Encrypt")))
	if _, err := root.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: k.KeyId, GrantId: sub.GrantId}); err != nil {
		t.Fatal(err)
	}
	_, err = s.as(noperm).GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: k.Arn, KeySpec: types.DataKeySpecAes256, EncryptionContext: it})
	wantDenied(t, err, deniedMsg(arnOf(acctA, "user/noperm"), "kms:GenerateDataKey", *k.Arn, noIdentity("kms:GenerateDataKey")))
	_, err = root.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: k.KeyId, GrantId: sub.GrantId})
	wantAPIError(t, err, "NotFoundException", "")
	list, err = root.ListGrants(ctx, &kms.ListGrantsInput{KeyId: k.KeyId})
	if err != nil || len(list.Grants) != 0 {
		t.Fatalf("ListGrants after retire and revoke: %v %v", list, err)
	}
	// Grants survive a restart.
	g2, err := root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: k.KeyId, GranteePrincipal: aws.String(arnOf(acctA, "user/keyuser")),
		Operations: []types.GrantOperation{types.GrantOperationEncrypt}})
	if err != nil {
		t.Fatal(err)
	}
	s.stop()
	s2 := startServerWithConfig(t, s.DataDir, accessConfig())
	if _, err := s2.as(keyuser).Encrypt(ctx, &kms.EncryptInput{KeyId: k.Arn, Plaintext: []byte("x")}); err != nil {
		t.Fatalf("a grant after a restart: %v", err)
	}
	list, err = s2.as(rootA).ListGrants(ctx, &kms.ListGrantsInput{KeyId: k.KeyId})
	if err != nil || len(list.Grants) != 1 || *list.Grants[0].GrantId != *g2.GrantId {
		t.Fatalf("ListGrants after a restart: %v %v", list, err)
	}
}

// TestLockoutPolicy: a policy under which the caller could not change the
// policy again is refused, unless the check is bypassed; then it does
// lock out.
func TestLockoutPolicy(t *testing.T) {
	s, _ := startAccessServer(t)
	root := s.as(rootA)
	onlyBob := keyPolicy(`{"Effect":"Allow","Principal":{"AWS":"` + arnOf(acctB, "user/bob") + `"},"Action":"kms:*","Resource":"*"}`)
	_, err := root.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(onlyBob)})
	wantAPIError(t, err, "MalformedPolicyDocumentException", "The new key policy will not allow you to update the key policy in the future.")
	k, err := root.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(onlyBob), BypassPolicyLockoutSafetyCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	arn := *k.KeyMetadata.Arn
	_, err = root.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: k.KeyMetadata.KeyId})
	wantDenied(t, err, deniedMsg(arnOf(acctA, "root"), "kms:GetKeyPolicy", arn, noResource("kms:GetKeyPolicy")))
	_, err = root.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: k.KeyMetadata.KeyId, Policy: aws.String(keyPolicy(rootStatement))})
	wantDenied(t, err, deniedMsg(arnOf(acctA, "root"), "kms:PutKeyPolicy", arn, noResource("kms:PutKeyPolicy")))
	// Unknown principals, malformed documents and the size limit.
	for _, bad := range []struct{ policy, msg string }{
		{keyPolicy(`{"Effect":"Allow","Principal":{"AWS":"` + arnOf(acctA, "user/ghost") + `"},"Action":"kms:*","Resource":"*"}`),
			"Policy contains a statement with one or more invalid principals."},
		{keyPolicy(`{"Effect":"Allow","Principal":{"AWS":"999988887777"},"Action":"kms:*","Resource":"*"}`),
			"Policy contains a statement with one or more invalid principals."},
		{`{"Statement":`, ""},
	} {
		_, err := root.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(bad.policy)})
		wantAPIError(t, err, "MalformedPolicyDocumentException", bad.msg)
	}
	big := keyPolicy(rootStatement, `{"Sid":"`+strings.Repeat("x", 32768)+`","Effect":"Allow","Principal":"*","Action":"kms:DescribeKey","Resource":"*"}`)
	_, err = root.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(big)})
	wantAPIError(t, err, "LimitExceededException", "The key policy document exceeds the maximum size of 32768 bytes.")
}

// TestDenialsAreAudited: a denied request is in the audit log with its
// caller and AccessDeniedException.
func TestDenialsAreAudited(t *testing.T) {
	s, _ := startAccessServer(t)
	k := createKeyAs(t, s.as(rootA), "")
	_, err := s.as(noperm).Encrypt(ctx, &kms.EncryptInput{KeyId: k.Arn, Plaintext: []byte("x")})
	wantDenied(t, err, deniedMsg(arnOf(acctA, "user/noperm"), "kms:Encrypt", *k.Arn, noIdentity("kms:Encrypt")))
	_, err = s.as(appS1).ListKeys(ctx, &kms.ListKeysInput{})
	wantDenied(t, err, deniedMsg(appSessionARN, "kms:ListKeys", "*", noIdentity("kms:ListKeys")))
	s.stop()
	data, err := os.ReadFile(filepath.Join(s.DataDir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var found, foundSession bool
	for _, line := range strings.Split(string(data), "\n") {
		// A role session's record names the role, as CloudTrail's
		// sessionContext does.
		var s struct {
			EventName    string `json:"eventName"`
			UserIdentity struct {
				Type, ARN, PrincipalID string
				SessionContext         struct {
					SessionIssuer struct {
						Type, PrincipalID, ARN, AccountID string
						UserName                          string `json:"userName"`
					} `json:"sessionIssuer"`
					Attributes map[string]string `json:"attributes"`
				} `json:"sessionContext"`
			} `json:"userIdentity"`
		}
		if json.Unmarshal([]byte(line), &s) == nil && s.EventName == "ListKeys" {
			u, i := s.UserIdentity, s.UserIdentity.SessionContext.SessionIssuer
			foundSession = u.Type == "AssumedRole" && u.ARN == appSessionARN && strings.HasPrefix(u.PrincipalID, "AROA") &&
				strings.HasSuffix(u.PrincipalID, ":s1") && i.Type == "Role" && i.ARN == arnOf(acctA, "role/app") &&
				i.PrincipalID+":s1" == u.PrincipalID && i.AccountID == acctA && i.UserName == "app" &&
				s.UserIdentity.SessionContext.Attributes["mfaAuthenticated"] == "false"
			if !foundSession {
				t.Fatalf("a role session's audit record: %s", line)
			}
		}
		var e struct {
			EventName    string `json:"eventName"`
			ErrorCode    string `json:"errorCode"`
			ErrorMessage string `json:"errorMessage"`
			UserIdentity struct {
				Type, ARN, PrincipalID string
				UserName               string `json:"userName"`
			} `json:"userIdentity"`
			Resources []struct{ ARN string } `json:"resources"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.EventName == "Encrypt" && e.ErrorCode == "AccessDeniedException" {
			found = e.UserIdentity.Type == "IAMUser" && e.UserIdentity.ARN == arnOf(acctA, "user/noperm") && e.UserIdentity.UserName == "noperm" &&
				strings.HasPrefix(e.UserIdentity.PrincipalID, "AIDA") && strings.Contains(e.ErrorMessage, "no identity-based policy") &&
				len(e.Resources) == 1 && e.Resources[0].ARN == *k.Arn
			if !found {
				t.Fatalf("the denial's audit record: %+v", e)
			}
		}
	}
	if !found || !foundSession {
		t.Fatalf("audit records of the denials: user's %v, role session's %v", found, foundSession)
	}
}

// TestReloadAddsUserWithoutDroppingRequests: SIGHUP brings in a new user
// and its policy while requests run; none fails, and a bad file changes
// nothing.
func TestReloadAddsUserWithoutDroppingRequests(t *testing.T) {
	s, path := startAccessServer(t)
	k := createKeyAs(t, s.as(rootA), "")
	newbie := cred{"AKIDNEWBIE", "newbie-secret", ""}
	_, err := s.as(newbie).Encrypt(ctx, &kms.EncryptInput{KeyId: k.Arn, Plaintext: []byte("x")})
	wantAPIError(t, err, "UnrecognizedClientException", "")

	var stop atomic.Bool
	var failures atomic.Int64
	var done sync.WaitGroup
	var requests atomic.Int64
	for range 4 {
		done.Add(1)
		go func() {
			defer done.Done()
			c := s.as(iamuser)
			for !stop.Load() {
				if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.Arn, Plaintext: []byte("x")}); err != nil {
					failures.Add(1)
					t.Errorf("a request during the reload: %v", err)
					return
				}
				requests.Add(1)
			}
		}()
	}
	cfg := accessConfig()
	acct := cfg["accounts"].([]any)[0].(map[string]any)
	acct["access_keys"] = append(acct["access_keys"].([]any), map[string]any{"id": newbie.id, "secret": newbie.secret, "user": "newbie"})
	acct["users"] = append(acct["users"].([]any), map[string]any{"name": "newbie", "policies": []any{iamPolicy(`{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}`)}})
	writeConfigFile(t, path, s.DataDir, cfg)
	time.Sleep(200 * time.Millisecond)
	s.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.as(newbie).Encrypt(ctx, &kms.EncryptInput{KeyId: k.Arn, Plaintext: []byte("x")})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new user after SIGHUP: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A bad file is refused and the configuration in force stays.
	os.WriteFile(path, []byte(`{"listen": `), 0o600)
	s.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	if _, err := s.as(newbie).Encrypt(ctx, &kms.EncryptInput{KeyId: k.Arn, Plaintext: []byte("x")}); err != nil {
		t.Fatalf("after a bad reload: %v", err)
	}
	stop.Store(true)
	done.Wait()
	if failures.Load() != 0 || requests.Load() == 0 {
		t.Fatalf("%d of the requests during the reloads failed (%d succeeded)", failures.Load(), requests.Load())
	}
	if !strings.Contains(s.stderr.String(), "the configuration file is refused") {
		t.Fatalf("the bad reload was not logged:\n%s", s.stderr)
	}
}

// writeConfigFile writes cfg as trent's config file at path.
func writeConfigFile(t *testing.T, path, dataDir string, cfg map[string]any) {
	t.Helper()
	cfg["data_dir"] = dataDir
	cfg["listen"] = "127.0.0.1:0"
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// runCLIAs runs the AWS CLI with a credential.
func (s *server) runCLIAs(t *testing.T, c cred, args ...string) (string, string, error) {
	t.Helper()
	return s.runAWS(t, c, args...)
}

var (
	_ = errors.As
	_ = fmt.Sprint
	_ smithy.APIError
)

// TestPolicyExplain runs trent policy explain on a policy file and on a
// running server's key (with its grants), allowed and denied.
func TestPolicyExplain(t *testing.T) {
	s, path := startAccessServer(t)
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "policy.json")
	os.WriteFile(policyFile, []byte(keyPolicy(rootStatement,
		`{"Sid":"AppOnly","Effect":"Allow","Principal":{"AWS":"`+arnOf(acctA, "user/keyuser")+`"},"Action":"kms:Decrypt","Resource":"*",
		  "Condition":{"StringEquals":{"kms:EncryptionContext:AppName":"ExampleApp"}}}`)), 0o600)
	keyArn := "arn:aws:kms:" + region + ":" + acctA + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"
	explain := func(env []string, args ...string) (string, int) {
		cmd := exec.Command(trentBinary, append([]string{"policy", "explain", "--config", path}, args...)...)
		cmd.Env = append([]string{"HOME=" + dir, "PATH=/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED=true"}, env...)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return string(out), exit.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	out, code := explain(nil, "--principal", arnOf(acctA, "user/keyuser"), "--action", "kms:Decrypt",
		"--key-policy", policyFile, "--key-arn", keyArn, "--context", "kms:EncryptionContext:AppName=ExampleApp")
	if code != 0 || !strings.Contains(out, "allowed:") || !strings.Contains(out, `Sid "AppOnly"`) {
		t.Fatalf("allowed case: exit %d\n%s", code, out)
	}
	out, code = explain(nil, "--access-key", keyuser.id, "--action", "kms:Decrypt",
		"--key-policy", policyFile, "--key-arn", keyArn, "--context", "kms:EncryptionContext:AppName=Other")
	if code != 3 || !strings.Contains(out, "denied:") ||
		!strings.Contains(out, "AccessDeniedException: "+deniedMsg(arnOf(acctA, "user/keyuser"), "kms:Decrypt", keyArn, noIdentity("kms:Decrypt"))) {
		t.Fatalf("denied case: exit %d\n%s", code, out)
	}
	// From the running server, with a grant.
	root := s.as(rootA)
	k := createKeyAs(t, root, "")
	g, err := root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: k.KeyId, GranteePrincipal: aws.String(arnOf(acctA, "user/noperm")),
		Operations: []types.GrantOperation{types.GrantOperationEncrypt}})
	if err != nil {
		t.Fatal(err)
	}
	creds := []string{"AWS_ACCESS_KEY_ID=" + rootA.id, "AWS_SECRET_ACCESS_KEY=" + rootA.secret, "AWS_REGION=" + region,
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none")}
	out, code = explain(creds, "--principal", arnOf(acctA, "user/noperm"), "--action", "kms:Encrypt", "--endpoint-url", s.URL, "--key-id", *k.KeyId)
	if code != 0 || !strings.Contains(out, "a grant allows") || !strings.Contains(out, *g.GrantId) {
		t.Fatalf("grant case: exit %d\n%s", code, out)
	}
}
