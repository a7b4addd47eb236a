package kms

import (
	"context"
	"errors"
	"strings"

	"github.com/trent-kms/trent/internal/grant"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/store"
)

const maxAliasesPerKey = 50

// tooManyAliases is AWS's answer (as CreateAlias gives it) to one alias
// more on a key that has n.
func tooManyAliases(n int) error {
	return kmsapi.Errorf(kmsapi.LimitExceededException,
		"Aliases per key quota for this account in this region is %d, current usage is %d.", maxAliasesPerKey, n)
}

// checkAliasName applies AWS's rules beyond the model's pattern.
func checkAliasName(name string) error {
	if !strings.HasPrefix(name, "alias/") || name == "alias/" {
		return kmsapi.Errorf(kmsapi.ValidationException,
			`Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html`)
	}
	if strings.Contains(name, ":") {
		return kmsapi.Errorf(kmsapi.ValidationException, "%s contains invalid characters for an alias", name)
	}
	if strings.HasPrefix(name, "alias/aws/") {
		// Reserved for AWS managed keys.
		return kmsapi.Errorf(kmsapi.NotAuthorizedException, "")
	}
	return nil
}

// aliasForChange reads one of the caller's aliases and authorises action
// on the key it points to, if that key still exists (nil if not).
func (s *Service) aliasForChange(tx store.Tx, call *Call, name, action string) (*alias, *Key, error) {
	a, err := getAlias(tx, call.Account, call.Region, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, aliasNotFound(aliasARN(call.Region, call.Account, name))
	}
	if err != nil {
		return nil, nil, err
	}
	k, err := getKey(tx, call.Region, a.TargetKeyID)
	if errors.Is(err, store.ErrNotFound) {
		return a, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	call.KeyARN = k.ARN()
	_, err = s.authorizeKey(call, action, k, nil, func() ([]*grant.Grant, error) { return grant.OfKey(tx, k.Region, k.ID) })
	return a, k, err
}

// authorizeAlias is the alias half of the alias operations: an IAM-only
// permission on the alias ARN (KMS Developer Guide, "Controlling access to
// aliases"). The key half is asked separately.
func (s *Service) authorizeAlias(call *Call, action, name string) error {
	return s.authorizeAccount(call, action, aliasARN(call.Region, call.Account, name))
}

func (s *Service) CreateAlias(ctx context.Context, call *Call, in *kmsapi.CreateAliasRequest) error {
	name := in.GetAliasName()
	if err := checkAliasName(name); err != nil {
		return err
	}
	if err := s.authorizeAlias(call, "kms:CreateAlias", name); err != nil {
		return err
	}
	err := s.store.Update(func(tx store.Tx) error {
		k, err := s.lookupKey(tx, call, in.GetTargetKeyId(), keyIDOnly, "kms:CreateAlias")
		if err != nil {
			return err
		}
		if err := checkNotPendingDeletion(k); err != nil {
			return err
		}
		_, err = getAlias(tx, call.Account, call.Region, name)
		if err == nil {
			return kmsapi.Errorf(kmsapi.AlreadyExistsException, "An alias with the name %s already exists", aliasARN(call.Region, call.Account, name))
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		names, err := aliasesOf(tx, k.Region, k.ID)
		if err != nil {
			return err
		}
		if len(names) >= maxAliasesPerKey {
			return tooManyAliases(len(names))
		}
		now := s.now().UTC()
		return putAlias(tx, call.Account, call.Region, &alias{Name: name, TargetKeyID: k.ID, CreationDate: now, LastUpdatedDate: now}, "")
	})
	if err != nil {
		return s.internalError(ctx, "CreateAlias", err)
	}
	return nil
}

func (s *Service) UpdateAlias(ctx context.Context, call *Call, in *kmsapi.UpdateAliasRequest) error {
	name := in.GetAliasName()
	if err := checkAliasName(name); err != nil {
		return err
	}
	if err := s.authorizeAlias(call, "kms:UpdateAlias", name); err != nil {
		return err
	}
	err := s.store.Update(func(tx store.Tx) error {
		// The caller needs permission on both the old and the new key.
		a, old, err := s.aliasForChange(tx, call, name, "kms:UpdateAlias")
		if err != nil {
			return err
		}
		k, err := s.lookupKey(tx, call, in.GetTargetKeyId(), keyIDOnly, "kms:UpdateAlias")
		if err != nil {
			return err
		}
		if err := checkNotPendingDeletion(k); err != nil {
			return err
		}
		if old != nil && (old.KeySpec != k.KeySpec || old.KeyUsage != k.KeyUsage) {
			return kmsapi.Errorf(kmsapi.ValidationException,
				"%s and %s are not the same key type and key usage. An alias can only be moved between keys of the same type and usage.", old.ARN(), k.ARN())
		}
		if a.TargetKeyID != k.ID {
			names, err := aliasesOf(tx, k.Region, k.ID)
			if err != nil {
				return err
			}
			if len(names) >= maxAliasesPerKey {
				return tooManyAliases(len(names))
			}
		}
		oldTarget := a.TargetKeyID
		a.TargetKeyID = k.ID
		a.LastUpdatedDate = s.now().UTC()
		return putAlias(tx, call.Account, call.Region, a, oldTarget)
	})
	if err != nil {
		return s.internalError(ctx, "UpdateAlias", err)
	}
	return nil
}

func (s *Service) DeleteAlias(ctx context.Context, call *Call, in *kmsapi.DeleteAliasRequest) error {
	name := in.GetAliasName()
	if err := checkAliasName(name); err != nil {
		return err
	}
	if err := s.authorizeAlias(call, "kms:DeleteAlias", name); err != nil {
		return err
	}
	err := s.store.Update(func(tx store.Tx) error {
		a, _, err := s.aliasForChange(tx, call, name, "kms:DeleteAlias")
		if err != nil {
			return err
		}
		return deleteAlias(tx, call.Account, call.Region, a)
	})
	if err != nil {
		return s.internalError(ctx, "DeleteAlias", err)
	}
	return nil
}

func (s *Service) ListAliases(ctx context.Context, call *Call, in *kmsapi.ListAliasesRequest) (*kmsapi.ListAliasesResponse, error) {
	if err := s.authorizeAccount(call, "kms:ListAliases", "*"); err != nil {
		return nil, err
	}
	prefix := aliasStoreKey(call.Account, call.Region, "")
	limit := limitOr(in.Limit, 50)
	out := &kmsapi.ListAliasesResponse{Aliases: []kmsapi.AliasListEntry{}, Truncated: new(false)}
	now := s.now()
	err := s.store.View(func(tx store.Tx) error {
		out.Aliases, out.Truncated, out.NextMarker = out.Aliases[:0], new(false), nil
		filter := ""
		if in.KeyId != nil {
			// Listing by key is part of kms:ListAliases, an IAM-only
			// permission: the key must exist, its policy is not asked.
			keyID, err := s.resolveID(tx, call, *in.KeyId, keyIDOnly, "kms:ListAliases")
			if err != nil {
				return err
			}
			k, err := getKey(tx, call.Region, keyID)
			if errors.Is(err, store.ErrNotFound) || (err == nil && k.Account != call.Account) {
				return keyNotFound(call, *in.KeyId, keyID, "kms:ListAliases")
			}
			if err != nil {
				return err
			}
			filter = k.ID
		}
		after, err := decodeMarker(in.Marker, prefix)
		if err != nil {
			return err
		}
		// The predefined aliases (managed.go) are listed with the stored
		// ones, in name order, until their key is made: then the stored
		// alias, with its target, takes the place of the predefined one.
		// They have no target, so a KeyId filter never shows them.
		var predefined []string
		if filter == "" {
			predefined = predefinedAfter(strings.TrimPrefix(after, prefix))
		}
		last := ""
		add := func(storeKey string, e kmsapi.AliasListEntry) bool {
			if len(out.Aliases) == limit {
				out.Truncated = new(true)
				out.NextMarker = encodeMarker(last)
				return false
			}
			last = storeKey
			out.Aliases = append(out.Aliases, e)
			return true
		}
		// addPredefined adds those up to name (all with all), leaving out
		// name itself, which is stored.
		addPredefined := func(name string, all bool) bool {
			for len(predefined) > 0 && (all || predefined[0] <= name) {
				n := predefined[0]
				predefined = predefined[1:]
				if n == name {
					continue
				}
				if !add(prefix+n, predefinedEntry(call, n)) {
					return false
				}
			}
			return true
		}
		stopped := false
		err = tx.Scan(store.Aliases, prefix, after, func(sk string, v []byte) (bool, error) {
			a, err := decodeAlias(v)
			if err != nil {
				return false, err
			}
			if !addPredefined(a.Name, false) {
				stopped = true
				return false, nil
			}
			if filter != "" && a.TargetKeyID != filter {
				return true, nil
			}
			// Aliases of a key past its deletion window are gone with it.
			k, err := getKey(tx, call.Region, a.TargetKeyID)
			if errors.Is(err, store.ErrNotFound) || (err == nil && k.deletionDue(now)) {
				return true, nil
			}
			if err != nil {
				return false, err
			}
			stopped = !add(sk, kmsapi.AliasListEntry{
				AliasName:       new(a.Name),
				AliasArn:        new(aliasARN(call.Region, call.Account, a.Name)),
				TargetKeyId:     new(a.TargetKeyID),
				CreationDate:    new(kmsapi.Time{Time: a.CreationDate}),
				LastUpdatedDate: new(kmsapi.Time{Time: a.LastUpdatedDate}),
			})
			return !stopped, nil
		})
		if err != nil || stopped {
			return err
		}
		addPredefined("", true)
		return nil
	})
	if err != nil {
		return nil, s.internalError(ctx, "ListAliases", err)
	}
	return out, nil
}
