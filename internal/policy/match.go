package policy

import (
	"strings"
	"unicode/utf8"
)

// A pattern is compiled policy text: literal runs, the wildcards * and ?,
// and policy variables, which are resolved per request into vars and then
// compared literally (a variable's value never acts as a wildcard).
type pattern struct {
	toks  []tok
	shape shape
	lit   string // the whole pattern, for the exact and prefix shapes
}

type tok struct {
	kind tokKind
	lit  string
	v    int // index into the statement's variables, for varTok
}

type tokKind uint8

const (
	litTok tokKind = iota
	starTok
	questTok
	varTok
)

// shape lets the common patterns ("*", "kms:Encrypt", "kms:Generate*")
// skip the general matcher.
type shape uint8

const (
	generalShape shape = iota
	anyShape           // "*"
	exactShape         // no wildcard, no variable
	prefixShape        // literal then one trailing "*"
)

func newPattern(toks []tok) pattern {
	p := pattern{toks: toks}
	switch {
	case len(toks) == 0:
		p.shape, p.lit = exactShape, ""
	case len(toks) == 1 && toks[0].kind == starTok:
		p.shape = anyShape
	case len(toks) == 1 && toks[0].kind == litTok:
		p.shape, p.lit = exactShape, toks[0].lit
	case len(toks) == 2 && toks[0].kind == litTok && toks[1].kind == starTok:
		p.shape, p.lit = prefixShape, toks[0].lit
	}
	return p
}

// literalPattern compiles text with * and ? as wildcards and no variables.
func literalPattern(text string, wild bool) pattern {
	var b tokBuilder
	b.text(text, wild)
	return newPattern(b.toks)
}

// actionPattern compiles an Action value. Action names are ASCII and
// case-insensitive: the pattern is kept in lower case and matched with
// fold, which lower-cases only the request's letters.
func actionPattern(text string) pattern {
	return literalPattern(lowerASCII(text), true)
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// hasLowerPrefix reports whether s begins with lower, ignoring the case of
// ASCII letters in s; lower is already lower case. Faster than
// strings.EqualFold, which this package's profiles showed dominating.
func hasLowerPrefix(s, lower string) bool {
	if len(s) < len(lower) {
		return false
	}
	for i := 0; i < len(lower); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// tokBuilder accumulates tokens, merging adjacent literals.
type tokBuilder struct {
	toks []tok
}

func (b *tokBuilder) literal(s string) {
	if s == "" {
		return
	}
	if n := len(b.toks); n > 0 && b.toks[n-1].kind == litTok {
		b.toks[n-1].lit += s
		return
	}
	b.toks = append(b.toks, tok{kind: litTok, lit: s})
}

func (b *tokBuilder) text(s string, wild bool) {
	if !wild {
		b.literal(s)
		return
	}
	for s != "" {
		i := strings.IndexAny(s, "*?")
		if i < 0 {
			b.literal(s)
			return
		}
		b.literal(s[:i])
		if s[i] == '*' {
			// Consecutive stars match what one star matches.
			if n := len(b.toks); n == 0 || b.toks[n-1].kind != starTok {
				b.toks = append(b.toks, tok{kind: starTok})
			}
		} else {
			b.toks = append(b.toks, tok{kind: questTok})
		}
		s = s[i+1:]
	}
}

func (b *tokBuilder) variable(index int) {
	b.toks = append(b.toks, tok{kind: varTok, v: index})
}

// match reports whether s matches p. fold makes ASCII letters of s
// compare case-insensitively against a lower-case pattern (action names).
func (p *pattern) match(s string, vars []string, fold bool) bool {
	switch p.shape {
	case anyShape:
		return true
	case exactShape:
		if fold {
			return len(s) == len(p.lit) && hasLowerPrefix(s, p.lit)
		}
		return s == p.lit
	case prefixShape:
		if fold {
			return hasLowerPrefix(s, p.lit)
		}
		return strings.HasPrefix(s, p.lit)
	}
	return matchToks(p.toks, s, vars, fold)
}

// matchToks is wildcard matching with backtracking to the last star only,
// which is enough for patterns made of literals, * and ?: it runs in
// O(len(pattern)·len(s)) at worst and allocates nothing. Wildcards step
// over whole UTF-8 characters, so ? is one character, not one byte.
func matchToks(toks []tok, s string, vars []string, fold bool) bool {
	ti, si := 0, 0
	starTi, starSi := -1, 0
	for {
		if ti < len(toks) {
			t := &toks[ti]
			switch t.kind {
			case starTok:
				starTi, starSi = ti, si
				ti++
				continue
			case questTok:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					ti++
					continue
				}
			default:
				lit := t.lit
				if t.kind == varTok {
					lit = vars[t.v]
				}
				if hasPrefix(s[si:], lit, fold) {
					si += len(lit)
					ti++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if starTi < 0 || starSi >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starSi:])
		starSi += n
		si, ti = starSi, starTi+1
	}
}

func hasPrefix(s, prefix string, fold bool) bool {
	if fold {
		return hasLowerPrefix(s, prefix)
	}
	return strings.HasPrefix(s, prefix)
}

// equalToks reports whether s is exactly the text of toks (literals and
// variables only: the pattern of StringEquals, where * is no wildcard).
func equalToks(toks []tok, s string, vars []string) bool {
	for i := range toks {
		lit := toks[i].lit
		if toks[i].kind == varTok {
			lit = vars[toks[i].v]
		}
		if !strings.HasPrefix(s, lit) {
			return false
		}
		s = s[len(lit):]
	}
	return s == ""
}

// resolve returns the text of toks with variables substituted; used only
// where a comparison cannot work piece by piece (case-insensitive equality).
func resolve(toks []tok, vars []string) string {
	if len(toks) == 1 && toks[0].kind == litTok {
		return toks[0].lit
	}
	var b strings.Builder
	for i := range toks {
		if toks[i].kind == varTok {
			b.WriteString(vars[toks[i].v])
		} else {
			b.WriteString(toks[i].lit)
		}
	}
	return b.String()
}

// An arnPattern matches an ARN part by part: the first five colons split
// both the pattern and the value, and a wildcard never crosses a part
// boundary (IAM User Guide, "Condition operators", ARN condition
// operators). The last part of the value keeps any further colons. A
// pattern with fewer than six parts lets its last part match the rest of
// the value.
type arnPattern struct {
	parts []pattern
}

func (a *arnPattern) match(s string, vars []string) bool {
	last := len(a.parts) - 1
	for i := range a.parts {
		part := s
		if i < last {
			j := strings.IndexByte(s, ':')
			if j < 0 {
				return false
			}
			part, s = s[:j], s[j+1:]
		}
		if !a.parts[i].match(part, vars, false) {
			return false
		}
	}
	return true
}

// splitARNToks splits compiled tokens at the first five literal colons.
func splitARNToks(toks []tok) arnPattern {
	var parts []pattern
	var cur tokBuilder
	for _, t := range toks {
		if t.kind != litTok || len(parts) == 5 {
			cur.toks = append(cur.toks, t)
			continue
		}
		lit := t.lit
		for len(parts) < 5 {
			j := strings.IndexByte(lit, ':')
			if j < 0 {
				break
			}
			cur.literal(lit[:j])
			parts = append(parts, newPattern(cur.toks))
			cur = tokBuilder{}
			lit = lit[j+1:]
		}
		cur.literal(lit)
	}
	parts = append(parts, newPattern(cur.toks))
	return arnPattern{parts: parts}
}
