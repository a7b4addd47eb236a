package policy

import (
	"strings"
	"testing"
	"time"
)

// The reference notes' cast: account A owns key K; B is another account.
const (
	acctA    = "111122223333"
	acctB    = "444455556666"
	keyID    = "1234abcd-12ab-34cd-56ef-1234567890ab"
	keyARN   = "arn:aws:kms:us-east-1:111122223333:key/" + keyID
	otherKey = "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"
	aliasARN = "arn:aws:kms:us-east-1:111122223333:alias/finance"
	aliceARN = "arn:aws:iam::111122223333:user/alice"
	bobARN   = "arn:aws:iam::111122223333:user/bob"
	roleARN  = "arn:aws:iam::111122223333:role/app"
	s1ARN    = "arn:aws:sts::111122223333:assumed-role/app/s1"
	bobBARN  = "arn:aws:iam::444455556666:user/bob"
)

var (
	alice = Principal{ARN: aliceARN, Account: acctA, Type: TypeUser, UserID: "AIDAALICE", Username: "alice"}
	bob   = Principal{ARN: bobARN, Account: acctA, Type: TypeUser, UserID: "AIDABOB", Username: "bob"}
	rootA = Principal{ARN: "arn:aws:iam::111122223333:root", Account: acctA, Type: TypeAccount, UserID: acctA}
	app1  = Principal{ARN: s1ARN, Account: acctA, Type: TypeAssumedRole, RoleARN: roleARN, UserID: "AROAAPP:s1"}
	app2  = Principal{ARN: "arn:aws:sts::111122223333:assumed-role/app/s2", Account: acctA, Type: TypeAssumedRole, RoleARN: roleARN, UserID: "AROAAPP:s2"}
	pathy = Principal{ARN: "arn:aws:iam::111122223333:user/division/alice", Account: acctA, Type: TypeUser, UserID: "AIDAPATHY", Username: "alice"}
	bobB  = Principal{ARN: bobBARN, Account: acctB, Type: TypeUser, UserID: "AIDABOBB", Username: "bob"}
	rootB = Principal{ARN: "arn:aws:iam::444455556666:root", Account: acctB, Type: TypeAccount, UserID: acctB}
)

// doc builds a 2012-10-17 policy document from statements.
func doc(statements ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

// stmt builds a statement from raw JSON fragments; cond may be "".
func stmt(effect, principal, action, resource, cond string) string {
	s := `{"Effect":"` + effect + `"`
	if principal != "" {
		s += `,"Principal":` + principal
	}
	s += `,"Action":` + action + `,"Resource":` + resource
	if cond != "" {
		s += `,"Condition":` + cond
	}
	return s + `}`
}

func q(s string) string { return `"` + s + `"` }

func aws(arns ...string) string {
	return `{"AWS":["` + strings.Join(arns, `","`) + `"]}`
}

// kpAllow is a key policy allowing principal every kms action, if cond.
func kpAllow(principal, cond string) string {
	return doc(stmt("Allow", principal, q("kms:*"), q("*"), cond))
}

// kpAliceIf allows alice everything on the key when cond holds.
func kpAliceIf(cond string) string { return kpAllow(aws(aliceARN), cond) }

// iamAllow is an identity policy allowing action on resource.
func iamAllow(action, resource string) string {
	return doc(stmt("Allow", "", q(action), q(resource), ""))
}

func iamDeny(action, resource string) string {
	return doc(stmt("Deny", "", q(action), q(resource), ""))
}

// ctx builds a context from key, value pairs; a key given again adds a value.
func ctx(kv ...string) MapContext {
	m := MapContext{}
	for i := 0; i+1 < len(kv); i += 2 {
		k := strings.ToLower(kv[i])
		m[k] = append(m[k], kv[i+1])
	}
	return m
}

// withPrincipalTags adds aws:PrincipalTag entries to a context.
func multi(key string, values ...string) MapContext {
	m := MapContext{}
	m.Set(key, values...)
	return m
}

func mustParse(t testing.TB, text string, kind Kind) *Policy {
	t.Helper()
	p, err := Parse(text, kind)
	if err != nil {
		t.Fatalf("Parse(%s): %v\n%s", kind, err, text)
	}
	return p
}

var t2025 = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
