package policy

import (
	"fmt"
	"testing"
	"time"
)

// Where each expectation comes from: AWS documentation page titles, in the
// reference notes' style (KMS DG = AWS KMS Developer Guide, IAM UG = IAM
// User Guide), or "§n" for a case of the reference notes' test list.
const (
	refAuth         = "KMS DG: Authentication and access control for AWS KMS"
	refDefault      = "KMS DG: Default key policy"
	refKeyPolicies  = "KMS DG: Key policies in AWS KMS"
	refIAMBest      = "KMS DG: Best practices for IAM policies"
	refCross        = "KMS DG: Allowing users in other accounts to use a KMS key"
	refPerms        = "KMS DG: AWS KMS permissions"
	refKMSCond      = "KMS DG: AWS KMS condition keys"
	refGrants       = "KMS DG: Grants in AWS KMS"
	refRetire       = "KMS DG: Retiring and revoking grants"
	refTrouble      = "KMS DG: Troubleshooting key access"
	refPutKeyPolicy = "KMS API Reference: PutKeyPolicy (BypassPolicyLockoutSafetyCheck)"
	refEval         = "IAM UG: Policy evaluation logic"
	refOps          = "IAM UG: IAM JSON policy elements: Condition operators"
	refMulti        = "IAM UG: Creating a condition with multiple keys or values"
	refVars         = "IAM UG: IAM policy elements: Variables and tags"
	refVersion      = "IAM UG: IAM JSON policy elements: Version"
	refPrincipal    = "IAM UG: AWS JSON policy elements: Principal"
	refNotPrincipal = "IAM UG: AWS JSON policy elements: NotPrincipal"
	refAction       = "IAM UG: IAM JSON policy elements: Action"
	refNotAction    = "IAM UG: IAM JSON policy elements: NotAction"
	refResource     = "IAM UG: IAM JSON policy elements: Resource"
	refNotResource  = "IAM UG: IAM JSON policy elements: NotResource"
	refGlobal       = "IAM UG: AWS global condition context keys"
	refOurs         = "ours: AWS does not document this case"
)

// noKeyPolicy marks an IAM-only permission (DecideInput.KeyPolicy nil).
const noKeyPolicy = "-"

type decideCase struct {
	ref    string // the AWS documentation the expectation follows
	name   string
	key    string   // key policy; "" = the default key policy; noKeyPolicy = none
	iam    []string // the caller's identity policies
	who    Principal
	action string // "" = kms:Encrypt
	res    string // "" = keyARN, or "*" when key is noKeyPolicy
	ctx    Context
	at     time.Time
	grant  bool
	want   Reason
}

func (c decideCase) input(t testing.TB) DecideInput {
	in := DecideInput{
		Request: &Request{
			Principal: c.who,
			Action:    c.action,
			Resource:  c.res,
			Context:   c.ctx,
			Time:      c.at,
		},
		KeyAccount:  acctA,
		GrantAllows: c.grant,
	}
	if in.Request.Action == "" {
		in.Request.Action = "kms:Encrypt"
	}
	switch c.key {
	case "":
		in.KeyPolicy = mustParse(t, DefaultKeyPolicy(acctA), KeyPolicy)
	case noKeyPolicy:
		if in.Request.Resource == "" {
			in.Request.Resource = "*"
		}
	default:
		in.KeyPolicy = mustParse(t, c.key, KeyPolicy)
	}
	if in.Request.Resource == "" {
		in.Request.Resource = keyARN
	}
	for _, text := range c.iam {
		in.IdentityPolicies = append(in.IdentityPolicies, mustParse(t, text, IdentityPolicy))
	}
	return in
}

func TestDecide(t *testing.T) {
	cases := decideCases()
	if len(cases) < 150 {
		t.Fatalf("only %d decision cases", len(cases))
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%03d_%s", i, c.name), func(t *testing.T) {
			d := Decide(c.input(t))
			if d.Reason != c.want {
				t.Fatalf("reason %v, want %v [%s]\nexplain: %s", d.Reason, c.want, c.ref, d.Explain())
			}
			wantAllowed := c.want <= AllowedByGrant
			if d.Allowed != wantAllowed {
				t.Fatalf("allowed %v with reason %v", d.Allowed, d.Reason)
			}
			if (d.Message() == "") != d.Allowed {
				t.Fatalf("message %q for allowed=%v", d.Message(), d.Allowed)
			}
		})
	}
}

func decideCases() []decideCase {
	kmsAll := iamAllow("kms:*", "*")
	ec := func(k, v string) MapContext { return ctx("kms:EncryptionContext:"+k, v) }
	cond := func(op, key, values string) string { return `{"` + op + `":{"` + key + `":` + values + `}}` }

	return []decideCase{
		// --- The default key policy: delegation to the account's IAM policies.
		{ref: "§9.1; " + refDefault, name: "default policy, no IAM policy", who: alice, want: NoIdentityPolicyAllows},
		{ref: "§9.2; " + refIAMBest, name: "IAM allows the key ARN", who: alice, iam: []string{iamAllow("kms:Encrypt", keyARN)}, want: AllowedByIdentityPolicy},
		{ref: "§9.2; " + refIAMBest, name: "IAM names the alias ARN only", who: alice, iam: []string{iamAllow("kms:Encrypt", aliasARN)}, want: NoIdentityPolicyAllows},
		{ref: refIAMBest, name: "IAM key ARN pattern", who: alice, iam: []string{iamAllow("kms:Encrypt", "arn:aws:kms:us-east-1:111122223333:key/*")}, want: AllowedByIdentityPolicy},
		{ref: refIAMBest, name: "IAM kms:* on *", who: alice, iam: []string{kmsAll}, want: AllowedByIdentityPolicy},
		{ref: refDefault, name: "root needs no IAM policy", who: rootA, want: AllowedAsAccountRoot},
		{ref: refDefault, name: "root may change the policy", who: rootA, action: "kms:PutKeyPolicy", want: AllowedAsAccountRoot},
		{ref: refDefault, name: "role session with IAM", who: app1, iam: []string{kmsAll}, want: AllowedByIdentityPolicy},
		{ref: refDefault, name: "role session without IAM", who: app1, want: NoIdentityPolicyAllows},
		{ref: refIAMBest, name: "IAM allows another action only", who: alice, iam: []string{iamAllow("kms:Decrypt", keyARN)}, want: NoIdentityPolicyAllows},
		{ref: refIAMBest, name: "IAM names another Region", who: alice, iam: []string{iamAllow("kms:Encrypt", "arn:aws:kms:eu-west-1:111122223333:key/*")}, want: NoIdentityPolicyAllows},
		{ref: refIAMBest, name: "IAM wildcards Region and account", who: alice, iam: []string{iamAllow("kms:Encrypt", "arn:aws:kms:*:*:key/*")}, want: AllowedByIdentityPolicy},
		{ref: refIAMBest, name: "IAM names another key", who: alice, iam: []string{iamAllow("kms:Encrypt", otherKey)}, want: NoIdentityPolicyAllows},
		{ref: refEval, name: "one of several IAM policies allows", who: alice, iam: []string{iamAllow("kms:Decrypt", keyARN), iamAllow("kms:Encrypt", keyARN)}, want: AllowedByIdentityPolicy},
		{ref: refDefault, name: "delegation limited to the actions given", who: alice, key: doc(stmt("Allow", aws("arn:aws:iam::111122223333:root"), q("kms:Decrypt"), q("*"), "")), iam: []string{kmsAll}, want: NoResourcePolicyAllows},

		// --- Key policies naming principals directly.
		{ref: "§9.3; " + refEval, name: "key policy names alice", who: alice, key: kpAllow(aws(aliceARN), ""), action: "kms:Decrypt", want: AllowedByKeyPolicy},
		{ref: "§9.3; " + refKeyPolicies, name: "bob with IAM kms:* but not in the key policy", who: bob, key: kpAllow(aws(aliceARN), ""), iam: []string{kmsAll}, want: NoResourcePolicyAllows},
		{ref: "§9.3; " + refDefault, name: "root locked out by a policy naming only alice", who: rootA, key: kpAllow(aws(aliceARN), ""), action: "kms:PutKeyPolicy", want: NoResourcePolicyAllows},
		{ref: refPrincipal, name: "role ARN names every session", who: app1, key: kpAllow(aws(roleARN), ""), want: AllowedByKeyPolicy},
		{ref: refPrincipal, name: "role ARN, second session", who: app2, key: kpAllow(aws(roleARN), ""), want: AllowedByKeyPolicy},
		{ref: refPrincipal, name: "session ARN names that session", who: app1, key: kpAllow(aws(s1ARN), ""), want: AllowedByKeyPolicy},
		{ref: refPrincipal, name: "session ARN does not name another session", who: app2, key: kpAllow(aws(s1ARN), ""), want: NoResourcePolicyAllows},
		{ref: refPrincipal, name: "role ARN does not name a user", who: alice, key: kpAllow(aws(roleARN), ""), want: NoResourcePolicyAllows},
		{ref: refPrincipal, name: `Principal "*"`, who: alice, key: kpAllow(q("*"), ""), want: AllowedByKeyPolicy},
		{ref: refPrincipal, name: `{"AWS":"*"}`, who: alice, key: kpAllow(`{"AWS":"*"}`, ""), want: AllowedByKeyPolicy},
		{ref: refPrincipal, name: `{"AWS":["*"]}`, who: app1, key: kpAllow(aws("*"), ""), want: AllowedByKeyPolicy},
		{ref: refPrincipal, name: "account ID delegates", who: alice, key: kpAllow(aws(acctA), ""), want: NoIdentityPolicyAllows},
		{ref: refPrincipal, name: "account ID delegates, IAM allows", who: alice, key: kpAllow(aws(acctA), ""), iam: []string{kmsAll}, want: AllowedByIdentityPolicy},
		{ref: refPrincipal, name: "account ID and root", who: rootA, key: kpAllow(aws(acctA), ""), want: AllowedAsAccountRoot},
		{ref: refPrincipal, name: "user with a path", who: pathy, key: kpAllow(aws("arn:aws:iam::111122223333:user/division/alice"), ""), want: AllowedByKeyPolicy},
		{ref: refPrincipal, name: "path matters", who: alice, key: kpAllow(aws("arn:aws:iam::111122223333:user/division/alice"), ""), want: NoResourcePolicyAllows},
		{ref: refEval, name: "naming alice beats naming her account", who: alice, key: kpAllow(aws("arn:aws:iam::111122223333:root", aliceARN), ""), want: AllowedByKeyPolicy},
		{ref: refEval, name: "direct statement after a delegating one", who: alice, key: doc(stmt("Allow", aws(acctA), q("kms:*"), q("*"), ""), stmt("Allow", aws(aliceARN), q("kms:Encrypt"), q("*"), "")), want: AllowedByKeyPolicy},
		{ref: refPrincipal, name: "service principal never names a user", who: alice, key: kpAllow(`{"Service":"ec2.amazonaws.com"}`, ""), want: NoResourcePolicyAllows},
		{ref: refPrincipal, name: "federated principal never names a user", who: alice, key: kpAllow(`{"Federated":"cognito-identity.amazonaws.com"}`, ""), want: NoResourcePolicyAllows},
		{ref: refPrincipal, name: "another account's root does not name A", who: alice, key: kpAllow(aws("arn:aws:iam::444455556666:root"), ""), iam: []string{kmsAll}, want: NoResourcePolicyAllows},
		{ref: refKeyPolicies, name: "direct allow needs no IAM even for admin actions", who: alice, key: kpAllow(aws(aliceARN), ""), action: "kms:ScheduleKeyDeletion", want: AllowedByKeyPolicy},

		// --- Explicit deny wins.
		{ref: "§9.8; " + refKMSCond, name: "key policy deny beats IAM allow and grant", who: app1, key: doc(stmt("Allow", aws(acctA), q("kms:*"), q("*"), ""), stmt("Deny", aws(roleARN), q("kms:Decrypt"), q("*"), "")), iam: []string{kmsAll}, grant: true, action: "kms:Decrypt", want: ExplicitDenyResource},
		{ref: "§9.9; " + refKeyPolicies, name: "IAM deny beats key policy naming alice", who: alice, key: kpAllow(aws(aliceARN), ""), iam: []string{iamDeny("kms:ScheduleKeyDeletion", "*")}, action: "kms:ScheduleKeyDeletion", want: ExplicitDenyIdentity},
		{ref: refAuth, name: "deny for everyone binds the root user", who: rootA, key: doc(stmt("Allow", aws(acctA), q("kms:*"), q("*"), ""), stmt("Deny", q("*"), q("kms:ScheduleKeyDeletion"), q("*"), "")), action: "kms:ScheduleKeyDeletion", want: ExplicitDenyResource},
		{ref: refEval, name: "IAM deny beats a grant", who: alice, iam: []string{iamDeny("kms:Decrypt", keyARN)}, grant: true, action: "kms:Decrypt", want: ExplicitDenyIdentity},
		{ref: refEval, name: "deny before allow in one policy", who: alice, key: doc(stmt("Deny", aws(aliceARN), q("kms:Encrypt"), q("*"), ""), stmt("Allow", aws(aliceARN), q("kms:*"), q("*"), "")), want: ExplicitDenyResource},
		{ref: refEval, name: "deny after allow in one policy", who: alice, key: doc(stmt("Allow", aws(aliceARN), q("kms:*"), q("*"), ""), stmt("Deny", aws(aliceARN), q("kms:Encrypt"), q("*"), "")), want: ExplicitDenyResource},
		{ref: refEval, name: "deny of another action", who: alice, key: doc(stmt("Allow", aws(aliceARN), q("kms:*"), q("*"), ""), stmt("Deny", aws(aliceARN), q("kms:Decrypt"), q("*"), "")), want: AllowedByKeyPolicy},
		{ref: refEval, name: "deny whose condition fails", who: alice, key: doc(stmt("Allow", aws(aliceARN), q("kms:*"), q("*"), ""), stmt("Deny", aws(aliceARN), q("kms:*"), q("*"), cond("Bool", "aws:SecureTransport", q("false")))), ctx: ctx("aws:SecureTransport", "true"), want: AllowedByKeyPolicy},
		{ref: refEval, name: "deny whose condition holds", who: alice, key: doc(stmt("Allow", aws(aliceARN), q("kms:*"), q("*"), ""), stmt("Deny", aws(aliceARN), q("kms:*"), q("*"), cond("Bool", "aws:SecureTransport", q("false")))), ctx: ctx("aws:SecureTransport", "false"), want: ExplicitDenyResource},
		{ref: refEval, name: "IAM deny on an IAM-only action", who: alice, key: noKeyPolicy, action: "kms:CreateKey", iam: []string{kmsAll, iamDeny("kms:CreateKey", "*")}, want: ExplicitDenyIdentity},
		{ref: refOurs + " (which of two denies AWS names)", name: "deny in both policies", who: alice, key: doc(stmt("Deny", aws(aliceARN), q("kms:*"), q("*"), "")), iam: []string{iamDeny("kms:*", "*")}, want: ExplicitDenyResource},
		{ref: refPrincipal, name: "deny naming the account binds its users", who: alice, key: doc(stmt("Allow", aws(aliceARN), q("kms:*"), q("*"), ""), stmt("Deny", aws("arn:aws:iam::111122223333:root"), q("kms:Encrypt"), q("*"), "")), want: ExplicitDenyResource},
		{ref: refEval, name: "IAM deny in the second of three policies", who: alice, iam: []string{kmsAll, iamDeny("kms:Encrypt", keyARN), kmsAll}, want: ExplicitDenyIdentity},
		{ref: refEval, name: "IAM deny of another key", who: alice, iam: []string{kmsAll, iamDeny("kms:*", otherKey)}, want: AllowedByIdentityPolicy},

		// --- NotPrincipal, NotAction, NotResource.
		{ref: refNotPrincipal, name: "NotPrincipal deny spares alice and her account", who: alice, key: doc(stmt("Allow", aws(acctA), q("kms:*"), q("*"), ""), `{"Effect":"Deny","NotPrincipal":`+aws(aliceARN, "arn:aws:iam::111122223333:root")+`,"Action":"kms:*","Resource":"*"}`), iam: []string{kmsAll}, want: AllowedByIdentityPolicy},
		{ref: refNotPrincipal, name: "NotPrincipal deny binds bob", who: bob, key: doc(stmt("Allow", aws(acctA), q("kms:*"), q("*"), ""), `{"Effect":"Deny","NotPrincipal":`+aws(aliceARN, "arn:aws:iam::111122223333:root")+`,"Action":"kms:*","Resource":"*"}`), iam: []string{kmsAll}, want: ExplicitDenyResource},
		{ref: refNotPrincipal, name: "NotPrincipal without the account still binds alice", who: alice, key: doc(stmt("Allow", aws(aliceARN), q("kms:*"), q("*"), ""), `{"Effect":"Deny","NotPrincipal":`+aws(aliceARN)+`,"Action":"kms:*","Resource":"*"}`), want: ExplicitDenyResource},
		{ref: refNotPrincipal, name: "NotPrincipal with session, role and account spares the session", who: app1, key: doc(stmt("Allow", aws(roleARN), q("kms:*"), q("*"), ""), `{"Effect":"Deny","NotPrincipal":`+aws(s1ARN, roleARN, acctA)+`,"Action":"kms:*","Resource":"*"}`), want: AllowedByKeyPolicy},
		{ref: refNotPrincipal, name: "NotPrincipal without the role binds the session", who: app1, key: doc(stmt("Allow", aws(roleARN), q("kms:*"), q("*"), ""), `{"Effect":"Deny","NotPrincipal":`+aws(s1ARN, acctA)+`,"Action":"kms:*","Resource":"*"}`), want: ExplicitDenyResource},
		{ref: refNotPrincipal, name: "NotPrincipal of the account spares the root user", who: rootA, key: doc(stmt("Allow", aws(acctA), q("kms:*"), q("*"), ""), `{"Effect":"Deny","NotPrincipal":`+aws(acctA)+`,"Action":"kms:*","Resource":"*"}`), want: AllowedAsAccountRoot},
		{ref: refNotPrincipal, name: "NotPrincipal of the account binds alice", who: alice, key: doc(stmt("Allow", aws(aliceARN), q("kms:*"), q("*"), ""), `{"Effect":"Deny","NotPrincipal":`+aws(acctA)+`,"Action":"kms:*","Resource":"*"}`), want: ExplicitDenyResource},
		{ref: refNotPrincipal, name: "NotPrincipal allow reaches others directly", who: alice, key: doc(`{"Effect":"Allow","NotPrincipal":` + aws(bobARN) + `,"Action":"kms:*","Resource":"*"}`), want: AllowedByKeyPolicy},
		{ref: refNotPrincipal, name: `NotPrincipal "*" matches nobody`, who: alice, key: doc(stmt("Allow", aws(aliceARN), q("kms:*"), q("*"), ""), `{"Effect":"Deny","NotPrincipal":"*","Action":"kms:*","Resource":"*"}`), want: AllowedByKeyPolicy},
		{ref: refNotAction, name: "NotAction allow covers other actions", who: alice, key: doc(`{"Effect":"Allow","Principal":` + aws(aliceARN) + `,"NotAction":"kms:ScheduleKeyDeletion","Resource":"*"}`), want: AllowedByKeyPolicy},
		{ref: refNotAction, name: "NotAction allow excludes its action", who: alice, key: doc(`{"Effect":"Allow","Principal":` + aws(aliceARN) + `,"NotAction":"kms:ScheduleKeyDeletion","Resource":"*"}`), action: "kms:ScheduleKeyDeletion", want: NoResourcePolicyAllows},
		{ref: refNotAction, name: "NotAction deny blocks the rest", who: alice, key: doc(stmt("Allow", aws(aliceARN), q("kms:*"), q("*"), ""), `{"Effect":"Deny","Principal":`+aws(aliceARN)+`,"NotAction":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}`), action: "kms:PutKeyPolicy", want: ExplicitDenyResource},
		{ref: refNotAction, name: "NotAction deny spares its actions", who: alice, key: doc(stmt("Allow", aws(aliceARN), q("kms:*"), q("*"), ""), `{"Effect":"Deny","Principal":`+aws(aliceARN)+`,"NotAction":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}`), action: "kms:Decrypt", want: AllowedByKeyPolicy},
		{ref: refNotAction, name: "NotAction with a wildcard", who: alice, key: doc(`{"Effect":"Allow","Principal":` + aws(aliceARN) + `,"NotAction":"kms:Schedule*","Resource":"*"}`), action: "kms:ScheduleKeyDeletion", want: NoResourcePolicyAllows},
		{ref: refNotResource, name: "IAM NotResource another key", who: alice, iam: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","NotResource":"` + otherKey + `"}}`}, want: AllowedByIdentityPolicy},
		{ref: refNotResource, name: "IAM NotResource this key", who: alice, iam: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","NotResource":"` + keyARN + `"}}`}, want: NoIdentityPolicyAllows},
		{ref: refNotResource, name: `IAM NotResource "*"`, who: alice, iam: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","NotResource":"*"}}`}, want: NoIdentityPolicyAllows},
		{ref: refNotResource, name: "IAM deny NotResource spares the listed key", who: alice, iam: []string{kmsAll, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"kms:*","NotResource":["` + keyARN + `"]}}`}, want: AllowedByIdentityPolicy},
		{ref: refNotResource, name: "IAM deny NotResource binds other keys", who: alice, res: otherKey, iam: []string{kmsAll, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"kms:*","NotResource":["` + keyARN + `"]}}`}, want: ExplicitDenyIdentity},

		// --- Wildcards and case in actions and resources.
		{ref: refAction, name: "kms:Generate* covers GenerateDataKey", who: alice, action: "kms:GenerateDataKey", iam: []string{iamAllow("kms:Generate*", keyARN)}, want: AllowedByIdentityPolicy},
		{ref: refDefault, name: "kms:GenerateDataKey* covers the pair variant", who: alice, action: "kms:GenerateDataKeyPairWithoutPlaintext", iam: []string{iamAllow("kms:GenerateDataKey*", keyARN)}, want: AllowedByIdentityPolicy},
		{ref: refDefault, name: "kms:ReEncrypt* covers ReEncryptFrom", who: alice, action: "kms:ReEncryptFrom", iam: []string{iamAllow("kms:ReEncrypt*", keyARN)}, want: AllowedByIdentityPolicy},
		{ref: refDefault, name: "kms:Get* does not cover DescribeKey", who: alice, action: "kms:DescribeKey", iam: []string{iamAllow("kms:Get*", keyARN)}, want: NoIdentityPolicyAllows},
		{ref: refDefault, name: "kms:Create* covers CreateGrant", who: alice, action: "kms:CreateGrant", key: doc(stmt("Allow", aws(aliceARN), q("kms:Create*"), q("*"), "")), want: AllowedByKeyPolicy},
		{ref: refDefault, name: "kms:Delete* does not cover ScheduleKeyDeletion", who: alice, action: "kms:ScheduleKeyDeletion", key: doc(stmt("Allow", aws(aliceARN), q("kms:Delete*"), q("*"), "")), want: NoResourcePolicyAllows},
		{ref: refAction, name: "wildcard inside the name", who: alice, action: "kms:DescribeKey", iam: []string{iamAllow("kms:*Key", keyARN)}, want: AllowedByIdentityPolicy},
		{ref: refAction, name: "wildcard inside the name, no match", who: alice, action: "kms:ScheduleKeyDeletion", iam: []string{iamAllow("kms:*Key", keyARN)}, want: NoIdentityPolicyAllows},
		{ref: refAction, name: "? is one character", who: alice, iam: []string{iamAllow("kms:?ncrypt", keyARN)}, want: AllowedByIdentityPolicy},
		{ref: refAction, name: "? is exactly one character", who: alice, action: "kms:Decrypt", iam: []string{iamAllow("kms:?ncrypt", keyARN)}, want: NoIdentityPolicyAllows},
		{ref: refAction, name: "action names ignore case (upper)", who: alice, iam: []string{iamAllow("KMS:ENCRYPT", keyARN)}, want: AllowedByIdentityPolicy},
		{ref: refAction, name: "action names ignore case (lower)", who: alice, key: doc(stmt("Allow", aws(aliceARN), q("kms:encrypt"), q("*"), "")), want: AllowedByKeyPolicy},
		{ref: refAction, name: `Action "*"`, who: alice, key: doc(stmt("Allow", aws(aliceARN), q("*"), q("*"), "")), action: "kms:PutKeyPolicy", want: AllowedByKeyPolicy},
		{ref: refAction, name: "another service's action", who: alice, key: doc(stmt("Allow", aws(aliceARN), q("s3:*"), q("*"), "")), want: NoResourcePolicyAllows},
		{ref: refResource, name: "ARNs are case-sensitive", who: alice, iam: []string{iamAllow("kms:*", "arn:aws:kms:us-east-1:111122223333:KEY/*")}, want: NoIdentityPolicyAllows},
		{ref: refResource, name: "? in the Region part", who: alice, iam: []string{iamAllow("kms:*", "arn:aws:kms:us-east-?:111122223333:key/*")}, want: AllowedByIdentityPolicy},
		{ref: refResource, name: "prefix of the key ID", who: alice, iam: []string{iamAllow("kms:*", "arn:aws:kms:*:111122223333:key/1234*")}, want: AllowedByIdentityPolicy},
		{ref: refResource, name: "every resource of the account", who: alice, iam: []string{iamAllow("kms:*", "arn:aws:kms:us-east-1:111122223333:*")}, want: AllowedByIdentityPolicy},
		{ref: refIAMBest, name: "alias/* never matches a key", who: alice, iam: []string{iamAllow("kms:*", "arn:aws:kms:us-east-1:111122223333:alias/*")}, want: NoIdentityPolicyAllows},
		{ref: refResource, name: "a wildcard does not cross an ARN part", who: alice, iam: []string{iamAllow("kms:*", "arn:aws:kms:*:key/*")}, want: NoIdentityPolicyAllows},

		// --- String condition operators.
		{ref: "§9.10; " + refKMSCond, name: "EC key name ignores case", who: alice, key: kpAliceIf(cond("StringEquals", "kms:EncryptionContext:AppName", q("ExampleApp"))), ctx: ec("appname", "ExampleApp"), want: AllowedByKeyPolicy},
		{ref: "§9.10; " + refKMSCond, name: "EC value is case-sensitive", who: alice, key: kpAliceIf(cond("StringEquals", "kms:EncryptionContext:AppName", q("ExampleApp"))), ctx: ec("AppName", "exampleapp"), want: NoResourcePolicyAllows},
		{ref: "§9.10; " + refOps, name: "no encryption context", who: alice, key: kpAliceIf(cond("StringEquals", "kms:EncryptionContext:AppName", q("ExampleApp"))), want: NoResourcePolicyAllows},
		{ref: refOps, name: "condition key name in upper case", who: alice, key: kpAliceIf(cond("StringEquals", "KMS:ENCRYPTIONCONTEXT:APPNAME", q("ExampleApp"))), ctx: ec("AppName", "ExampleApp"), want: AllowedByKeyPolicy},
		{ref: refOps, name: "StringEquals: one of several values", who: alice, key: kpAliceIf(cond("StringEquals", "kms:EncryptionContext:Dept", `["HR","IT"]`)), ctx: ec("Dept", "IT"), want: AllowedByKeyPolicy},
		{ref: refOps, name: "StringEquals: * is no wildcard", who: alice, key: kpAliceIf(cond("StringEquals", "kms:EncryptionContext:Dept", q("*"))), ctx: ec("Dept", "IT"), want: NoResourcePolicyAllows},
		{ref: refOps, name: "StringNotEquals: key absent", who: alice, key: kpAliceIf(cond("StringNotEquals", "kms:EncryptionContext:Dept", q("HR"))), want: AllowedByKeyPolicy},
		{ref: refOps, name: "StringNotEquals: equal value", who: alice, key: kpAliceIf(cond("StringNotEquals", "kms:EncryptionContext:Dept", q("HR"))), ctx: ec("Dept", "HR"), want: NoResourcePolicyAllows},
		{ref: refMulti, name: "StringNotEquals: values are NORed", who: alice, key: kpAliceIf(cond("StringNotEquals", "kms:EncryptionContext:Dept", `["HR","IT"]`)), ctx: ec("Dept", "IT"), want: NoResourcePolicyAllows},
		{ref: refMulti, name: "StringNotEquals: none of the values", who: alice, key: kpAliceIf(cond("StringNotEquals", "kms:EncryptionContext:Dept", `["HR","IT"]`)), ctx: ec("Dept", "Ops"), want: AllowedByKeyPolicy},
		{ref: refOps, name: "StringEqualsIgnoreCase", who: alice, key: kpAliceIf(cond("StringEqualsIgnoreCase", "kms:EncryptionContext:AppName", q("ExampleApp"))), ctx: ec("AppName", "EXAMPLEAPP"), want: AllowedByKeyPolicy},
		{ref: refOps, name: "StringNotEqualsIgnoreCase", who: alice, key: kpAliceIf(cond("StringNotEqualsIgnoreCase", "kms:EncryptionContext:AppName", q("ExampleApp"))), ctx: ec("AppName", "exampleapp"), want: NoResourcePolicyAllows},
		{ref: refOps, name: "StringLike with *", who: alice, key: kpAliceIf(cond("StringLike", "kms:EncryptionContext:AppName", q("Ex*App"))), ctx: ec("AppName", "ExampleApp"), want: AllowedByKeyPolicy},
		{ref: refOps, name: "StringLike with ?", who: alice, key: kpAliceIf(cond("StringLike", "kms:EncryptionContext:AppName", q("Ex?mpleApp"))), ctx: ec("AppName", "ExampleApp"), want: AllowedByKeyPolicy},
		{ref: refOps, name: "StringLike is case-sensitive", who: alice, key: kpAliceIf(cond("StringLike", "kms:EncryptionContext:AppName", q("ex*"))), ctx: ec("AppName", "ExampleApp"), want: NoResourcePolicyAllows},
		{ref: refOps, name: "StringNotLike: matching value", who: alice, key: kpAliceIf(cond("StringNotLike", "kms:EncryptionContext:AppName", q("Ex*"))), ctx: ec("AppName", "ExampleApp"), want: NoResourcePolicyAllows},
		{ref: refOps, name: "StringNotLike: other value", who: alice, key: kpAliceIf(cond("StringNotLike", "kms:EncryptionContext:AppName", q("Ex*"))), ctx: ec("AppName", "Other"), want: AllowedByKeyPolicy},
		{ref: refMulti, name: "two keys of one operator are ANDed", who: alice, key: kpAliceIf(`{"StringEquals":{"kms:EncryptionContext:A":"1","kms:EncryptionContext:B":"2"}}`), ctx: ctx("kms:EncryptionContext:A", "1", "kms:EncryptionContext:B", "2"), want: AllowedByKeyPolicy},
		{ref: refMulti, name: "two keys, one missing", who: alice, key: kpAliceIf(`{"StringEquals":{"kms:EncryptionContext:A":"1","kms:EncryptionContext:B":"2"}}`), ctx: ec("A", "1"), want: NoResourcePolicyAllows},
		{ref: refMulti, name: "two operators are ANDed", who: alice, key: kpAliceIf(`{"StringEquals":{"kms:EncryptionContext:A":"1"},"StringLike":{"kms:EncryptionAlgorithm":"RSAES_*"}}`), ctx: ctx("kms:EncryptionContext:A", "1", "kms:EncryptionAlgorithm", "SYMMETRIC_DEFAULT"), want: NoResourcePolicyAllows},
		{ref: refKMSCond, name: "kms:CallerAccount", who: alice, key: kpAllow(q("*"), cond("StringEquals", "kms:CallerAccount", q(acctA))), ctx: ctx("kms:CallerAccount", acctA), want: AllowedByKeyPolicy},
		{ref: "§9.12; " + refKMSCond, name: "kms:RequestAlias via the alias", who: alice, key: kpAliceIf(cond("StringEquals", "kms:RequestAlias", q("alias/finance"))), ctx: ctx("kms:RequestAlias", "alias/finance"), want: AllowedByKeyPolicy},
		{ref: "§9.12; " + refKMSCond, name: "kms:RequestAlias via the key ARN", who: alice, key: kpAliceIf(cond("StringEquals", "kms:RequestAlias", q("alias/finance"))), want: NoResourcePolicyAllows},
		{ref: refKMSCond, name: "kms:EncryptionAlgorithm", who: alice, action: "kms:Decrypt", key: kpAliceIf(cond("StringEquals", "kms:EncryptionAlgorithm", q("SYMMETRIC_DEFAULT"))), ctx: ctx("kms:EncryptionAlgorithm", "SYMMETRIC_DEFAULT"), want: AllowedByKeyPolicy},
		{ref: refKMSCond, name: "kms:ViaService with IAM delegation", who: alice, key: kpAllow(aws(acctA), cond("StringEquals", "kms:ViaService", q("ec2.us-east-1.amazonaws.com"))), iam: []string{kmsAll}, ctx: ctx("kms:ViaService", "ec2.us-east-1.amazonaws.com"), want: AllowedByIdentityPolicy},
		{ref: refKMSCond, name: "kms:ViaService absent for a direct call", who: alice, key: kpAllow(aws(acctA), cond("StringEquals", "kms:ViaService", q("ec2.us-east-1.amazonaws.com"))), iam: []string{kmsAll}, want: NoResourcePolicyAllows},

		// --- Numeric.
		{ref: refKMSCond, name: "NumericLessThanEquals", who: alice, action: "kms:ScheduleKeyDeletion", key: kpAliceIf(cond("NumericLessThanEquals", "kms:ScheduleKeyDeletionPendingWindowInDays", q("30"))), ctx: ctx("kms:ScheduleKeyDeletionPendingWindowInDays", "30"), want: AllowedByKeyPolicy},
		{ref: refOps, name: "NumericGreaterThan equal value", who: alice, key: kpAliceIf(cond("NumericGreaterThan", "kms:RotationPeriodInDays", q("90"))), ctx: ctx("kms:RotationPeriodInDays", "90"), want: NoResourcePolicyAllows},
		{ref: refOps, name: "NumericGreaterThanEquals, JSON number", who: alice, key: kpAliceIf(cond("NumericGreaterThanEquals", "kms:RotationPeriodInDays", "90")), ctx: ctx("kms:RotationPeriodInDays", "365"), want: AllowedByKeyPolicy},
		{ref: refOps, name: "NumericEquals compares numbers, not text", who: alice, key: kpAliceIf(cond("NumericEquals", "kms:RotationPeriodInDays", q("10"))), ctx: ctx("kms:RotationPeriodInDays", "10.0"), want: AllowedByKeyPolicy},
		{ref: refOps, name: "NumericLessThan decimal", who: alice, key: kpAliceIf(cond("NumericLessThan", "kms:RotationPeriodInDays", q("7.5"))), ctx: ctx("kms:RotationPeriodInDays", "7"), want: AllowedByKeyPolicy},
		{ref: refOps, name: "NumericNotEquals key absent", who: alice, key: kpAliceIf(cond("NumericNotEquals", "kms:RotationPeriodInDays", q("7"))), want: AllowedByKeyPolicy},
		{ref: refOps, name: "NumericNotEquals equal value", who: alice, key: kpAliceIf(cond("NumericNotEquals", "kms:RotationPeriodInDays", q("7"))), ctx: ctx("kms:RotationPeriodInDays", "7"), want: NoResourcePolicyAllows},
		{ref: refOps, name: "NumericLessThan, request value not a number", who: alice, key: kpAliceIf(cond("NumericLessThan", "kms:RotationPeriodInDays", q("30"))), ctx: ctx("kms:RotationPeriodInDays", "soon"), want: NoResourcePolicyAllows},
		{ref: refGlobal, name: "NumericLessThan on aws:EpochTime", who: alice, at: t2025, key: kpAliceIf(cond("NumericLessThan", "aws:EpochTime", q("1893456000"))), want: AllowedByKeyPolicy},

		// --- Date.
		{ref: refOps, name: "DateLessThan aws:CurrentTime", who: alice, at: t2025, key: kpAliceIf(cond("DateLessThan", "aws:CurrentTime", q("2030-01-01T00:00:00Z"))), want: AllowedByKeyPolicy},
		{ref: refOps, name: "DateGreaterThan aws:CurrentTime", who: alice, at: t2025, key: kpAliceIf(cond("DateGreaterThan", "aws:CurrentTime", q("2030-01-01T00:00:00Z"))), want: NoResourcePolicyAllows},
		{ref: refOps, name: "aws:CurrentTime absent without a request time", who: alice, key: kpAliceIf(cond("DateLessThan", "aws:CurrentTime", q("2030-01-01T00:00:00Z"))), want: NoResourcePolicyAllows},
		{ref: refOps, name: "DateEquals: epoch in the policy, ISO in the request", who: alice, action: "kms:ImportKeyMaterial", key: kpAliceIf(cond("DateEquals", "kms:ValidTo", q("1748736000"))), ctx: ctx("kms:ValidTo", "2025-06-01T00:00:00Z"), want: AllowedByKeyPolicy},
		{ref: refKMSCond, name: "DateLessThan kms:ValidTo in epoch seconds", who: alice, action: "kms:ImportKeyMaterial", key: kpAliceIf(cond("DateLessThan", "kms:ValidTo", q("2026-01-01T00:00:00Z"))), ctx: ctx("kms:ValidTo", "1748736000"), want: AllowedByKeyPolicy},
		{ref: refOps, name: "DateEquals with a zone offset", who: alice, at: t2025, key: kpAliceIf(cond("DateEquals", "aws:CurrentTime", q("2025-06-01T02:00:00+02:00"))), want: AllowedByKeyPolicy},
		{ref: refOps, name: "DateEquals with a date alone", who: alice, at: t2025, key: kpAliceIf(cond("DateEquals", "aws:CurrentTime", q("2025-06-01"))), want: AllowedByKeyPolicy},
		{ref: refOps, name: "DateGreaterThanEquals aws:EpochTime", who: alice, at: t2025, key: kpAliceIf(cond("DateGreaterThanEquals", "aws:EpochTime", q("1748736000"))), want: AllowedByKeyPolicy},
		{ref: refOps, name: "DateLessThanEquals with fractional seconds", who: alice, at: t2025, key: kpAliceIf(cond("DateLessThanEquals", "aws:CurrentTime", q("2025-05-31T23:59:59.999Z"))), want: NoResourcePolicyAllows},
		{ref: refOps, name: "DateNotEquals key absent", who: alice, key: kpAliceIf(cond("DateNotEquals", "kms:ValidTo", q("2025-06-01"))), want: AllowedByKeyPolicy},
		{ref: refOps, name: "DateGreaterThan aws:CurrentTime given in the context", who: alice, key: kpAliceIf(cond("DateGreaterThan", "aws:CurrentTime", q("2020-01-01T00:00:00Z"))), ctx: ctx("aws:CurrentTime", "2025-06-01T00:00:00Z"), want: AllowedByKeyPolicy},

		// --- Bool, Binary, IP.
		{ref: refDefault, name: "Bool GrantIsForAWSResource true", who: alice, action: "kms:CreateGrant", key: kpAliceIf(cond("Bool", "kms:GrantIsForAWSResource", q("true"))), ctx: ctx("kms:GrantIsForAWSResource", "true"), want: AllowedByKeyPolicy},
		{ref: refDefault, name: "Bool with a JSON true", who: alice, action: "kms:CreateGrant", key: kpAliceIf(cond("Bool", "kms:GrantIsForAWSResource", "true")), ctx: ctx("kms:GrantIsForAWSResource", "true"), want: AllowedByKeyPolicy},
		{ref: refDefault, name: "Bool false request", who: alice, action: "kms:CreateGrant", key: kpAliceIf(cond("Bool", "kms:GrantIsForAWSResource", q("true"))), ctx: ctx("kms:GrantIsForAWSResource", "false"), want: NoResourcePolicyAllows},
		{ref: refOps, name: "Bool key absent", who: alice, action: "kms:CreateGrant", key: kpAliceIf(cond("Bool", "kms:GrantIsForAWSResource", q("true"))), want: NoResourcePolicyAllows},
		{ref: refOps, name: "BinaryEquals", who: alice, key: kpAliceIf(cond("BinaryEquals", "example:Blob", q("QmluYXJ5VmFsdWVJbkJhc2U2NA=="))), ctx: ctx("example:Blob", "BinaryValueInBase64"), want: AllowedByKeyPolicy},
		{ref: refOps, name: "BinaryEquals mismatch", who: alice, key: kpAliceIf(cond("BinaryEquals", "example:Blob", q("QmluYXJ5VmFsdWVJbkJhc2U2NA=="))), ctx: ctx("example:Blob", "other"), want: NoResourcePolicyAllows},
		{ref: refOps, name: "IpAddress in the range", who: alice, key: kpAliceIf(cond("IpAddress", "aws:SourceIp", q("203.0.113.0/24"))), ctx: ctx("aws:SourceIp", "203.0.113.9"), want: AllowedByKeyPolicy},
		{ref: refOps, name: "IpAddress outside the range", who: alice, key: kpAliceIf(cond("IpAddress", "aws:SourceIp", q("203.0.113.0/24"))), ctx: ctx("aws:SourceIp", "198.51.100.1"), want: NoResourcePolicyAllows},
		{ref: refOps, name: "NotIpAddress outside the range", who: alice, key: kpAliceIf(cond("NotIpAddress", "aws:SourceIp", q("203.0.113.0/24"))), ctx: ctx("aws:SourceIp", "198.51.100.1"), want: AllowedByKeyPolicy},
		{ref: refOps, name: "IpAddress IPv6", who: alice, key: kpAliceIf(cond("IpAddress", "aws:SourceIp", `["203.0.113.0/24","2001:DB8:1234:5678::/64"]`)), ctx: ctx("aws:SourceIp", "2001:db8:1234:5678::1"), want: AllowedByKeyPolicy},
		{ref: refOps, name: "IpAddress: an address alone is /32", who: alice, key: kpAliceIf(cond("IpAddress", "aws:SourceIp", q("203.0.113.5"))), ctx: ctx("aws:SourceIp", "203.0.113.6"), want: NoResourcePolicyAllows},
		{ref: refOps, name: "IpAddress without aws:SourceIp (VPC endpoint)", who: alice, key: kpAliceIf(cond("IpAddress", "aws:SourceIp", q("203.0.113.0/24"))), want: NoResourcePolicyAllows},
		{ref: refOps, name: "NotIpAddress without aws:SourceIp", who: alice, key: kpAliceIf(cond("NotIpAddress", "aws:SourceIp", q("203.0.113.0/24"))), want: AllowedByKeyPolicy},

		// --- ARN operators.
		{ref: refGlobal, name: "ArnLike aws:PrincipalArn is the role for a session", who: app1, key: kpAllow(q("*"), cond("ArnLike", "aws:PrincipalArn", q("arn:aws:iam::111122223333:role/app"))), want: AllowedByKeyPolicy},
		{ref: refOps, name: "ArnEquals takes wildcards too", who: app1, key: kpAllow(q("*"), cond("ArnEquals", "aws:PrincipalArn", q("arn:aws:iam::*:role/*"))), want: AllowedByKeyPolicy},
		{ref: refOps, name: "ArnLike matches part by part", who: alice, key: kpAliceIf(cond("ArnLike", "aws:SourceArn", q("arn:aws:someservice:*:111122223333:finance/*"))), ctx: ctx("aws:SourceArn", "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"), want: NoResourcePolicyAllows},
		{ref: refOps, name: "StringLike crosses parts where ArnLike does not", who: alice, key: kpAliceIf(cond("StringLike", "aws:SourceArn", q("arn:aws:someservice:*:111122223333:finance/*"))), ctx: ctx("aws:SourceArn", "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"), want: AllowedByKeyPolicy},
		{ref: refOps, name: "ArnNotLike key absent", who: alice, key: kpAliceIf(cond("ArnNotLike", "aws:SourceArn", q("arn:aws:sns:*:*:*"))), want: AllowedByKeyPolicy},
		{ref: refOps, name: "ArnNotEquals matching ARN", who: app1, key: kpAllow(q("*"), cond("ArnNotEquals", "aws:PrincipalArn", q(roleARN))), want: NoResourcePolicyAllows},
		{ref: refOps, name: "ArnLike is case-sensitive", who: app1, key: kpAllow(q("*"), cond("ArnLike", "aws:PrincipalArn", q("arn:aws:iam::111122223333:role/APP"))), want: NoResourcePolicyAllows},

		// --- Null and IfExists.
		{ref: refOps, name: "Null true, key absent", who: alice, key: kpAliceIf(cond("Null", "kms:EncryptionContext:Dept", q("true"))), want: AllowedByKeyPolicy},
		{ref: refOps, name: "Null true, key present", who: alice, key: kpAliceIf(cond("Null", "kms:EncryptionContext:Dept", q("true"))), ctx: ec("Dept", "IT"), want: NoResourcePolicyAllows},
		{ref: refOps, name: "Null false, key present", who: alice, key: kpAliceIf(cond("Null", "kms:EncryptionContext:Dept", "false")), ctx: ec("Dept", "IT"), want: AllowedByKeyPolicy},
		{ref: refOps, name: "Null false, key absent", who: alice, key: kpAliceIf(cond("Null", "kms:EncryptionContext:Dept", q("false"))), want: NoResourcePolicyAllows},
		{ref: refMulti, name: "Null false, multi-valued key empty", who: alice, key: kpAliceIf(cond("Null", "kms:EncryptionContextKeys", q("false"))), ctx: multi("kms:EncryptionContextKeys"), want: NoResourcePolicyAllows},
		{ref: refOps, name: "StringEqualsIfExists, key absent", who: alice, key: kpAliceIf(cond("StringEqualsIfExists", "kms:EncryptionContext:Dept", q("IT"))), want: AllowedByKeyPolicy},
		{ref: refOps, name: "StringEqualsIfExists, other value", who: alice, key: kpAliceIf(cond("StringEqualsIfExists", "kms:EncryptionContext:Dept", q("IT"))), ctx: ec("Dept", "HR"), want: NoResourcePolicyAllows},
		{ref: refOps, name: "Deny with StringNotEqualsIfExists still denies without the key", who: alice, key: doc(stmt("Allow", aws(aliceARN), q("kms:*"), q("*"), ""), stmt("Deny", q("*"), q("kms:*"), q("*"), cond("StringNotEqualsIfExists", "kms:EncryptionContext:Dept", q("IT")))), ctx: ec("Dept", "HR"), want: ExplicitDenyResource},
		{ref: refOps, name: "NumericLessThanIfExists, key absent", who: alice, key: kpAliceIf(cond("NumericLessThanIfExists", "kms:RotationPeriodInDays", q("30"))), want: AllowedByKeyPolicy},
		{ref: refOps, name: "IpAddressIfExists, key absent", who: alice, key: kpAliceIf(cond("IpAddressIfExists", "aws:SourceIp", q("203.0.113.0/24"))), want: AllowedByKeyPolicy},
		{ref: refOps, name: "BoolIfExists, key present and false", who: alice, key: kpAliceIf(cond("BoolIfExists", "kms:GrantIsForAWSResource", q("true"))), ctx: ctx("kms:GrantIsForAWSResource", "false"), want: NoResourcePolicyAllows},

		// --- Set operators.
		{ref: "§9.11; " + refKMSCond, name: "ForAllValues with an empty context", who: alice, key: kpAliceIf(cond("ForAllValues:StringEquals", "kms:EncryptionContextKeys", `["AppName"]`)), want: AllowedByKeyPolicy},
		{ref: "§9.11; " + refKMSCond, name: "ForAnyValue with an empty context", who: alice, key: kpAliceIf(cond("ForAnyValue:StringEquals", "kms:EncryptionContextKeys", `["AppName"]`)), want: NoResourcePolicyAllows},
		{ref: refMulti, name: "ForAllValues with a present, empty key", who: alice, key: kpAliceIf(cond("ForAllValues:StringEquals", "kms:EncryptionContextKeys", `["AppName"]`)), ctx: multi("kms:EncryptionContextKeys"), want: AllowedByKeyPolicy},
		{ref: refKMSCond, name: "ForAllValues with an extra key", who: alice, key: kpAliceIf(cond("ForAllValues:StringEquals", "kms:EncryptionContextKeys", `["AppName"]`)), ctx: multi("kms:EncryptionContextKeys", "AppName", "Other"), want: NoResourcePolicyAllows},
		{ref: refKMSCond, name: "ForAllValues with a subset", who: alice, key: kpAliceIf(cond("ForAllValues:StringEquals", "kms:EncryptionContextKeys", `["AppName","Dept"]`)), ctx: multi("kms:EncryptionContextKeys", "Dept"), want: AllowedByKeyPolicy},
		{ref: refKMSCond, name: "ForAnyValue with one match", who: alice, key: kpAliceIf(cond("ForAnyValue:StringEquals", "kms:EncryptionContextKeys", `["AppName"]`)), ctx: multi("kms:EncryptionContextKeys", "Other", "AppName"), want: AllowedByKeyPolicy},
		{ref: refMulti, name: "ForAllValues:StringNotLike deny, all keys key1*", who: alice, key: doc(stmt("Allow", aws(aliceARN), q("kms:*"), q("*"), ""), stmt("Deny", q("*"), q("kms:TagResource"), q("*"), cond("ForAllValues:StringNotLike", "aws:TagKeys", q("key1*")))), action: "kms:TagResource", ctx: multi("aws:TagKeys", "key1:hr", "key1:personnel"), want: AllowedByKeyPolicy},
		{ref: refMulti, name: "ForAllValues:StringNotLike deny, other key", who: alice, key: doc(stmt("Allow", aws(aliceARN), q("kms:*"), q("*"), ""), stmt("Deny", q("*"), q("kms:TagResource"), q("*"), cond("ForAllValues:StringNotLike", "aws:TagKeys", q("key1*")))), action: "kms:TagResource", ctx: multi("aws:TagKeys", "key2:audit"), want: ExplicitDenyResource},
		{ref: refMulti, name: "ForAllValues:StringNotLike deny, no tag keys", who: alice, key: doc(stmt("Allow", aws(aliceARN), q("kms:*"), q("*"), ""), stmt("Deny", q("*"), q("kms:TagResource"), q("*"), cond("ForAllValues:StringNotLike", "aws:TagKeys", q("key1*")))), action: "kms:TagResource", want: ExplicitDenyResource},
		{ref: refMulti, name: "ForAnyValue:StringNotEquals, one value outside", who: alice, key: kpAliceIf(cond("ForAnyValue:StringNotEquals", "aws:TagKeys", `["a"]`)), ctx: multi("aws:TagKeys", "a", "b"), want: AllowedByKeyPolicy},
		{ref: refMulti, name: "ForAnyValue:StringNotEquals, every value listed", who: alice, key: kpAliceIf(cond("ForAnyValue:StringNotEquals", "aws:TagKeys", `["a","b"]`)), ctx: multi("aws:TagKeys", "a", "b"), want: NoResourcePolicyAllows},
		{ref: refMulti, name: "ForAnyValue:StringNotEquals, key absent", who: alice, key: kpAliceIf(cond("ForAnyValue:StringNotEquals", "aws:TagKeys", `["a"]`)), want: NoResourcePolicyAllows},
		{ref: refOps, name: "ForAnyValue:StringEqualsIfExists, key absent", who: alice, key: kpAliceIf(cond("ForAnyValue:StringEqualsIfExists", "aws:TagKeys", `["a"]`)), want: AllowedByKeyPolicy},
		{ref: refMulti, name: "ForAllValues:StringLike with a wildcard", who: alice, key: kpAliceIf(cond("ForAllValues:StringLike", "aws:TagKeys", `["Created*"]`)), ctx: multi("aws:TagKeys", "CreatedBy", "CreatedAt"), want: AllowedByKeyPolicy},
		{ref: refOurs + " (multi-valued key without a set operator)", name: "StringEquals on a multi-valued key", who: alice, key: kpAliceIf(cond("StringEquals", "aws:TagKeys", q("a"))), ctx: multi("aws:TagKeys", "b", "a"), want: AllowedByKeyPolicy},
		{ref: refOurs + " (multi-valued key without a set operator)", name: "StringNotEquals on a multi-valued key", who: alice, key: kpAliceIf(cond("StringNotEquals", "aws:TagKeys", q("a"))), ctx: multi("aws:TagKeys", "b", "a"), want: NoResourcePolicyAllows},

		// --- Policy variables.
		{ref: refVars, name: "${aws:username} in a condition", who: alice, key: kpAllow(q("*"), cond("StringEquals", "kms:EncryptionContext:Owner", q("${aws:username}"))), ctx: ec("Owner", "alice"), want: AllowedByKeyPolicy},
		{ref: refVars, name: "${aws:username} of another user", who: bob, key: kpAllow(q("*"), cond("StringEquals", "kms:EncryptionContext:Owner", q("${aws:username}"))), ctx: ec("Owner", "alice"), want: NoResourcePolicyAllows},
		{ref: refVars, name: "${aws:username} is absent for a role session", who: app1, key: kpAllow(q("*"), cond("StringNotEquals", "kms:EncryptionContext:Owner", q("${aws:username}"))), ctx: ec("Owner", "alice"), want: NoResourcePolicyAllows},
		{ref: refVars, name: "default value when the tag is absent", who: alice, key: kpAllow(q("*"), cond("StringEquals", "kms:EncryptionContext:Team", q("${aws:PrincipalTag/team, 'company-wide'}"))), ctx: ec("Team", "company-wide"), want: AllowedByKeyPolicy},
		{ref: refVars, name: "tag value when present", who: alice, key: kpAllow(q("*"), cond("StringEquals", "kms:EncryptionContext:Team", q("${aws:PrincipalTag/team, 'company-wide'}"))), ctx: ctx("kms:EncryptionContext:Team", "company-wide", "aws:PrincipalTag/team", "red"), want: NoResourcePolicyAllows},
		{ref: refVersion, name: "Version 2008-10-17: variables are literal", who: alice, key: `{"Version":"2008-10-17","Statement":[` + stmt("Allow", aws(aliceARN), q("kms:*"), q("*"), cond("StringEquals", "kms:EncryptionContext:Owner", q("${aws:username}"))) + `]}`, ctx: ec("Owner", "${aws:username}"), want: AllowedByKeyPolicy},
		{ref: refVars, name: "no Version: variables are literal", who: alice, key: `{"Statement":[` + stmt("Allow", aws(aliceARN), q("kms:*"), q("*"), cond("StringEquals", "kms:EncryptionContext:Owner", q("${aws:username}"))) + `]}`, ctx: ec("Owner", "alice"), want: NoResourcePolicyAllows},
		{ref: refVars, name: "${*} is a literal asterisk", who: alice, key: kpAliceIf(cond("StringLike", "kms:EncryptionContext:P", q("a${*}b"))), ctx: ec("P", "axxb"), want: NoResourcePolicyAllows},
		{ref: refVars, name: "${*} matches an asterisk", who: alice, key: kpAliceIf(cond("StringLike", "kms:EncryptionContext:P", q("a${*}b"))), ctx: ec("P", "a*b"), want: AllowedByKeyPolicy},
		{ref: refVars, name: "${?} and ${$}", who: alice, key: kpAliceIf(cond("StringEquals", "kms:EncryptionContext:P", q("${$}x${?}"))), ctx: ec("P", "$x?"), want: AllowedByKeyPolicy},
		{ref: refVars, name: "unresolvable variable voids a Deny", who: app1, key: doc(stmt("Allow", aws(roleARN), q("kms:*"), q("*"), ""), stmt("Deny", q("*"), q("kms:*"), q("*"), cond("StringNotEquals", "kms:EncryptionContext:Owner", q("${aws:username}")))), ctx: ec("Owner", "x"), want: AllowedByKeyPolicy},
		{ref: refVars, name: "variable in the IAM Resource", who: alice, iam: []string{iamAllow("kms:*", "arn:aws:kms:us-east-1:111122223333:key/${aws:PrincipalTag/key}")}, ctx: ctx("aws:PrincipalTag/key", keyID), want: AllowedByIdentityPolicy},
		{ref: refVars, name: "variable in the IAM Resource, other value", who: alice, iam: []string{iamAllow("kms:*", "arn:aws:kms:us-east-1:111122223333:key/${aws:PrincipalTag/key}")}, ctx: ctx("aws:PrincipalTag/key", "nope"), want: NoIdentityPolicyAllows},
		{ref: refVars, name: "variable then wildcard in StringLike", who: alice, key: kpAllow(q("*"), cond("StringLike", "kms:EncryptionContext:Env", q("${aws:username}-*"))), ctx: ec("Env", "alice-prod"), want: AllowedByKeyPolicy},
		{ref: refOurs + " (a variable's value is literal)", name: "a variable's * is no wildcard", who: alice, key: kpAllow(q("*"), cond("StringLike", "kms:EncryptionContext:Env", q("${aws:PrincipalTag/p}"))), ctx: ctx("aws:PrincipalTag/p", "a*", "kms:EncryptionContext:Env", "abc"), want: NoResourcePolicyAllows},
		{ref: refVars, name: "variable in StringEqualsIgnoreCase", who: alice, key: kpAllow(q("*"), cond("StringEqualsIgnoreCase", "kms:EncryptionContext:Owner", q("${aws:username}"))), ctx: ec("Owner", "ALICE"), want: AllowedByKeyPolicy},
		{ref: refVars, name: "variable in ArnLike", who: app1, key: kpAllow(q("*"), cond("ArnLike", "aws:PrincipalArn", q("arn:aws:iam::${aws:PrincipalAccount}:role/*"))), want: AllowedByKeyPolicy},
		{ref: refGlobal, name: "aws:PrincipalType of a session", who: app1, key: kpAllow(q("*"), cond("StringEquals", "aws:PrincipalType", q("AssumedRole"))), want: AllowedByKeyPolicy},
		{ref: refGlobal, name: "aws:userid of a session", who: app1, key: kpAllow(q("*"), cond("StringLike", "aws:userid", q("AROAAPP:*"))), want: AllowedByKeyPolicy},
		{ref: refGlobal, name: "aws:PrincipalAccount", who: alice, key: kpAllow(q("*"), cond("StringEquals", "aws:PrincipalAccount", q(acctB))), want: NoResourcePolicyAllows},
		{ref: refGlobal, name: "aws:PrincipalArn of a user", who: alice, key: kpAllow(q("*"), cond("ArnEquals", "aws:PrincipalArn", q(aliceARN))), want: AllowedByKeyPolicy},

		// --- Cross-account.
		{ref: "§9.13; " + refCross, name: "B's bob, key policy allows B, IAM allows", who: bobB, key: kpAllow(aws("arn:aws:iam::444455556666:root"), ""), iam: []string{iamAllow("kms:Encrypt", keyARN)}, want: AllowedByIdentityPolicy},
		{ref: "§9.14; " + refCross, name: "B's bob without IAM", who: bobB, key: kpAllow(aws("arn:aws:iam::444455556666:root"), ""), want: NoIdentityPolicyAllows},
		{ref: "§9.14; " + refCross, name: "B's root", who: rootB, key: kpAllow(aws(acctB), ""), want: AllowedAsAccountRoot},
		{ref: refCross, name: "key policy names B's bob, no IAM", who: bobB, key: kpAllow(aws(bobBARN), ""), want: NoIdentityPolicyAllows},
		{ref: refCross, name: "key policy names B's bob, IAM allows", who: bobB, key: kpAllow(aws(bobBARN), ""), iam: []string{kmsAll}, want: AllowedByIdentityPolicy},
		{ref: "§9.15; " + refPerms, name: "ScheduleKeyDeletion is never cross-account", who: bobB, action: "kms:ScheduleKeyDeletion", key: kpAllow(aws(acctB), ""), iam: []string{kmsAll}, want: CrossAccountDenied},
		{ref: refCross, name: "key policy silent on B", who: bobB, iam: []string{kmsAll}, want: NoResourcePolicyAllows},
		{ref: refTrouble, name: "grant alone, cross-account", who: bobB, grant: true, action: "kms:Decrypt", want: AllowedByGrant},
		{ref: refPerms, name: "grant does not reach a non-cross-account action", who: bobB, grant: true, action: "kms:DisableKey", want: CrossAccountDenied},
		{ref: refCross, name: "CreateGrant cross-account", who: bobB, action: "kms:CreateGrant", key: kpAllow(aws(acctB), ""), iam: []string{kmsAll}, want: AllowedByIdentityPolicy},
		{ref: refCross, name: "GetKeyRotationStatus cross-account", who: bobB, action: "kms:GetKeyRotationStatus", key: kpAllow(aws(acctB), ""), iam: []string{kmsAll}, want: AllowedByIdentityPolicy},
		{ref: refPerms, name: "GetKeyPolicy is not cross-account", who: rootB, action: "kms:GetKeyPolicy", key: kpAllow(aws(acctB), ""), want: CrossAccountDenied},
		{ref: refCross, name: `Principal "*" across accounts needs IAM`, who: bobB, key: kpAllow(q("*"), ""), want: NoIdentityPolicyAllows},
		{ref: refCross, name: `Principal "*" across accounts with IAM`, who: bobB, key: kpAllow(q("*"), ""), iam: []string{kmsAll}, want: AllowedByIdentityPolicy},
		{ref: refCross, name: "key policy deny of account B", who: bobB, key: doc(stmt("Allow", aws(acctB), q("kms:*"), q("*"), ""), stmt("Deny", aws(acctB), q("kms:Decrypt"), q("*"), "")), iam: []string{kmsAll}, action: "kms:Decrypt", want: ExplicitDenyResource},
		{ref: refCross, name: "B's IAM may not reach A's key through A's default policy", who: bobB, iam: []string{kmsAll}, want: NoResourcePolicyAllows},

		// --- IAM-only permissions.
		{ref: refPerms, name: "CreateKey with IAM", who: alice, key: noKeyPolicy, action: "kms:CreateKey", iam: []string{iamAllow("kms:CreateKey", "*")}, want: AllowedByIdentityPolicy},
		{ref: "§9.17; " + refPerms, name: "CreateKey without IAM", who: alice, key: noKeyPolicy, action: "kms:CreateKey", want: NoIdentityPolicyAllows},
		{ref: refPerms, name: "CreateKey by the root user", who: rootA, key: noKeyPolicy, action: "kms:CreateKey", want: AllowedAsAccountRoot},
		{ref: "§9.17; " + refPerms, name: "ListKeys with key-policy rights only", who: alice, key: noKeyPolicy, action: "kms:ListKeys", iam: []string{iamAllow("kms:Encrypt", keyARN)}, want: NoIdentityPolicyAllows},
		{ref: refPerms, name: "IAM-only action needs Resource *", who: alice, key: noKeyPolicy, action: "kms:CreateKey", iam: []string{iamAllow("kms:CreateKey", "arn:aws:kms:*:111122223333:*")}, want: NoIdentityPolicyAllows},
		{ref: refPerms, name: "CreateAlias, alias half, IAM allows the alias", who: alice, key: noKeyPolicy, res: aliasARN, action: "kms:CreateAlias", iam: []string{iamAllow("kms:CreateAlias", "arn:aws:kms:us-east-1:111122223333:alias/*")}, want: AllowedByIdentityPolicy},
		{ref: "§9.16; " + refPerms, name: "CreateAlias, key half, nothing allows alice", who: alice, key: kpAllow(aws(bobARN), ""), action: "kms:CreateAlias", iam: []string{iamAllow("kms:CreateAlias", "arn:aws:kms:us-east-1:111122223333:alias/*")}, want: NoResourcePolicyAllows},
		{ref: refOurs + " (fail closed)", name: "key resource without its key policy", who: rootA, key: noKeyPolicy, res: keyARN, want: NoResourcePolicyAllows},
		{ref: refKMSCond, name: "CreateKey with a kms:KeySpec condition", who: alice, key: noKeyPolicy, action: "kms:CreateKey", iam: []string{doc(stmt("Allow", "", q("kms:CreateKey"), q("*"), cond("StringEquals", "kms:KeySpec", q("SYMMETRIC_DEFAULT"))))}, ctx: ctx("kms:KeySpec", "RSA_2048"), want: NoIdentityPolicyAllows},
		{ref: refPerms, name: "GenerateRandom with IAM", who: app1, key: noKeyPolicy, action: "kms:GenerateRandom", iam: []string{iamAllow("kms:GenerateRandom", "*")}, want: AllowedByIdentityPolicy},
		{ref: refPerms, name: "ListAliases for a session without IAM", who: app1, key: noKeyPolicy, action: "kms:ListAliases", want: NoIdentityPolicyAllows},

		// --- Grants, RetireGrant.
		{ref: refGrants, name: "grant allows without any policy", who: app1, key: kpAllow(aws(bobARN), ""), grant: true, action: "kms:Decrypt", want: AllowedByGrant},
		{ref: refRetire, name: "RetireGrant by the retiring principal (grant)", who: app1, action: "kms:RetireGrant", grant: true, want: AllowedByGrant},
		{ref: refRetire, name: "RetireGrant in key policies grants nothing", who: alice, action: "kms:RetireGrant", key: kpAllow(aws(aliceARN), ""), want: NoIdentityPolicyAllows},
		{ref: refRetire, name: "RetireGrant by the key's account root", who: rootA, action: "kms:RetireGrant", want: AllowedAsAccountRoot},
		{ref: refRetire, name: "RetireGrant delegated by IAM", who: alice, action: "kms:RetireGrant", iam: []string{iamAllow("kms:RetireGrant", keyARN)}, want: AllowedByIdentityPolicy},
		{ref: refRetire, name: "RetireGrant: IAM deny blocks the grantee", who: app1, action: "kms:RetireGrant", grant: true, iam: []string{iamDeny("kms:RetireGrant", "*")}, want: ExplicitDenyIdentity},
		{ref: refRetire, name: "RetireGrant by another account without a grant", who: bobB, action: "kms:RetireGrant", iam: []string{kmsAll}, want: NoIdentityPolicyAllows},

		// --- The lockout check is Decide on the new policy.
		{ref: "§9.4; " + refPutKeyPolicy, name: "new policy naming only bob locks alice out", who: alice, action: "kms:PutKeyPolicy", key: kpAllow(aws(bobARN), ""), iam: []string{kmsAll}, want: NoResourcePolicyAllows},
		{ref: "§9.5; " + refPutKeyPolicy, name: "root delegation, caller without IAM PutKeyPolicy", who: alice, action: "kms:PutKeyPolicy", iam: []string{iamAllow("kms:Encrypt", "*")}, want: NoIdentityPolicyAllows},
		{ref: refPutKeyPolicy, name: "root delegation, caller with IAM PutKeyPolicy", who: alice, action: "kms:PutKeyPolicy", iam: []string{iamAllow("kms:PutKeyPolicy", keyARN)}, want: AllowedByIdentityPolicy},
		{ref: refPutKeyPolicy, name: "bypass condition key in the policy", who: alice, action: "kms:PutKeyPolicy", key: doc(stmt("Allow", aws(aliceARN), q("kms:*"), q("*"), ""), stmt("Deny", q("*"), q("kms:PutKeyPolicy"), q("*"), cond("Bool", "kms:BypassPolicyLockoutSafetyCheck", q("true")))), ctx: ctx("kms:BypassPolicyLockoutSafetyCheck", "false"), want: AllowedByKeyPolicy},

		// --- Console default policy (KMS DG: Default key policy).
		{ref: refDefault, name: "console policy: admin may encrypt only through IAM", who: bob, key: consolePolicy, action: "kms:Encrypt", want: NoIdentityPolicyAllows},
		{ref: refDefault, name: "console policy: admin may disable", who: bob, key: consolePolicy, action: "kms:DisableKey", want: AllowedByKeyPolicy},
		{ref: refDefault, name: "console policy: user may encrypt", who: app1, key: consolePolicy, action: "kms:Encrypt", want: AllowedByKeyPolicy},
		{ref: refDefault, name: "console policy: user grant for an AWS resource", who: app1, key: consolePolicy, action: "kms:CreateGrant", ctx: ctx("kms:GrantIsForAWSResource", "true"), want: AllowedByKeyPolicy},
		{ref: refDefault, name: "console policy: user grant for itself", who: app1, key: consolePolicy, action: "kms:CreateGrant", want: NoIdentityPolicyAllows},
		{ref: refDefault, name: "console policy: other account root may use the key", who: rootB, key: consolePolicy, action: "kms:Decrypt", want: AllowedAsAccountRoot},
		{ref: refDefault, name: "console policy: other account may not administer", who: rootB, key: consolePolicy, action: "kms:DisableKey", want: CrossAccountDenied},
	}
}

// consolePolicy is the console's default key policy with key
// administrator bob, key user role app and the external account B.
var consolePolicy = `{
  "Id": "key-consolepolicy-3",
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
    {"Sid": "Allow access for Key Administrators", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::111122223333:user/bob"},
     "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
                "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"],
     "Resource": "*"},
    {"Sid": "Allow use of the key", "Effect": "Allow",
     "Principal": {"AWS": ["arn:aws:iam::111122223333:role/app", "arn:aws:iam::444455556666:root"]},
     "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
     "Resource": "*"},
    {"Sid": "Allow attachment of persistent resources", "Effect": "Allow",
     "Principal": {"AWS": ["arn:aws:iam::111122223333:role/app", "arn:aws:iam::444455556666:root"]},
     "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
     "Resource": "*",
     "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}}
  ]
}`
