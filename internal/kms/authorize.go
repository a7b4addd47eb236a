package kms

import (
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/grant"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

// Authorization. Every operation asks one question of the Authorizer for
// each permission it needs (Access): who (the Call's principal and its
// identity policies), what (the action), on what (a key ARN, an alias ARN,
// or "*" for operations on no key), and under which conditions (the
// request's condition values, through a policy.Context).

// Authorizer decides whether a call may do something. It returns nil to
// allow, or an *kmsapi.Error (AccessDeniedException) to deny.
type Authorizer interface {
	Authorize(a *Access) error
}

// Access is one authorization question.
type Access struct {
	Call     *Call
	Action   string // "kms:Encrypt"
	Resource string // the key ARN, an alias ARN, or "*"
	// Key is the key the action is on; nil for IAM-only permissions.
	Key *Key
	// KeyPolicy is the key's policy, parsed; nil exactly when Key is nil.
	KeyPolicy *policy.Policy
	// Grants returns the grants of Key (loaded on demand: most decisions
	// never need them); nil when Key is nil.
	Grants func() ([]*grant.Grant, error)
	// Context holds the request's condition values.
	Context policy.Context
	// Time is the time of the request.
	Time time.Time

	// ViaGrant is set by the Authorizer to the grant that allowed the
	// access, if a grant did (CreateGrant limits what such a caller may
	// give).
	ViaGrant *grant.Grant

	// request is room for the policy.Request of the decision, allocated
	// with the Access (nil: decide allocates one).
	request *policy.Request
}

// Conditions are the condition values of a request that only the
// operation knows (its encryption context, algorithm, the alias it named,
// ...). Each operation fills in what its parameters give before it looks
// up a key; values of the key itself (spec, tags, ...) come from the key.
type Conditions struct {
	// EncryptionContext is the request's context (for CreateGrant, the
	// constraint asked for); TakesContext says the operation has one, so
	// kms:EncryptionContextKeys is present even when it is empty.
	EncryptionContext map[string]string
	TakesContext      bool
	// RequestAlias is the alias the caller named the key by, if any.
	RequestAlias string
	// GrantTokens are the request's grant tokens.
	GrantTokens []string
	// EncryptionAlgorithm is kms:EncryptionAlgorithm, when the operation
	// has one (kept apart from Values: every data-plane request sets it).
	EncryptionAlgorithm string
	// Values holds every other condition key the operation sets, by its
	// name as AWS writes it ("kms:EncryptionAlgorithm").
	Values policy.ListContext
}

// Set records the values of a condition key, replacing any it had: an
// operation may set them again, as a store transaction that is retried
// does.
func (c *Conditions) Set(key string, values ...string) {
	for i := range c.Values {
		if c.Values[i].Prefix == "" && c.Values[i].Name == key {
			c.Values[i].Values = values
			return
		}
	}
	c.Values = append(c.Values, policy.Entry{Name: key, Values: values})
}

// cryptoRequest records the condition values of an operation that takes an
// encryption context (and so kms:EncryptionContext:*, EncryptionContextKeys
// and EncryptionAlgorithm, default SYMMETRIC_DEFAULT) and grant tokens,
// which must all be ours.
func (s *Service) cryptoRequest(call *Call, ec map[string]string, alg *kmsapi.EncryptionAlgorithmSpec, tokens []string) error {
	call.Cond.TakesContext = true
	call.Cond.EncryptionContext = ec
	call.Cond.EncryptionAlgorithm = string(*algorithmOrDefault(alg))
	return s.useGrantTokens(call, tokens)
}

// useGrantTokens records a request's grant tokens, refusing any that is
// not ours (InvalidGrantTokenException).
func (s *Service) useGrantTokens(call *Call, tokens []string) error {
	if _, err := s.checkGrantTokens(tokens); err != nil {
		return err
	}
	call.Cond.GrantTokens = tokens
	return nil
}

// requestContext is the policy.Context of one Access: the operation's
// Conditions, the caller and the key.
type requestContext struct {
	s    *Service
	call *Call
	key  *Key
	// createKey holds the would-be key's properties for kms:CreateKey.
}

// NewRequestContext is the policy.Context of a call on key k (nil for
// IAM-only permissions); for benchmarks and tools outside the service,
// which cannot answer kms:ResourceAliases.
func NewRequestContext(call *Call, k *Key) policy.Context {
	return &requestContext{call: call, key: k}
}

func one(v string) []string { return []string{v} }

func (c *requestContext) Lookup(key string) ([]string, bool) {
	call, k := c.call, c.key
	switch key {
	case "aws:sourceip":
		if call.SourceIP == "" {
			return nil, false
		}
		return one(call.SourceIP), true
	case "aws:securetransport":
		return one(strconv.FormatBool(call.SecureTransport)), true
	case "aws:requestedregion":
		return one(call.Region), true
	case "kms:calleraccount":
		return one(call.Account), true
	case "kms:encryptioncontextkeys":
		if !call.Cond.TakesContext {
			return nil, false
		}
		keys := make([]string, 0, len(call.Cond.EncryptionContext))
		for k := range call.Cond.EncryptionContext {
			keys = append(keys, k)
		}
		return keys, true
	case "kms:encryptionalgorithm":
		if call.Cond.EncryptionAlgorithm == "" {
			return nil, false
		}
		return one(call.Cond.EncryptionAlgorithm), true
	case "kms:requestalias":
		if call.Cond.RequestAlias == "" {
			return nil, false
		}
		return one(call.Cond.RequestAlias), true
	case "kms:resourcealiases":
		if k == nil || c.s == nil {
			return nil, false
		}
		return c.s.aliasNames(k), true
	case "aws:tagkeys":
		return call.Cond.Values.Lookup("aws:tagkeys")
	}
	if name, ok := strings.CutPrefix(key, "kms:encryptioncontext:"); ok {
		if !call.Cond.TakesContext {
			return nil, false
		}
		for ek, ev := range call.Cond.EncryptionContext {
			if strings.EqualFold(ek, name) {
				return one(ev), true
			}
		}
		return nil, false
	}
	if name, ok := strings.CutPrefix(key, "aws:resourcetag/"); ok {
		if k == nil {
			return nil, false
		}
		for _, t := range k.Tags {
			if strings.EqualFold(t.Key, name) {
				return one(t.Value), true
			}
		}
		return nil, false
	}
	if k != nil {
		switch key {
		case "kms:keyspec", "kms:customermasterkeyspec":
			return one(string(k.KeySpec)), true
		case "kms:keyusage", "kms:customermasterkeyusage":
			return one(string(k.KeyUsage)), true
		case "kms:keyorigin":
			return one(string(k.Origin)), true
		case "kms:multiregion":
			return one(boolString(k.MultiRegion)), true
		case "kms:multiregionkeytype":
			if !k.MultiRegion {
				return nil, false
			}
			if k.Region == k.PrimaryRegion {
				return one(string(kmsapi.MultiRegionKeyTypePrimary)), true
			}
			return one(string(kmsapi.MultiRegionKeyTypeReplica)), true
		}
	}
	return call.Cond.Values.Lookup(key)
}

// aliasNames lists the names of a key's aliases, for kms:ResourceAliases.
func (s *Service) aliasNames(k *Key) []string {
	var names []string
	s.store.View(func(tx store.Tx) error {
		names, _ = aliasesOf(tx, k.Region, k.ID)
		return nil
	})
	return names
}

// PolicyAuthorizer is AWS KMS's authorization: key policies, the caller's
// identity (IAM) policies and grants, evaluated by package policy. Denials
// are logged at debug level with the reason, which the caller never sees.
type PolicyAuthorizer struct {
	Logger *slog.Logger
}

func (p PolicyAuthorizer) Authorize(a *Access) error {
	d, err := decide(a)
	if err != nil {
		return err
	}
	if d.Allowed {
		return nil
	}
	if p.Logger != nil {
		p.Logger.Debug("access denied", "explain", d.Explain())
	}
	msg := d.Message()
	if a.Key == nil && a.Resource == "*" && a.Action == "kms:TagResource" {
		// Tags given to CreateKey: AWS names no resource.
		msg = "User: " + a.Call.ARN + " is not authorized to perform: kms:TagResource because no identity-based policy allows the kms:TagResource action"
	}
	return kmsapi.Errorf(kmsapi.AccessDeniedException, "%s", msg)
}

// decide is AWS KMS's decision on a: grants are worked out here, the rest
// by policy.Decide.
func decide(a *Access) (policy.Decision, error) {
	call := a.Call
	r := a.request
	if r == nil {
		r = new(policy.Request)
	}
	*r = policy.Request{
		Principal: call.Principal,
		Action:    a.Action,
		Resource:  a.Resource,
		Context:   a.Context,
		Time:      a.Time,
	}
	in := policy.DecideInput{
		Request:          r,
		IdentityPolicies: call.Policies,
	}
	if a.Key != nil {
		in.KeyAccount = a.Key.Account
		in.KeyPolicy = a.KeyPolicy
		g, err := grantAllowing(a, r)
		if err != nil {
			return policy.Decision{}, err
		}
		if g != nil {
			in.GrantAllows, in.Grant = true, g.ID
		}
	}
	return policy.Decide(in), nil
}

// Explain is the decision on call performing action on key k with the given
// policy and grants, and the grant that allowed it if one did: what
// "trent policy explain" prints.
func Explain(call *Call, action string, k *Key, keyPolicy *policy.Policy, grants []*grant.Grant) (policy.Decision, *grant.Grant) {
	a := &Access{
		Call: call, Action: action, Resource: k.ARN(), Key: k, KeyPolicy: keyPolicy,
		Grants:  func() ([]*grant.Grant, error) { return grants, nil },
		Context: &requestContext{call: call, key: k},
		Time:    time.Now(),
	}
	d, _ := decide(a)
	return d, a.ViaGrant
}

// access is an Access and its context, allocated together: a decision is
// made on every request.
type access struct {
	Access
	ctx requestContext
	req policy.Request
}

// authorizeKey asks whether call may perform action on k, whose policy
// (parsed; nil to parse k.Policy) and grants it is given (nil grants: k
// has none, which only a grant token can change).
func (s *Service) authorizeKey(call *Call, action string, k *Key, keyPolicy *policy.Policy, grants func() ([]*grant.Grant, error)) (*Access, error) {
	return s.authorizeKeyARN(call, action, k, k.ARN(), keyPolicy, grants)
}

func (s *Service) authorizeKeyARN(call *Call, action string, k *Key, arn string, keyPolicy *policy.Policy, grants func() ([]*grant.Grant, error)) (*Access, error) {
	if keyPolicy == nil {
		keyPolicy = s.keyPolicy(k)
	}
	x := &access{ctx: requestContext{s: s, call: call, key: k}}
	x.Access = Access{
		request:   &x.req,
		Call:      call,
		Action:    action,
		Resource:  arn,
		Key:       k,
		KeyPolicy: keyPolicy,
		Context:   &x.ctx,
		Time:      s.now(),
	}
	if grants != nil || len(call.Cond.GrantTokens) > 0 {
		if grants == nil {
			grants = noGrants
		}
		x.Grants = s.grantsFunc(call, k, grants)
	}
	return &x.Access, s.authz.Authorize(&x.Access)
}

func noGrants() ([]*grant.Grant, error) { return nil, nil }

// authorizeAccount asks whether call may perform an IAM-only action (one
// on no key) on resource: "*", or an alias ARN for the alias half of the
// alias operations.
func (s *Service) authorizeAccount(call *Call, action, resource string) error {
	return s.authz.Authorize(&Access{
		Call:     call,
		Action:   action,
		Resource: resource,
		Context:  &requestContext{s: s, call: call},
		Time:     s.now(),
	})
}

// crossAccountDenied is AWS's answer to a caller naming a key of another
// account by ARN that it may not use, or that does not exist: the same
// words either way, so that existence is not revealed.
func crossAccountDenied(call *Call, action string) error {
	return kmsapi.Errorf(kmsapi.AccessDeniedException,
		"User: %s is not authorized to perform: %s on this resource because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access",
		call.ARN, action)
}

// ciphertextKeyDenied is AWS's answer when the key a ciphertext names does
// not exist here or may not be used for it.
func ciphertextKeyDenied(call *Call, action string) error {
	return kmsapi.Errorf(kmsapi.AccessDeniedException,
		"User: %s is not authorized to perform: %s on the resource associated with this ciphertext because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access",
		call.ARN, action)
}
