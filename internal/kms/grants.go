package kms

import (
	"context"
	"encoding/hex"
	"errors"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/trent-kms/trent/internal/grant"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

// Grants: the operations on them, and how a grant takes part in a decision.
// The grant records, their store, their tokens and what can be said of a
// grant on its own are internal/grant's. A key's grants are cached with it
// (liveKey) and evicted when they change, so a new grant is usable at once
// on this node; a grant token makes one usable at once on any node by
// sending it to the store.

func grantKeyARN(g *grant.Grant) string { return keyARN(g.Region, g.KeyAccount, g.KeyID) }

// grantToken makes a new token for g.
func (s *Service) grantToken(g *grant.Grant) (string, error) {
	nonce, err := s.randomBytes(grant.NonceSize)
	if err != nil {
		return "", err
	}
	return grant.Token(s.grantTokenKey, g, nonce)
}

func invalidGrantToken() error {
	return kmsapi.Errorf(kmsapi.InvalidGrantTokenException, "The grant token is not valid: it was not issued by this service, or it was changed.")
}

// checkGrantTokens refuses a request whose grant tokens are not all ours.
func (s *Service) checkGrantTokens(tokens []string) ([]grant.TokenRef, error) {
	var refs []grant.TokenRef
	for _, t := range tokens {
		r, err := grant.ParseToken(s.grantTokenKey, t)
		if err != nil {
			return nil, invalidGrantToken()
		}
		refs = append(refs, r)
	}
	return refs, nil
}

// grantsFunc returns the Access.Grants of key k, whose grants known to the
// cache (or read in the transaction) are known: plus, for every grant
// token of the request that names a grant of k not among them, that grant
// as the store has it now.
func (s *Service) grantsFunc(call *Call, k *Key, known func() ([]*grant.Grant, error)) func() ([]*grant.Grant, error) {
	return func() ([]*grant.Grant, error) {
		grants, err := known()
		if err != nil {
			return nil, err
		}
		refs, err := s.checkGrantTokens(call.Cond.GrantTokens)
		if err != nil {
			return nil, err
		}
		for _, r := range refs {
			if r.Region != k.Region || r.KeyID != k.ID || slices.ContainsFunc(grants, func(g *grant.Grant) bool { return g.ID == r.GrantID }) {
				continue
			}
			var g *grant.Grant
			err := s.store.View(func(tx store.Tx) (err error) {
				g, err = grant.Get(tx, r.Region, r.KeyID, r.GrantID)
				return err
			})
			if errors.Is(err, store.ErrNotFound) {
				continue // retired or revoked
			}
			if err != nil {
				return nil, err
			}
			grants = append(slices.Clip(grants), g)
		}
		return grants, nil
	}
}

// grantOperation is the grant operation of a permission ("kms:Decrypt" is
// Decrypt); ok is false for permissions no grant can give.
func grantOperation(action string) (kmsapi.GrantOperation, bool) {
	op := kmsapi.GrantOperation(strings.TrimPrefix(action, "kms:"))
	return op, slices.Contains(kmsapi.GrantOperation("").Values(), op)
}

// granteeMatches reports whether the grant is given to the caller: named
// itself, by its role, or by its account (then, but for the account's root
// user, the caller's identity policies must allow the permission too, as
// for a key policy that names an account).
func granteeMatches(g *grant.Grant, a *Access, r *policy.Request) bool {
	p := &a.Call.Principal
	switch {
	case g.Grantee == p.ARN, p.RoleARN != "" && g.Grantee == p.RoleARN:
		return true
	case g.Grantee == "arn:aws:iam::"+p.Account+":root":
		if p.Type == policy.TypeAccount {
			return true
		}
		allowed := false
		for _, ip := range a.Call.Policies {
			switch ip.Evaluate(r).Effect {
			case policy.Deny:
				return false
			case policy.AllowDirect, policy.AllowAccount:
				allowed = true
			}
		}
		return allowed
	}
	return false
}

// grantAllowing returns a grant that gives the caller the permission, if
// any. RetireGrant is not given this way: the operation decides who may
// retire a grant.
func grantAllowing(a *Access, r *policy.Request) (*grant.Grant, error) {
	op, ok := grantOperation(a.Action)
	if !ok || a.Grants == nil || op == kmsapi.GrantOperationRetireGrant {
		return nil, nil
	}
	grants, err := a.Grants()
	if err != nil {
		return nil, err
	}
	for _, g := range grants {
		if !slices.Contains(g.Operations, op) || !granteeMatches(g, a, r) {
			continue
		}
		if grant.TakesContext(op) && !g.ContextAllows(a.Call.Cond.EncryptionContext) {
			continue
		}
		a.ViaGrant = g
		return g, nil
	}
	return nil, nil
}

// Validation of CreateGrant.

// principalARN is the form of a principal a grant may name: an account's
// root user, an IAM user or role, a role session, a federated user.
var principalARN = regexp.MustCompile(`^arn:aws:(iam::[0-9]{12}:(root|user/.+|role/.+)|sts::[0-9]{12}:(assumed-role/[^/]+/.+|federated-user/.+))$`)

// grantOpsFor is what operations a grant on a key of this spec and usage
// may give (KMS Developer Guide, "Grant operations"): what the key can do,
// and CreateGrant, DescribeKey and RetireGrant for every key.
func grantOpsFor(k *Key) []kmsapi.GrantOperation {
	ops := []kmsapi.GrantOperation{kmsapi.GrantOperationCreateGrant, kmsapi.GrantOperationDescribeKey, kmsapi.GrantOperationRetireGrant}
	switch {
	case k.KeySpec == kmsapi.KeySpecSymmetricDefault:
		ops = append(ops, kmsapi.GrantOperationEncrypt, kmsapi.GrantOperationDecrypt, kmsapi.GrantOperationReEncryptFrom,
			kmsapi.GrantOperationReEncryptTo, kmsapi.GrantOperationGenerateDataKey, kmsapi.GrantOperationGenerateDataKeyWithoutPlaintext,
			kmsapi.GrantOperationGenerateDataKeyPair, kmsapi.GrantOperationGenerateDataKeyPairWithoutPlaintext)
	case k.KeyUsage == kmsapi.KeyUsageTypeEncryptDecrypt:
		ops = append(ops, kmsapi.GrantOperationEncrypt, kmsapi.GrantOperationDecrypt, kmsapi.GrantOperationReEncryptFrom,
			kmsapi.GrantOperationReEncryptTo, kmsapi.GrantOperationGetPublicKey)
	case k.KeyUsage == kmsapi.KeyUsageTypeSignVerify:
		ops = append(ops, kmsapi.GrantOperationSign, kmsapi.GrantOperationVerify, kmsapi.GrantOperationGetPublicKey)
	case k.KeyUsage == kmsapi.KeyUsageTypeGenerateVerifyMac:
		ops = append(ops, kmsapi.GrantOperationGenerateMac, kmsapi.GrantOperationVerifyMac)
	case k.KeyUsage == kmsapi.KeyUsageTypeKeyAgreement:
		ops = append(ops, kmsapi.GrantOperationDeriveSharedSecret, kmsapi.GrantOperationGetPublicKey)
	case k.KeyUsage == kmsapi.KeyUsageTypeEncapsulateDecapsulate:
		ops = append(ops, kmsapi.GrantOperationEncapsulate, kmsapi.GrantOperationDecapsulate, kmsapi.GrantOperationGetPublicKey)
	}
	return ops
}

const (
	maxGrantContextPairs = 8
	maxGrantContextValue = 384
)

// checkGrantRequest applies AWS's rules to a CreateGrant request on its
// own, before the key is looked up: principals, operations, constraints.
func (s *Service) checkGrantRequest(in *kmsapi.CreateGrantRequest) error {
	if in.GranteeServicePrincipal != nil || in.RetiringServicePrincipal != nil || in.Constraints.GetSourceArn() != "" {
		return kmsapi.Errorf(kmsapi.UnsupportedOperationException,
			"Grants to service principals are not supported by this server: no AWS service calls it.")
	}
	for _, p := range []string{in.GetGranteePrincipal(), in.GetRetiringPrincipal()} {
		if p != "" && (!principalARN.MatchString(p) || !s.principalExists(p)) {
			return kmsapi.Errorf(kmsapi.ValidationException, "Invalid principal: %s", p)
		}
	}
	if len(in.Operations) == 1 && in.Operations[0] == kmsapi.GrantOperationCreateGrant {
		return kmsapi.Errorf(kmsapi.ValidationException, "Grants must not contain only the CreateGrant operation.")
	}
	c := in.Constraints
	if c.GetEncryptionContextEquals() != nil && c.GetEncryptionContextSubset() != nil {
		return kmsapi.Errorf(kmsapi.ValidationException, "Only one of EncryptionContextEquals and EncryptionContextSubset can be specified.")
	}
	if ec := c.GetEncryptionContextEquals(); ec != nil || c.GetEncryptionContextSubset() != nil {
		if ec == nil {
			ec = c.GetEncryptionContextSubset()
		}
		if len(ec) > maxGrantContextPairs {
			return kmsapi.Errorf(kmsapi.ValidationException,
				"Grant constraints can have at most %d encryption context pairs.", maxGrantContextPairs)
		}
		for k, v := range ec {
			if kmsapi.UTF16Len(k) > maxGrantContextValue || kmsapi.UTF16Len(v) > maxGrantContextValue {
				return kmsapi.Errorf(kmsapi.ValidationException,
					"Grant constraint encryption context keys and values can have at most %d characters.", maxGrantContextValue)
			}
		}
	}
	return nil
}

// checkGrantForKey applies the rules of a CreateGrant request that depend
// on the key's spec and usage, after its state: the operations must be
// ones the key can do, and encryption context constraints need a
// symmetric encryption key.
func checkGrantForKey(in *kmsapi.CreateGrantRequest, k *Key) error {
	allowed := grantOpsFor(k)
	for _, op := range in.Operations {
		if !slices.Contains(allowed, op) {
			return kmsapi.Errorf(kmsapi.ValidationException,
				"Grant operation %s is not valid for a key with key spec %s and key usage %s.", op, k.KeySpec, k.KeyUsage)
		}
	}
	c := in.Constraints
	if (c.GetEncryptionContextEquals() != nil || c.GetEncryptionContextSubset() != nil) && k.KeySpec != kmsapi.KeySpecSymmetricDefault {
		return kmsapi.Errorf(kmsapi.ValidationException,
			"Encryption context constraints are only supported for symmetric encryption KMS keys.")
	}
	return nil
}

// The operations.

// grantKeyID refuses aliases where AWS takes only a key ID or key ARN.
func grantKeyID(id string) error {
	if isAlias(id) {
		return kmsapi.Errorf(kmsapi.InvalidArnException, "Key Aliases are not supported for this operation.")
	}
	return nil
}

func (s *Service) CreateGrant(ctx context.Context, call *Call, in *kmsapi.CreateGrantRequest) (*kmsapi.CreateGrantResponse, error) {
	if err := grantKeyID(in.GetKeyId()); err != nil {
		return nil, err
	}
	if _, err := s.checkGrantTokens(in.GrantTokens); err != nil {
		return nil, err
	}
	if err := s.checkGrantRequest(in); err != nil {
		return nil, err
	}
	call.Cond.GrantTokens = in.GrantTokens
	grantConstraintConditions(&call.Cond, in.Constraints.GetEncryptionContextEquals(), in.Constraints.GetEncryptionContextSubset())
	ops := make([]string, len(in.Operations))
	for i, op := range in.Operations {
		ops[i] = string(op)
	}
	call.Cond.Set("kms:GrantOperations", ops...)
	call.Cond.Set("kms:GranteePrincipal", in.GetGranteePrincipal())
	if in.RetiringPrincipal != nil {
		call.Cond.Set("kms:RetiringPrincipal", in.GetRetiringPrincipal())
	}
	call.Cond.Set("kms:GrantIsForAWSResource", "false")

	var out *kmsapi.CreateGrantResponse
	var created *grant.Grant
	err := s.store.Update(func(tx store.Tx) error {
		out, created = nil, nil
		k, access, err := s.lookupKeyAccess(tx, call, in.GetKeyId(), keyIDOnly, "kms:CreateGrant")
		if err != nil {
			return err
		}
		if err := checkUsable(k, s.now()); err != nil {
			return err
		}
		if err := checkGrantForKey(in, k); err != nil {
			return err
		}
		g := &grant.Grant{
			Region: k.Region, KeyID: k.ID, KeyAccount: k.Account, Name: in.GetName(),
			IssuingAccount: "arn:aws:iam::" + k.Account + ":root",
			Grantee:        in.GetGranteePrincipal(), Retiring: in.GetRetiringPrincipal(),
			Operations:    slices.Clone(in.Operations),
			ContextEquals: maps.Clone(in.Constraints.GetEncryptionContextEquals()), ContextSubset: maps.Clone(in.Constraints.GetEncryptionContextSubset()),
			CreationDate: s.now().UTC(),
		}
		if access.ViaGrant != nil && !g.NarrowerThan(access.ViaGrant) {
			return kmsapi.Errorf(kmsapi.AccessDeniedException,
				"User: %s is not authorized to perform: kms:CreateGrant on resource: %s because a grant can only create grants for its own operations, with constraints at least as strict",
				call.ARN, k.ARN())
		}
		// A dry run answers after every check: the grant with the same
		// Name, the quota.
		if g.Name != "" {
			id, err := grant.IDByName(tx, k.Region, k.ID, g.Name)
			if err == nil {
				old, err := grant.Get(tx, k.Region, k.ID, id)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				if old != nil && old.SameAs(g) {
					if in.GetDryRun() {
						return dryRunError()
					}
					tok, err := s.grantToken(old)
					if err != nil {
						return err
					}
					out = &kmsapi.CreateGrantResponse{GrantId: new(old.ID), GrantToken: new(tok)}
					return nil
				}
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		n, err := grant.Count(tx, k.Region, k.ID)
		if err != nil {
			return err
		}
		if n >= grant.MaxPerKey {
			return kmsapi.Errorf(kmsapi.LimitExceededException, "The number of grants for %s exceeds the limit of %d.", k.ARN(), grant.MaxPerKey)
		}
		if in.GetDryRun() {
			return dryRunError()
		}
		idBytes, err := s.randomBytes(32)
		if err != nil {
			return err
		}
		g.ID = hex.EncodeToString(idBytes)
		if err := grant.Add(tx, g); err != nil {
			return err
		}
		tok, err := s.grantToken(g)
		if err != nil {
			return err
		}
		created = g
		out = &kmsapi.CreateGrantResponse{GrantId: new(g.ID), GrantToken: new(tok)}
		return nil
	})
	if created != nil {
		s.cache.Evict(created.Region, created.KeyID)
	}
	if err != nil {
		return nil, s.internalError(ctx, "CreateGrant", err)
	}
	return out, nil
}

// grantEntry is a grant as ListGrants and ListRetirableGrants show it.
func grantEntry(g *grant.Grant) kmsapi.GrantListEntry {
	e := kmsapi.GrantListEntry{
		KeyId:            new(grantKeyARN(g)),
		GrantId:          new(g.ID),
		Name:             new(g.Name),
		CreationDate:     new(kmsapi.Time{Time: g.CreationDate}),
		GranteePrincipal: new(g.Grantee),
		IssuingAccount:   new(g.IssuingAccount),
		Operations:       slices.Clone(g.Operations),
	}
	if g.Retiring != "" {
		e.RetiringPrincipal = new(g.Retiring)
	}
	if g.ContextEquals != nil || g.ContextSubset != nil {
		e.Constraints = &kmsapi.GrantConstraints{EncryptionContextEquals: g.ContextEquals, EncryptionContextSubset: g.ContextSubset}
	}
	return e
}

// grantConstraintConditions feeds a grant's encryption-context constraint
// to the conditions of CreateGrant and RetireGrant: kms:GrantConstraintType,
// and the kms:EncryptionContext: keys, which there test the constraint's
// pairs.
func grantConstraintConditions(c *Conditions, equals, subset map[string]string) {
	c.TakesContext = true
	switch {
	case equals != nil:
		c.EncryptionContext = equals
		c.Set("kms:GrantConstraintType", "EncryptionContextEquals")
	case subset != nil:
		c.EncryptionContext = subset
		c.Set("kms:GrantConstraintType", "EncryptionContextSubset")
	}
}

func (s *Service) ListGrants(ctx context.Context, call *Call, in *kmsapi.ListGrantsRequest) (*kmsapi.ListGrantsResponse, error) {
	if err := grantKeyID(in.GetKeyId()); err != nil {
		return nil, err
	}
	if in.GrantId != nil && !validGrantID(*in.GrantId) {
		return nil, kmsapi.Errorf(kmsapi.InvalidGrantIdException, "Invalid grant ID: %s", *in.GrantId)
	}
	call.Cond.Set("kms:GrantIsForAWSResource", "false")
	limit := limitOr(in.Limit, 50)
	out := &kmsapi.ListGrantsResponse{Grants: []kmsapi.GrantListEntry{}, Truncated: new(false)}
	err := s.store.View(func(tx store.Tx) error {
		k, _, err := s.lookupKeyAccess(tx, call, in.GetKeyId(), keyIDOnly, "kms:ListGrants")
		if err != nil {
			return err
		}
		if in.GranteeServicePrincipal != nil {
			return nil // trent makes no grants to service principals
		}
		after, err := decodeMarker(in.Marker, grant.KeyPrefix(k.Region, k.ID))
		if err != nil {
			return err
		}
		last := ""
		return grant.ScanKey(tx, k.Region, k.ID, after, func(sk string, g *grant.Grant) (bool, error) {
			if (in.GrantId != nil && g.ID != *in.GrantId) || (in.GranteePrincipal != nil && g.Grantee != *in.GranteePrincipal) {
				return true, nil
			}
			if len(out.Grants) == limit {
				out.Truncated = new(true)
				out.NextMarker = encodeMarker(last)
				return false, nil
			}
			last = sk
			out.Grants = append(out.Grants, grantEntry(g))
			return true, nil
		})
	})
	if err != nil {
		return nil, s.internalError(ctx, "ListGrants", err)
	}
	return out, nil
}

func (s *Service) ListRetirableGrants(ctx context.Context, call *Call, in *kmsapi.ListRetirableGrantsRequest) (*kmsapi.ListGrantsResponse, error) {
	if err := s.authorizeAccount(call, "kms:ListRetirableGrants", "*"); err != nil {
		return nil, err
	}
	out := &kmsapi.ListGrantsResponse{Grants: []kmsapi.GrantListEntry{}, Truncated: new(false)}
	if in.RetiringServicePrincipal != nil {
		return out, nil
	}
	prefix := grant.RetirablePrefix(in.GetRetiringPrincipal())
	after, err := decodeMarker(in.Marker, prefix)
	if err != nil {
		return nil, err
	}
	limit := limitOr(in.Limit, 50)
	err = s.store.View(func(tx store.Tx) error {
		last := ""
		return grant.ScanRetirable(tx, in.GetRetiringPrincipal(), after, func(ik string, g *grant.Grant) (bool, error) {
			if len(out.Grants) == limit {
				out.Truncated = new(true)
				out.NextMarker = encodeMarker(last)
				return false, nil
			}
			last = ik
			out.Grants = append(out.Grants, grantEntry(g))
			return true, nil
		})
	})
	if err != nil {
		return nil, s.internalError(ctx, "ListRetirableGrants", err)
	}
	return out, nil
}

func validGrantID(id string) bool { return len(id) == 64 && isHex(id) }

// retireGrantTarget works out which grant a RetireGrant names.
func (s *Service) retireGrantTarget(call *Call, in *kmsapi.RetireGrantRequest) (region, keyID, grantID string, err error) {
	switch {
	case in.GrantToken != nil:
		r, err := grant.ParseToken(s.grantTokenKey, *in.GrantToken)
		if err != nil {
			return "", "", "", invalidGrantToken()
		}
		if in.GrantId != nil && *in.GrantId != r.GrantID {
			return "", "", "", kmsapi.Errorf(kmsapi.InvalidGrantIdException, "The grant ID does not match the grant token.")
		}
		return r.Region, r.KeyID, r.GrantID, nil
	case in.KeyId != nil && in.GrantId != nil:
		if err := grantKeyID(*in.KeyId); err != nil {
			return "", "", "", err
		}
		if !validGrantID(*in.GrantId) {
			return "", "", "", kmsapi.Errorf(kmsapi.InvalidGrantIdException, "Invalid grant ID: %s", *in.GrantId)
		}
		p, ok := parseKeyID(call, *in.KeyId)
		if !ok || p.keyID == "" || !validKeyID(p.keyID) {
			return "", "", "", kmsapi.Errorf(kmsapi.NotFoundException, "Invalid keyId '%s'", *in.KeyId)
		}
		return p.region, p.keyID, *in.GrantId, nil
	}
	return "", "", "", kmsapi.Errorf(kmsapi.ValidationException, "Either the GrantToken, or both the KeyId and the GrantId must be specified.")
}

func (s *Service) RetireGrant(ctx context.Context, call *Call, in *kmsapi.RetireGrantRequest) error {
	region, keyID, grantID, err := s.retireGrantTarget(call, in)
	if err != nil {
		return err
	}
	var retired *grant.Grant
	err = s.store.Update(func(tx store.Tx) error {
		retired = nil
		if region != call.Region {
			return kmsapi.Errorf(kmsapi.NotFoundException, "Grant %s is not found in %s.", grantID, call.Region)
		}
		k, err := getKey(tx, region, keyID)
		if errors.Is(err, store.ErrNotFound) {
			return kmsapi.Errorf(kmsapi.NotFoundException, "Key '%s' does not exist", keyARN(region, call.Account, keyID))
		}
		if err != nil {
			return err
		}
		g, err := grant.Get(tx, region, keyID, grantID)
		if errors.Is(err, store.ErrNotFound) {
			return kmsapi.Errorf(kmsapi.NotFoundException, "Grant ID %s not found", grantID)
		}
		if err != nil {
			return err
		}
		call.KeyARN, call.GrantID = k.ARN(), g.ID
		grantConstraintConditions(&call.Cond, g.ContextEquals, g.ContextSubset)
		p := &call.Principal
		// Who may retire (KMS Developer Guide, "Retiring and revoking
		// grants"): the retiring principal, the grantee if the grant gives
		// RetireGrant, and the key's account (its root user, and whom its
		// IAM policies allow kms:RetireGrant).
		mayRetire := g.Retiring != "" && (g.Retiring == p.ARN || g.Retiring == p.RoleARN) ||
			slices.Contains(g.Operations, kmsapi.GrantOperationRetireGrant) && (g.Grantee == p.ARN || g.Grantee == p.RoleARN)
		keyPolicy := s.keyPolicy(k)
		req := &policy.Request{Principal: call.Principal, Action: "kms:RetireGrant", Resource: k.ARN(),
			Context: &requestContext{s: s, call: call, key: k}, Time: s.now()}
		d := policy.Decide(policy.DecideInput{Request: req, KeyAccount: k.Account, KeyPolicy: keyPolicy,
			IdentityPolicies: call.Policies, GrantAllows: mayRetire, Grant: g.ID})
		if !d.Allowed {
			s.logger.Debug("access denied", "explain", d.Explain())
			return kmsapi.Errorf(kmsapi.AccessDeniedException, "%s", d.Message())
		}
		if in.GetDryRun() {
			return dryRunError()
		}
		retired = g
		return grant.Remove(tx, g)
	})
	if retired != nil {
		s.cache.Evict(region, keyID)
	}
	if err != nil {
		return s.internalError(ctx, "RetireGrant", err)
	}
	return nil
}

func (s *Service) RevokeGrant(ctx context.Context, call *Call, in *kmsapi.RevokeGrantRequest) error {
	if err := grantKeyID(in.GetKeyId()); err != nil {
		return err
	}
	if !validGrantID(in.GetGrantId()) {
		return kmsapi.Errorf(kmsapi.InvalidGrantIdException, "Invalid grant ID: %s", in.GetGrantId())
	}
	call.Cond.Set("kms:GrantIsForAWSResource", "false")
	var revoked *grant.Grant
	err := s.store.Update(func(tx store.Tx) error {
		revoked = nil
		k, _, err := s.lookupKeyAccess(tx, call, in.GetKeyId(), keyIDOnly, "kms:RevokeGrant")
		if err != nil {
			return err
		}
		g, err := grant.Get(tx, k.Region, k.ID, in.GetGrantId())
		if errors.Is(err, store.ErrNotFound) {
			return kmsapi.Errorf(kmsapi.NotFoundException, "Grant ID %s not found", in.GetGrantId())
		}
		if err != nil {
			return err
		}
		if in.GetDryRun() {
			return dryRunError()
		}
		revoked = g
		return grant.Remove(tx, g)
	})
	if revoked != nil {
		s.cache.Evict(revoked.Region, revoked.KeyID)
	}
	if err != nil {
		return s.internalError(ctx, "RevokeGrant", err)
	}
	return nil
}
