package policy

import "time"

// Request is one authorization question: may Principal perform Action on
// Resource, given Context?
type Request struct {
	Principal Principal
	// Action is the permission, "kms:Encrypt".
	Action string
	// Resource is the key ARN for operations on a key (however the caller
	// named the key), the alias ARN for the alias half of alias
	// operations, and "*" for operations with no resource (CreateKey,
	// ListKeys…).
	Resource string
	// Context holds the condition keys of the request; nil means none.
	Context Context
	// Time is the time of the request, the value of aws:CurrentTime and
	// aws:EpochTime; zero leaves them to Context.
	Time time.Time
}

// Effect is what a policy says about a request.
type Effect uint8

const (
	// NoMatch: no statement applies; the policy neither allows nor denies.
	NoMatch Effect = iota
	// AllowAccount: an Allow statement applies only because it names the
	// caller's account (arn:aws:iam::111122223333:root or 111122223333).
	// In a key policy this delegates to the account's IAM policies; it is
	// not a permission of its own, except for the account's root user.
	AllowAccount
	// AllowDirect: an Allow statement applies to the caller itself: it
	// names the caller, its role, or "*", or it is in an identity policy.
	AllowDirect
	// Deny: a Deny statement applies.
	Deny
)

func (e Effect) String() string {
	switch e {
	case AllowAccount:
		return "AllowAccount"
	case AllowDirect:
		return "AllowDirect"
	case Deny:
		return "Deny"
	}
	return "NoMatch"
}

// Result is the answer of one policy: its effect, and the statement that
// decided it (the first Deny that applies, else the first statement giving
// the strongest Allow). Statement is -1 for NoMatch.
type Result struct {
	Effect    Effect
	Statement int
	Sid       string
}

// maxStackVars is how many variables a statement may use before resolving
// them allocates.
const maxStackVars = 8

// Evaluate applies the policy to r. It allocates nothing unless a
// statement compares case-insensitively against a variable, the request
// time must be formatted as text, or a statement uses more than eight
// variables.
func (p *Policy) Evaluate(r *Request) Result {
	best := Result{Statement: -1}
	for i := range p.statements {
		st := &p.statements[i]
		e := st.applies(r)
		if e == NoMatch {
			continue
		}
		if st.deny {
			return Result{Effect: Deny, Statement: i, Sid: st.sid}
		}
		if e > best.Effect {
			best = Result{Effect: e, Statement: i, Sid: st.sid}
		}
	}
	return best
}

// applies returns NoMatch, or how the statement reaches the caller:
// AllowDirect or AllowAccount (for Deny statements the caller treats any
// match alike).
func (st *statement) applies(r *Request) Effect {
	if !st.matchAction(r.Action) {
		return NoMatch
	}
	reach := AllowDirect
	if st.principal != nil {
		if st.notPrincipal {
			if st.principal.coversAll(&r.Principal) {
				return NoMatch
			}
		} else {
			matched, direct := st.principal.match(&r.Principal)
			if !matched {
				return NoMatch
			}
			if !direct {
				reach = AllowAccount
			}
		}
	}
	var stack [maxStackVars]string
	vars := stack[:0]
	if len(st.vars) > 0 {
		if len(st.vars) <= maxStackVars {
			vars = stack[:len(st.vars)]
		} else {
			vars = make([]string, len(st.vars))
		}
		if !resolveVars(r, st.vars, vars) {
			return NoMatch
		}
	}
	if !st.matchResource(r.Resource, vars) {
		return NoMatch
	}
	for i := range st.conditions {
		if !st.conditions[i].eval(r, vars) {
			return NoMatch
		}
	}
	return reach
}

func (st *statement) matchAction(action string) bool {
	for i := range st.actions {
		if st.actions[i].match(action, nil, true) {
			return !st.notAction
		}
	}
	return st.notAction
}

func (st *statement) matchResource(resource string, vars []string) bool {
	matched := st.anyResource
	for i := 0; !matched && i < len(st.resources); i++ {
		matched = st.resources[i].match(resource, vars)
	}
	return matched != st.notResource
}
