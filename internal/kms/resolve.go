package kms

import (
	"errors"
	"strings"
	"time"

	json "github.com/go-json-experiment/json"

	"github.com/trent-kms/trent/internal/grant"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

// Identifiers: AWS accepts a key ID, a key ARN, an alias name or an alias
// ARN wherever a key is named; which of them depends on the operation.

type idKind int

const (
	keyIDOnly    idKind = iota // key ID or key ARN: management operations
	keyIDOrAlias               // also alias name or alias ARN: cryptographic operations, DescribeKey
)

// parsedID is a key identifier taken apart.
type parsedID struct {
	account, region string
	keyID           string // set for a key ID or key ARN
	alias           string // "alias/..." for an alias name or alias ARN
}

// parseKeyID splits id into its parts, filling account and region from the
// call when id is not an ARN. ok is false for an ARN that is malformed or
// names another service or partition.
func parseKeyID(call *Call, id string) (p parsedID, ok bool) {
	if !strings.HasPrefix(id, "arn:") {
		p.account, p.region = call.Account, call.Region
		if strings.HasPrefix(id, "alias/") {
			p.alias = id
		} else {
			p.keyID = id
		}
		return p, true
	}
	// arn:partition:kms:region:account:resource; alias names may hold ':'.
	parts := strings.SplitN(id, ":", 6)
	if len(parts) != 6 || parts[1] != Partition || parts[2] != "kms" || parts[3] == "" || parts[4] == "" {
		return p, false
	}
	p.region, p.account = parts[3], parts[4]
	switch res := parts[5]; {
	case strings.HasPrefix(res, "key/") && len(res) > len("key/"):
		p.keyID = res[len("key/"):]
	case strings.HasPrefix(res, "alias/") && len(res) > len("alias/"):
		p.alias = res
	default:
		return p, false
	}
	return p, true
}

func aliasNotFound(arn string) error {
	return kmsapi.Errorf(kmsapi.NotFoundException, "Alias %s is not found.", arn)
}

// lookupKey finds the key id names, as seen by call, in a transaction, and
// checks that call may perform action on it. Management operations use it;
// the data plane uses liveKeyFor, which reads through the key cache.
func (s *Service) lookupKey(tx store.Tx, call *Call, id string, kind idKind, action string) (*Key, error) {
	k, _, err := s.lookupKeyAccess(tx, call, id, kind, action)
	return k, err
}

// lookupKeyAccess is lookupKey that also returns the authorization that
// allowed the access (to tell whether a grant did).
func (s *Service) lookupKeyAccess(tx store.Tx, call *Call, id string, kind idKind, action string) (*Key, *Access, error) {
	keyID, err := s.resolveID(tx, call, id, kind, action)
	if err != nil {
		return nil, nil, err
	}
	k, err := getKey(tx, call.Region, keyID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, keyNotFound(call, id, keyID, action)
	}
	if err != nil {
		return nil, nil, err
	}
	a, err := s.checkFound(call, id, k, action, nil, func() ([]*grant.Grant, error) { return grant.OfKey(tx, k.Region, k.ID) })
	if err != nil {
		return nil, nil, err
	}
	return k, a, nil
}

// resolveID turns a key ID, key ARN, alias name or alias ARN into a key ID.
// It reads the store (through tx) only for aliases, and records an alias
// as the request's kms:RequestAlias. A key in another region does not
// exist for the caller.
func (s *Service) resolveID(tx store.Tx, call *Call, id string, kind idKind, action string) (string, error) {
	p, ok := parseKeyID(call, id)
	if !ok {
		return "", kmsapi.Errorf(kmsapi.NotFoundException, "Invalid arn %s", id)
	}
	if p.region != call.Region {
		// AWS's words for an ARN of another region.
		return "", kmsapi.Errorf(kmsapi.NotFoundException, "Invalid arn %s", p.region)
	}
	if p.alias != "" {
		if kind != keyIDOrAlias {
			// Management operations take only key IDs and key ARNs.
			return "", kmsapi.Errorf(kmsapi.NotFoundException, "Invalid keyId '%s'", id)
		}
		a, err := getAlias(tx, p.account, p.region, p.alias)
		if errors.Is(err, store.ErrNotFound) {
			if p.account != call.Account {
				return "", crossAccountDenied(call, action)
			}
			return "", aliasNotFound(aliasARN(p.region, p.account, p.alias))
		}
		if err != nil {
			return "", err
		}
		call.Cond.RequestAlias = p.alias
		return a.TargetKeyID, nil
	}
	if !validKeyID(p.keyID) {
		return "", kmsapi.Errorf(kmsapi.NotFoundException, "Invalid keyId '%s'", p.keyID)
	}
	return p.keyID, nil
}

// keyNotFound is the error for a key the caller named as id that resolved
// to keyID but does not exist (for the caller). A key of another account,
// named by ARN, gets the denial that does not say whether it exists.
func keyNotFound(call *Call, id, keyID, action string) error {
	p, _ := parseKeyID(call, id)
	if p.account != call.Account {
		return crossAccountDenied(call, action)
	}
	return kmsapi.Errorf(kmsapi.NotFoundException, "Key '%s' does not exist", keyARN(p.region, p.account, keyID))
}

// checkFound checks that a key found for the caller's id really is the one
// the caller can see (same account and region as named, not past its
// deletion date), records it for the audit log and authorises action on it
// with its policy (nil: parse it) and grants.
func (s *Service) checkFound(call *Call, id string, k *Key, action string, keyPolicy *policy.Policy, grants func() ([]*grant.Grant, error)) (*Access, error) {
	return s.checkFoundARN(call, id, k, k.ARN(), action, keyPolicy, grants)
}

// checkFoundARN is checkFound for a key whose ARN the caller has made.
func (s *Service) checkFoundARN(call *Call, id string, k *Key, arn, action string, keyPolicy *policy.Policy, grants func() ([]*grant.Grant, error)) (*Access, error) {
	p, _ := parseKeyID(call, id)
	if k.Account != p.account || k.Region != p.region || k.deletionDue(s.now()) {
		return nil, keyNotFound(call, id, k.ID, action)
	}
	call.KeyARN = arn
	return s.authorizeKeyARN(call, action, k, arn, keyPolicy, grants)
}

// isAlias reports whether id names an alias, so resolving it reads the store.
func isAlias(id string) bool {
	return strings.HasPrefix(id, "alias/") || strings.Contains(id, ":alias/")
}

// validKeyID reports whether id has the form of a key ID: a UUID, or
// "mrk-" and 32 hex digits for a multi-Region key.
func validKeyID(id string) bool {
	if rest, ok := strings.CutPrefix(id, "mrk-"); ok {
		return len(rest) == 32 && isHex(rest)
	}
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch i {
		case 8, 13, 18, 23:
			if id[i] != '-' {
				return false
			}
		default:
			if !isHex(id[i : i+1]) {
				return false
			}
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// Key states: which operations a key in each state allows, and AWS's errors.

// checkUsable is the state check of the cryptographic operations: only an
// enabled key can be used, and an imported key only until its material
// expires (at that instant, even before the scheduler deletes it).
func checkUsable(k *Key, now time.Time) error {
	switch k.State {
	case kmsapi.KeyStateEnabled:
		if k.Origin == kmsapi.OriginTypeExternal {
			if at := k.earliestExpiry(); !at.IsZero() && !now.Before(at) {
				return kmsapi.Errorf(kmsapi.KMSInvalidStateException, "%s is pending import.", k.ARN())
			}
		}
		return nil
	case kmsapi.KeyStateDisabled:
		return kmsapi.Errorf(kmsapi.DisabledException, "%s is disabled.", k.ARN())
	default:
		return invalidState(k)
	}
}

// checkNotPendingDeletion is the state check of the operations that change a
// key's metadata (tags, description, aliases, deletion schedule).
func checkNotPendingDeletion(k *Key) error {
	if k.pendingDeletion() {
		return invalidState(k)
	}
	return nil
}

// pendingDeletion reports whether the key is scheduled for deletion: in its
// window, or (a multi-Region primary) waiting for its replicas to go.
func (k *Key) pendingDeletion() bool {
	return k.State == kmsapi.KeyStatePendingDeletion || k.State == kmsapi.KeyStatePendingReplicaDeletion
}

func invalidState(k *Key) error {
	var what string
	switch k.State {
	case kmsapi.KeyStatePendingDeletion:
		what = "pending deletion"
	case kmsapi.KeyStatePendingReplicaDeletion:
		what = "pending replica deletion"
	case kmsapi.KeyStatePendingImport:
		what = "pending import"
	case kmsapi.KeyStateDisabled:
		what = "disabled"
	case kmsapi.KeyStateEnabled:
		what = "enabled"
	default:
		what = strings.ToLower(string(k.State))
	}
	return kmsapi.Errorf(kmsapi.KMSInvalidStateException, "%s is %s.", k.ARN(), what)
}

// Aliases as stored.

type alias struct {
	Name            string    `json:"name"` // "alias/..."
	TargetKeyID     string    `json:"targetKeyId"`
	CreationDate    time.Time `json:"creationDate"`
	LastUpdatedDate time.Time `json:"lastUpdatedDate"`
}

func aliasStoreKey(account, region, name string) string {
	return accountIndexKey(account, region, name)
}

func decodeAlias(v []byte) (*alias, error) {
	a := new(alias)
	if err := json.Unmarshal(v, a); err != nil {
		return nil, err
	}
	return a, nil
}

func getAlias(tx store.Tx, account, region, name string) (*alias, error) {
	v, err := tx.Get(store.Aliases, aliasStoreKey(account, region, name))
	if err != nil {
		return nil, err
	}
	return decodeAlias(v)
}

// putAlias stores an alias and keeps the per-key index in step. oldTarget
// is the key the alias pointed to before; empty for a new alias.
func putAlias(tx store.Tx, account, region string, a *alias, oldTarget string) error {
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if oldTarget != "" && oldTarget != a.TargetKeyID {
		if err := tx.Delete(store.AliasesByKey, aliasIndexPrefix(region, oldTarget)+a.Name); err != nil {
			return err
		}
	}
	if err := tx.Put(store.AliasesByKey, aliasIndexPrefix(region, a.TargetKeyID)+a.Name, nil); err != nil {
		return err
	}
	return tx.Put(store.Aliases, aliasStoreKey(account, region, a.Name), v)
}

// deleteAlias removes an alias and its per-key index entry.
func deleteAlias(tx store.Tx, account, region string, a *alias) error {
	if err := tx.Delete(store.AliasesByKey, aliasIndexPrefix(region, a.TargetKeyID)+a.Name); err != nil {
		return err
	}
	return tx.Delete(store.Aliases, aliasStoreKey(account, region, a.Name))
}
