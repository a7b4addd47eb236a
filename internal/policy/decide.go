package policy

import (
	"fmt"
	"strings"
)

// DecideInput is everything AWS KMS weighs for one permission on one
// resource.
type DecideInput struct {
	Request *Request
	// KeyAccount is the account that owns the key.
	KeyAccount string
	// KeyPolicy is the key's policy. It is nil exactly for permissions on
	// no key (IAM-only operations such as kms:CreateKey or kms:ListKeys,
	// and the alias half of alias operations); a nil KeyPolicy with a key
	// ARN as Resource is refused, so that a missing policy never opens a key.
	KeyPolicy *Policy
	// IdentityPolicies are the caller's IAM policies (none for an
	// account's root user).
	IdentityPolicies []*Policy
	// GrantAllows says that a grant on the key lets the caller perform this
	// permission with this request's encryption context; the caller
	// evaluates grants. Grant names it for explanations.
	GrantAllows bool
	Grant       string
}

// Reason says why a Decision went the way it did.
type Reason uint8

const (
	_ Reason = iota
	// AllowedByKeyPolicy: the key policy names the caller, its role or "*",
	// and the caller is in the key's account.
	AllowedByKeyPolicy
	// AllowedByIdentityPolicy: an identity policy allows, and the key
	// policy delegates to the caller's account or (across accounts) names
	// the caller; or the permission is IAM-only.
	AllowedByIdentityPolicy
	// AllowedAsAccountRoot: the caller is an account's root user, which
	// needs no identity policy where its account is delegated to, nor for
	// IAM-only permissions.
	AllowedAsAccountRoot
	// AllowedByGrant: a grant allows.
	AllowedByGrant

	// ExplicitDenyResource: a Deny statement of the key policy applies.
	ExplicitDenyResource
	// ExplicitDenyIdentity: a Deny statement of an identity policy applies.
	ExplicitDenyIdentity
	// NoResourcePolicyAllows: the key policy neither names the caller nor
	// delegates to its account.
	NoResourcePolicyAllows
	// NoIdentityPolicyAllows: an identity policy was needed and none allows.
	NoIdentityPolicyAllows
	// CrossAccountDenied: the permission is never granted to another
	// account (KMS Developer Guide, "AWS KMS permissions": cross-account
	// column "No").
	CrossAccountDenied
)

var reasonNames = [...]string{
	AllowedByKeyPolicy:      "AllowedByKeyPolicy",
	AllowedByIdentityPolicy: "AllowedByIdentityPolicy",
	AllowedAsAccountRoot:    "AllowedAsAccountRoot",
	AllowedByGrant:          "AllowedByGrant",
	ExplicitDenyResource:    "ExplicitDenyResource",
	ExplicitDenyIdentity:    "ExplicitDenyIdentity",
	NoResourcePolicyAllows:  "NoResourcePolicyAllows",
	NoIdentityPolicyAllows:  "NoIdentityPolicyAllows",
	CrossAccountDenied:      "CrossAccountDenied",
}

func (r Reason) String() string {
	if int(r) < len(reasonNames) && reasonNames[r] != "" {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Decision is the outcome of Decide, with what decided it.
type Decision struct {
	Allowed bool
	Reason  Reason
	// CrossAccount: the caller is not in the key's account. Denials then
	// take the message that hides whether the key exists.
	CrossAccount bool
	// KeyPolicy is the key policy's answer (Effect NoMatch and Statement
	// -1 when it was not consulted).
	KeyPolicy Result
	// Identity is the identity policies' answer, from policy number
	// IdentityPolicy of DecideInput.IdentityPolicies (-1 for none).
	Identity       Result
	IdentityPolicy int
	// Grant is DecideInput.Grant when a grant allowed.
	Grant string

	principal, action, resource string
}

// Decide makes AWS KMS's authorization decision (KMS Developer Guide,
// "Authentication and access control for AWS KMS", "Key policies in AWS
// KMS", "Allowing users in other accounts to use a KMS key"; IAM User
// Guide, "Policy evaluation logic"):
//
//  1. An explicit Deny in the key policy or in an identity policy denies;
//     it beats grants too.
//  2. A permission that is not allowed across accounts is denied to other
//     accounts, grants included.
//  3. A grant allows.
//  4. A key policy naming the caller (its ARN, its role, "*") allows a
//     caller of the key's account outright.
//  5. A key policy naming the caller's account delegates: an identity
//     policy must allow too, except for the account's root user. Across
//     accounts this holds even when the key policy names the caller.
//  6. Otherwise the request is denied; the root user has no other way in.
//
// IAM-only permissions (DecideInput.KeyPolicy nil) need an identity policy
// or the root user. kms:RetireGrant is one of its own: key policies do not
// grant it, so it is allowed by a grant (the retiring principal or a
// grantee with the RetireGrant operation, which the caller works out), or
// to the key's account: its root user and the identity policies of its
// users and roles.
//
// The lockout check of CreateKey and PutKeyPolicy is Decide on the new
// policy for kms:PutKeyPolicy with the caller's identity policies.
//
// in.Request must not be nil. Policies of the wrong kind are not used: an
// identity policy given as KeyPolicy denies, a key policy among
// IdentityPolicies is skipped.
func Decide(in DecideInput) Decision {
	r := in.Request
	d := Decision{
		KeyPolicy:      Result{Statement: -1},
		Identity:       Result{Statement: -1},
		IdentityPolicy: -1,
		principal:      r.Principal.ARN,
		action:         r.Action,
		resource:       r.Resource,
	}
	for i, p := range in.IdentityPolicies {
		if p == nil || p.kind != IdentityPolicy {
			continue // a key policy here would grant by its principals: ignore it
		}
		res := p.Evaluate(r)
		if res.Effect > d.Identity.Effect {
			d.Identity, d.IdentityPolicy = res, i
			if res.Effect == Deny {
				break
			}
		}
	}
	identityAllows := d.Identity.Effect == AllowDirect || d.Identity.Effect == AllowAccount
	root := r.Principal.isRoot()

	if strings.EqualFold(r.Action, "kms:RetireGrant") {
		d.CrossAccount = r.Principal.Account != in.KeyAccount
		switch {
		case d.Identity.Effect == Deny:
			return d.deny(ExplicitDenyIdentity)
		case in.GrantAllows:
			return d.allow(AllowedByGrant, in.Grant)
		case d.CrossAccount:
			return d.deny(NoIdentityPolicyAllows)
		case root:
			return d.allow(AllowedAsAccountRoot, "")
		case identityAllows:
			return d.allow(AllowedByIdentityPolicy, "")
		}
		return d.deny(NoIdentityPolicyAllows)
	}

	if in.KeyPolicy == nil {
		switch {
		case strings.Contains(r.Resource, ":key/"):
			return d.deny(NoResourcePolicyAllows) // a key without its policy: fail closed
		case d.Identity.Effect == Deny:
			return d.deny(ExplicitDenyIdentity)
		case root:
			return d.allow(AllowedAsAccountRoot, "")
		case identityAllows:
			return d.allow(AllowedByIdentityPolicy, "")
		}
		return d.deny(NoIdentityPolicyAllows)
	}

	d.CrossAccount = r.Principal.Account != in.KeyAccount
	if in.KeyPolicy.kind != KeyPolicy {
		// An identity policy has no principals and would allow everyone.
		return d.deny(NoResourcePolicyAllows)
	}
	d.KeyPolicy = in.KeyPolicy.Evaluate(r)
	switch {
	case d.KeyPolicy.Effect == Deny:
		return d.deny(ExplicitDenyResource)
	case d.Identity.Effect == Deny:
		return d.deny(ExplicitDenyIdentity)
	case d.CrossAccount && !crossAccountAction(r.Action):
		return d.deny(CrossAccountDenied)
	case in.GrantAllows:
		return d.allow(AllowedByGrant, in.Grant)
	case d.KeyPolicy.Effect == NoMatch:
		return d.deny(NoResourcePolicyAllows)
	case d.KeyPolicy.Effect == AllowDirect && !d.CrossAccount:
		return d.allow(AllowedByKeyPolicy, "")
	case root:
		return d.allow(AllowedAsAccountRoot, "")
	case identityAllows:
		return d.allow(AllowedByIdentityPolicy, "")
	}
	return d.deny(NoIdentityPolicyAllows)
}

func crossAccountAction(action string) bool {
	info, ok := LookupAction(action)
	return ok && info.CrossAccount
}

func (d Decision) allow(reason Reason, grant string) Decision {
	d.Allowed, d.Reason, d.Grant = true, reason, grant
	return d
}

func (d Decision) deny(reason Reason) Decision {
	d.Allowed, d.Reason = false, reason
	return d
}

// Message returns the AccessDeniedException message AWS KMS gives for a
// denial ("" when allowed). AWS names a single failing policy type
// (IAM User Guide, "Troubleshooting access denied error messages"); across
// accounts it gives one message for every cause, which hides whether the
// key exists.
func (d Decision) Message() string {
	if d.Allowed {
		return ""
	}
	head := "User: " + d.principal + " is not authorized to perform: " + d.action
	if d.CrossAccount {
		return head + " on this resource because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access"
	}
	head += " on resource: " + d.resource
	switch d.Reason {
	case ExplicitDenyResource:
		return head + " with an explicit deny in a resource-based policy"
	case ExplicitDenyIdentity:
		return head + " with an explicit deny in an identity-based policy"
	case NoIdentityPolicyAllows:
		return head + " because no identity-based policy allows the " + d.action + " action"
	}
	return head + " because no resource-based policy allows the " + d.action + " action"
}

// Explain describes the decision for a person: the outcome, the reason,
// and the statements or grant that decided it.
func (d Decision) Explain() string {
	var b strings.Builder
	if d.Allowed {
		b.WriteString("allowed: ")
	} else {
		b.WriteString("denied: ")
	}
	fmt.Fprintf(&b, "%s %s on %s", d.principal, d.action, d.resource)
	if d.CrossAccount {
		b.WriteString(" (cross-account)")
	}
	b.WriteString(": ")
	switch d.Reason {
	case AllowedByKeyPolicy:
		b.WriteString("the key policy names the caller, " + statementRef("key policy", d.KeyPolicy))
	case AllowedByIdentityPolicy:
		if d.KeyPolicy.Statement >= 0 {
			b.WriteString("the key policy lets the caller's IAM policies decide, " + statementRef("key policy", d.KeyPolicy) + "; ")
		}
		b.WriteString("an identity policy allows, " + d.identityRef())
	case AllowedAsAccountRoot:
		b.WriteString("the caller is the account's root user")
		if d.KeyPolicy.Statement >= 0 {
			b.WriteString(" and the key policy names its account, " + statementRef("key policy", d.KeyPolicy))
		}
	case AllowedByGrant:
		b.WriteString("a grant allows")
		if d.Grant != "" {
			b.WriteString(", grant " + d.Grant)
		}
	case ExplicitDenyResource:
		b.WriteString("the key policy denies explicitly, " + statementRef("key policy", d.KeyPolicy))
	case ExplicitDenyIdentity:
		b.WriteString("an identity policy denies explicitly, " + d.identityRef())
	case NoResourcePolicyAllows:
		b.WriteString("no key policy statement allows the caller or delegates to its account")
	case NoIdentityPolicyAllows:
		if d.KeyPolicy.Statement >= 0 {
			b.WriteString("the key policy lets the caller's IAM policies decide, " + statementRef("key policy", d.KeyPolicy) + ", and ")
		}
		b.WriteString("no identity policy allows")
	case CrossAccountDenied:
		b.WriteString("this permission cannot be given to another account")
	}
	return b.String()
}

func (d Decision) identityRef() string {
	return statementRef(fmt.Sprintf("identity policy %d", d.IdentityPolicy), d.Identity)
}

func statementRef(policy string, r Result) string {
	s := fmt.Sprintf("%s statement %d", policy, r.Statement)
	if r.Sid != "" {
		s += fmt.Sprintf(" (Sid %q)", r.Sid)
	}
	return s
}
