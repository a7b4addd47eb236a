package kms

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/policy"
)

// The policy package evaluates condition keys from a context it is given;
// these tests prove that the service puts each key's value in that context.
// Every row conditions one statement (in a key policy, or in an IAM policy
// of the caller) on one key, then makes two requests through the real
// Service methods that differ only in that key's value: the one that
// matches is allowed, the other is AccessDeniedException. A key the service
// stopped setting, or set from the wrong place, fails one of the two.

const (
	condAccount = "111122223333"
	condAlice   = "arn:aws:iam::111122223333:user/alice"
	condBob     = "arn:aws:iam::111122223333:user/bob"
	condAppRole = "arn:aws:iam::111122223333:role/app"
	// condAnyKey is every key of the account, as an IAM policy names keys.
	condAnyKey = "arn:aws:kms:*:111122223333:key/*"
)

// condUser is an IAM user of the account with no IAM policy.
func condUser(name string) Call {
	arn := "arn:aws:iam::111122223333:user/" + name
	return Call{Account: condAccount, ARN: arn, Region: "us-east-1",
		Principal: policy.Principal{ARN: arn, Account: condAccount, Type: policy.TypeUser,
			UserID: "AIDA" + strings.ToUpper(name), Username: name}}
}

// condSession is a session of an IAM role of the account.
func condSession(role, session string) Call {
	arn := "arn:aws:sts::111122223333:assumed-role/" + role + "/" + session
	return Call{Account: condAccount, ARN: arn, Region: "us-east-1",
		Principal: policy.Principal{ARN: arn, Account: condAccount, Type: policy.TypeAssumedRole,
			RoleARN: "arn:aws:iam::111122223333:role/" + role, UserID: "AROA" + strings.ToUpper(role) + ":" + session}}
}

// condKeyPolicy is a key policy that gives the account everything (so the
// root user can set up; any other caller would need an IAM policy to get
// anything through it, and none has one) and principal action under
// condition (a JSON object).
func condKeyPolicy(principal, action, condition string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
 {"Sid":"Account","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
 {"Sid":"Conditioned","Effect":"Allow","Principal":{"AWS":%q},"Action":%q,"Resource":"*","Condition":%s}]}`,
		principal, action, condition)
}

// condIAM is an IAM policy allowing actions (a JSON string or array) on
// resource under condition (none if "").
func condIAM(actions, resource, condition string) string {
	if condition != "" {
		condition = `,"Condition":` + condition
	}
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":%s,"Resource":%q%s}]}`, actions, resource, condition)
}

// condEnv is one row's service and what its setup made.
type condEnv struct {
	t     *testing.T
	ctx   context.Context
	s     *Service
	ids   map[string]string
	blobs map[string][]byte
}

// key creates a key as the account's root user, with keyPolicy if not "".
func (e *condEnv) key(keyPolicy string, in *kmsapi.CreateKeyRequest) string {
	e.t.Helper()
	if keyPolicy != "" {
		in.Policy = new(keyPolicy)
	}
	return createKey(e.t, e.s, devCall, in)
}

// alias points name at key id, as the root user.
func (e *condEnv) alias(name, id string) {
	e.t.Helper()
	root := devCall
	if err := e.s.CreateAlias(e.ctx, &root, &kmsapi.CreateAliasRequest{AliasName: new(name), TargetKeyId: new(id)}); err != nil {
		e.t.Fatal(err)
	}
}

// as is a fresh call of c (its condition values not yet set) with the
// given IAM policies.
func (e *condEnv) as(c Call, iam ...string) *Call {
	e.t.Helper()
	for _, doc := range iam {
		p, err := policy.Parse(doc, policy.IdentityPolicy)
		if err != nil {
			e.t.Fatalf("IAM policy %s: %v", doc, err)
		}
		c.Policies = append(c.Policies, p)
	}
	return &c
}

func (e *condEnv) alice(iam ...string) *Call { return e.as(condUser("alice"), iam...) }

func (e *condEnv) encrypt(c *Call, id string, ec map[string]string) error {
	_, err := e.s.Encrypt(e.ctx, c, &kmsapi.EncryptRequest{KeyId: new(id), Plaintext: []byte("x"), EncryptionContext: ec})
	return err
}

func (e *condEnv) describe(c *Call, id string) error {
	_, err := e.s.DescribeKey(e.ctx, c, &kmsapi.DescribeKeyRequest{KeyId: new(id)})
	return err
}

func (e *condEnv) createKey(c *Call, in *kmsapi.CreateKeyRequest) error {
	_, err := e.s.CreateKey(e.ctx, c, in)
	return err
}

func (e *condEnv) grant(c *Call, in *kmsapi.CreateGrantRequest) error {
	in.KeyId = new(e.ids["key"])
	if in.GranteePrincipal == nil {
		in.GranteePrincipal = new(condBob)
	}
	if in.Operations == nil {
		in.Operations = []kmsapi.GrantOperation{kmsapi.GrantOperationDecrypt}
	}
	_, err := e.s.CreateGrant(e.ctx, c, in)
	return err
}

func (e *condEnv) tag(c *Call, tags ...string) error {
	return e.s.TagResource(e.ctx, c, &kmsapi.TagResourceRequest{KeyId: new(e.ids["key"]), Tags: condTags(tags...)})
}

func condTags(kv ...string) []kmsapi.Tag {
	var tags []kmsapi.Tag
	for i := 0; i < len(kv); i += 2 {
		tags = append(tags, kmsapi.Tag{TagKey: new(kv[i]), TagValue: new(kv[i+1])})
	}
	return tags
}

// condCase is one row: setup makes the keys (as the root user), and allow
// and deny make the request whose value of key matches the condition and
// the one whose value does not. deny runs first and must change nothing.
type condCase struct {
	key    string // the condition key, and which path of the service sets it
	action string // the permission deny's AccessDeniedException names
	setup  func(e *condEnv)
	allow  func(e *condEnv) error
	deny   func(e *condEnv) error
}

func condCases() []condCase {
	return []condCase{
		// aws:SourceIp: the caller's address (Call.SourceIP) is compared
		// with IpAddress.
		{key: "aws:SourceIp", action: "kms:Encrypt",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:Encrypt", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`), &kmsapi.CreateKeyRequest{})
			},
			allow: func(e *condEnv) error {
				c := e.alice()
				c.SourceIP = "10.1.2.3"
				return e.encrypt(c, e.ids["key"], nil)
			},
			deny: func(e *condEnv) error {
				c := e.alice()
				c.SourceIP = "192.0.2.7"
				return e.encrypt(c, e.ids["key"], nil)
			},
		},
		// aws:SecureTransport: whether the request came over TLS.
		{key: "aws:SecureTransport", action: "kms:Encrypt",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:Encrypt", `{"Bool":{"aws:SecureTransport":"true"}}`), &kmsapi.CreateKeyRequest{})
			},
			allow: func(e *condEnv) error {
				c := e.alice()
				c.SecureTransport = true
				return e.encrypt(c, e.ids["key"], nil)
			},
			deny: func(e *condEnv) error {
				c := e.alice()
				c.SecureTransport = false
				return e.encrypt(c, e.ids["key"], nil)
			},
		},
		// aws:RequestedRegion: the region the request was signed for
		// (an IAM-only permission, as a key lives in one region).
		{key: "aws:RequestedRegion", action: "kms:CreateKey",
			setup: func(e *condEnv) {},
			allow: func(e *condEnv) error {
				c := e.alice(condIAM(`"kms:CreateKey"`, "*", `{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}`))
				c.Region = "eu-west-1"
				return e.createKey(c, &kmsapi.CreateKeyRequest{})
			},
			deny: func(e *condEnv) error {
				c := e.alice(condIAM(`"kms:CreateKey"`, "*", `{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}`))
				return e.createKey(c, &kmsapi.CreateKeyRequest{})
			},
		},
		// aws:ResourceTag/<k>: the tags of the key used (IAM policy; the
		// default key policy delegates to it).
		{key: "aws:ResourceTag/<k>", action: "kms:Encrypt",
			setup: func(e *condEnv) {
				e.ids["alpha"] = e.key("", &kmsapi.CreateKeyRequest{Tags: condTags("Project", "alpha")})
				e.ids["beta"] = e.key("", &kmsapi.CreateKeyRequest{Tags: condTags("Project", "beta")})
			},
			allow: func(e *condEnv) error {
				return e.encrypt(e.alice(condIAM(`"kms:Encrypt"`, condAnyKey, `{"StringEquals":{"aws:ResourceTag/Project":"alpha"}}`)), e.ids["alpha"], nil)
			},
			deny: func(e *condEnv) error {
				return e.encrypt(e.alice(condIAM(`"kms:Encrypt"`, condAnyKey, `{"StringEquals":{"aws:ResourceTag/Project":"alpha"}}`)), e.ids["beta"], nil)
			},
		},
		// aws:RequestTag/<k> (TagResource): the tags the request adds.
		{key: "aws:RequestTag/<k> (TagResource)", action: "kms:TagResource",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:TagResource", `{"StringEquals":{"aws:RequestTag/Env":"dev"}}`), &kmsapi.CreateKeyRequest{})
			},
			allow: func(e *condEnv) error { return e.tag(e.alice(), "Env", "dev") },
			deny:  func(e *condEnv) error { return e.tag(e.alice(), "Env", "prod") },
		},
		// aws:RequestTag/<k> (CreateKey): the tags of the key to be made.
		{key: "aws:RequestTag/<k> (CreateKey)", action: "kms:CreateKey",
			setup: func(e *condEnv) {},
			allow: func(e *condEnv) error {
				c := e.alice(condIAM(`["kms:CreateKey","kms:TagResource"]`, "*", `{"StringEquals":{"aws:RequestTag/Env":"dev"}}`))
				return e.createKey(c, &kmsapi.CreateKeyRequest{Tags: condTags("Env", "dev")})
			},
			deny: func(e *condEnv) error {
				c := e.alice(condIAM(`["kms:CreateKey","kms:TagResource"]`, "*", `{"StringEquals":{"aws:RequestTag/Env":"dev"}}`))
				return e.createKey(c, &kmsapi.CreateKeyRequest{Tags: condTags("Env", "prod")})
			},
		},
		// aws:TagKeys (UntagResource): the keys of the tags removed. With
		// ForAllValues an absent key would hold, so deny also proves the
		// key is present.
		{key: "aws:TagKeys (UntagResource)", action: "kms:UntagResource",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:UntagResource", `{"ForAllValues:StringEquals":{"aws:TagKeys":["Temp"]}}`),
					&kmsapi.CreateKeyRequest{Tags: condTags("Temp", "1", "Owner", "ops")})
			},
			allow: func(e *condEnv) error {
				return e.s.UntagResource(e.ctx, e.alice(), &kmsapi.UntagResourceRequest{KeyId: new(e.ids["key"]), TagKeys: []string{"Temp"}})
			},
			deny: func(e *condEnv) error {
				return e.s.UntagResource(e.ctx, e.alice(), &kmsapi.UntagResourceRequest{KeyId: new(e.ids["key"]), TagKeys: []string{"Owner"}})
			},
		},
		// aws:TagKeys (TagResource): the keys of the tags added.
		{key: "aws:TagKeys (TagResource)", action: "kms:TagResource",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:TagResource", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["CostCenter"]}}`), &kmsapi.CreateKeyRequest{})
			},
			allow: func(e *condEnv) error { return e.tag(e.alice(), "CostCenter", "42", "Env", "dev") },
			deny:  func(e *condEnv) error { return e.tag(e.alice(), "Env", "dev") },
		},
		// aws:PrincipalArn: the authenticated caller's ARN, which the
		// service hands to the decision (a key policy naming everyone).
		{key: "aws:PrincipalArn", action: "kms:Encrypt",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy("*", "kms:Encrypt", `{"ArnEquals":{"aws:PrincipalArn":"`+condAlice+`"}}`), &kmsapi.CreateKeyRequest{})
			},
			allow: func(e *condEnv) error { return e.encrypt(e.alice(), e.ids["key"], nil) },
			deny:  func(e *condEnv) error { return e.encrypt(e.as(condUser("bob")), e.ids["key"], nil) },
		},
		// aws:PrincipalArn of a role session is the role's ARN.
		{key: "aws:PrincipalArn (role session)", action: "kms:Encrypt",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy("*", "kms:Encrypt", `{"ArnEquals":{"aws:PrincipalArn":"`+condAppRole+`"}}`), &kmsapi.CreateKeyRequest{})
			},
			allow: func(e *condEnv) error { return e.encrypt(e.as(condSession("app", "s1")), e.ids["key"], nil) },
			deny:  func(e *condEnv) error { return e.encrypt(e.as(condSession("batch", "s1")), e.ids["key"], nil) },
		},
		// aws:username: the IAM user's name.
		{key: "aws:username", action: "kms:Encrypt",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy("*", "kms:Encrypt", `{"StringEquals":{"aws:username":"alice"}}`), &kmsapi.CreateKeyRequest{})
			},
			allow: func(e *condEnv) error { return e.encrypt(e.alice(), e.ids["key"], nil) },
			deny:  func(e *condEnv) error { return e.encrypt(e.as(condUser("bob")), e.ids["key"], nil) },
		},
		// kms:KeyUsage (key): the usage of the key the operation is on.
		{key: "kms:KeyUsage (key)", action: "kms:DescribeKey",
			setup: func(e *condEnv) {
				p := condKeyPolicy(condAlice, "kms:DescribeKey", `{"StringEquals":{"kms:KeyUsage":"GENERATE_VERIFY_MAC"}}`)
				e.ids["hmac"] = e.key(p, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecHmac256), KeyUsage: new(kmsapi.KeyUsageTypeGenerateVerifyMac)})
				e.ids["sym"] = e.key(p, &kmsapi.CreateKeyRequest{})
			},
			allow: func(e *condEnv) error { return e.describe(e.alice(), e.ids["hmac"]) },
			deny:  func(e *condEnv) error { return e.describe(e.alice(), e.ids["sym"]) },
		},
		// kms:KeyUsage (CreateKey): the usage of the key to be made.
		{key: "kms:KeyUsage (CreateKey)", action: "kms:CreateKey",
			setup: func(e *condEnv) {},
			allow: func(e *condEnv) error {
				c := e.alice(condIAM(`"kms:CreateKey"`, "*", `{"StringEquals":{"kms:KeyUsage":"SIGN_VERIFY"}}`))
				return e.createKey(c, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecEccNistP256), KeyUsage: new(kmsapi.KeyUsageTypeSignVerify)})
			},
			deny: func(e *condEnv) error {
				c := e.alice(condIAM(`"kms:CreateKey"`, "*", `{"StringEquals":{"kms:KeyUsage":"SIGN_VERIFY"}}`))
				return e.createKey(c, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecEccNistP256), KeyUsage: new(kmsapi.KeyUsageTypeKeyAgreement)})
			},
		},
		// kms:KeySpec (key): the spec of the key the operation is on.
		{key: "kms:KeySpec (key)", action: "kms:DescribeKey",
			setup: func(e *condEnv) {
				p := condKeyPolicy(condAlice, "kms:DescribeKey", `{"StringEquals":{"kms:KeySpec":"ECC_NIST_P256"}}`)
				e.ids["p256"] = e.key(p, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecEccNistP256), KeyUsage: new(kmsapi.KeyUsageTypeSignVerify)})
				e.ids["p384"] = e.key(p, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecEccNistP384), KeyUsage: new(kmsapi.KeyUsageTypeSignVerify)})
			},
			allow: func(e *condEnv) error { return e.describe(e.alice(), e.ids["p256"]) },
			deny:  func(e *condEnv) error { return e.describe(e.alice(), e.ids["p384"]) },
		},
		// kms:KeySpec (CreateKey): the requested spec, SYMMETRIC_DEFAULT
		// when the request leaves it out.
		{key: "kms:KeySpec (CreateKey)", action: "kms:CreateKey",
			setup: func(e *condEnv) {},
			allow: func(e *condEnv) error {
				c := e.alice(condIAM(`"kms:CreateKey"`, "*", `{"StringEquals":{"kms:KeySpec":"SYMMETRIC_DEFAULT"}}`))
				return e.createKey(c, &kmsapi.CreateKeyRequest{})
			},
			deny: func(e *condEnv) error {
				c := e.alice(condIAM(`"kms:CreateKey"`, "*", `{"StringEquals":{"kms:KeySpec":"SYMMETRIC_DEFAULT"}}`))
				return e.createKey(c, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecHmac256), KeyUsage: new(kmsapi.KeyUsageTypeGenerateVerifyMac)})
			},
		},
		// kms:KeyOrigin (key): the origin of the key the operation is on.
		{key: "kms:KeyOrigin (key)", action: "kms:DescribeKey",
			setup: func(e *condEnv) {
				p := condKeyPolicy(condAlice, "kms:DescribeKey", `{"StringEquals":{"kms:KeyOrigin":"EXTERNAL"}}`)
				e.ids["external"] = e.key(p, &kmsapi.CreateKeyRequest{Origin: new(kmsapi.OriginTypeExternal)})
				e.ids["kms"] = e.key(p, &kmsapi.CreateKeyRequest{})
			},
			allow: func(e *condEnv) error { return e.describe(e.alice(), e.ids["external"]) },
			deny:  func(e *condEnv) error { return e.describe(e.alice(), e.ids["kms"]) },
		},
		// kms:KeyOrigin (CreateKey): the requested origin, AWS_KMS when
		// left out.
		{key: "kms:KeyOrigin (CreateKey)", action: "kms:CreateKey",
			setup: func(e *condEnv) {},
			allow: func(e *condEnv) error {
				c := e.alice(condIAM(`"kms:CreateKey"`, "*", `{"StringEquals":{"kms:KeyOrigin":"AWS_KMS"}}`))
				return e.createKey(c, &kmsapi.CreateKeyRequest{})
			},
			deny: func(e *condEnv) error {
				c := e.alice(condIAM(`"kms:CreateKey"`, "*", `{"StringEquals":{"kms:KeyOrigin":"AWS_KMS"}}`))
				return e.createKey(c, &kmsapi.CreateKeyRequest{Origin: new(kmsapi.OriginTypeExternal)})
			},
		},
		// kms:ResourceAliases: every alias of the key, however the request
		// named it (here by key ID; IAM policy, as AWS allows it only there).
		{key: "kms:ResourceAliases", action: "kms:Encrypt",
			setup: func(e *condEnv) {
				e.ids["finance"] = e.key("", &kmsapi.CreateKeyRequest{})
				e.ids["hr"] = e.key("", &kmsapi.CreateKeyRequest{})
				e.alias("alias/other", e.ids["finance"])
				e.alias("alias/finance", e.ids["finance"])
				e.alias("alias/hr", e.ids["hr"])
			},
			allow: func(e *condEnv) error {
				return e.encrypt(e.alice(condIAM(`"kms:Encrypt"`, condAnyKey, `{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/finance"}}`)), e.ids["finance"], nil)
			},
			deny: func(e *condEnv) error {
				return e.encrypt(e.alice(condIAM(`"kms:Encrypt"`, condAnyKey, `{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/finance"}}`)), e.ids["hr"], nil)
			},
		},
		// kms:RequestAlias: the alias the request named the key by (alias
		// name or alias ARN), not any other alias of the key.
		{key: "kms:RequestAlias", action: "kms:Encrypt",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:Encrypt", `{"StringEquals":{"kms:RequestAlias":"alias/finance"}}`), &kmsapi.CreateKeyRequest{})
				e.alias("alias/finance", e.ids["key"])
				e.alias("alias/other", e.ids["key"])
			},
			allow: func(e *condEnv) error {
				return errors.Join(e.encrypt(e.alice(), "alias/finance", nil),
					e.encrypt(e.alice(), "arn:aws:kms:us-east-1:111122223333:alias/finance", nil))
			},
			deny: func(e *condEnv) error { return e.encrypt(e.alice(), "alias/other", nil) },
		},
		// kms:GrantOperations: the operations CreateGrant asks for
		// (ForAllValues: an absent key would hold, so deny proves it is set).
		{key: "kms:GrantOperations", action: "kms:CreateGrant",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:CreateGrant", `{"ForAllValues:StringEquals":{"kms:GrantOperations":["Encrypt","Decrypt"]}}`), &kmsapi.CreateKeyRequest{})
			},
			allow: func(e *condEnv) error {
				return e.grant(e.alice(), &kmsapi.CreateGrantRequest{Operations: []kmsapi.GrantOperation{kmsapi.GrantOperationDecrypt}})
			},
			deny: func(e *condEnv) error {
				return e.grant(e.alice(), &kmsapi.CreateGrantRequest{Operations: []kmsapi.GrantOperation{kmsapi.GrantOperationDecrypt, kmsapi.GrantOperationReEncryptFrom}})
			},
		},
		// kms:GranteePrincipal: the grantee CreateGrant names.
		{key: "kms:GranteePrincipal", action: "kms:CreateGrant",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:CreateGrant", `{"StringEquals":{"kms:GranteePrincipal":"`+condAppRole+`"}}`), &kmsapi.CreateKeyRequest{})
			},
			allow: func(e *condEnv) error {
				return e.grant(e.alice(), &kmsapi.CreateGrantRequest{GranteePrincipal: new(condAppRole)})
			},
			deny: func(e *condEnv) error {
				return e.grant(e.alice(), &kmsapi.CreateGrantRequest{GranteePrincipal: new(condBob)})
			},
		},
		// kms:RetiringPrincipal: the retiring principal CreateGrant names.
		{key: "kms:RetiringPrincipal", action: "kms:CreateGrant",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:CreateGrant", `{"StringEquals":{"kms:RetiringPrincipal":"`+condBob+`"}}`), &kmsapi.CreateKeyRequest{})
			},
			allow: func(e *condEnv) error {
				return e.grant(e.alice(), &kmsapi.CreateGrantRequest{GranteePrincipal: new(condAppRole), RetiringPrincipal: new(condBob)})
			},
			deny: func(e *condEnv) error {
				return e.grant(e.alice(), &kmsapi.CreateGrantRequest{GranteePrincipal: new(condBob), RetiringPrincipal: new(condAppRole)})
			},
		},
		// kms:GrantConstraintType: which encryption context constraint
		// CreateGrant asks for.
		{key: "kms:GrantConstraintType", action: "kms:CreateGrant",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:CreateGrant", `{"StringEquals":{"kms:GrantConstraintType":"EncryptionContextSubset"}}`), &kmsapi.CreateKeyRequest{})
			},
			allow: func(e *condEnv) error {
				return e.grant(e.alice(), &kmsapi.CreateGrantRequest{Constraints: &kmsapi.GrantConstraints{EncryptionContextSubset: map[string]string{"Dept": "IT"}}})
			},
			deny: func(e *condEnv) error {
				return e.grant(e.alice(), &kmsapi.CreateGrantRequest{Constraints: &kmsapi.GrantConstraints{EncryptionContextEquals: map[string]string{"Dept": "IT"}}})
			},
		},
		// kms:SigningAlgorithm: Sign's algorithm.
		{key: "kms:SigningAlgorithm", action: "kms:Sign",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:Sign", `{"StringEquals":{"kms:SigningAlgorithm":"RSASSA_PSS_SHA_256"}}`),
					&kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecRsa2048), KeyUsage: new(kmsapi.KeyUsageTypeSignVerify)})
			},
			allow: func(e *condEnv) error {
				_, err := e.s.Sign(e.ctx, e.alice(), &kmsapi.SignRequest{KeyId: new(e.ids["key"]), Message: []byte("m"),
					SigningAlgorithm: new(kmsapi.SigningAlgorithmSpecRsassaPssSha256)})
				return err
			},
			deny: func(e *condEnv) error {
				_, err := e.s.Sign(e.ctx, e.alice(), &kmsapi.SignRequest{KeyId: new(e.ids["key"]), Message: []byte("m"),
					SigningAlgorithm: new(kmsapi.SigningAlgorithmSpecRsassaPkcs1V15Sha256)})
				return err
			},
		},
		// kms:MessageType: Sign's message type, RAW when left out.
		{key: "kms:MessageType", action: "kms:Sign",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:Sign", `{"StringEquals":{"kms:MessageType":"RAW"}}`),
					&kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecEccNistP256), KeyUsage: new(kmsapi.KeyUsageTypeSignVerify)})
			},
			allow: func(e *condEnv) error {
				_, err := e.s.Sign(e.ctx, e.alice(), &kmsapi.SignRequest{KeyId: new(e.ids["key"]), Message: []byte("m"),
					SigningAlgorithm: new(kmsapi.SigningAlgorithmSpecEcdsaSha256)})
				return err
			},
			deny: func(e *condEnv) error {
				_, err := e.s.Sign(e.ctx, e.alice(), &kmsapi.SignRequest{KeyId: new(e.ids["key"]), Message: make([]byte, 32),
					MessageType: new(kmsapi.MessageTypeDigest), SigningAlgorithm: new(kmsapi.SigningAlgorithmSpecEcdsaSha256)})
				return err
			},
		},
		// kms:MacAlgorithm: GenerateMac's algorithm.
		{key: "kms:MacAlgorithm", action: "kms:GenerateMac",
			setup: func(e *condEnv) {
				p := condKeyPolicy(condAlice, "kms:GenerateMac", `{"StringEquals":{"kms:MacAlgorithm":"HMAC_SHA_384"}}`)
				e.ids["384"] = e.key(p, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecHmac384), KeyUsage: new(kmsapi.KeyUsageTypeGenerateVerifyMac)})
				e.ids["256"] = e.key(p, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecHmac256), KeyUsage: new(kmsapi.KeyUsageTypeGenerateVerifyMac)})
			},
			allow: func(e *condEnv) error {
				_, err := e.s.GenerateMac(e.ctx, e.alice(), &kmsapi.GenerateMacRequest{KeyId: new(e.ids["384"]), Message: []byte("m"),
					MacAlgorithm: new(kmsapi.MacAlgorithmSpecHmacSha384)})
				return err
			},
			deny: func(e *condEnv) error {
				_, err := e.s.GenerateMac(e.ctx, e.alice(), &kmsapi.GenerateMacRequest{KeyId: new(e.ids["256"]), Message: []byte("m"),
					MacAlgorithm: new(kmsapi.MacAlgorithmSpecHmacSha256)})
				return err
			},
		},
		// kms:EncryptionAlgorithm: Encrypt's algorithm.
		{key: "kms:EncryptionAlgorithm", action: "kms:Encrypt",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:Encrypt", `{"StringEquals":{"kms:EncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}`),
					&kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecRsa2048), KeyUsage: new(kmsapi.KeyUsageTypeEncryptDecrypt)})
			},
			allow: func(e *condEnv) error {
				_, err := e.s.Encrypt(e.ctx, e.alice(), &kmsapi.EncryptRequest{KeyId: new(e.ids["key"]), Plaintext: []byte("x"),
					EncryptionAlgorithm: new(kmsapi.EncryptionAlgorithmSpecRsaesOaepSha256)})
				return err
			},
			deny: func(e *condEnv) error {
				_, err := e.s.Encrypt(e.ctx, e.alice(), &kmsapi.EncryptRequest{KeyId: new(e.ids["key"]), Plaintext: []byte("x"),
					EncryptionAlgorithm: new(kmsapi.EncryptionAlgorithmSpecRsaesOaepSha1)})
				return err
			},
		},
		// kms:EncryptionAlgorithm is SYMMETRIC_DEFAULT when the request
		// leaves it out.
		{key: "kms:EncryptionAlgorithm (default)", action: "kms:Encrypt",
			setup: func(e *condEnv) {
				p := condKeyPolicy(condAlice, "kms:Encrypt", `{"StringEquals":{"kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}`)
				e.ids["sym"] = e.key(p, &kmsapi.CreateKeyRequest{})
				e.ids["rsa"] = e.key(p, &kmsapi.CreateKeyRequest{KeySpec: new(kmsapi.KeySpecRsa2048), KeyUsage: new(kmsapi.KeyUsageTypeEncryptDecrypt)})
			},
			allow: func(e *condEnv) error { return e.encrypt(e.alice(), e.ids["sym"], nil) },
			deny: func(e *condEnv) error {
				_, err := e.s.Encrypt(e.ctx, e.alice(), &kmsapi.EncryptRequest{KeyId: new(e.ids["rsa"]), Plaintext: []byte("x"),
					EncryptionAlgorithm: new(kmsapi.EncryptionAlgorithmSpecRsaesOaepSha256)})
				return err
			},
		},
		// kms:DataKeyPairSpec: the spec of the pair GenerateDataKeyPair makes.
		{key: "kms:DataKeyPairSpec", action: "kms:GenerateDataKeyPair",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:GenerateDataKeyPair", `{"StringEquals":{"kms:DataKeyPairSpec":"ECC_NIST_P256"}}`), &kmsapi.CreateKeyRequest{})
			},
			allow: func(e *condEnv) error {
				_, err := e.s.GenerateDataKeyPair(e.ctx, e.alice(), &kmsapi.GenerateDataKeyPairRequest{KeyId: new(e.ids["key"]), KeyPairSpec: new(kmsapi.DataKeyPairSpecEccNistP256)})
				return err
			},
			deny: func(e *condEnv) error {
				_, err := e.s.GenerateDataKeyPair(e.ctx, e.alice(), &kmsapi.GenerateDataKeyPairRequest{KeyId: new(e.ids["key"]), KeyPairSpec: new(kmsapi.DataKeyPairSpecEccNistP384)})
				return err
			},
		},
		// kms:ScheduleKeyDeletionPendingWindowInDays: the waiting period,
		// 30 when left out.
		{key: "kms:ScheduleKeyDeletionPendingWindowInDays", action: "kms:ScheduleKeyDeletion",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:ScheduleKeyDeletion",
					`{"NumericGreaterThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":"14"}}`), &kmsapi.CreateKeyRequest{})
			},
			allow: func(e *condEnv) error {
				_, err := e.s.ScheduleKeyDeletion(e.ctx, e.alice(), &kmsapi.ScheduleKeyDeletionRequest{KeyId: new(e.ids["key"])})
				return err
			},
			deny: func(e *condEnv) error {
				_, err := e.s.ScheduleKeyDeletion(e.ctx, e.alice(), &kmsapi.ScheduleKeyDeletionRequest{KeyId: new(e.ids["key"]), PendingWindowInDays: new(int32(7))})
				return err
			},
		},
		// kms:RotationPeriodInDays: EnableKeyRotation's period, 365 when
		// left out.
		{key: "kms:RotationPeriodInDays", action: "kms:EnableKeyRotation",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:EnableKeyRotation", `{"NumericGreaterThanEquals":{"kms:RotationPeriodInDays":"300"}}`), &kmsapi.CreateKeyRequest{})
			},
			allow: func(e *condEnv) error {
				return e.s.EnableKeyRotation(e.ctx, e.alice(), &kmsapi.EnableKeyRotationRequest{KeyId: new(e.ids["key"])})
			},
			deny: func(e *condEnv) error {
				return e.s.EnableKeyRotation(e.ctx, e.alice(), &kmsapi.EnableKeyRotationRequest{KeyId: new(e.ids["key"]), RotationPeriodInDays: new(int32(90))})
			},
		},
		// kms:MultiRegion (key): whether the key the operation is on is
		// multi-Region.
		{key: "kms:MultiRegion (key)", action: "kms:DescribeKey",
			setup: func(e *condEnv) {
				p := condKeyPolicy(condAlice, "kms:DescribeKey", `{"Bool":{"kms:MultiRegion":"true"}}`)
				e.ids["mrk"] = e.key(p, &kmsapi.CreateKeyRequest{MultiRegion: new(true)})
				e.ids["single"] = e.key(p, &kmsapi.CreateKeyRequest{})
			},
			allow: func(e *condEnv) error { return e.describe(e.alice(), e.ids["mrk"]) },
			deny:  func(e *condEnv) error { return e.describe(e.alice(), e.ids["single"]) },
		},
		// kms:MultiRegion (CreateKey): whether the key to be made is, false
		// when left out.
		{key: "kms:MultiRegion (CreateKey)", action: "kms:CreateKey",
			setup: func(e *condEnv) {},
			allow: func(e *condEnv) error {
				return e.createKey(e.alice(condIAM(`"kms:CreateKey"`, "*", `{"Bool":{"kms:MultiRegion":"false"}}`)), &kmsapi.CreateKeyRequest{})
			},
			deny: func(e *condEnv) error {
				return e.createKey(e.alice(condIAM(`"kms:CreateKey"`, "*", `{"Bool":{"kms:MultiRegion":"false"}}`)), &kmsapi.CreateKeyRequest{MultiRegion: new(true)})
			},
		},
		// kms:ReplicaRegion: the region ReplicateKey makes the replica in
		// (alice may create keys anywhere: only the key policy decides).
		{key: "kms:ReplicaRegion", action: "kms:ReplicateKey",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:ReplicateKey", `{"StringEquals":{"kms:ReplicaRegion":"eu-west-1"}}`), &kmsapi.CreateKeyRequest{MultiRegion: new(true)})
			},
			allow: func(e *condEnv) error {
				c := e.alice(condIAM(`"kms:CreateKey"`, "*", ""))
				_, err := e.s.ReplicateKey(e.ctx, c, &kmsapi.ReplicateKeyRequest{KeyId: new(e.ids["key"]), ReplicaRegion: new("eu-west-1")})
				return err
			},
			deny: func(e *condEnv) error {
				c := e.alice(condIAM(`"kms:CreateKey"`, "*", ""))
				_, err := e.s.ReplicateKey(e.ctx, c, &kmsapi.ReplicateKeyRequest{KeyId: new(e.ids["key"]), ReplicaRegion: new("ap-southeast-2")})
				return err
			},
		},
		// kms:WrappingAlgorithm: GetParametersForImport's algorithm.
		{key: "kms:WrappingAlgorithm", action: "kms:GetParametersForImport",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:GetParametersForImport", `{"StringEquals":{"kms:WrappingAlgorithm":"RSAES_OAEP_SHA_256"}}`),
					&kmsapi.CreateKeyRequest{Origin: new(kmsapi.OriginTypeExternal)})
			},
			allow: func(e *condEnv) error {
				return condImportParams(e, kmsapi.AlgorithmSpecRsaesOaepSha256, kmsapi.WrappingKeySpecRsa2048)
			},
			deny: func(e *condEnv) error {
				return condImportParams(e, kmsapi.AlgorithmSpecRsaesOaepSha1, kmsapi.WrappingKeySpecRsa2048)
			},
		},
		// kms:WrappingKeySpec: GetParametersForImport's wrapping key spec.
		{key: "kms:WrappingKeySpec", action: "kms:GetParametersForImport",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:GetParametersForImport", `{"StringEquals":{"kms:WrappingKeySpec":"RSA_2048"}}`),
					&kmsapi.CreateKeyRequest{Origin: new(kmsapi.OriginTypeExternal)})
			},
			allow: func(e *condEnv) error {
				return condImportParams(e, kmsapi.AlgorithmSpecRsaesOaepSha256, kmsapi.WrappingKeySpecRsa2048)
			},
			deny: func(e *condEnv) error {
				return condImportParams(e, kmsapi.AlgorithmSpecRsaesOaepSha256, kmsapi.WrappingKeySpecRsa4096)
			},
		},
		// kms:ExpirationModel: ImportKeyMaterial's expiration model,
		// KEY_MATERIAL_EXPIRES when left out.
		{key: "kms:ExpirationModel", action: "kms:ImportKeyMaterial",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:ImportKeyMaterial", `{"StringEquals":{"kms:ExpirationModel":"KEY_MATERIAL_EXPIRES"}}`),
					&kmsapi.CreateKeyRequest{Origin: new(kmsapi.OriginTypeExternal)})
				token, pub := importParams(e.t, e.s, devCall, e.ids["key"], kmsapi.AlgorithmSpecRsaesOaepSha256, kmsapi.WrappingKeySpecRsa2048)
				e.blobs["token"] = token
				e.blobs["wrapped"] = wrapFor(e.t, pub, kmsapi.AlgorithmSpecRsaesOaepSha256, random(e.t, 32))
			},
			allow: func(e *condEnv) error {
				_, err := importMaterial(e.s, *e.alice(), e.ids["key"], e.blobs["token"], e.blobs["wrapped"], func(in *kmsapi.ImportKeyMaterialRequest) {
					in.ExpirationModel = nil
					in.ValidTo = &kmsapi.Time{Time: time.Now().Add(30 * 24 * time.Hour)}
				})
				return err
			},
			deny: func(e *condEnv) error {
				_, err := importMaterial(e.s, *e.alice(), e.ids["key"], e.blobs["token"], e.blobs["wrapped"], nil) // KEY_MATERIAL_DOES_NOT_EXPIRE
				return err
			},
		},
		// kms:KeyMaterialId: the key material DeleteImportedKeyMaterial
		// names (set only when the request names one).
		{key: "kms:KeyMaterialId", action: "kms:DeleteImportedKeyMaterial",
			setup: func(e *condEnv) {
				id := e.key("", &kmsapi.CreateKeyRequest{Origin: new(kmsapi.OriginTypeExternal)})
				token, pub := importParams(e.t, e.s, devCall, id, kmsapi.AlgorithmSpecRsaesOaepSha256, kmsapi.WrappingKeySpecRsa2048)
				out, err := importMaterial(e.s, devCall, id, token, wrapFor(e.t, pub, kmsapi.AlgorithmSpecRsaesOaepSha256, random(e.t, 32)), nil)
				if err != nil {
					e.t.Fatal(err)
				}
				e.ids["key"], e.ids["material"] = id, out.GetKeyMaterialId()
				root := devCall
				if err := e.s.PutKeyPolicy(e.ctx, &root, &kmsapi.PutKeyPolicyRequest{KeyId: new(id),
					Policy: new(condKeyPolicy(condAlice, "kms:DeleteImportedKeyMaterial", `{"StringEquals":{"kms:KeyMaterialId":"`+out.GetKeyMaterialId()+`"}}`))}); err != nil {
					e.t.Fatal(err)
				}
			},
			allow: func(e *condEnv) error {
				_, err := e.s.DeleteImportedKeyMaterial(e.ctx, e.alice(), &kmsapi.DeleteImportedKeyMaterialRequest{KeyId: new(e.ids["key"]), KeyMaterialId: new(e.ids["material"])})
				return err
			},
			deny: func(e *condEnv) error {
				_, err := e.s.DeleteImportedKeyMaterial(e.ctx, e.alice(), &kmsapi.DeleteImportedKeyMaterialRequest{KeyId: new(e.ids["key"]), KeyMaterialId: new(strings.Repeat("0", 64))})
				return err
			},
		},
		// kms:BypassPolicyLockoutSafetyCheck (PutKeyPolicy): the flag,
		// false when left out.
		{key: "kms:BypassPolicyLockoutSafetyCheck (PutKeyPolicy)", action: "kms:PutKeyPolicy",
			setup: func(e *condEnv) {
				e.ids["policy"] = condKeyPolicy(condAlice, "kms:PutKeyPolicy", `{"Bool":{"kms:BypassPolicyLockoutSafetyCheck":"false"}}`)
				e.ids["key"] = e.key(e.ids["policy"], &kmsapi.CreateKeyRequest{})
			},
			allow: func(e *condEnv) error {
				return e.s.PutKeyPolicy(e.ctx, e.alice(), &kmsapi.PutKeyPolicyRequest{KeyId: new(e.ids["key"]), Policy: new(e.ids["policy"])})
			},
			deny: func(e *condEnv) error {
				return e.s.PutKeyPolicy(e.ctx, e.alice(), &kmsapi.PutKeyPolicyRequest{KeyId: new(e.ids["key"]), Policy: new(e.ids["policy"]),
					BypassPolicyLockoutSafetyCheck: new(true)})
			},
		},
		// kms:BypassPolicyLockoutSafetyCheck (CreateKey).
		{key: "kms:BypassPolicyLockoutSafetyCheck (CreateKey)", action: "kms:CreateKey",
			setup: func(e *condEnv) {},
			allow: func(e *condEnv) error {
				c := e.alice(condIAM(`"kms:CreateKey"`, "*", `{"Bool":{"kms:BypassPolicyLockoutSafetyCheck":"false"}}`))
				return e.createKey(c, &kmsapi.CreateKeyRequest{})
			},
			deny: func(e *condEnv) error {
				c := e.alice(condIAM(`"kms:CreateKey"`, "*", `{"Bool":{"kms:BypassPolicyLockoutSafetyCheck":"false"}}`))
				return e.createKey(c, &kmsapi.CreateKeyRequest{BypassPolicyLockoutSafetyCheck: new(true)})
			},
		},
		// kms:EncryptionContextKeys (Encrypt): the keys of the request's
		// encryption context (ForAllValues: deny proves they are set).
		{key: "kms:EncryptionContextKeys (Encrypt)", action: "kms:Encrypt",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:Encrypt", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["AppName"]}}`), &kmsapi.CreateKeyRequest{})
			},
			allow: func(e *condEnv) error {
				return e.encrypt(e.alice(), e.ids["key"], map[string]string{"AppName": "payroll"})
			},
			deny: func(e *condEnv) error {
				return e.encrypt(e.alice(), e.ids["key"], map[string]string{"Team": "payroll"})
			},
		},
		// kms:EncryptionContextKeys (CreateGrant): the keys of the grant's
		// encryption context constraint.
		{key: "kms:EncryptionContextKeys (CreateGrant)", action: "kms:CreateGrant",
			setup: func(e *condEnv) {
				e.ids["key"] = e.key(condKeyPolicy(condAlice, "kms:CreateGrant", `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["Dept"]}}`), &kmsapi.CreateKeyRequest{})
			},
			allow: func(e *condEnv) error {
				return e.grant(e.alice(), &kmsapi.CreateGrantRequest{Constraints: &kmsapi.GrantConstraints{EncryptionContextEquals: map[string]string{"Dept": "IT"}}})
			},
			deny: func(e *condEnv) error {
				return e.grant(e.alice(), &kmsapi.CreateGrantRequest{Constraints: &kmsapi.GrantConstraints{EncryptionContextEquals: map[string]string{"Team": "IT"}}})
			},
		},
	}
}

func condImportParams(e *condEnv, alg kmsapi.AlgorithmSpec, spec kmsapi.WrappingKeySpec) error {
	_, err := e.s.GetParametersForImport(e.ctx, e.alice(), &kmsapi.GetParametersForImportRequest{
		KeyId: new(e.ids["key"]), WrappingAlgorithm: &alg, WrappingKeySpec: &spec})
	return err
}

// TestServiceSetsConditionKeys: for each row, the request whose value of
// the condition key matches is allowed and the one whose value does not is
// denied, naming the permission.
func TestServiceSetsConditionKeys(t *testing.T) {
	for _, tc := range condCases() {
		t.Run(tc.key, func(t *testing.T) {
			s, db := newTestService(t, t.TempDir())
			defer db.Close()
			e := &condEnv{t: t, ctx: context.Background(), s: s, ids: map[string]string{}, blobs: map[string][]byte{}}
			tc.setup(e)
			wantCode(t, tc.deny(e), kmsapi.AccessDeniedException, "is not authorized to perform: "+tc.action+" ")
			if err := tc.allow(e); err != nil {
				t.Fatalf("the request matching the condition on %s was refused: %v", tc.key, err)
			}
		})
	}
}
