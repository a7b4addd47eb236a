package policy

import "strings"

// Principal is the caller of a request, as the authenticator established it.
type Principal struct {
	// ARN is the caller: arn:aws:iam::111122223333:root (the account's root
	// user), arn:aws:iam::111122223333:user/alice (path included), or
	// arn:aws:sts::111122223333:assumed-role/app/session1 (a role session).
	ARN string
	// Account is the caller's 12-digit account ID.
	Account string
	// Type is the value of aws:PrincipalType: "Account" (root user),
	// "User", "AssumedRole" (or "FederatedUser").
	Type string
	// RoleARN is, for a role session, the role:
	// arn:aws:iam::111122223333:role/app (path included). It is the value of
	// aws:PrincipalArn, and a key policy naming it names every session.
	RoleARN string
	// UserID is the value of aws:userid.
	UserID string
	// Username is the value of aws:username (IAM users only).
	Username string
}

// Values of Principal.Type.
const (
	TypeAccount       = "Account"
	TypeUser          = "User"
	TypeAssumedRole   = "AssumedRole"
	TypeFederatedUser = "FederatedUser"
)

func (p *Principal) isRoot() bool { return p.Type == TypeAccount }

// principalArn is aws:PrincipalArn: the role for a session, else the caller.
func (p *Principal) principalArn() string {
	if p.RoleARN != "" {
		return p.RoleARN
	}
	return p.ARN
}

// principalSet is a compiled Principal or NotPrincipal element.
type principalSet struct {
	any      bool     // "*" or {"AWS": "*"}
	accounts []string // account IDs, from "111122223333" or arn:…:iam::111122223333:root
	arns     []string // users, roles, role sessions, federated users
	// Service, Federated and CanonicalUser principals are accepted and kept
	// for Principals, but never match a caller: trent's callers are IAM
	// identities authenticated by SigV4.
	others []string
}

// match reports whether the statement's Principal names the caller, and
// whether directly (the caller, its role, or "*") rather than through its
// account.
func (s *principalSet) match(p *Principal) (matched, direct bool) {
	if s.any {
		return true, true
	}
	for _, a := range s.arns {
		if a == p.ARN || (p.RoleARN != "" && a == p.RoleARN) {
			return true, true
		}
	}
	if p.Account != "" {
		for _, a := range s.accounts {
			if a == p.Account {
				return true, false
			}
		}
	}
	return false, false
}

// coversAll reports whether every identity the caller acts as (its
// account, its role, itself) is listed. A NotPrincipal element matches a
// caller unless it covers all of them: AWS may evaluate the account, then
// the role, then the session (IAM User Guide, "AWS JSON policy elements:
// NotPrincipal"), so leaving any of them out leaves the caller matched.
func (s *principalSet) coversAll(p *Principal) bool {
	if s.any {
		return true
	}
	listedAccount := false
	for _, a := range s.accounts {
		if a == p.Account {
			listedAccount = true
			break
		}
	}
	if !listedAccount {
		return false
	}
	if p.isRoot() {
		return true
	}
	if !containsString(s.arns, p.ARN) {
		return false
	}
	return p.RoleARN == "" || containsString(s.arns, p.RoleARN)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parsePrincipal compiles a Principal or NotPrincipal element. Accepted
// forms (IAM User Guide, "AWS JSON policy elements: Principal"): "*";
// {"AWS": …} with "*", 12-digit account IDs, or the ARNs of an account
// root, IAM user, IAM role, role session or federated user; {"Service": …},
// {"Federated": …}, {"CanonicalUser": …}. Groups, partial wildcards and
// unique IDs (AIDA…) are invalid principals.
func parsePrincipal(n *node) (*principalSet, error) {
	bad := errorf(msgInvalidPrincipals)
	s := &principalSet{}
	switch n.kind {
	case stringNode:
		if n.text != "*" {
			return nil, bad
		}
		s.any = true
		return s, nil
	case objectNode:
	default:
		return nil, bad
	}
	if len(n.members) == 0 {
		return nil, bad
	}
	for i := range n.members {
		m := &n.members[i]
		values, ok := m.value.stringList()
		if !ok || len(values) == 0 {
			return nil, bad
		}
		for _, v := range values {
			switch m.name {
			case "AWS":
				switch {
				case v == "*":
					s.any = true
				case isAccountID(v):
					s.accounts = append(s.accounts, v)
				default:
					acct, root, ok := parsePrincipalARN(v)
					if !ok {
						return nil, bad
					}
					if root {
						s.accounts = append(s.accounts, acct)
					} else {
						s.arns = append(s.arns, v)
					}
				}
			case "Service", "Federated", "CanonicalUser":
				if v == "" || strings.ContainsAny(v, " \t\r\n*?") {
					return nil, bad
				}
				s.others = append(s.others, v)
			default:
				return nil, bad
			}
		}
	}
	return s, nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parsePrincipalARN checks an IAM principal ARN and returns its account, and
// whether it is the account's root.
func parsePrincipalARN(v string) (account string, root, ok bool) {
	parts := strings.SplitN(v, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !isPartition(parts[1]) || parts[3] != "" || !isAccountID(parts[4]) {
		return "", false, false
	}
	account, res := parts[4], parts[5]
	switch parts[2] {
	case "iam":
		if res == "root" {
			return account, true, true
		}
		typ, rest, _ := strings.Cut(res, "/")
		if (typ == "user" || typ == "role") && isPathAndName(rest) {
			return account, false, true
		}
	case "sts":
		typ, rest, _ := strings.Cut(res, "/")
		switch typ {
		case "assumed-role":
			role, session, found := strings.Cut(rest, "/")
			if found && isName(role) && isName(session) {
				return account, false, true
			}
		case "federated-user":
			if isName(rest) {
				return account, false, true
			}
		}
	}
	return "", false, false
}

func isPartition(s string) bool {
	if s == "aws" {
		return true
	}
	if !strings.HasPrefix(s, "aws-") || len(s) == 4 {
		return false
	}
	for i := 4; i < len(s); i++ {
		if (s[i] < 'a' || s[i] > 'z') && s[i] != '-' {
			return false
		}
	}
	return true
}

// isName reports whether s is an IAM name: letters, digits and +=,.@_-.
func isName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("+=,.@_-", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isPathAndName accepts "name" or "path/segments/name".
func isPathAndName(s string) bool {
	for {
		seg, rest, found := strings.Cut(s, "/")
		if !isName(seg) {
			return false
		}
		if !found {
			return true
		}
		s = rest
	}
}
