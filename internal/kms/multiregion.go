package kms

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/trent-kms/trent/internal/grant"
	"github.com/trent-kms/trent/internal/keycache"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

// Multi-Region keys. A multi-Region key ("mrk-" and 32 hex digits) has a
// copy in each region it is in: the primary, and replicas made from it by
// ReplicateKey. Each copy is a Key record of its own (stored by region and
// ID) with its own description, policy, grants, aliases, tags, state and
// deletion schedule; all copies share the key material (each wrapped for
// its own region), the spec, usage and origin, and the rotation settings,
// and every change to those goes to every copy in the same transaction.
// Since all regions a deployment serves share one store, the copies are
// always in step: a ciphertext made in one region decrypts in every other.

// multiRegionConfiguration is DescribeKey's MultiRegionConfiguration.
func (k *Key) multiRegionConfiguration() *kmsapi.MultiRegionConfiguration {
	typ := kmsapi.MultiRegionKeyTypeReplica
	if k.Region == k.PrimaryRegion {
		typ = kmsapi.MultiRegionKeyTypePrimary
	}
	c := &kmsapi.MultiRegionConfiguration{
		MultiRegionKeyType: &typ,
		PrimaryKey:         &kmsapi.MultiRegionKey{Arn: new(keyARN(k.PrimaryRegion, k.Account, k.ID)), Region: new(k.PrimaryRegion)},
		ReplicaKeys:        []kmsapi.MultiRegionKey{},
	}
	for _, r := range k.ReplicaRegions {
		c.ReplicaKeys = append(c.ReplicaKeys, kmsapi.MultiRegionKey{Arn: new(keyARN(r, k.Account, k.ID)), Region: new(r)})
	}
	return c
}

// regions lists the regions of every copy of a multi-Region key.
func (k *Key) regions() []string {
	return append([]string{k.PrimaryRegion}, k.ReplicaRegions...)
}

// copiesOf returns k and, for a multi-Region key, its copies in every
// other region, read from tx; k comes first.
func copiesOf(tx store.Tx, k *Key) ([]*Key, error) {
	out := []*Key{k}
	if !k.MultiRegion {
		return out, nil
	}
	for _, r := range k.regions() {
		if r == k.Region {
			continue
		}
		c, err := getKey(tx, r, k.ID)
		if err != nil {
			return nil, err // every copy records the others: a missing one is damage
		}
		out = append(out, c)
	}
	return out, nil
}

// sharedSettings copies to k the settings every copy of a multi-Region key
// shares with from: which copy is primary, and rotation.
func (k *Key) sharedSettings(from *Key) {
	k.PrimaryRegion = from.PrimaryRegion
	k.ReplicaRegions = slices.Clone(from.ReplicaRegions)
	k.RotationPeriodInDays = from.RotationPeriodInDays
	k.NextRotationDate = from.NextRotationDate
	k.OnDemandRotations = from.OnDemandRotations
	k.OnDemandRotationStartDate = from.OnDemandRotationStartDate
}

// deleteKeyCopy deletes a key at the end of its waiting period. A replica
// leaves its multi-Region key: the other copies forget it, and a primary
// waiting for its replicas starts its own waiting period when the last
// one is gone.
func (s *Service) deleteKeyCopy(tx store.Tx, k *Key, now time.Time, w *work) error {
	copies, err := copiesOf(tx, k)
	if err != nil {
		return err
	}
	if err := deleteKey(tx, k); err != nil {
		return err
	}
	for _, c := range copies[1:] {
		c.ReplicaRegions = slices.DeleteFunc(c.ReplicaRegions, func(r string) bool { return r == k.Region })
		if c.State == kmsapi.KeyStatePendingReplicaDeletion && len(c.ReplicaRegions) == 0 {
			c.State = kmsapi.KeyStatePendingDeletion
			c.DeletionDate = now.UTC().Add(days(c.PendingWindowInDays))
		}
		if err := putKey(tx, c); err != nil {
			return err
		}
		w.touched = append(w.touched, keycache.Name{Region: c.Region, ID: c.ID})
	}
	return nil
}

func (s *Service) ReplicateKey(ctx context.Context, call *Call, in *kmsapi.ReplicateKeyRequest) (*kmsapi.ReplicateKeyResponse, error) {
	region := in.GetReplicaRegion()
	call.Cond.Set("kms:ReplicaRegion", region)
	tags, err := mergeTags(nil, in.Tags)
	if err != nil {
		return nil, err
	}
	setRequestTags(&call.Cond, in.Tags)
	var replicaPolicy *policy.Policy
	if in.Policy != nil {
		if replicaPolicy, err = s.checkPolicy(*in.Policy); err != nil {
			return nil, err
		}
	}
	// The quota of the account the key's ARN names (the caller's for a
	// key ID), before the transaction: see checkKeyQuota.
	if p, ok := parseKeyID(call, in.GetKeyId()); ok && s.servesRegion(region) {
		if err := s.checkKeyQuota(p.account, region); err != nil {
			return nil, err
		}
	}
	var replica *Key
	var touched []keycache.Name
	err = s.store.Update(func(tx store.Tx) error {
		replica, touched = nil, touched[:0]
		// AWS's order: the key and the caller's permissions, then the
		// key's state, then what kind of key it is, then the operation's
		// own checks.
		primary, err := s.lookupKey(tx, call, in.GetKeyId(), keyIDOnly, "kms:ReplicateKey")
		if err != nil {
			return err
		}
		// Making the replica is creating a key in its region: an IAM
		// permission, like CreateKey (and TagResource for its tags).
		replicaCall := *call
		replicaCall.Region = region
		if err := s.authorizeAccount(&replicaCall, "kms:CreateKey", "*"); err != nil {
			return err
		}
		if len(in.Tags) > 0 {
			if err := s.authorizeAccount(&replicaCall, "kms:TagResource", "*"); err != nil {
				return err
			}
		}
		if err := checkUsable(primary, s.now()); err != nil {
			return err
		}
		if !primary.MultiRegion || primary.Region != primary.PrimaryRegion {
			return notPrimary(primary)
		}
		if !s.servesRegion(region) {
			return kmsapi.Errorf(kmsapi.UnsupportedOperationException,
				"Region %s is not served by this trent deployment, so no replica can be made there.", region)
		}
		if _, err := getKey(tx, region, primary.ID); err == nil {
			return kmsapi.Errorf(kmsapi.AlreadyExistsException, "%s already exists.", keyARN(region, primary.Account, primary.ID))
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		now := s.now().UTC()
		replica = &Key{
			ID:           primary.ID,
			Account:      primary.Account,
			Region:       region,
			CreationDate: now,
			Description:  in.GetDescription(),
			KeySpec:      primary.KeySpec,
			KeyUsage:     primary.KeyUsage,
			Origin:       primary.Origin,
			State:        kmsapi.KeyStateCreating, // the scheduler finishes it (attend)
			Policy:       in.GetPolicy(),
			Tags:         tags,
			MultiRegion:  true,
		}
		if replicaPolicy != nil {
			if err := s.checkLockout(&replicaCall, replica, replicaPolicy, in.GetBypassPolicyLockoutSafetyCheck()); err != nil {
				return err
			}
		}
		if err := addKeyCount(tx, replica.Account, replica.Region, replica.ID, 1); err != nil {
			return err
		}
		if err := s.copyMaterial(primary, replica); err != nil {
			return err
		}
		copies, err := copiesOf(tx, primary)
		if err != nil {
			return err
		}
		primary.ReplicaRegions = append(primary.ReplicaRegions, region)
		slices.Sort(primary.ReplicaRegions)
		for _, c := range append(copies, replica) {
			c.sharedSettings(primary)
			if err := putKey(tx, c); err != nil {
				return err
			}
			touched = append(touched, keycache.Name{Region: c.Region, ID: c.ID})
		}
		return nil
	})
	s.cache.EvictAll(touched)
	if err != nil {
		return nil, s.internalError(ctx, "ReplicateKey", err)
	}
	s.kick()
	call.OtherKeyARN = replica.ARN()
	meta := replica.metadata()
	meta.CurrentKeyMaterialId = nil // AWS shows none while the replica is being created
	out := &kmsapi.ReplicateKeyResponse{ReplicaKeyMetadata: meta, ReplicaPolicy: new(replica.policy())}
	for _, t := range replica.Tags {
		out.ReplicaTags = append(out.ReplicaTags, kmsapi.Tag{TagKey: new(t.Key), TagValue: new(t.Value)})
	}
	return out, nil
}

// copyMaterial gives a new replica the primary's material, wrapped for the
// replica. An imported key's replica gets none: the same material must be
// imported into it, so it learns only the material's IDs and states.
func (s *Service) copyMaterial(primary, replica *Key) error {
	for i := range primary.Materials {
		m := primary.Materials[i] // a copy
		if primary.Origin == kmsapi.OriginTypeExternal {
			m.Wrapped = nil
			m.Import = &ImportedMaterial{State: kmsapi.ImportStatePendingImport}
			if m.State == kmsapi.KeyMaterialStatePendingMultiRegionImportAndRotation {
				m.State = kmsapi.KeyMaterialStatePendingRotation
			}
			replica.Materials = append(replica.Materials, m)
			continue
		}
		secret, err := s.unwrap(primary, &primary.Materials[i])
		if err != nil {
			return err
		}
		wrapped, err := s.wrapMaterial([]*Key{replica}, m.ID, secret, m.Created)
		clear(secret)
		if err != nil {
			return err
		}
		m.Wrapped, m.RootKey = wrapped[0].Wrapped, wrapped[0].RootKey
		replica.Materials = append(replica.Materials, m)
	}
	return nil
}

func (s *Service) UpdatePrimaryRegion(ctx context.Context, call *Call, in *kmsapi.UpdatePrimaryRegionRequest) error {
	region := in.GetPrimaryRegion()
	call.Cond.Set("kms:PrimaryRegion", region)
	var touched []keycache.Name
	err := s.store.Update(func(tx store.Tx) error {
		touched = touched[:0]
		primary, err := s.lookupKey(tx, call, in.GetKeyId(), keyIDOnly, "kms:UpdatePrimaryRegion")
		if err != nil {
			return err
		}
		if err := checkUsable(primary, s.now()); err != nil {
			return err
		}
		if !primary.MultiRegion || primary.Region != primary.PrimaryRegion {
			return kmsapi.Errorf(kmsapi.UnsupportedOperationException, "%s is not a multi-Region primary key.", primary.ARN())
		}
		if region == primary.Region {
			return kmsapi.Errorf(kmsapi.ValidationException, "%s is already the primary key.", primary.ARN())
		}
		replica, err := getKey(tx, region, primary.ID)
		if errors.Is(err, store.ErrNotFound) {
			return kmsapi.Errorf(kmsapi.NotFoundException, "Key '%s' does not exist", keyARN(region, primary.Account, primary.ID))
		}
		if err != nil {
			return err
		}
		// The caller needs the permission on both keys, each under its
		// own policy.
		replicaCall := *call
		replicaCall.Region = region
		if _, err := s.authorizeKey(&replicaCall, "kms:UpdatePrimaryRegion", replica, nil,
			func() ([]*grant.Grant, error) { return grant.OfKey(tx, replica.Region, replica.ID) }); err != nil {
			return err
		}
		if err := checkUsable(replica, s.now()); err != nil {
			return err
		}
		copies, err := copiesOf(tx, primary)
		if err != nil {
			return err
		}
		var replicas []string
		for _, r := range primary.regions() {
			if r != region {
				replicas = append(replicas, r)
			}
		}
		slices.Sort(replicas)
		// All copies are in this store, so the change is made at once:
		// the keys are never seen Updating.
		for _, c := range copies {
			c.PrimaryRegion = region
			c.ReplicaRegions = slices.Clone(replicas)
			if err := putKey(tx, c); err != nil {
				return err
			}
			touched = append(touched, keycache.Name{Region: c.Region, ID: c.ID})
		}
		return nil
	})
	s.cache.EvictAll(touched)
	if err != nil {
		return s.internalError(ctx, "UpdatePrimaryRegion", err)
	}
	return nil
}
