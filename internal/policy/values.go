package policy

import (
	"strconv"
	"strings"
	"time"
)

// parseNumber reads a decimal number: an optional sign, digits with an
// optional fraction, an optional exponent. strconv.ParseFloat alone would
// also take "NaN", "Inf" and hexadecimal, which are not policy numbers.
func parseNumber(s string) (float64, bool) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && isDigit(s[i]) {
			i++
			exp++
		}
		if exp == 0 {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseDate reads a date condition value: epoch seconds (all digits,
// optionally with a fraction), or one of the W3C profiles of ISO 8601
// (IAM User Guide, "Condition operators", Date condition operators):
// YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDThh:mm, YYYY-MM-DDThh:mm:ss and
// YYYY-MM-DDThh:mm:ss.s, each time followed by Z or ±hh:mm. A time without
// a zone is read as UTC (the W3C profile requires the zone; being lenient
// costs nothing). Digits alone are epoch seconds, so "2020" is 2020 seconds
// after 1970, not the year: AWS's choice for this ambiguity is not known.
func parseDate(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if isEpoch(s) {
		sec, frac, _ := strings.Cut(s, ".")
		n, err := strconv.ParseInt(sec, 10, 64)
		if err != nil || n > 1<<40 || n < -(1<<40) {
			return time.Time{}, false
		}
		ns := int64(0)
		for i, scale := 0, int64(100_000_000); i < len(frac) && scale > 0; i, scale = i+1, scale/10 {
			ns += int64(frac[i]-'0') * scale
		}
		if n < 0 {
			ns = -ns
		}
		return time.Unix(n, ns).UTC(), true
	}
	p := dateParser{s: s}
	year := p.digits(4)
	month, day := 1, 1
	hour, minute, sec, nsec := 0, 0, 0, 0
	if p.more() {
		p.expect('-')
		month = p.digits(2)
		if p.more() {
			p.expect('-')
			day = p.digits(2)
			if p.more() {
				p.expect('T')
				hour = p.digits(2)
				p.expect(':')
				minute = p.digits(2)
				if p.peek(':') {
					p.expect(':')
					sec = p.digits(2)
					if p.peek('.') {
						p.expect('.')
						nsec = p.fraction()
					}
				}
				p.zone()
			}
		}
	}
	if p.bad || p.more() || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // 2021-02-30 normalised into March
		return time.Time{}, false
	}
	return t.Add(-p.offset), true
}

func isEpoch(s string) bool {
	i := 0
	if s[0] == '-' {
		i = 1
	}
	digits, dot := 0, false
	for ; i < len(s); i++ {
		switch {
		case isDigit(s[i]):
			digits++
		case s[i] == '.' && !dot && digits > 0:
			dot = true
		default:
			return false
		}
	}
	return digits > 0 && s[len(s)-1] != '.'
}

type dateParser struct {
	s      string
	i      int
	bad    bool
	offset time.Duration
}

func (p *dateParser) more() bool { return !p.bad && p.i < len(p.s) }

func (p *dateParser) peek(c byte) bool { return p.more() && p.s[p.i] == c }

func (p *dateParser) expect(c byte) {
	if !p.peek(c) {
		p.bad = true
		return
	}
	p.i++
}

func (p *dateParser) digits(n int) int {
	if p.bad || p.i+n > len(p.s) {
		p.bad = true
		return 0
	}
	v := 0
	for _, c := range []byte(p.s[p.i : p.i+n]) {
		if !isDigit(c) {
			p.bad = true
			return 0
		}
		v = v*10 + int(c-'0')
	}
	p.i += n
	return v
}

func (p *dateParser) fraction() int {
	ns, scale, n := 0, 100_000_000, 0
	for p.i < len(p.s) && isDigit(p.s[p.i]) {
		ns += int(p.s[p.i]-'0') * scale
		scale /= 10
		p.i++
		n++
	}
	if n == 0 {
		p.bad = true
	}
	return ns
}

func (p *dateParser) zone() {
	if !p.more() {
		return // no zone: UTC
	}
	switch p.s[p.i] {
	case 'Z':
		p.i++
	case '+', '-':
		sign := time.Duration(1)
		if p.s[p.i] == '-' {
			sign = -1
		}
		p.i++
		h := p.digits(2)
		p.expect(':')
		m := p.digits(2)
		if h > 23 || m > 59 {
			p.bad = true
		}
		p.offset = sign * (time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	default:
		p.bad = true
	}
}

// parseBool reads a Bool value; AWS documents "true" and "false", and
// compares them without regard to case.
func parseBool(s string) (bool, bool) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}
