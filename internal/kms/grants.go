package kms

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	json "github.com/go-json-experiment/json"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

// Grants: permissions on one key given to one principal for some
// operations, optionally only for some encryption contexts (KMS Developer
// Guide, "Grants in AWS KMS").
//
// Stored in store.Grants under region/key ID/grant ID, with three kinds of
// entries in store.GrantIndex: "name/<region>/<key ID>/<name>" → grant ID
// (CreateGrant's idempotency by Name), "retiring/<principal>/<region>/<key
// ID>/<grant ID>" (ListRetirableGrants) and "count/<region>/<key ID>" (the
// per-key quota). A key's grants are cached with it (liveKey) and evicted
// when they change, so a new grant is usable at once on this node; a grant
// token makes one usable at once on any node by sending it to the store.

// MaxGrantsPerKey is AWS's quota of grants on one key.
const MaxGrantsPerKey = 50000

// Grant is a grant as stored.
type Grant struct {
	ID             string                  `json:"id"` // 64 hex digits
	Region         string                  `json:"region"`
	KeyID          string                  `json:"keyId"`
	KeyAccount     string                  `json:"keyAccount"`
	Name           string                  `json:"name,omitempty"`
	IssuingAccount string                  `json:"issuingAccount"` // arn:aws:iam::<account>:root
	Grantee        string                  `json:"grantee"`
	Retiring       string                  `json:"retiring,omitempty"`
	Operations     []kmsapi.GrantOperation `json:"operations"`
	ContextEquals  map[string]string       `json:"contextEquals,omitempty"`
	ContextSubset  map[string]string       `json:"contextSubset,omitempty"`
	CreationDate   time.Time               `json:"creationDate"`
}

func grantStoreKey(region, keyID, grantID string) string {
	return region + "/" + keyID + "/" + grantID
}

func grantKeyPrefix(region, keyID string) string { return region + "/" + keyID + "/" }

func grantNameIndex(region, keyID, name string) string {
	return "name/" + region + "/" + keyID + "/" + name
}

func grantRetiringIndex(principal, region, keyID, grantID string) string {
	return "retiring/" + principal + "/" + region + "/" + keyID + "/" + grantID
}

func grantCountIndex(region, keyID string) string { return "count/" + region + "/" + keyID }

func (g *Grant) keyARN() string { return keyARN(g.Region, g.KeyAccount, g.KeyID) }

func getGrant(tx store.Tx, region, keyID, grantID string) (*Grant, error) {
	v, err := tx.Get(store.Grants, grantStoreKey(region, keyID, grantID))
	if err != nil {
		return nil, err
	}
	g := new(Grant)
	if err := json.Unmarshal(v, g); err != nil {
		return nil, fmt.Errorf("decoding grant %s: %w", grantID, err)
	}
	if g.ID != grantID || g.Region != region || g.KeyID != keyID {
		return nil, fmt.Errorf("grant record %s/%s/%s holds grant %s of %s/%s", region, keyID, grantID, g.ID, g.Region, g.KeyID)
	}
	return g, nil
}

// grantsOf lists a key's grants, in grant ID order.
func grantsOf(tx store.Tx, region, keyID string) ([]*Grant, error) {
	var out []*Grant
	prefix := grantKeyPrefix(region, keyID)
	err := tx.Scan(store.Grants, prefix, "", func(k string, v []byte) (bool, error) {
		g := new(Grant)
		if err := json.Unmarshal(v, g); err != nil {
			return false, fmt.Errorf("decoding grant %s: %w", k, err)
		}
		if g.Region != region || g.KeyID != keyID || k != prefix+g.ID {
			return false, fmt.Errorf("grant record %s holds grant %s of %s/%s", k, g.ID, g.Region, g.KeyID)
		}
		out = append(out, g)
		return true, nil
	})
	return out, err
}

func grantCount(tx store.Tx, region, keyID string) (int, error) {
	v, err := tx.Get(store.GrantIndex, grantCountIndex(region, keyID))
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(v))
}

func setGrantCount(tx store.Tx, region, keyID string, n int) error {
	if n == 0 {
		return tx.Delete(store.GrantIndex, grantCountIndex(region, keyID))
	}
	return tx.Put(store.GrantIndex, grantCountIndex(region, keyID), []byte(strconv.Itoa(n)))
}

func putGrant(tx store.Tx, g *Grant) error {
	v, err := json.Marshal(g)
	if err != nil {
		return err
	}
	if err := tx.Put(store.Grants, grantStoreKey(g.Region, g.KeyID, g.ID), v); err != nil {
		return err
	}
	if g.Name != "" {
		if err := tx.Put(store.GrantIndex, grantNameIndex(g.Region, g.KeyID, g.Name), []byte(g.ID)); err != nil {
			return err
		}
	}
	if g.Retiring != "" {
		if err := tx.Put(store.GrantIndex, grantRetiringIndex(g.Retiring, g.Region, g.KeyID, g.ID), nil); err != nil {
			return err
		}
	}
	return nil
}

// removeGrant deletes a grant and its index entries, but not from the count.
func removeGrant(tx store.Tx, g *Grant) error {
	if err := tx.Delete(store.Grants, grantStoreKey(g.Region, g.KeyID, g.ID)); err != nil {
		return err
	}
	if g.Name != "" {
		// The name may since point to a newer grant of the same name.
		v, err := tx.Get(store.GrantIndex, grantNameIndex(g.Region, g.KeyID, g.Name))
		if err == nil && string(v) == g.ID {
			if err := tx.Delete(store.GrantIndex, grantNameIndex(g.Region, g.KeyID, g.Name)); err != nil {
				return err
			}
		}
	}
	if g.Retiring != "" {
		return tx.Delete(store.GrantIndex, grantRetiringIndex(g.Retiring, g.Region, g.KeyID, g.ID))
	}
	return nil
}

// deleteGrants removes every grant of a key, with the key.
func deleteGrants(tx store.Tx, region, keyID string) error {
	grants, err := grantsOf(tx, region, keyID)
	if err != nil {
		return err
	}
	for _, g := range grants {
		if err := removeGrant(tx, g); err != nil {
			return err
		}
	}
	return setGrantCount(tx, region, keyID, 0)
}

// Grant tokens. A token names a grant and is authenticated with the
// service's grant token key; it carries no permission of its own. It is
// base64 of
//
//	0x01 ‖ len(region) ‖ region ‖ len(key ID) ‖ key ID ‖ grant ID (32) ‖ nonce (16) ‖ HMAC-SHA256 (32)
//
// with the HMAC over everything before it. Each CreateGrant returns a new
// one (the nonce), as AWS does.

const grantTokenVersion = 0x01

func (s *Service) grantToken(g *Grant) (string, error) {
	id, err := hex.DecodeString(g.ID)
	if err != nil {
		return "", err
	}
	b := []byte{grantTokenVersion, byte(len(g.Region))}
	b = append(b, g.Region...)
	b = append(b, byte(len(g.KeyID)))
	b = append(b, g.KeyID...)
	b = append(b, id...)
	nonce, err := s.randomBytes(16)
	if err != nil {
		return "", err
	}
	b = append(b, nonce...)
	m := hmac.New(sha256.New, s.grantTokenKey)
	m.Write(b)
	return base64.StdEncoding.EncodeToString(m.Sum(b)), nil
}

// tokenRef is what a grant token names.
type tokenRef struct{ region, keyID, grantID string }

func invalidGrantToken() error {
	return kmsapi.Errorf(kmsapi.InvalidGrantTokenException, "The grant token is not valid: it was not issued by this service, or it was changed.")
}

func (s *Service) parseGrantToken(tok string) (tokenRef, error) {
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil || len(b) < 1+1+1+32+16+32 || b[0] != grantTokenVersion {
		return tokenRef{}, invalidGrantToken()
	}
	body, mac := b[:len(b)-32], b[len(b)-32:]
	m := hmac.New(sha256.New, s.grantTokenKey)
	m.Write(body)
	if !hmac.Equal(m.Sum(nil), mac) {
		return tokenRef{}, invalidGrantToken()
	}
	p := body[1:]
	take := func() (string, bool) {
		if len(p) < 1 || len(p) < 1+int(p[0]) {
			return "", false
		}
		v := string(p[1 : 1+int(p[0])])
		p = p[1+int(p[0]):]
		return v, true
	}
	region, ok1 := take()
	keyID, ok2 := take()
	if !ok1 || !ok2 || len(p) != 32+16 {
		return tokenRef{}, invalidGrantToken()
	}
	return tokenRef{region: region, keyID: keyID, grantID: hex.EncodeToString(p[:32])}, nil
}

// checkGrantTokens refuses a request whose grant tokens are not all ours.
func (s *Service) checkGrantTokens(tokens []string) ([]tokenRef, error) {
	var refs []tokenRef
	for _, t := range tokens {
		r, err := s.parseGrantToken(t)
		if err != nil {
			return nil, err
		}
		refs = append(refs, r)
	}
	return refs, nil
}

// grantsFunc returns the Access.Grants of key k, whose grants known to the
// cache (or read in the transaction) are known: plus, for every grant
// token of the request that names a grant of k not among them, that grant
// as the store has it now.
func (s *Service) grantsFunc(call *Call, k *Key, known func() ([]*Grant, error)) func() ([]*Grant, error) {
	return func() ([]*Grant, error) {
		grants, err := known()
		if err != nil {
			return nil, err
		}
		refs, err := s.checkGrantTokens(call.Cond.GrantTokens)
		if err != nil {
			return nil, err
		}
		for _, r := range refs {
			if r.region != k.Region || r.keyID != k.ID || slices.ContainsFunc(grants, func(g *Grant) bool { return g.ID == r.grantID }) {
				continue
			}
			var g *Grant
			err := s.store.View(func(tx store.Tx) (err error) {
				g, err = getGrant(tx, r.region, r.keyID, r.grantID)
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

// takesContext: the operations whose grants' encryption context
// constraints apply. The others (DescribeKey, GetPublicKey, Sign, ...)
// ignore them.
func takesContext(op kmsapi.GrantOperation) bool {
	switch op {
	case kmsapi.GrantOperationEncrypt, kmsapi.GrantOperationDecrypt, kmsapi.GrantOperationReEncryptFrom,
		kmsapi.GrantOperationReEncryptTo, kmsapi.GrantOperationGenerateDataKey,
		kmsapi.GrantOperationGenerateDataKeyWithoutPlaintext, kmsapi.GrantOperationGenerateDataKeyPair,
		kmsapi.GrantOperationGenerateDataKeyPairWithoutPlaintext, kmsapi.GrantOperationCreateGrant:
		return true
	}
	return false
}

// contextAllows: a request's encryption context meets a grant's
// constraints. Equals: exactly these pairs; Subset: at least these.
func (g *Grant) contextAllows(ec map[string]string) bool {
	if g.ContextEquals != nil && !maps.Equal(g.ContextEquals, ec) {
		return false
	}
	for k, v := range g.ContextSubset {
		if got, ok := ec[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// granteeMatches reports whether the grant is given to the caller: named
// itself, by its role, or by its account (then, but for the account's root
// user, the caller's identity policies must allow the permission too, as
// for a key policy that names an account).
func (g *Grant) granteeMatches(a *Access, r *policy.Request) bool {
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
func grantAllowing(a *Access, r *policy.Request) (*Grant, error) {
	op, ok := grantOperation(a.Action)
	if !ok || a.Grants == nil || op == kmsapi.GrantOperationRetireGrant {
		return nil, nil
	}
	grants, err := a.Grants()
	if err != nil {
		return nil, err
	}
	for _, g := range grants {
		if !slices.Contains(g.Operations, op) || !g.granteeMatches(a, r) {
			continue
		}
		if takesContext(op) && !g.contextAllows(a.Call.Cond.EncryptionContext) {
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

// sameGrant: a CreateGrant with a Name already used on the key returns the
// existing grant if everything else is the same.
func sameGrant(g *Grant, n *Grant) bool {
	ops := func(o []kmsapi.GrantOperation) []kmsapi.GrantOperation {
		c := slices.Clone(o)
		slices.Sort(c)
		return slices.Compact(c)
	}
	return g.Grantee == n.Grantee && g.Retiring == n.Retiring && slices.Equal(ops(g.Operations), ops(n.Operations)) &&
		maps.Equal(g.ContextEquals, n.ContextEquals) && maps.Equal(g.ContextSubset, n.ContextSubset) &&
		(g.ContextEquals == nil) == (n.ContextEquals == nil) && (g.ContextSubset == nil) == (n.ContextSubset == nil)
}

// narrowerThan: a grant created through another grant may give no more
// than it: a subset of its operations, and constraints as strict (the
// parent's pairs all present; Subset may become Equals, not back).
func (n *Grant) narrowerThan(parent *Grant) bool {
	for _, op := range n.Operations {
		if !slices.Contains(parent.Operations, op) {
			return false
		}
	}
	switch {
	case parent.ContextEquals != nil:
		return n.ContextEquals != nil && maps.Equal(n.ContextEquals, parent.ContextEquals)
	case parent.ContextSubset != nil:
		child := n.ContextSubset
		if n.ContextEquals != nil {
			child = n.ContextEquals
		}
		for k, v := range parent.ContextSubset {
			if got, ok := child[k]; !ok || got != v {
				return false
			}
		}
	}
	return true
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
	c := in.Constraints
	call.Cond.GrantTokens = in.GrantTokens
	call.Cond.TakesContext = true
	call.Cond.EncryptionContext = c.GetEncryptionContextEquals()
	constraint := ""
	if c.GetEncryptionContextEquals() != nil {
		constraint = "EncryptionContextEquals"
	} else if c.GetEncryptionContextSubset() != nil {
		constraint = "EncryptionContextSubset"
		call.Cond.EncryptionContext = c.GetEncryptionContextSubset()
	}
	ops := make([]string, len(in.Operations))
	for i, op := range in.Operations {
		ops[i] = string(op)
	}
	call.Cond.Set("kms:GrantOperations", ops...)
	call.Cond.Set("kms:GranteePrincipal", in.GetGranteePrincipal())
	if in.RetiringPrincipal != nil {
		call.Cond.Set("kms:RetiringPrincipal", in.GetRetiringPrincipal())
	}
	if constraint != "" {
		call.Cond.Set("kms:GrantConstraintType", constraint)
	}
	call.Cond.Set("kms:GrantIsForAWSResource", "false")

	var out *kmsapi.CreateGrantResponse
	var created *Grant
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
		g := &Grant{
			Region: k.Region, KeyID: k.ID, KeyAccount: k.Account, Name: in.GetName(),
			IssuingAccount: "arn:aws:iam::" + k.Account + ":root",
			Grantee:        in.GetGranteePrincipal(), Retiring: in.GetRetiringPrincipal(),
			Operations:    slices.Clone(in.Operations),
			ContextEquals: maps.Clone(c.GetEncryptionContextEquals()), ContextSubset: maps.Clone(c.GetEncryptionContextSubset()),
			CreationDate: s.now().UTC(),
		}
		if access.ViaGrant != nil && !g.narrowerThan(access.ViaGrant) {
			return kmsapi.Errorf(kmsapi.AccessDeniedException,
				"User: %s is not authorized to perform: kms:CreateGrant on resource: %s because a grant can only create grants for its own operations, with constraints at least as strict",
				call.ARN, k.ARN())
		}
		// A dry run answers after every check: the grant with the same
		// Name, the quota.
		if g.Name != "" {
			id, err := tx.Get(store.GrantIndex, grantNameIndex(k.Region, k.ID, g.Name))
			if err == nil {
				old, err := getGrant(tx, k.Region, k.ID, string(id))
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				if old != nil && sameGrant(old, g) {
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
		n, err := grantCount(tx, k.Region, k.ID)
		if err != nil {
			return err
		}
		if n >= MaxGrantsPerKey {
			return kmsapi.Errorf(kmsapi.LimitExceededException, "The number of grants for %s exceeds the limit of %d.", k.ARN(), MaxGrantsPerKey)
		}
		if in.GetDryRun() {
			return dryRunError()
		}
		idBytes, err := s.randomBytes(32)
		if err != nil {
			return err
		}
		g.ID = hex.EncodeToString(idBytes)
		if err := putGrant(tx, g); err != nil {
			return err
		}
		if err := setGrantCount(tx, k.Region, k.ID, n+1); err != nil {
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
func (g *Grant) entry() kmsapi.GrantListEntry {
	e := kmsapi.GrantListEntry{
		KeyId:            new(g.keyARN()),
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

func (s *Service) ListGrants(ctx context.Context, call *Call, in *kmsapi.ListGrantsRequest) (*kmsapi.ListGrantsResponse, error) {
	if err := grantKeyID(in.GetKeyId()); err != nil {
		return nil, err
	}
	if in.GranteeServicePrincipal != nil {
		return &kmsapi.ListGrantsResponse{Grants: []kmsapi.GrantListEntry{}, Truncated: new(false)}, nil
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
		prefix := grantKeyPrefix(k.Region, k.ID)
		after, err := decodeMarker(in.Marker, prefix)
		if err != nil {
			return err
		}
		last := ""
		return tx.Scan(store.Grants, prefix, after, func(sk string, v []byte) (bool, error) {
			g := new(Grant)
			if err := json.Unmarshal(v, g); err != nil {
				return false, err
			}
			if (in.GrantId != nil && g.ID != *in.GrantId) || (in.GranteePrincipal != nil && g.Grantee != *in.GranteePrincipal) {
				return true, nil
			}
			if len(out.Grants) == limit {
				out.Truncated = new(true)
				out.NextMarker = encodeMarker(last)
				return false, nil
			}
			last = sk
			out.Grants = append(out.Grants, g.entry())
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
	prefix := "retiring/" + in.GetRetiringPrincipal() + "/"
	after, err := decodeMarker(in.Marker, prefix)
	if err != nil {
		return nil, err
	}
	limit := limitOr(in.Limit, 50)
	err = s.store.View(func(tx store.Tx) error {
		last := ""
		return tx.Scan(store.GrantIndex, prefix, after, func(ik string, _ []byte) (bool, error) {
			parts := strings.Split(ik[len(prefix):], "/")
			if len(parts) != 3 {
				return false, fmt.Errorf("malformed grant index entry %q", ik)
			}
			g, err := getGrant(tx, parts[0], parts[1], parts[2])
			if errors.Is(err, store.ErrNotFound) {
				return true, nil
			}
			if err != nil {
				return false, err
			}
			if len(out.Grants) == limit {
				out.Truncated = new(true)
				out.NextMarker = encodeMarker(last)
				return false, nil
			}
			last = ik
			out.Grants = append(out.Grants, g.entry())
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
		r, err := s.parseGrantToken(*in.GrantToken)
		if err != nil {
			return "", "", "", err
		}
		if in.GrantId != nil && *in.GrantId != r.grantID {
			return "", "", "", kmsapi.Errorf(kmsapi.InvalidGrantIdException, "The grant ID does not match the grant token.")
		}
		return r.region, r.keyID, r.grantID, nil
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
	var retired *Grant
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
		g, err := getGrant(tx, region, keyID, grantID)
		if errors.Is(err, store.ErrNotFound) {
			return kmsapi.Errorf(kmsapi.NotFoundException, "Grant ID %s not found", grantID)
		}
		if err != nil {
			return err
		}
		call.KeyARN, call.GrantID = k.ARN(), g.ID
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
		if err := removeGrant(tx, g); err != nil {
			return err
		}
		n, err := grantCount(tx, region, keyID)
		if err != nil {
			return err
		}
		retired = g
		return setGrantCount(tx, region, keyID, max(n-1, 0))
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
	var revoked *Grant
	err := s.store.Update(func(tx store.Tx) error {
		revoked = nil
		k, _, err := s.lookupKeyAccess(tx, call, in.GetKeyId(), keyIDOnly, "kms:RevokeGrant")
		if err != nil {
			return err
		}
		g, err := getGrant(tx, k.Region, k.ID, in.GetGrantId())
		if errors.Is(err, store.ErrNotFound) {
			return kmsapi.Errorf(kmsapi.NotFoundException, "Grant ID %s not found", in.GetGrantId())
		}
		if err != nil {
			return err
		}
		if in.GetDryRun() {
			return dryRunError()
		}
		if err := removeGrant(tx, g); err != nil {
			return err
		}
		n, err := grantCount(tx, k.Region, k.ID)
		if err != nil {
			return err
		}
		revoked = g
		return setGrantCount(tx, k.Region, k.ID, max(n-1, 0))
	})
	if revoked != nil {
		s.cache.Evict(revoked.Region, revoked.KeyID)
	}
	if err != nil {
		return s.internalError(ctx, "RevokeGrant", err)
	}
	return nil
}
