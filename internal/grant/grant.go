// Package grant keeps KMS grants: permissions on one key given to one
// principal for some operations, optionally only for some encryption
// contexts (KMS Developer Guide, "Grants in AWS KMS"). It stores and finds
// them in a store transaction, makes and checks grant tokens, and answers
// the questions about a grant that do not depend on who asks. Deciding
// whether a grant allows a request, and the API operations, are the
// service's (internal/kms).
//
// Grants are stored in store.Grants under "<region>/<key ID>/<grant ID>",
// with three kinds of entries in store.GrantIndex:
// "name/<region>/<key ID>/<name>" → grant ID (CreateGrant's idempotency by
// Name), "retiring/<principal>/<region>/<key ID>/<grant ID>" (grants a
// principal may retire) and "count/<region>/<key ID>" (the per-key quota).
package grant

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	json "github.com/go-json-experiment/json"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/store"
)

// MaxPerKey is AWS's quota of grants on one key.
const MaxPerKey = 50000

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

func storeKey(region, keyID, grantID string) string { return region + "/" + keyID + "/" + grantID }

func nameIndex(region, keyID, name string) string {
	return "name/" + region + "/" + keyID + "/" + name
}

func retiringIndex(principal, region, keyID, grantID string) string {
	return RetirablePrefix(principal) + region + "/" + keyID + "/" + grantID
}

func countIndex(region, keyID string) string { return "count/" + region + "/" + keyID }

// Get reads one grant of a key; a missing one is store.ErrNotFound.
func Get(tx store.Tx, region, keyID, grantID string) (*Grant, error) {
	v, err := tx.Get(store.Grants, storeKey(region, keyID, grantID))
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

// OfKey lists a key's grants, in grant ID order.
func OfKey(tx store.Tx, region, keyID string) ([]*Grant, error) {
	var out []*Grant
	err := ScanKey(tx, region, keyID, "", func(_ string, g *Grant) (bool, error) {
		out = append(out, g)
		return true, nil
	})
	return out, err
}

// KeyPrefix is where the store entries of a key's grants start: the entry
// names ScanKey gives begin with it.
func KeyPrefix(region, keyID string) string { return region + "/" + keyID + "/" }

// ScanKey calls fn with each grant of a key, in grant ID order, starting
// after the entry named after ("" for the first), until fn returns false.
// fn also gets the grant's entry name, to resume from.
func ScanKey(tx store.Tx, region, keyID, after string, fn func(entry string, g *Grant) (bool, error)) error {
	prefix := KeyPrefix(region, keyID)
	return tx.Scan(store.Grants, prefix, after, func(k string, v []byte) (bool, error) {
		g := new(Grant)
		if err := json.Unmarshal(v, g); err != nil {
			return false, fmt.Errorf("decoding grant %s: %w", k, err)
		}
		if g.Region != region || g.KeyID != keyID || k != prefix+g.ID {
			return false, fmt.Errorf("grant record %s holds grant %s of %s/%s", k, g.ID, g.Region, g.KeyID)
		}
		return fn(k, g)
	})
}

// IDByName is the ID of the key's grant with this name, or
// store.ErrNotFound.
func IDByName(tx store.Tx, region, keyID, name string) (string, error) {
	id, err := tx.Get(store.GrantIndex, nameIndex(region, keyID, name))
	return string(id), err
}

// RetirablePrefix is where the entries of the grants principal may retire
// start in store.GrantIndex: the entry names ScanRetirable gives begin
// with it.
func RetirablePrefix(principal string) string { return "retiring/" + principal + "/" }

// ScanRetirable calls fn with each grant principal may retire, starting
// after the entry named after ("" for the first), until fn returns false.
// fn also gets the grant's entry name, to resume from.
//
// The prefix of a principal's entries also holds those of principals whose
// ARN continues its own after a slash (an IAM path: role/a and role/a/b):
// theirs have more than the three parts region/key ID/grant ID after the
// prefix, and are skipped.
func ScanRetirable(tx store.Tx, principal, after string, fn func(entry string, g *Grant) (bool, error)) error {
	prefix := RetirablePrefix(principal)
	return tx.Scan(store.GrantIndex, prefix, after, func(entry string, _ []byte) (bool, error) {
		parts := strings.Split(entry[len(prefix):], "/")
		if len(parts) != 3 {
			return true, nil // another principal's
		}
		g, err := Get(tx, parts[0], parts[1], parts[2])
		if errors.Is(err, store.ErrNotFound) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if g.Retiring != principal {
			return false, fmt.Errorf("grant index entry %q names grant %s, retired by %s", entry, g.ID, g.Retiring)
		}
		return fn(entry, g)
	})
}

// Count is the number of grants on a key, for the quota.
func Count(tx store.Tx, region, keyID string) (int, error) {
	v, err := tx.Get(store.GrantIndex, countIndex(region, keyID))
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(v))
}

// Add stores a new grant and counts it.
func Add(tx store.Tx, g *Grant) error {
	n, err := Count(tx, g.Region, g.KeyID)
	if err != nil {
		return err
	}
	v, err := json.Marshal(g)
	if err != nil {
		return err
	}
	if err := tx.Put(store.Grants, storeKey(g.Region, g.KeyID, g.ID), v); err != nil {
		return err
	}
	if g.Name != "" {
		if err := tx.Put(store.GrantIndex, nameIndex(g.Region, g.KeyID, g.Name), []byte(g.ID)); err != nil {
			return err
		}
	}
	if g.Retiring != "" {
		if err := tx.Put(store.GrantIndex, retiringIndex(g.Retiring, g.Region, g.KeyID, g.ID), nil); err != nil {
			return err
		}
	}
	return setCount(tx, g.Region, g.KeyID, n+1)
}

// Remove deletes a grant (retired or revoked) and its index entries, and
// counts it out.
func Remove(tx store.Tx, g *Grant) error {
	if err := remove(tx, g); err != nil {
		return err
	}
	n, err := Count(tx, g.Region, g.KeyID)
	if err != nil {
		return err
	}
	return setCount(tx, g.Region, g.KeyID, max(n-1, 0))
}

func remove(tx store.Tx, g *Grant) error {
	if err := tx.Delete(store.Grants, storeKey(g.Region, g.KeyID, g.ID)); err != nil {
		return err
	}
	if g.Name != "" {
		// The name may since point to a newer grant of the same name.
		v, err := tx.Get(store.GrantIndex, nameIndex(g.Region, g.KeyID, g.Name))
		if err == nil && string(v) == g.ID {
			if err := tx.Delete(store.GrantIndex, nameIndex(g.Region, g.KeyID, g.Name)); err != nil {
				return err
			}
		}
	}
	if g.Retiring != "" {
		return tx.Delete(store.GrantIndex, retiringIndex(g.Retiring, g.Region, g.KeyID, g.ID))
	}
	return nil
}

// DeleteAll removes every grant of a key, with the key.
func DeleteAll(tx store.Tx, region, keyID string) error {
	grants, err := OfKey(tx, region, keyID)
	if err != nil {
		return err
	}
	for _, g := range grants {
		if err := remove(tx, g); err != nil {
			return err
		}
	}
	return setCount(tx, region, keyID, 0)
}

func setCount(tx store.Tx, region, keyID string, n int) error {
	if n == 0 {
		return tx.Delete(store.GrantIndex, countIndex(region, keyID))
	}
	return tx.Put(store.GrantIndex, countIndex(region, keyID), []byte(strconv.Itoa(n)))
}

// TakesContext reports whether a grant's encryption context constraints
// apply to an operation. The others (DescribeKey, GetPublicKey, Sign, ...)
// ignore them.
func TakesContext(op kmsapi.GrantOperation) bool {
	switch op {
	case kmsapi.GrantOperationEncrypt, kmsapi.GrantOperationDecrypt, kmsapi.GrantOperationReEncryptFrom,
		kmsapi.GrantOperationReEncryptTo, kmsapi.GrantOperationGenerateDataKey,
		kmsapi.GrantOperationGenerateDataKeyWithoutPlaintext, kmsapi.GrantOperationGenerateDataKeyPair,
		kmsapi.GrantOperationGenerateDataKeyPairWithoutPlaintext, kmsapi.GrantOperationCreateGrant:
		return true
	}
	return false
}

// ContextAllows reports whether a request's encryption context meets the
// grant's constraints. Equals: exactly these pairs; Subset: at least these.
func (g *Grant) ContextAllows(ec map[string]string) bool {
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

// SameAs reports whether n gives what g gives to the same principals: a
// CreateGrant with a Name already used on the key returns the existing
// grant if so.
func (g *Grant) SameAs(n *Grant) bool {
	ops := func(o []kmsapi.GrantOperation) []kmsapi.GrantOperation {
		c := slices.Clone(o)
		slices.Sort(c)
		return slices.Compact(c)
	}
	return g.Grantee == n.Grantee && g.Retiring == n.Retiring && slices.Equal(ops(g.Operations), ops(n.Operations)) &&
		maps.Equal(g.ContextEquals, n.ContextEquals) && maps.Equal(g.ContextSubset, n.ContextSubset) &&
		(g.ContextEquals == nil) == (n.ContextEquals == nil) && (g.ContextSubset == nil) == (n.ContextSubset == nil)
}

// NarrowerThan reports whether g gives no more than parent: a grant created
// through another grant may have a subset of its operations, and
// constraints as strict (the parent's pairs all present; Subset may become
// Equals, not back).
func (g *Grant) NarrowerThan(parent *Grant) bool {
	for _, op := range g.Operations {
		if !slices.Contains(parent.Operations, op) {
			return false
		}
	}
	switch {
	case parent.ContextEquals != nil:
		return g.ContextEquals != nil && maps.Equal(g.ContextEquals, parent.ContextEquals)
	case parent.ContextSubset != nil:
		child := g.ContextSubset
		if g.ContextEquals != nil {
			child = g.ContextEquals
		}
		for k, v := range parent.ContextSubset {
			if got, ok := child[k]; !ok || got != v {
				return false
			}
		}
	}
	return true
}
