package policy

import (
	"testing"
	"time"
)

func TestPatternMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		fold, want bool
	}{
		{"*", "", false, true},
		{"*", "anything", false, true},
		{"", "", false, true},
		{"", "x", false, false},
		{"abc", "abc", false, true},
		{"abc", "abcd", false, false},
		{"abc", "ABC", false, false},
		{"abc", "ABC", true, true},
		{"ABC", "abc", true, true},
		{"abc", "abcd", true, false},
		{"abc*", "ABCD", true, true},
		{"é", "É", true, false}, // fold is for ASCII action names only
		{"kms:Generate*", "kms:GenerateDataKey", false, true},
		{"kms:Generate*", "kms:Generat", false, false},
		{"a*b", "ab", false, true},
		{"a*b", "axxxb", false, true},
		{"a*b", "axxxbx", false, false},
		{"a*b*c", "abbbcbc", false, true},
		{"a*b*c", "abbbcb", false, false},
		{"a**b", "axb", false, true},
		{"?", "", false, false},
		{"?", "é", false, true}, // one character, two bytes
		{"??", "é", false, false},
		{"x*??", "x€", false, false}, // a star must not split a character
		{"x*??", "x€€", false, true},
		{"x*?", "x€", false, true},
		{"*ab", "aab", false, true},
		{"*a?c*", "xxabcxx", false, true},
		{"*a?c*", "xxacxx", false, false},
		{"KMS:*KEY", "kms:DescribeKey", true, true},
	}
	for _, c := range cases {
		p := literalPattern(c.pattern, true)
		if c.fold {
			p = actionPattern(c.pattern)
		}
		if got := p.match(c.s, nil, c.fold); got != c.want {
			t.Errorf("%q ~ %q (fold %v) = %v, want %v", c.pattern, c.s, c.fold, got, c.want)
		}
	}
}

func TestARNPatternMatch(t *testing.T) {
	c := compiler{variables: true}
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"arn:aws:kms:*:111122223333:key/*", keyARN, true},
		{"arn:aws:kms:*:key/*", keyARN, false},
		{"arn:aws:kms:us-east-1:111122223333:key/" + keyID, keyARN, true},
		{"arn:aws:kms:*", keyARN, true}, // short pattern: last part takes the rest
		{"arn:aws:logs:*:*:log-group:name:*", "arn:aws:logs:us-east-1:1:log-group:name:x", true},
		{"arn:aws:iam::*:role/*", roleARN, true},
		{"arn:aws:iam::*:role/*", "arn:aws:iam::1:role", false},
		{"arn:aws:iam::*:role/*", "not:an:arn", false},
		{"arn:aws:kms:*:*:*", "*", false},
	}
	for _, tc := range cases {
		a := splitARNToks(c.template(tc.pattern, true))
		if got := a.match(tc.s, nil); got != tc.want {
			t.Errorf("%q ~ %q = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestTemplate(t *testing.T) {
	c := compiler{variables: true}
	cases := []struct {
		text string
		vars []string
		s    string
		want bool
	}{
		{"home/${aws:username}/*", []string{"alice"}, "home/alice/x", true},
		{"home/${aws:username}/*", []string{"alice"}, "home/bob/x", false},
		{"${*}${?}${$}", nil, "*?$", true},
		{"${unclosed", nil, "${unclosed", true},
		{"${}", nil, "${}", true},
		{"${a b}", nil, "${a b}", true},
		{"${aws:x, 'd'}-${aws:y}", []string{"D", "Y"}, "D-Y", true},
	}
	for _, tc := range cases {
		c.vars = nil
		toks := c.template(tc.text, true)
		p := newPattern(toks)
		if len(c.vars) != len(tc.vars) {
			t.Errorf("%q: %d variables, want %d", tc.text, len(c.vars), len(tc.vars))
			continue
		}
		if got := p.match(tc.s, tc.vars, false); got != tc.want {
			t.Errorf("%q ~ %q = %v, want %v", tc.text, tc.s, got, tc.want)
		}
	}
	c.vars = nil
	c.template("${aws:PrincipalTag/team, 'company-wide'}", false)
	if len(c.vars) != 1 || c.vars[0].key.name != "aws:principaltag/team" || c.vars[0].def != "company-wide" || !c.vars[0].hasDefault {
		t.Fatalf("default variable: %+v", c.vars)
	}
	old := compiler{variables: false}
	if toks := old.template("${aws:username}", false); len(toks) != 1 || toks[0].lit != "${aws:username}" {
		t.Fatalf("2008 template: %+v", toks)
	}
}

func TestParseDate(t *testing.T) {
	utc := func(y int, m time.Month, d, h, min, s, ns int) time.Time {
		return time.Date(y, m, d, h, min, s, ns, time.UTC)
	}
	cases := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2019-07-16T12:00:00Z", utc(2019, 7, 16, 12, 0, 0, 0), true},
		{"2019-07-16T12:00:00.5Z", utc(2019, 7, 16, 12, 0, 0, 500_000_000), true},
		{"2019-07-16T12:00Z", utc(2019, 7, 16, 12, 0, 0, 0), true},
		{"2019-07-16T14:00:00+02:00", utc(2019, 7, 16, 12, 0, 0, 0), true},
		{"2019-07-16T10:00:00-02:00", utc(2019, 7, 16, 12, 0, 0, 0), true},
		{"2019-07-16T12:00:00", utc(2019, 7, 16, 12, 0, 0, 0), true},
		{"2019-07-16", utc(2019, 7, 16, 0, 0, 0, 0), true},
		{"2019-07", utc(2019, 7, 1, 0, 0, 0, 0), true},
		{"1563278400", utc(2019, 7, 16, 12, 0, 0, 0), true},
		{"1563278400.25", utc(2019, 7, 16, 12, 0, 0, 250_000_000), true},
		{"0", utc(1970, 1, 1, 0, 0, 0, 0), true},
		{"", time.Time{}, false},
		{"2019-13-01", time.Time{}, false},
		{"2019-02-29", time.Time{}, false},
		{"2019-07-16T25:00:00Z", time.Time{}, false},
		{"2019-07-16 12:00:00Z", time.Time{}, false},
		{"2019-07-16T12:00:00.Z", time.Time{}, false},
		{"2019-07-16T12:00:00ZZ", time.Time{}, false},
		{"1563278400.", time.Time{}, false},
		{"99999999999999999999", time.Time{}, false},
	}
	for _, c := range cases {
		got, ok := parseDate(c.in)
		if ok != c.ok || (ok && !got.Equal(c.want)) {
			t.Errorf("parseDate(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestParseNumber(t *testing.T) {
	good := map[string]float64{"1": 1, "-1.5": -1.5, "+2": 2, "1e3": 1000, ".5": 0.5, "5.": 5, "007": 7}
	for in, want := range good {
		if got, ok := parseNumber(in); !ok || got != want {
			t.Errorf("parseNumber(%q) = %v, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "-", ".", "NaN", "Inf", "0x10", "1e", "1_000", "1.2.3", " 1"} {
		if _, ok := parseNumber(in); ok {
			t.Errorf("parseNumber(%q) accepted", in)
		}
	}
}

func TestContexts(t *testing.T) {
	m := MapContext{}
	m.Set("kms:EncryptionContext:AppName", "x")
	if v, ok := m.Lookup("kms:encryptioncontext:appname"); !ok || len(v) != 1 || v[0] != "x" {
		t.Fatalf("MapContext: %v %v", v, ok)
	}
	if _, ok := m.Lookup("kms:EncryptionContext:AppName"); ok {
		t.Fatalf("MapContext keys are lower case")
	}
	l := ListContext{
		{Prefix: "kms:EncryptionContext:", Name: "AppName", Values: []string{"x"}},
		{Name: "kms:CallerAccount", Values: []string{acctA}},
	}
	if v, ok := l.Lookup("kms:encryptioncontext:appname"); !ok || v[0] != "x" {
		t.Fatalf("ListContext prefix entry: %v %v", v, ok)
	}
	if v, ok := l.Lookup("kms:calleraccount"); !ok || v[0] != acctA {
		t.Fatalf("ListContext plain entry: %v %v", v, ok)
	}
	u := ListContext{{Prefix: "kms:EncryptionContext:", Name: "Ünïcode", Values: []string{"y"}}}
	if v, ok := u.Lookup("kms:encryptioncontext:ünïcode"); !ok || v[0] != "y" {
		t.Fatalf("ListContext non-ASCII name: %v %v", v, ok)
	}
	if _, ok := l.Lookup("kms:encryptioncontext:app"); ok {
		t.Fatalf("ListContext matched a shorter key")
	}
}

func TestPrincipalKeysComeFromTheRequest(t *testing.T) {
	p := mustParse(t, kpAllow(q("*"), `{"StringEquals":{"aws:PrincipalArn":"`+roleARN+`","aws:PrincipalAccount":"`+acctA+`","aws:PrincipalType":"AssumedRole","aws:userid":"AROAAPP:s1"},"Null":{"aws:username":"true"}}`), KeyPolicy)
	r := &Request{Principal: app1, Action: "kms:Encrypt", Resource: keyARN}
	if res := p.Evaluate(r); res.Effect != AllowDirect {
		t.Fatalf("session: %v", res)
	}
	// The context cannot override what the request says of the principal.
	r.Context = ctx("aws:PrincipalType", "User")
	if res := p.Evaluate(r); res.Effect != AllowDirect {
		t.Fatalf("context overrode the principal: %v", res)
	}
	// aws:username exists for users only, whatever the context says.
	r.Context = ctx("aws:username", "alice")
	if res := p.Evaluate(r); res.Effect != AllowDirect {
		t.Fatalf("context supplied aws:username: %v", res)
	}
	r.Principal = alice
	if res := p.Evaluate(r); res.Effect != NoMatch {
		t.Fatalf("user: %v", res)
	}
}
