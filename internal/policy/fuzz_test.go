package policy

import (
	"errors"
	"testing"
	"time"
)

// FuzzParse parses random documents as both kinds and evaluates what
// parses against a spread of requests: nothing may panic, a refusal is
// always an *Error with a message, and evaluation is deterministic.
func FuzzParse(f *testing.F) {
	for _, c := range decideCases() {
		if c.key != "" && c.key != noKeyPolicy {
			f.Add(c.key, false)
		}
		for _, text := range c.iam {
			f.Add(text, true)
		}
	}
	f.Add(DefaultKeyPolicy(acctA), false)
	f.Add(consolePolicy, false)
	f.Add(kpAllow(q("*"), everyOperator), false)
	f.Add(`{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}`, false)
	f.Add(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:*:*:key/${aws:username}"}}`, true)

	requests := fuzzRequests()
	f.Fuzz(func(t *testing.T, text string, identity bool) {
		kind := KeyPolicy
		if identity {
			kind = IdentityPolicy
		}
		p, err := Parse(text, kind)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) || perr.Message == "" {
				t.Fatalf("refusal %T %q is not an *Error with a message", err, err)
			}
			return
		}
		again, err := Parse(text, kind)
		if err != nil {
			t.Fatalf("second parse failed: %v", err)
		}
		for _, r := range requests {
			res := p.Evaluate(r)
			if (res.Effect == NoMatch) != (res.Statement == -1) || res.Statement >= p.Len() {
				t.Fatalf("result %+v for %d statements", res, p.Len())
			}
			if res2 := again.Evaluate(r); res2 != res {
				t.Fatalf("evaluation not deterministic: %+v vs %+v", res, res2)
			}
			in := DecideInput{Request: r, KeyAccount: acctA}
			if kind == KeyPolicy {
				in.KeyPolicy = p
			} else {
				in.KeyPolicy = mustParse(t, DefaultKeyPolicy(acctA), KeyPolicy)
				in.IdentityPolicies = []*Policy{p}
			}
			d := Decide(in)
			if d.Allowed == (d.Message() != "") || d.Explain() == "" {
				t.Fatalf("decision %+v: message %q", d, d.Message())
			}
		}
	})
}

func fuzzRequests() []*Request {
	full := MapContext{}
	full.Set("kms:EncryptionContext:AppName", "ExampleApp")
	full.Set("kms:EncryptionContextKeys", "AppName", "Dept")
	full.Set("kms:CallerAccount", acctA)
	full.Set("aws:SourceIp", "203.0.113.9")
	full.Set("aws:SecureTransport", "true")
	full.Set("aws:TagKeys", "a", "b")
	full.Set("kms:ValidTo", "1748736000")
	full.Set("aws:SourceArn", "arn:aws:sns:us-east-1:111122223333:topic")
	full.Set("aws:PrincipalTag/team", "red")
	full.Set("k:a", "x")
	full.Set("k:n", "1")
	full.Set("k:d", "2020-01-01")
	full.Set("k:i", "::1")
	empty := MapContext{}
	empty.Set("kms:EncryptionContextKeys")
	var out []*Request
	for _, who := range []Principal{alice, app1, rootA, bobB, {}} {
		for _, c := range []Context{nil, full, empty} {
			out = append(out,
				&Request{Principal: who, Action: "kms:Encrypt", Resource: keyARN, Context: c, Time: t2025},
				&Request{Principal: who, Action: "kms:CreateKey", Resource: "*", Context: c},
			)
		}
	}
	out = append(out, &Request{Principal: alice, Action: "", Resource: "", Time: time.Unix(0, 1)})
	return out
}
