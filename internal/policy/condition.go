package policy

import (
	"encoding/base64"
	"net/netip"
	"strings"
	"time"
)

// family groups the condition operators that compare alike.
type family uint8

const (
	famString family = iota
	famStringIgnoreCase
	famStringLike
	famNumeric
	famDate
	famBool
	famBinary
	famIP
	famARN
	famNull
)

// comparison is the ordering a Numeric or Date operator asks for.
type comparison uint8

const (
	cmpEq comparison = iota
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

type setOp uint8

const (
	setNone setOp = iota
	setForAll
	setForAny
)

type operatorInfo struct {
	fam     family
	cmp     comparison
	negated bool
}

// operators are the IAM condition operators (IAM User Guide, "IAM JSON
// policy elements: Condition operators"), keyed in lower case. Operator
// names are matched without regard to case.
var operators = map[string]operatorInfo{
	"stringequals":              {fam: famString},
	"stringnotequals":           {fam: famString, negated: true},
	"stringequalsignorecase":    {fam: famStringIgnoreCase},
	"stringnotequalsignorecase": {fam: famStringIgnoreCase, negated: true},
	"stringlike":                {fam: famStringLike},
	"stringnotlike":             {fam: famStringLike, negated: true},
	"numericequals":             {fam: famNumeric},
	"numericnotequals":          {fam: famNumeric, negated: true},
	"numericlessthan":           {fam: famNumeric, cmp: cmpLt},
	"numericlessthanequals":     {fam: famNumeric, cmp: cmpLe},
	"numericgreaterthan":        {fam: famNumeric, cmp: cmpGt},
	"numericgreaterthanequals":  {fam: famNumeric, cmp: cmpGe},
	"dateequals":                {fam: famDate},
	"datenotequals":             {fam: famDate, negated: true},
	"datelessthan":              {fam: famDate, cmp: cmpLt},
	"datelessthanequals":        {fam: famDate, cmp: cmpLe},
	"dategreaterthan":           {fam: famDate, cmp: cmpGt},
	"dategreaterthanequals":     {fam: famDate, cmp: cmpGe},
	"bool":                      {fam: famBool},
	"binaryequals":              {fam: famBinary},
	"ipaddress":                 {fam: famIP},
	"notipaddress":              {fam: famIP, negated: true},
	"arnequals":                 {fam: famARN},
	"arnlike":                   {fam: famARN},
	"arnnotequals":              {fam: famARN, negated: true},
	"arnnotlike":                {fam: famARN, negated: true},
	"null":                      {fam: famNull},
}

// condition is one (operator, key, values) triple of a Condition element.
type condition struct {
	operatorInfo
	set      setOp
	ifExists bool
	key      keyRef

	// The policy values, compiled for the family; exactly one is used.
	strs  [][]tok      // famString, famStringIgnoreCase: literals and variables
	globs []pattern    // famStringLike
	arns  []arnPattern // famARN
	nums  []float64
	times []time.Time
	bools []bool
	bins  []string
	nets  []netip.Prefix
	null  bool
}

// parseOperator splits "ForAnyValue:StringLikeIfExists" into its parts.
func parseOperator(name string) (info operatorInfo, set setOp, ifExists, ok bool) {
	lower := strings.ToLower(name)
	if rest, found := strings.CutPrefix(lower, "forallvalues:"); found {
		lower, set = rest, setForAll
	} else if rest, found := strings.CutPrefix(lower, "foranyvalue:"); found {
		lower, set = rest, setForAny
	}
	info, ok = operators[lower]
	if !ok {
		if base, found := strings.CutSuffix(lower, "ifexists"); found {
			info, ok = operators[base]
			ifExists = true
		}
	}
	// Null tests existence itself: no IfExists (IAM User Guide,
	// "...IfExists condition operators"), and a set of values has no
	// meaning for it.
	if ok && info.fam == famNull && (ifExists || set != setNone) {
		ok = false
	}
	return info, set, ifExists, ok
}

// compileCondition builds the condition for one key of an operator block.
func (c *compiler) compileCondition(info operatorInfo, set setOp, ifExists bool, key string, values []string) (condition, error) {
	cond := condition{operatorInfo: info, set: set, ifExists: ifExists, key: newKeyRef(key)}
	bad := errorf(msgBadConditionVal)
	for _, v := range values {
		switch info.fam {
		case famString, famStringIgnoreCase:
			cond.strs = append(cond.strs, c.template(v, false))
		case famStringLike:
			cond.globs = append(cond.globs, newPattern(c.template(v, true)))
		case famARN:
			cond.arns = append(cond.arns, splitARNToks(c.template(v, true)))
		case famNumeric:
			f, ok := parseNumber(v)
			if !ok {
				return cond, bad
			}
			cond.nums = append(cond.nums, f)
		case famDate:
			t, ok := parseDate(v)
			if !ok {
				return cond, bad
			}
			cond.times = append(cond.times, t)
		case famBool:
			b, ok := parseBool(v)
			if !ok {
				return cond, bad
			}
			cond.bools = append(cond.bools, b)
		case famBinary:
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return cond, bad
			}
			cond.bins = append(cond.bins, string(b))
		case famIP:
			p, ok := parseCIDR(v)
			if !ok {
				return cond, bad
			}
			cond.nets = append(cond.nets, p)
		case famNull:
			b, ok := parseBool(v)
			if !ok || len(values) != 1 {
				return cond, bad
			}
			cond.null = b
		}
	}
	return cond, nil
}

// parseCIDR reads an IpAddress value: a CIDR block, or one address meaning
// /32 (IPv4) or /128 (IPv6).
func parseCIDR(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		a, bits := p.Addr(), p.Bits()
		if a.Is4In6() {
			if bits < 96 {
				return netip.Prefix{}, false
			}
			a, bits = a.Unmap(), bits-96
		}
		return netip.PrefixFrom(a, bits).Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// eval decides the condition for r, with the statement's variables
// already resolved into vars (IAM User Guide, "Condition operators" and
// "Creating a condition with multiple keys or values"):
//   - a key absent from the request fails a condition, but satisfies a
//     negated one, and satisfies any …IfExists one;
//   - values of one key are ORed; for a negated operator no value may match;
//   - ForAllValues holds when every request value matches some policy value
//     (for a negated operator: matches none), and when there are no values;
//   - ForAnyValue holds when some request value does, never when there are
//     no values (unless …IfExists).
func (c *condition) eval(r *Request, vars []string) bool {
	if t, ok := c.timeValue(r); ok {
		return c.matchTime(t) != c.negated
	}
	var buf [1]string
	values, present := lookup(r, &c.key, &buf)
	if c.fam == famNull {
		absent := !present || len(values) == 0
		return absent == c.null
	}
	if !present || len(values) == 0 {
		switch c.set {
		case setForAll:
			return true
		case setForAny:
			return c.ifExists
		}
		return c.ifExists || c.negated
	}
	switch c.set {
	case setForAll:
		for _, v := range values {
			if c.matchAny(v, vars) == c.negated {
				return false
			}
		}
		return true
	case setForAny:
		for _, v := range values {
			if c.matchAny(v, vars) != c.negated {
				return true
			}
		}
		return false
	}
	// No set operator with several values (a multi-valued key used
	// without one): it holds when some value matches, and a negated
	// operator holds when none does. AWS asks for a set operator here and
	// does not document the result; this reading is ours.
	for _, v := range values {
		if c.matchAny(v, vars) {
			return !c.negated
		}
	}
	return c.negated
}

// timeValue returns the request time for Date operators on aws:CurrentTime
// or aws:EpochTime (and Numeric ones on aws:EpochTime), so that the
// comparison needs no formatting and parsing.
func (c *condition) timeValue(r *Request) (time.Time, bool) {
	if r.Time.IsZero() {
		return time.Time{}, false
	}
	switch c.key.builtin {
	case keyCurrentTime:
		return r.Time, c.fam == famDate
	case keyEpochTime:
		return r.Time, c.fam == famDate || c.fam == famNumeric
	}
	return time.Time{}, false
}

func (c *condition) matchTime(t time.Time) bool {
	if c.fam == famNumeric {
		x := float64(t.Unix())
		for _, n := range c.nums {
			if compare(c.cmp, cmpFloat(x, n)) {
				return true
			}
		}
		return false
	}
	for _, p := range c.times {
		if compare(c.cmp, t.Compare(p)) {
			return true
		}
	}
	return false
}

// matchAny reports whether the request value v matches any policy value.
func (c *condition) matchAny(v string, vars []string) bool {
	switch c.fam {
	case famString:
		for _, s := range c.strs {
			if equalToks(s, v, vars) {
				return true
			}
		}
	case famStringIgnoreCase:
		for _, s := range c.strs {
			if strings.EqualFold(v, resolve(s, vars)) {
				return true
			}
		}
	case famStringLike:
		for i := range c.globs {
			if c.globs[i].match(v, vars, false) {
				return true
			}
		}
	case famARN:
		for i := range c.arns {
			if c.arns[i].match(v, vars) {
				return true
			}
		}
	case famNumeric:
		x, ok := parseNumber(v)
		if !ok {
			return false
		}
		for _, n := range c.nums {
			if compare(c.cmp, cmpFloat(x, n)) {
				return true
			}
		}
	case famDate:
		t, ok := parseDate(v)
		if !ok {
			return false
		}
		return c.matchTime(t)
	case famBool:
		b, ok := parseBool(v)
		if !ok {
			return false
		}
		for _, p := range c.bools {
			if p == b {
				return true
			}
		}
	case famBinary:
		for _, p := range c.bins {
			if p == v {
				return true
			}
		}
	case famIP:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, p := range c.nets {
			if p.Contains(a) {
				return true
			}
		}
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compare turns a three-way comparison of request value to policy value
// into the operator's answer.
func compare(c comparison, r int) bool {
	switch c {
	case cmpLt:
		return r < 0
	case cmpLe:
		return r <= 0
	case cmpGt:
		return r > 0
	case cmpGe:
		return r >= 0
	}
	return r == 0
}
