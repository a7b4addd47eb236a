package policy

import (
	"strings"
	"testing"
)

// AccessDeniedException texts (reference notes §3, from real AWS captures).
func TestDenialMessages(t *testing.T) {
	kmsAll := iamAllow("kms:*", "*")
	cases := []struct {
		name string
		c    decideCase
		want string
	}{
		{"§9.1 identity-based", decideCase{who: alice},
			"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:Encrypt on resource: " + keyARN + " because no identity-based policy allows the kms:Encrypt action"},
		{"§9.3 resource-based", decideCase{who: bob, key: kpAllow(aws(aliceARN), ""), iam: []string{kmsAll}, action: "kms:Decrypt"},
			"User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Decrypt on resource: " + keyARN + " because no resource-based policy allows the kms:Decrypt action"},
		{"§9.8 explicit deny, key policy, role session", decideCase{who: app1, key: doc(stmt("Deny", aws(roleARN), q("kms:Decrypt"), q("*"), "")), action: "kms:Decrypt", grant: true},
			"User: arn:aws:sts::111122223333:assumed-role/app/s1 is not authorized to perform: kms:Decrypt on resource: " + keyARN + " with an explicit deny in a resource-based policy"},
		{"§9.9 explicit deny, identity", decideCase{who: alice, key: kpAllow(aws(aliceARN), ""), iam: []string{iamDeny("kms:ScheduleKeyDeletion", "*")}, action: "kms:ScheduleKeyDeletion"},
			"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:ScheduleKeyDeletion on resource: " + keyARN + " with an explicit deny in an identity-based policy"},
		{"§9.14 cross-account", decideCase{who: bobB, key: kpAllow(aws(acctB), "")},
			"User: arn:aws:iam::444455556666:user/bob is not authorized to perform: kms:Encrypt on this resource because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access"},
		{"§9.15 cross-account, operation not shareable", decideCase{who: bobB, key: kpAllow(aws(acctB), ""), iam: []string{kmsAll}, action: "kms:ScheduleKeyDeletion"},
			"User: arn:aws:iam::444455556666:user/bob is not authorized to perform: kms:ScheduleKeyDeletion on this resource because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access"},
		{"cross-account explicit deny is hidden too", decideCase{who: bobB, key: doc(stmt("Deny", aws(acctB), q("kms:*"), q("*"), ""))},
			"User: arn:aws:iam::444455556666:user/bob is not authorized to perform: kms:Encrypt on this resource because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access"},
		{"§9.17 IAM-only", decideCase{who: alice, key: noKeyPolicy, action: "kms:CreateKey"},
			"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:CreateKey on resource: * because no identity-based policy allows the kms:CreateKey action"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(c.c.input(t))
			if got := d.Message(); got != c.want {
				t.Fatalf("message\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

func TestEvaluateReportsTheDecidingStatement(t *testing.T) {
	p := mustParse(t, `{"Version":"2012-10-17","Statement":[
	  {"Sid":"Delegate","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"},
	  {"Sid":"Alice","Effect":"Allow","Principal":{"AWS":"`+aliceARN+`"},"Action":"kms:Encrypt","Resource":"*"},
	  {"Sid":"AliceAgain","Effect":"Allow","Principal":{"AWS":"`+aliceARN+`"},"Action":"kms:*","Resource":"*"},
	  {"Sid":"NoDelete","Effect":"Deny","Principal":"*","Action":"kms:ScheduleKeyDeletion","Resource":"*"}]}`, KeyPolicy)
	cases := []struct {
		who    Principal
		action string
		want   Result
	}{
		{alice, "kms:Encrypt", Result{Effect: AllowDirect, Statement: 1, Sid: "Alice"}},
		{alice, "kms:Decrypt", Result{Effect: AllowDirect, Statement: 2, Sid: "AliceAgain"}},
		{bob, "kms:Decrypt", Result{Effect: AllowAccount, Statement: 0, Sid: "Delegate"}},
		{alice, "kms:ScheduleKeyDeletion", Result{Effect: Deny, Statement: 3, Sid: "NoDelete"}},
		{bobB, "kms:Decrypt", Result{Effect: NoMatch, Statement: -1}},
	}
	for _, c := range cases {
		got := p.Evaluate(&Request{Principal: c.who, Action: c.action, Resource: keyARN})
		if got != c.want {
			t.Errorf("%s %s: %+v, want %+v", c.who.ARN, c.action, got, c.want)
		}
	}
	if p.Len() != 4 || p.Sid(3) != "NoDelete" || p.Kind() != KeyPolicy || p.Version() != Version2012 {
		t.Fatalf("accessors: %d %q %v %q", p.Len(), p.Sid(3), p.Kind(), p.Version())
	}
}

func TestExplain(t *testing.T) {
	cases := []struct {
		c    decideCase
		want []string
	}{
		{decideCase{who: alice, iam: []string{iamDeny("kms:Encrypt", "*"), iamAllow("kms:*", "*")}},
			[]string{"denied:", "identity policy 0 statement 0", "denies explicitly"}},
		{decideCase{who: alice, iam: []string{iamAllow("kms:Decrypt", "*"), doc(`{"Sid":"UseKey","Effect":"Allow","Action":"kms:*","Resource":"*"}`)}},
			[]string{"allowed:", `key policy statement 0 (Sid "Enable IAM User Permissions")`, `identity policy 1 statement 0 (Sid "UseKey")`}},
		{decideCase{who: bobB, grant: true, action: "kms:Decrypt"},
			[]string{"allowed:", "(cross-account)", "a grant allows"}},
		{decideCase{who: rootA},
			[]string{"allowed:", "root user"}},
		{decideCase{who: bobB, action: "kms:DisableKey"},
			[]string{"denied:", "cannot be given to another account"}},
	}
	for _, c := range cases {
		got := Decide(c.c.input(t)).Explain()
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("explain %q lacks %q", got, w)
			}
		}
	}
	in := decideCase{who: app1, grant: true, action: "kms:Decrypt"}.input(t)
	in.Grant = "abcde1237f76e4ba"
	if got := Decide(in).Explain(); !strings.Contains(got, "grant abcde1237f76e4ba") {
		t.Errorf("explain %q does not name the grant", got)
	}
}

func TestReasonString(t *testing.T) {
	for r := AllowedByKeyPolicy; r <= CrossAccountDenied; r++ {
		if s := r.String(); strings.HasPrefix(s, "Reason(") {
			t.Errorf("reason %d has no name", r)
		}
	}
	if s := Reason(200).String(); s != "Reason(200)" {
		t.Errorf("unknown reason: %s", s)
	}
}

func TestDefaultKeyPolicyText(t *testing.T) {
	// Byte for byte as GetKeyPolicy prints it (reference notes §5).
	want := "{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {\n    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {\n      \"AWS\" : \"arn:aws:iam::444455556666:root\"\n    },\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  } ]\n}"
	if got := DefaultKeyPolicy(acctB); got != want {
		t.Fatalf("DefaultKeyPolicy:\n%s", got)
	}
	p := mustParse(t, want, KeyPolicy)
	if p.ID() != "key-default-1" || len(p.Principals()) != 1 || p.Principals()[0] != acctB {
		t.Fatalf("parsed default policy: id %q principals %v", p.ID(), p.Principals())
	}
}

func TestPrincipals(t *testing.T) {
	p := mustParse(t, doc(
		stmt("Allow", aws(aliceARN, acctA, "*"), q("kms:*"), q("*"), ""),
		`{"Effect":"Deny","NotPrincipal":`+aws(aliceARN, roleARN)+`,"Action":"kms:*","Resource":"*"}`,
		stmt("Allow", `{"Service":"ec2.amazonaws.com"}`, q("kms:*"), q("*"), ""),
	), KeyPolicy)
	got := strings.Join(p.Principals(), " ")
	if want := acctA + " " + aliceARN + " " + roleARN; got != want {
		t.Fatalf("Principals() = %s, want %s", got, want)
	}
}

func TestLookupAction(t *testing.T) {
	if info, ok := LookupAction("kms:Encrypt"); !ok || !info.CrossAccount || info.IAMOnly {
		t.Errorf("kms:Encrypt: %+v %v", info, ok)
	}
	if info, ok := LookupAction("KMS:createkey"); !ok || !info.IAMOnly {
		t.Errorf("KMS:createkey: %+v %v", info, ok)
	}
	if _, ok := LookupAction("kms:ReEncrypt"); ok {
		t.Errorf("kms:ReEncrypt is not a permission (ReEncryptFrom and ReEncryptTo are)")
	}
	if n := len(kmsActions); n != 57 {
		t.Errorf("%d permissions, want 57 (56 operations, ReEncrypt counted twice)", n)
	}
}

func TestDecideRefusesPoliciesOfTheWrongKind(t *testing.T) {
	iamAll := mustParse(t, iamAllow("kms:*", "*"), IdentityPolicy)
	keyAll := mustParse(t, kpAllow(q("*"), ""), KeyPolicy)
	r := &Request{Principal: alice, Action: "kms:Encrypt", Resource: keyARN}
	if d := Decide(DecideInput{Request: r, KeyAccount: acctA, KeyPolicy: iamAll}); d.Allowed {
		t.Fatalf("identity policy used as the key policy allowed: %s", d.Explain())
	}
	r = &Request{Principal: alice, Action: "kms:CreateKey", Resource: "*"}
	if d := Decide(DecideInput{Request: r, IdentityPolicies: []*Policy{keyAll}}); d.Allowed {
		t.Fatalf("key policy used as an identity policy allowed: %s", d.Explain())
	}
}
