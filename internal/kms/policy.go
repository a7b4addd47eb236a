package kms

import (
	"context"
	"errors"
	"sync"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/policy"
)

// The only key policy name AWS KMS has.
const defaultPolicyName = "default"

// defaultPolicies caches the parsed default key policy of each account.
var defaultPolicies sync.Map // account → *policy.Policy

// defaultPolicy is the key policy AWS attaches to a key created without
// one, formatted exactly as GetKeyPolicy returns it: it gives the account
// (and through it IAM policies) full control of the key.
func defaultPolicy(account string) string { return policy.DefaultKeyPolicy(account) }

func parsedDefaultPolicy(account string) *policy.Policy {
	if p, ok := defaultPolicies.Load(account); ok {
		return p.(*policy.Policy)
	}
	p, err := policy.Parse(defaultPolicy(account), policy.KeyPolicy)
	if err != nil {
		panic("kms: the default key policy does not parse: " + err.Error())
	}
	defaultPolicies.Store(account, p)
	return p
}

// keyPolicy is k's policy, parsed. A policy stored before trent evaluated
// policies (it only checked that the document was JSON with a Statement)
// may not pass today's validation; such a key is evaluated under the
// default policy, which is what applied to it until then, and a warning
// says to replace it. Every policy stored since is validated first.
func (s *Service) keyPolicy(k *Key) *policy.Policy {
	if k.Policy == "" {
		return parsedDefaultPolicy(k.Account)
	}
	p, err := policy.Parse(k.Policy, policy.KeyPolicy)
	if err != nil {
		s.logger.Warn("the key policy of this key does not parse: it was stored before trent evaluated key policies; the default key policy applies until it is replaced with PutKeyPolicy",
			"key", k.ARN(), "reason", err)
		return parsedDefaultPolicy(k.Account)
	}
	return p
}

func (k *Key) policy() string {
	if k.Policy == "" {
		return defaultPolicy(k.Account)
	}
	return k.Policy
}

// checkPolicy validates a key policy document for CreateKey or
// PutKeyPolicy: size, language (package policy), and that every principal
// it names exists here (AWS: "invalid principals"). It returns the parsed
// policy.
func (s *Service) checkPolicy(doc string) (*policy.Policy, error) {
	if len(doc) > maxPolicyBytes {
		return nil, kmsapi.Errorf(kmsapi.LimitExceededException,
			"The key policy document exceeds the maximum size of %d bytes.", maxPolicyBytes)
	}
	p, err := policy.Parse(doc, policy.KeyPolicy)
	var perr *policy.Error
	if errors.As(err, &perr) {
		return nil, kmsapi.Errorf(kmsapi.MalformedPolicyDocumentException, "%s", perr.Message)
	}
	if err != nil {
		return nil, err
	}
	for _, principal := range p.Principals() {
		if !s.principalExists(principal) {
			return nil, kmsapi.Errorf(kmsapi.MalformedPolicyDocumentException, "Policy contains a statement with one or more invalid principals.")
		}
	}
	return p, nil
}

// checkLockout refuses a key policy under which the caller could no longer
// change the key policy (KMS's lockout safety check), unless the request
// bypasses it.
func (s *Service) checkLockout(call *Call, k *Key, p *policy.Policy, bypass bool) error {
	if bypass {
		return nil
	}
	r := &policy.Request{
		Principal: call.Principal,
		Action:    "kms:PutKeyPolicy",
		Resource:  k.ARN(),
		Context:   &requestContext{s: s, call: call, key: k},
		Time:      s.now(),
	}
	d := policy.Decide(policy.DecideInput{Request: r, KeyAccount: k.Account, KeyPolicy: p, IdentityPolicies: call.Policies})
	if !d.Allowed {
		return kmsapi.Errorf(kmsapi.MalformedPolicyDocumentException,
			"The new key policy will not allow you to update the key policy in the future.")
	}
	return nil
}

func checkPolicyName(name *string) error {
	if name != nil && *name != defaultPolicyName {
		return kmsapi.Errorf(kmsapi.NotFoundException, "No such policy exists: %s", *name)
	}
	return nil
}

func (s *Service) GetKeyPolicy(ctx context.Context, call *Call, in *kmsapi.GetKeyPolicyRequest) (*kmsapi.GetKeyPolicyResponse, error) {
	// The name is the request's, checked before the key (as PutKeyPolicy does).
	if err := checkPolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	k, err := s.viewKey(ctx, call, "GetKeyPolicy", in.GetKeyId())
	if err != nil {
		return nil, err
	}
	return &kmsapi.GetKeyPolicyResponse{Policy: new(k.policy()), PolicyName: new(defaultPolicyName)}, nil
}

func (s *Service) ListKeyPolicies(ctx context.Context, call *Call, in *kmsapi.ListKeyPoliciesRequest) (*kmsapi.ListKeyPoliciesResponse, error) {
	if _, err := s.viewKey(ctx, call, "ListKeyPolicies", in.GetKeyId()); err != nil {
		return nil, err
	}
	return &kmsapi.ListKeyPoliciesResponse{PolicyNames: []string{defaultPolicyName}, Truncated: new(false)}, nil
}

func (s *Service) PutKeyPolicy(ctx context.Context, call *Call, in *kmsapi.PutKeyPolicyRequest) error {
	if err := checkPolicyName(in.PolicyName); err != nil {
		return err
	}
	p, err := s.checkPolicy(in.GetPolicy())
	if err != nil {
		return err
	}
	bypass := in.GetBypassPolicyLockoutSafetyCheck()
	call.Cond.Set("kms:BypassPolicyLockoutSafetyCheck", boolString(bypass))
	_, err = s.changeKey(ctx, call, "PutKeyPolicy", in.GetKeyId(), func(k *Key) error {
		if err := s.checkLockout(call, k, p, bypass); err != nil {
			return err
		}
		k.Policy = in.GetPolicy()
		return nil
	})
	return err
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
