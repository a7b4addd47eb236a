package policy

import (
	"errors"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// Kind says which sort of policy a document is, which decides what is
// valid in it and how its statements apply.
type Kind int

const (
	// KeyPolicy is a KMS key policy: a resource-based policy whose
	// statements name principals and whose Resource is "*" (this key).
	KeyPolicy Kind = iota + 1
	// IdentityPolicy is an IAM policy attached to a user or role: no
	// principals; keys are matched by key ARN in Resource.
	IdentityPolicy
)

func (k Kind) String() string {
	switch k {
	case KeyPolicy:
		return "key policy"
	case IdentityPolicy:
		return "identity policy"
	}
	return "unknown policy kind"
}

// Policy versions (IAM User Guide, "IAM JSON policy elements: Version").
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Policy is a parsed, validated and compiled policy document. It is
// immutable and safe for concurrent use.
type Policy struct {
	kind       Kind
	version    string
	id         string
	statements []statement
	principals []string
}

// Kind returns the kind the policy was parsed as.
func (p *Policy) Kind() Kind { return p.kind }

// ID returns the document's Id element, or "".
func (p *Policy) ID() string { return p.id }

// Version returns the document's Version element, or "" when absent (the
// policy then behaves as 2008-10-17: variables are literal text).
func (p *Policy) Version() string { return p.version }

// Len returns the number of statements.
func (p *Policy) Len() int { return len(p.statements) }

// Sid returns the Sid of statement i ("" when it has none).
func (p *Policy) Sid(i int) string { return p.statements[i].sid }

// Principals returns the AWS principals that the document's Principal and
// NotPrincipal elements name, as written (account IDs and ARNs, "*"
// excluded), without duplicates. KMS rejects a key policy naming a
// principal that does not exist with "Policy contains a statement with one
// or more invalid principals."; the caller, who knows the identities,
// checks these.
func (p *Policy) Principals() []string { return p.principals }

type statement struct {
	sid  string
	deny bool

	principal    *principalSet // nil in identity policies
	notPrincipal bool

	actions   []pattern
	notAction bool

	anyResource bool // Resource "*" (always so in key policies)
	resources   []arnPattern
	notResource bool

	conditions []condition
	vars       []variable
}

// Parse validates and compiles a policy document of the given kind. A
// document that is not valid is refused with an *Error whose Message is
// the text for MalformedPolicyDocumentException. Parse does not check the
// size limit, that named principals exist, or the lockout rule: those are
// the caller's.
func Parse(doc string, kind Kind) (*Policy, error) {
	if kind != KeyPolicy && kind != IdentityPolicy {
		return nil, errors.New("policy: unknown policy kind")
	}
	root, err := parseJSON(doc)
	if err != nil {
		switch {
		case kind == IdentityPolicy:
			return nil, errorf(msgIAMSyntax)
		case errors.Is(err, jsontext.ErrDuplicateName):
			return nil, errorf(msgDuplicateName)
		}
		return nil, errorf(msgNotJSON)
	}
	if root.kind != objectNode {
		if kind == IdentityPolicy {
			return nil, errorf(msgIAMSyntax)
		}
		return nil, errorf(msgNotJSON)
	}
	p := &Policy{kind: kind}
	var stmts *node
	for i := range root.members {
		m := &root.members[i]
		switch m.name {
		case "Version":
			if m.value.kind != stringNode || (m.value.text != Version2012 && m.value.text != Version2008) {
				return nil, errorf(msgBadVersion)
			}
			p.version = m.value.text
		case "Id":
			if m.value.kind != stringNode {
				return nil, elementError(kind, "Id")
			}
			p.id = m.value.text
		case "Statement":
			stmts = &m.value
		default:
			return nil, elementError(kind, m.name)
		}
	}
	var list []node
	switch {
	case stmts == nil:
		return nil, errorf(msgNoStatement)
	case stmts.kind == objectNode:
		list = []node{*stmts}
	case stmts.kind == arrayNode:
		list = stmts.items
	default:
		return nil, elementError(kind, "Statement")
	}
	if len(list) == 0 {
		return nil, errorf(msgNoStatement)
	}
	sids := map[string]bool{}
	seen := map[string]bool{}
	for i := range list {
		c := compiler{kind: kind, variables: p.version == Version2012}
		st, err := c.statement(&list[i])
		if err != nil {
			return nil, err
		}
		if kind == IdentityPolicy && st.sid != "" {
			if sids[st.sid] {
				return nil, errorf(msgIAMSidUnique)
			}
			sids[st.sid] = true
		}
		p.statements = append(p.statements, st)
		for _, name := range c.principals {
			if !seen[name] {
				seen[name] = true
				p.principals = append(p.principals, name)
			}
		}
	}
	return p, nil
}

// compiler holds what compiling one statement needs.
type compiler struct {
	kind       Kind
	variables  bool // Version 2012-10-17: ${…} is a variable
	vars       []variable
	principals []string
}

// statement elements (IAM User Guide, "IAM JSON policy element reference").
func (c *compiler) statement(n *node) (statement, error) {
	var st statement
	if n.kind != objectNode {
		return st, elementError(c.kind, "Statement")
	}
	var effect, principal, notPrincipal, action, notAction, resource, notResource, cond *node
	for i := range n.members {
		m := &n.members[i]
		switch m.name {
		case "Sid":
			if m.value.kind != stringNode {
				return st, elementError(c.kind, "Sid")
			}
			st.sid = m.value.text
		case "Effect":
			effect = &m.value
		case "Principal":
			principal = &m.value
		case "NotPrincipal":
			notPrincipal = &m.value
		case "Action":
			action = &m.value
		case "NotAction":
			notAction = &m.value
		case "Resource":
			resource = &m.value
		case "NotResource":
			notResource = &m.value
		case "Condition":
			cond = &m.value
		default:
			return st, elementError(c.kind, m.name)
		}
	}
	if c.kind == IdentityPolicy && !isAlnum(st.sid) {
		return st, errorf(msgIAMSidAlnum)
	}

	if effect == nil || effect.kind != stringNode || (effect.text != "Allow" && effect.text != "Deny") {
		return st, errorf(msgBadEffect)
	}
	st.deny = effect.text == "Deny"

	if err := c.principal(&st, principal, notPrincipal); err != nil {
		return st, err
	}
	if err := c.actions(&st, action, notAction); err != nil {
		return st, err
	}
	if err := c.resources(&st, resource, notResource); err != nil {
		return st, err
	}
	if cond != nil {
		if err := c.conditions(&st, cond); err != nil {
			return st, err
		}
	}
	st.vars = c.vars
	return st, nil
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (c *compiler) principal(st *statement, principal, notPrincipal *node) error {
	if c.kind == IdentityPolicy {
		if principal != nil || notPrincipal != nil {
			return errorf(msgIAMNoPrincipal)
		}
		return nil
	}
	// A key policy statement must name its principals. A third-party page
	// shows "Policy contains a statement with no principal" for this; the
	// invalid-principals text is the one seen from KMS itself.
	if (principal == nil) == (notPrincipal == nil) {
		return errorf(msgInvalidPrincipals)
	}
	n := principal
	if n == nil {
		n, st.notPrincipal = notPrincipal, true
	}
	set, err := parsePrincipal(n)
	if err != nil {
		return err
	}
	st.principal = set
	c.principals = append(c.principals, set.accounts...)
	c.principals = append(c.principals, set.arns...)
	return nil
}

func (c *compiler) actions(st *statement, action, notAction *node) error {
	missing := msgIAMNoActions
	if c.kind == KeyPolicy {
		missing = msgKeyPolicyAction
	}
	if action != nil && notAction != nil {
		return elementError(c.kind, "NotAction")
	}
	n := action
	if n == nil {
		n, st.notAction = notAction, true
	}
	if n == nil {
		return errorf(missing)
	}
	list, ok := n.stringList()
	if !ok {
		return elementError(c.kind, "Action")
	}
	if len(list) == 0 {
		return errorf(missing)
	}
	for _, a := range list {
		if c.kind == IdentityPolicy && a != "*" {
			// IAM insists on "vendor:action"; KMS does not check actions in
			// key policies at all (a key policy with "kms=Decrypt" was
			// accepted: gh:Azure/Azure-Sentinel#12242).
			switch strings.Count(a, ":") {
			case 0:
				return errorf(msgIAMVendor)
			case 1:
			default:
				return errorf(msgIAMOneColon)
			}
			if strings.HasPrefix(a, ":") {
				return errorf(msgIAMVendor)
			}
		}
		st.actions = append(st.actions, actionPattern(a))
	}
	return nil
}

func (c *compiler) resources(st *statement, resource, notResource *node) error {
	if resource != nil && notResource != nil {
		return elementError(c.kind, "NotResource")
	}
	if c.kind == KeyPolicy {
		// Since 2025-08-18 KMS rejects a statement whose Resource is
		// missing or is not "*" (AWS notice quoted in
		// gh:ministryofjustice/analytical-platform#7691): "the only
		// accepted Resource element value in a KMS key policy is "*"".
		if resource == nil {
			return errorf(msgKeyPolicyResource)
		}
		list, ok := resource.stringList()
		if !ok || len(list) == 0 {
			return errorf(msgKeyPolicyResource)
		}
		for _, r := range list {
			if r != "*" {
				return errorf(msgKeyPolicyResource)
			}
		}
		st.anyResource = true
		return nil
	}
	n := resource
	if n == nil {
		n, st.notResource = notResource, true
	}
	if n == nil {
		return errorf(msgIAMNoResources)
	}
	list, ok := n.stringList()
	if !ok {
		return errorf(msgIAMSyntax)
	}
	if len(list) == 0 {
		return errorf(msgIAMNoResources)
	}
	for _, r := range list {
		if r == "*" {
			st.anyResource = true
			continue
		}
		parts := strings.SplitN(r, ":", 6)
		if len(parts) < 3 || parts[0] != "arn" {
			return errorf(`Resource ` + r + ` must be in ARN format or "*".`)
		}
		// Variables only in the resource part, after the fifth colon (IAM
		// User Guide, "IAM policy elements: Variables and tags").
		ap := arnPattern{}
		for i, part := range parts {
			if i == 5 {
				ap.parts = append(ap.parts, newPattern(c.template(part, true)))
			} else {
				ap.parts = append(ap.parts, literalPattern(part, true))
			}
		}
		st.resources = append(st.resources, ap)
	}
	return nil
}

func (c *compiler) conditions(st *statement, n *node) error {
	if n.kind != objectNode {
		return errorf(msgBadCondition)
	}
	for i := range n.members {
		op := &n.members[i]
		info, set, ifExists, ok := parseOperator(op.name)
		if !ok {
			return errorf(msgBadOperator)
		}
		if op.value.kind != objectNode || len(op.value.members) == 0 {
			return errorf(msgBadCondition)
		}
		for j := range op.value.members {
			k := &op.value.members[j]
			if k.name == "" {
				return errorf(msgBadCondition)
			}
			if c.kind == IdentityPolicy && !strings.Contains(k.name, ":") {
				return errorf(msgIAMVendor)
			}
			values, ok := conditionValues(&k.value)
			if !ok {
				return errorf(msgBadCondition)
			}
			if c.kind == KeyPolicy && set == setForAll {
				// KMS refuses ForAllValues on keys that hold one value
				// (KMS Developer Guide, "AWS KMS condition keys").
				lower := strings.ToLower(k.name)
				if strings.HasPrefix(lower, "kms:encryptioncontext:") {
					return errorf(msgOverlyPermissiveEC)
				}
				if strings.HasPrefix(lower, "aws:requesttag/") {
					return errorf(msgOverlyPermissiveTag)
				}
			}
			cond, err := c.compileCondition(info, set, ifExists, k.name, values)
			if err != nil {
				return err
			}
			st.conditions = append(st.conditions, cond)
		}
	}
	return nil
}

// conditionValues reads a condition value: a string, number or boolean, or
// a non-empty array of them.
func conditionValues(n *node) ([]string, bool) {
	if s, ok := n.scalarText(); ok {
		return []string{s}, true
	}
	if n.kind != arrayNode || len(n.items) == 0 {
		return nil, false
	}
	out := make([]string, 0, len(n.items))
	for i := range n.items {
		s, ok := n.items[i].scalarText()
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}
