package policy

import (
	"errors"
	"strings"
	"testing"
)

// Documents Parse must refuse, with the message it must give. The message
// constants record which texts are AWS's own (errors.go).
func TestParseRejects(t *testing.T) {
	kp := func(statement string) string { return doc(statement) }
	allowRoot := func(extra string) string {
		return `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"` + extra + `}`
	}
	withPrincipal := func(p string) string {
		return kp(`{"Effect":"Allow","Principal":` + p + `,"Action":"kms:*","Resource":"*"}`)
	}
	withCond := func(c string) string { return kp(allowRoot(`,"Condition":` + c)) }
	iamStmt := func(s string) string { return doc(s) }
	element := func(name string) string { return "Policy contains an invalid or unsupported element: " + name + "." }

	cases := []struct {
		name string
		kind Kind
		doc  string
		want string
	}{
		// Document structure.
		{"not JSON", KeyPolicy, "not a real policy statement", msgNotJSON},
		{"JSON array", KeyPolicy, `[]`, msgNotJSON},
		{"JSON string", KeyPolicy, `"policy"`, msgNotJSON},
		{"trailing data", KeyPolicy, doc(allowRoot("")) + ` {}`, msgNotJSON},
		{"invalid UTF-8", KeyPolicy, "{\"Id\":\"\xff\",\"Statement\":[" + allowRoot("") + "]}", msgNotJSON},
		{"too deeply nested", KeyPolicy, `{"Statement":[[[[[[[[[[[]]]]]]]]]]]}`, msgNotJSON},
		{"duplicate member", KeyPolicy, kp(`{"Effect":"Allow","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"}`), msgDuplicateName},
		{"no Statement", KeyPolicy, `{"Version":"2012-10-17"}`, msgNoStatement},
		{"empty Statement", KeyPolicy, `{"Version":"2012-10-17","Statement":[]}`, msgNoStatement},
		{"Statement a string", KeyPolicy, `{"Statement":"allow all"}`, element("Statement")},
		{"statement not an object", KeyPolicy, `{"Statement":["x"]}`, element("Statement")},
		{"unknown top-level element", KeyPolicy, `{"Version":"2012-10-17","Foo":1,"Statement":[` + allowRoot("") + `]}`, element("Foo")},
		{"element names are case-sensitive", KeyPolicy, `{"version":"2012-10-17","Statement":[` + allowRoot("") + `]}`, element("version")},
		{"unknown Version", KeyPolicy, `{"Version":"2013-01-01","Statement":[` + allowRoot("") + `]}`, msgBadVersion},
		{"Version a number", KeyPolicy, `{"Version":2012,"Statement":[` + allowRoot("") + `]}`, msgBadVersion},
		{"Id not a string", KeyPolicy, `{"Id":7,"Statement":[` + allowRoot("") + `]}`, element("Id")},
		{"unknown statement element", KeyPolicy, kp(allowRoot(`,"Principals":"*"`)), element("Principals")},
		{"Sid not a string", KeyPolicy, kp(allowRoot(`,"Sid":1`)), element("Sid")},

		// Effect.
		{"no Effect", KeyPolicy, kp(`{"Principal":"*","Action":"kms:*","Resource":"*"}`), msgBadEffect},
		{"Effect lower case", KeyPolicy, kp(`{"Effect":"allow","Principal":"*","Action":"kms:*","Resource":"*"}`), msgBadEffect},
		{"Effect a list", KeyPolicy, kp(`{"Effect":["Allow"],"Principal":"*","Action":"kms:*","Resource":"*"}`), msgBadEffect},

		// Principals (IAM UG: AWS JSON policy elements: Principal).
		{"no principal", KeyPolicy, kp(`{"Effect":"Allow","Action":"kms:*","Resource":"*"}`), msgInvalidPrincipals},
		{"Principal and NotPrincipal", KeyPolicy, kp(`{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"kms:*","Resource":"*"}`), msgInvalidPrincipals},
		{"bare ARN string", KeyPolicy, withPrincipal(q(aliceARN)), msgInvalidPrincipals},
		{"group", KeyPolicy, withPrincipal(aws("arn:aws:iam::111122223333:group/admins")), msgInvalidPrincipals},
		{"partial wildcard user", KeyPolicy, withPrincipal(aws("arn:aws:iam::111122223333:user/*")), msgInvalidPrincipals},
		{"wildcard account", KeyPolicy, withPrincipal(aws("arn:aws:iam::*:root")), msgInvalidPrincipals},
		{"wildcard session", KeyPolicy, withPrincipal(aws("arn:aws:sts::111122223333:assumed-role/app/*")), msgInvalidPrincipals},
		{"session without a name", KeyPolicy, withPrincipal(aws("arn:aws:sts::111122223333:assumed-role/app")), msgInvalidPrincipals},
		{"eleven-digit account", KeyPolicy, withPrincipal(aws("11112222333")), msgInvalidPrincipals},
		{"unique ID", KeyPolicy, withPrincipal(aws("AIDACKCEVSQ6C2EXAMPLE")), msgInvalidPrincipals},
		{"missing empty region part", KeyPolicy, withPrincipal(aws("arn:aws:iam:111122223333:user/alice")), msgInvalidPrincipals},
		{"not IAM", KeyPolicy, withPrincipal(aws("arn:aws:s3:::bucket")), msgInvalidPrincipals},
		{"bad partition", KeyPolicy, withPrincipal(aws("arn:azure:iam::111122223333:root")), msgInvalidPrincipals},
		{"space in a name", KeyPolicy, withPrincipal(aws("arn:aws:iam::111122223333:user/al ice")), msgInvalidPrincipals},
		{"empty path segment", KeyPolicy, withPrincipal(aws("arn:aws:iam::111122223333:user//alice")), msgInvalidPrincipals},
		{"unknown principal type", KeyPolicy, withPrincipal(`{"Group":"admins"}`), msgInvalidPrincipals},
		{"empty AWS list", KeyPolicy, withPrincipal(`{"AWS":[]}`), msgInvalidPrincipals},
		{"empty principal object", KeyPolicy, withPrincipal(`{}`), msgInvalidPrincipals},
		{"account as a JSON number", KeyPolicy, withPrincipal(`{"AWS":111122223333}`), msgInvalidPrincipals},
		{"service wildcard", KeyPolicy, withPrincipal(`{"Service":"*.amazonaws.com"}`), msgInvalidPrincipals},
		{"empty service", KeyPolicy, withPrincipal(`{"Service":""}`), msgInvalidPrincipals},

		// Action and Resource in key policies (2025 rule; KMS DG: Creating a key policy).
		{"no Action", KeyPolicy, kp(`{"Effect":"Allow","Principal":"*","Resource":"*"}`), msgKeyPolicyAction},
		{"empty Action", KeyPolicy, kp(`{"Effect":"Allow","Principal":"*","Action":[],"Resource":"*"}`), msgKeyPolicyAction},
		{"Action and NotAction", KeyPolicy, kp(`{"Effect":"Allow","Principal":"*","Action":"kms:*","NotAction":"kms:Encrypt","Resource":"*"}`), element("NotAction")},
		{"Action a number", KeyPolicy, kp(`{"Effect":"Allow","Principal":"*","Action":5,"Resource":"*"}`), element("Action")},
		{"no Resource", KeyPolicy, kp(`{"Effect":"Allow","Principal":"*","Action":"kms:*"}`), msgKeyPolicyResource},
		{"Resource a key ARN (§9.7)", KeyPolicy, kp(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"` + keyARN + `"}`), msgKeyPolicyResource},
		{"Resource list with a key ARN", KeyPolicy, kp(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":["*","` + keyARN + `"]}`), msgKeyPolicyResource},
		{"Resource an object", KeyPolicy, kp(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":{"k":"*"}}`), msgKeyPolicyResource},
		{"NotResource", KeyPolicy, kp(`{"Effect":"Allow","Principal":"*","Action":"kms:*","NotResource":"*"}`), msgKeyPolicyResource},
		{"Resource and NotResource", KeyPolicy, kp(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","NotResource":"*"}`), element("NotResource")},

		// Conditions (IAM UG: IAM JSON policy elements: Condition operators).
		{"Condition a string", KeyPolicy, withCond(`"true"`), msgBadCondition},
		{"unknown operator", KeyPolicy, withCond(`{"StringEqualz":{"kms:CallerAccount":"1"}}`), msgBadOperator},
		{"unknown set operator", KeyPolicy, withCond(`{"ForSomeValues:StringEquals":{"aws:TagKeys":"a"}}`), msgBadOperator},
		{"NullIfExists", KeyPolicy, withCond(`{"NullIfExists":{"kms:CallerAccount":"true"}}`), msgBadOperator},
		{"ForAnyValue:Null", KeyPolicy, withCond(`{"ForAnyValue:Null":{"aws:TagKeys":"true"}}`), msgBadOperator},
		{"IfExists twice", KeyPolicy, withCond(`{"StringEqualsIfExistsIfExists":{"kms:CallerAccount":"1"}}`), msgBadOperator},
		{"empty operator block", KeyPolicy, withCond(`{"StringEquals":{}}`), msgBadCondition},
		{"operator block a list", KeyPolicy, withCond(`{"StringEquals":["a"]}`), msgBadCondition},
		{"empty key name", KeyPolicy, withCond(`{"StringEquals":{"":"a"}}`), msgBadCondition},
		{"null value", KeyPolicy, withCond(`{"StringEquals":{"kms:CallerAccount":null}}`), msgBadCondition},
		{"empty value list", KeyPolicy, withCond(`{"StringEquals":{"kms:CallerAccount":[]}}`), msgBadCondition},
		{"object value", KeyPolicy, withCond(`{"StringEquals":{"kms:CallerAccount":{"a":"b"}}}`), msgBadCondition},
		{"nested list value", KeyPolicy, withCond(`{"StringEquals":{"kms:CallerAccount":[["a"]]}}`), msgBadCondition},
		{"Numeric not a number", KeyPolicy, withCond(`{"NumericLessThan":{"kms:RotationPeriodInDays":"ninety"}}`), msgBadConditionVal},
		{"Numeric NaN", KeyPolicy, withCond(`{"NumericLessThan":{"kms:RotationPeriodInDays":"NaN"}}`), msgBadConditionVal},
		{"Numeric hexadecimal", KeyPolicy, withCond(`{"NumericLessThan":{"kms:RotationPeriodInDays":"0x10"}}`), msgBadConditionVal},
		{"Date not a date", KeyPolicy, withCond(`{"DateLessThan":{"aws:CurrentTime":"yesterday"}}`), msgBadConditionVal},
		{"Date impossible day", KeyPolicy, withCond(`{"DateLessThan":{"aws:CurrentTime":"2021-02-30"}}`), msgBadConditionVal},
		{"Date bad zone", KeyPolicy, withCond(`{"DateLessThan":{"aws:CurrentTime":"2021-02-03T10:00:00+25:00"}}`), msgBadConditionVal},
		{"Date wildcard", KeyPolicy, withCond(`{"DateLessThan":{"aws:CurrentTime":"2021-*"}}`), msgBadConditionVal},
		{"Bool not a boolean", KeyPolicy, withCond(`{"Bool":{"aws:SecureTransport":"yes"}}`), msgBadConditionVal},
		{"IpAddress not an address", KeyPolicy, withCond(`{"IpAddress":{"aws:SourceIp":"300.1.1.1"}}`), msgBadConditionVal},
		{"IpAddress bad prefix", KeyPolicy, withCond(`{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}`), msgBadConditionVal},
		{"BinaryEquals not base64", KeyPolicy, withCond(`{"BinaryEquals":{"example:Blob":"not base64!"}}`), msgBadConditionVal},
		{"Null not a boolean", KeyPolicy, withCond(`{"Null":{"kms:CallerAccount":"maybe"}}`), msgBadConditionVal},
		{"Null with two values", KeyPolicy, withCond(`{"Null":{"kms:CallerAccount":["true","false"]}}`), msgBadConditionVal},
		{"ForAllValues on an encryption context key", KeyPolicy, withCond(`{"ForAllValues:StringEquals":{"kms:EncryptionContext:Dept":"IT"}}`), msgOverlyPermissiveEC},
		{"ForAllValues on an encryption context key, any case", KeyPolicy, withCond(`{"forallvalues:StringLike":{"KMS:ENCRYPTIONCONTEXT:Dept":"IT"}}`), msgOverlyPermissiveEC},
		{"ForAllValues on a request tag", KeyPolicy, withCond(`{"ForAllValues:StringEquals":{"aws:RequestTag/env":"prod"}}`), msgOverlyPermissiveTag},

		// Identity policies: IAM's rules and texts.
		{"IAM: not JSON", IdentityPolicy, `{`, msgIAMSyntax},
		{"IAM: unknown element", IdentityPolicy, iamStmt(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Foo":1}`), msgIAMSyntax},
		{"IAM: duplicate member", IdentityPolicy, iamStmt(`{"Effect":"Allow","Action":"kms:*","Action":"s3:*","Resource":"*"}`), msgIAMSyntax},
		{"IAM: Principal", IdentityPolicy, iamStmt(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}`), msgIAMNoPrincipal},
		{"IAM: NotPrincipal", IdentityPolicy, iamStmt(`{"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}`), msgIAMNoPrincipal},
		{"IAM: Sid with a hyphen", IdentityPolicy, iamStmt(`{"Sid":"autogenerated-id","Effect":"Allow","Action":"kms:*","Resource":"*"}`), msgIAMSidAlnum},
		{"IAM: Sid with a space", IdentityPolicy, iamStmt(`{"Sid":"Space Space","Effect":"Allow","Action":"kms:*","Resource":"*"}`), msgIAMSidAlnum},
		{"IAM: duplicate Sid", IdentityPolicy, doc(`{"Sid":"A","Effect":"Allow","Action":"kms:*","Resource":"*"}`, `{"Sid":"A","Effect":"Deny","Action":"kms:*","Resource":"*"}`), msgIAMSidUnique},
		{"IAM: action without a vendor", IdentityPolicy, iamAllow("Encrypt", "*"), msgIAMVendor},
		{"IAM: action with an empty vendor", IdentityPolicy, iamAllow(":Encrypt", "*"), msgIAMVendor},
		{"IAM: action with two colons", IdentityPolicy, iamAllow("kms:Encrypt:x", "*"), msgIAMOneColon},
		{"IAM: no Action", IdentityPolicy, iamStmt(`{"Effect":"Allow","Resource":"*"}`), msgIAMNoActions},
		{"IAM: no Resource", IdentityPolicy, iamStmt(`{"Effect":"Allow","Action":"kms:*"}`), msgIAMNoResources},
		{"IAM: empty Resource", IdentityPolicy, iamStmt(`{"Effect":"Allow","Action":"kms:*","Resource":[]}`), msgIAMNoResources},
		{"IAM: Resource a key ID", IdentityPolicy, iamAllow("kms:*", keyID), `Resource ` + keyID + ` must be in ARN format or "*".`},
		{"IAM: Resource an alias name", IdentityPolicy, iamAllow("kms:*", "alias/finance"), `Resource alias/finance must be in ARN format or "*".`},
		{"IAM: condition key without a vendor", IdentityPolicy, iamStmt(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"Dept":"IT"}}}`), msgIAMVendor},
		{"IAM: bad operator", IdentityPolicy, iamStmt(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"Equals":{"kms:CallerAccount":"1"}}}`), msgBadOperator},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse(c.doc, c.kind)
			if err == nil {
				t.Fatalf("accepted (%d statements):\n%s", p.Len(), c.doc)
			}
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("error %T %v, want *Error", err, err)
			}
			if perr.Message != c.want {
				t.Fatalf("message\n%q\nwant\n%q", perr.Message, c.want)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	cases := []struct {
		name string
		kind Kind
		doc  string
	}{
		{"default key policy", KeyPolicy, DefaultKeyPolicy(acctA)},
		{"console key policy", KeyPolicy, consolePolicy},
		{"one statement as an object", KeyPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}`},
		{"Version 2008-10-17", KeyPolicy, `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}`},
		{"no Version", KeyPolicy, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}`},
		{"Sid with spaces in a key policy", KeyPolicy, doc(`{"Sid":"Allow use of the key","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}`)},
		{"duplicate Sids in a key policy", KeyPolicy, doc(`{"Sid":"A","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}`, `{"Sid":"A","Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*"}`)},
		{"Resource as a list", KeyPolicy, doc(`{"Effect":"Allow","Principal":"*","Action":["kms:Encrypt"],"Resource":["*"]}`)},
		{"every principal form", KeyPolicy, kpAllow(`{"AWS":["111122223333","arn:aws:iam::111122223333:root","arn:aws:iam::111122223333:user/division/alice","arn:aws:iam::111122223333:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling","arn:aws:sts::111122223333:assumed-role/app/s1","arn:aws:sts::111122223333:federated-user/carol","arn:aws-cn:iam::111122223333:root","arn:aws-us-gov:iam::111122223333:user/bob"],"Service":"ec2.amazonaws.com","Federated":"cognito-identity.amazonaws.com","CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}`, "")},
		{"KMS does not check key policy actions", KeyPolicy, doc(stmt("Allow", q("*"), `["kms=Decrypt","s3:GetObject","*"]`, q("*"), ""))},
		{"JSON numbers and booleans as condition values", KeyPolicy, kpAllow(q("*"), `{"NumericLessThan":{"kms:RotationPeriodInDays":[90, 1.5e2]},"Bool":{"aws:SecureTransport":true},"StringEquals":{"kms:CallerAccount":111122223333}}`)},
		{"every operator", KeyPolicy, kpAllow(q("*"), everyOperator)},
		{"ForAllValues on a multi-valued key", KeyPolicy, kpAllow(q("*"), `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["a"],"aws:TagKeys":"b"}}`)},
		{"JSON escapes", KeyPolicy, `{"Statement":{"Effect":"Allow","Principal":"\u002a","Action":"kms:\u002a","Resource":"*"}}`},
		{"IAM policy", IdentityPolicy, iamAllow("kms:Encrypt", keyARN)},
		{"IAM Action *", IdentityPolicy, iamAllow("*", "*")},
		{"IAM ForAllValues on an encryption context key", IdentityPolicy, doc(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContext:Dept":"IT"}}}`)},
		{"IAM NotAction and NotResource", IdentityPolicy, doc(`{"Sid":"S1","Effect":"Deny","NotAction":"kms:Describe*","NotResource":["arn:aws:kms:*:111122223333:key/*"]}`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Parse(c.doc, c.kind); err != nil {
				t.Fatalf("refused: %v\n%s", err, c.doc)
			}
		})
	}
}

// everyOperator uses each condition operator once, with IfExists and set
// operators where they apply.
var everyOperator = `{
  "StringEquals": {"k:a": "x"}, "StringNotEquals": {"k:a": "x"},
  "StringEqualsIgnoreCase": {"k:a": "x"}, "StringNotEqualsIgnoreCase": {"k:a": "x"},
  "StringLike": {"k:a": "x*"}, "StringNotLike": {"k:a": "x?"},
  "NumericEquals": {"k:n": "1"}, "NumericNotEquals": {"k:n": "1"},
  "NumericLessThan": {"k:n": "1"}, "NumericLessThanEquals": {"k:n": "1"},
  "NumericGreaterThan": {"k:n": "1"}, "NumericGreaterThanEquals": {"k:n": "-1.5"},
  "DateEquals": {"k:d": "2020"}, "DateNotEquals": {"k:d": "2020-01"},
  "DateLessThan": {"k:d": "2020-01-01"}, "DateLessThanEquals": {"k:d": "2020-01-01T10:00Z"},
  "DateGreaterThan": {"k:d": "2020-01-01T10:00:00+01:00"}, "DateGreaterThanEquals": {"k:d": "2020-01-01T10:00:00.25Z"},
  "Bool": {"k:b": "true"}, "BinaryEquals": {"k:x": "QUJD"},
  "IpAddress": {"k:i": ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1", "::ffff:10.0.0.0/104"]}, "NotIpAddress": {"k:i": "10.0.0.1"},
  "ArnEquals": {"k:r": "arn:aws:kms:*:*:key/*"}, "ArnLike": {"k:r": "arn:*"},
  "ArnNotEquals": {"k:r": "arn:aws:s3:::b"}, "ArnNotLike": {"k:r": "arn:aws:s3:::*"},
  "Null": {"k:z": "true"},
  "StringEqualsIfExists": {"k:a": "x"}, "DateLessThanIfExists": {"k:d": "1700000000"},
  "ForAnyValue:StringLike": {"k:m": "a*"}, "ForAllValues:ArnLikeIfExists": {"k:r": "arn:aws:*:*:*:*"}
}`

func TestErrorIsMessage(t *testing.T) {
	_, err := Parse(`{`, KeyPolicy)
	if err == nil || err.Error() != msgNotJSON {
		t.Fatalf("Error() = %v", err)
	}
	if _, err := Parse(DefaultKeyPolicy(acctA), 0); err == nil || strings.Contains(err.Error(), "Policy") {
		t.Fatalf("unknown kind: %v", err)
	}
}
