package policy

import "strings"

// variable is a policy variable of a statement: ${key} or
// ${key, 'default'} (IAM User Guide, "IAM policy elements: Variables and
// tags").
type variable struct {
	key        keyRef
	def        string
	hasDefault bool
}

// template compiles policy text that may hold variables: under Version
// 2012-10-17, ${key} and ${key, 'default'} are variables and ${*}, ${?}
// and ${$} are the literal characters; before that version, and for text
// that is not a well-formed variable, the text is literal. wild makes * and
// ? outside variables wildcards.
func (c *compiler) template(text string, wild bool) []tok {
	var b tokBuilder
	if !c.variables {
		b.text(text, wild)
		return b.toks
	}
	for {
		i := strings.Index(text, "${")
		if i < 0 {
			break
		}
		end := strings.IndexByte(text[i+2:], '}')
		if end < 0 {
			break
		}
		inner := text[i+2 : i+2+end]
		b.text(text[:i], wild)
		switch inner {
		case "*", "?", "$":
			b.literal(inner)
		default:
			if v, ok := parseVariable(inner); ok {
				b.variable(c.variableIndex(v))
			} else {
				b.text(text[i:i+3+end], wild)
			}
		}
		text = text[i+3+end:]
	}
	b.text(text, wild)
	return b.toks
}

// parseVariable reads "key" or "key, 'default'".
func parseVariable(inner string) (variable, bool) {
	name, def, hasDefault := strings.Cut(inner, ",")
	name = strings.TrimSpace(name)
	if name == "" || strings.ContainsAny(name, " \t'\"${") {
		return variable{}, false
	}
	v := variable{key: newKeyRef(name)}
	if hasDefault {
		def = strings.TrimSpace(def)
		if len(def) < 2 || def[0] != '\'' || def[len(def)-1] != '\'' {
			return variable{}, false
		}
		v.def, v.hasDefault = def[1:len(def)-1], true
	}
	return v, true
}

func (c *compiler) variableIndex(v variable) int {
	for i, w := range c.vars {
		if w == v {
			return i
		}
	}
	c.vars = append(c.vars, v)
	return len(c.vars) - 1
}

// resolveVars fills out with the value of each variable for r. A variable
// resolves to the single value of its key, or else to its default; a key
// that is absent or has several values (multi-valued keys cannot be
// variables) and no default leaves the variable unresolved, and then the
// statement does not apply at all (IAM User Guide, "IAM policy elements:
// Variables and tags": "If AWS cannot resolve a variable, this might cause
// the entire statement to be invalid").
func resolveVars(r *Request, vars []variable, out []string) bool {
	for i := range vars {
		var buf [1]string
		values, present := lookup(r, &vars[i].key, &buf)
		switch {
		case present && len(values) == 1:
			out[i] = values[0]
		case vars[i].hasDefault:
			out[i] = vars[i].def
		default:
			return false
		}
	}
	return true
}
