package policy

import (
	"testing"
)

// BenchmarkDecideDefaultPolicy: a user of the key's account, allowed by an
// IAM policy through the default key policy's delegation (the common case).
func BenchmarkDecideDefaultPolicy(b *testing.B) {
	in := DecideInput{
		Request:          &Request{Principal: alice, Action: "kms:Encrypt", Resource: keyARN},
		KeyAccount:       acctA,
		KeyPolicy:        mustParse(b, DefaultKeyPolicy(acctA), KeyPolicy),
		IdentityPolicies: []*Policy{mustParse(b, iamAllow("kms:Encrypt", "arn:aws:kms:us-east-1:111122223333:key/*"), IdentityPolicy)},
	}
	benchDecide(b, in, AllowedByIdentityPolicy)
}

// tenStatements is a key policy of ten statements, most with conditions,
// of the kinds AWS documents for KMS.
var tenStatements = `{"Version":"2012-10-17","Id":"bench","Statement":[
 {"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
 {"Sid":"Admins","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/bob","arn:aws:iam::111122223333:role/admin"]},
  "Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion"],"Resource":"*"},
 {"Sid":"UseWithContext","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},
  "Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*"],"Resource":"*",
  "Condition":{"StringEquals":{"kms:EncryptionContext:AppName":"ExampleApp","kms:CallerAccount":"111122223333"},
   "ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["AppName","Dept"]}}},
 {"Sid":"Describe","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"kms:DescribeKey","Resource":"*"},
 {"Sid":"Grants","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":["kms:CreateGrant","kms:ListGrants","kms:RevokeGrant"],"Resource":"*",
  "Condition":{"Bool":{"kms:GrantIsForAWSResource":"true"}}},
 {"Sid":"ViaService","Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*",
  "Condition":{"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com","kms:CallerAccount":"111122223333"}}},
 {"Sid":"OfficeNetwork","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*",
  "Condition":{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]},"Null":{"kms:ViaService":"true"}}},
 {"Sid":"TLS","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},
 {"Sid":"Expiry","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"kms:*","Resource":"*",
  "Condition":{"DateGreaterThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}},
 {"Sid":"Owner","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*",
  "Condition":{"StringEquals":{"kms:EncryptionContext:Owner":"${aws:username}"},"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/*"}}}
]}`

// BenchmarkDecideTenStatements: a role session encrypting with an
// encryption context under the ten-statement policy; every statement is
// looked at, the allowing one checks four condition keys.
func BenchmarkDecideTenStatements(b *testing.B) {
	in := DecideInput{
		Request: &Request{
			Principal: app1, Action: "kms:Encrypt", Resource: keyARN, Time: t2025,
			Context: ListContext{
				{Prefix: "kms:EncryptionContext:", Name: "AppName", Values: []string{"ExampleApp"}},
				{Name: "kms:EncryptionContextKeys", Values: []string{"AppName"}},
				{Name: "kms:CallerAccount", Values: []string{acctA}},
				{Name: "aws:SourceIp", Values: []string{"203.0.113.7"}},
				{Name: "aws:SecureTransport", Values: []string{"true"}},
			},
		},
		KeyAccount: acctA,
		KeyPolicy:  mustParse(b, tenStatements, KeyPolicy),
	}
	benchDecide(b, in, AllowedByKeyPolicy)
}

// BenchmarkDecideTenStatementsBuildContext also builds the request's
// context each time, as the service will: the values share one backing
// slice and the entries another, so building costs a few allocations
// however many keys there are.
func BenchmarkDecideTenStatementsBuildContext(b *testing.B) {
	p := mustParse(b, tenStatements, KeyPolicy)
	encryptionContext := map[string]string{"AppName": "ExampleApp"}
	b.ReportAllocs()
	for b.Loop() {
		values := make([]string, 0, 8)
		entries := make(ListContext, 0, 8)
		for k, v := range encryptionContext {
			values = append(values, v)
			entries = append(entries, Entry{Prefix: "kms:EncryptionContext:", Name: k, Values: values[len(values)-1:]})
		}
		keysStart := len(values)
		for k := range encryptionContext {
			values = append(values, k)
		}
		entries = append(entries, Entry{Name: "kms:EncryptionContextKeys", Values: values[keysStart:]})
		values = append(values, acctA, "203.0.113.7", "true")
		n := len(values)
		entries = append(entries,
			Entry{Name: "kms:CallerAccount", Values: values[n-3 : n-2]},
			Entry{Name: "aws:SourceIp", Values: values[n-2 : n-1]},
			Entry{Name: "aws:SecureTransport", Values: values[n-1 : n]},
		)
		r := Request{Principal: app1, Action: "kms:Encrypt", Resource: keyARN, Time: t2025, Context: entries}
		if d := Decide(DecideInput{Request: &r, KeyAccount: acctA, KeyPolicy: p}); !d.Allowed {
			b.Fatal(d.Explain())
		}
	}
}

func benchDecide(b *testing.B, in DecideInput, want Reason) {
	if d := Decide(in); d.Reason != want {
		b.Fatalf("reason %v, want %v: %s", d.Reason, want, d.Explain())
	}
	b.ReportAllocs()
	for b.Loop() {
		Decide(in)
	}
}

// Evaluation must not allocate in the common cases.
func TestDecideDoesNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	for name, in := range map[string]DecideInput{
		"default": {
			Request:          &Request{Principal: alice, Action: "kms:Encrypt", Resource: keyARN},
			KeyAccount:       acctA,
			KeyPolicy:        mustParse(t, DefaultKeyPolicy(acctA), KeyPolicy),
			IdentityPolicies: []*Policy{mustParse(t, iamAllow("kms:Encrypt", keyARN), IdentityPolicy)},
		},
		"ten statements": {
			Request: &Request{Principal: app1, Action: "kms:Encrypt", Resource: keyARN, Time: t2025,
				Context: ListContext{
					{Prefix: "kms:EncryptionContext:", Name: "AppName", Values: []string{"ExampleApp"}},
					{Name: "kms:CallerAccount", Values: []string{acctA}},
					{Name: "aws:SourceIp", Values: []string{"203.0.113.7"}},
				}},
			KeyAccount: acctA,
			KeyPolicy:  mustParse(t, tenStatements, KeyPolicy),
		},
		"variables": {
			Request:    &Request{Principal: alice, Action: "kms:Decrypt", Resource: keyARN, Context: ctx("kms:EncryptionContext:Owner", "alice", "aws:SourceIp", "203.0.113.7")},
			KeyAccount: acctA,
			KeyPolicy:  mustParse(t, tenStatements, KeyPolicy),
		},
	} {
		if n := testing.AllocsPerRun(100, func() { Decide(in) }); n != 0 {
			t.Errorf("%s: %v allocations per decision", name, n)
		}
	}
}
