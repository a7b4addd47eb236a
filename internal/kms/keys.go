package kms

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/trent-kms/trent/internal/ciphertext"
	"github.com/trent-kms/trent/internal/keyspec"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/store"
)

// Limits AWS documents.
const (
	maxTagsPerKey      = 50
	maxPolicyBytes     = 32768
	minDeletionWindow  = 7
	maxDeletionWindow  = 30
	defaultDeletionWin = 30
)

func (s *Service) CreateKey(ctx context.Context, call *Call, in *kmsapi.CreateKeyRequest) (*kmsapi.CreateKeyResponse, error) {
	spec := kmsapi.KeySpecSymmetricDefault
	switch {
	case in.KeySpec != nil && in.CustomerMasterKeySpec != nil:
		return nil, kmsapi.Errorf(kmsapi.ValidationException,
			"You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.")
	case in.KeySpec != nil:
		spec = *in.KeySpec
	case in.CustomerMasterKeySpec != nil:
		spec = kmsapi.KeySpec(*in.CustomerMasterKeySpec)
	}
	usage, err := keyUsageFor(spec, in.KeyUsage)
	if err != nil {
		return nil, err
	}
	if in.Origin != nil && *in.Origin != kmsapi.OriginTypeAwsKms {
		return nil, kmsapi.Errorf(kmsapi.UnsupportedOperationException,
			"Origin %s is not supported by this server yet.", *in.Origin)
	}
	if in.CustomKeyStoreId != nil || in.XksKeyId != nil {
		return nil, kmsapi.Errorf(kmsapi.CustomKeyStoreNotFoundException,
			"Custom key stores are not supported by this server.")
	}
	if in.GetMultiRegion() {
		return nil, kmsapi.Errorf(kmsapi.UnsupportedOperationException,
			"Multi-Region keys are not supported by this server yet.")
	}
	tags, err := mergeTags(nil, in.Tags)
	if err != nil {
		return nil, err
	}
	// kms:CreateKey is an IAM-only permission, with the would-be key's
	// properties as conditions; tags need kms:TagResource too.
	call.Cond.Set("kms:KeySpec", string(spec))
	call.Cond.Set("kms:CustomerMasterKeySpec", string(spec))
	call.Cond.Set("kms:KeyUsage", string(usage))
	call.Cond.Set("kms:CustomerMasterKeyUsage", string(usage))
	call.Cond.Set("kms:KeyOrigin", string(kmsapi.OriginTypeAwsKms))
	call.Cond.Set("kms:MultiRegion", "false")
	call.Cond.Set("kms:BypassPolicyLockoutSafetyCheck", boolString(in.GetBypassPolicyLockoutSafetyCheck()))
	setRequestTags(&call.Cond, in.Tags)
	if err := s.authorizeAccount(call, "kms:CreateKey", "*"); err != nil {
		return nil, err
	}
	if len(in.Tags) > 0 {
		if err := s.authorizeAccount(call, "kms:TagResource", "*"); err != nil {
			return nil, err
		}
	}
	var keyPolicy *policy.Policy
	if in.Policy != nil {
		if keyPolicy, err = s.checkPolicy(*in.Policy); err != nil {
			return nil, err
		}
	}

	now := s.now().UTC()
	k := &Key{
		ID:           uuid.Must(uuid.NewRandomFromReader(s.rand)).String(),
		Account:      call.Account,
		Region:       call.Region,
		CreationDate: now,
		Description:  in.GetDescription(),
		KeySpec:      spec,
		KeyUsage:     usage,
		Origin:       kmsapi.OriginTypeAwsKms,
		State:        kmsapi.KeyStateEnabled,
		Policy:       in.GetPolicy(),
		Tags:         tags,
	}
	if keyPolicy != nil {
		if err := s.checkLockout(call, k, keyPolicy, in.GetBypassPolicyLockoutSafetyCheck()); err != nil {
			return nil, err
		}
	}
	call.KeyARN = k.ARN()
	m, err := s.newMaterial(k, now)
	if err != nil {
		return nil, s.internalError(ctx, "CreateKey", err)
	}
	k.Materials = []Material{m}
	if err := s.store.Update(func(tx store.Tx) error { return putKey(tx, k) }); err != nil {
		return nil, s.internalError(ctx, "CreateKey", err)
	}
	return &kmsapi.CreateKeyResponse{KeyMetadata: k.metadata()}, nil
}

// newMaterial makes fresh key material for k, wrapped under the root key
// and bound to k's attributes: 256 random bits for a symmetric key, a
// private key or an HMAC key otherwise. The plaintext material lives only
// in this function.
func (s *Service) newMaterial(k *Key, now time.Time) (Material, error) {
	var secret []byte
	var err error
	if k.KeySpec == kmsapi.KeySpecSymmetricDefault {
		secret, err = s.randomBytes(32)
	} else {
		secret, err = keyspec.Generate(k.KeySpec, s.rand)
	}
	if err != nil {
		return Material{}, err
	}
	defer clear(secret)
	var id ciphertext.MaterialID
	idBytes, err := s.randomBytes(len(id))
	if err != nil {
		return Material{}, err
	}
	copy(id[:], idBytes)
	wrapped, err := s.root.Wrap(secret, materialAAD(k, id))
	if err != nil {
		return Material{}, err
	}
	return Material{ID: id, RootKey: s.root.ID(), Wrapped: wrapped, Created: now}, nil
}

// keyUsageFor checks the KeyUsage of a CreateKey request against the key
// spec. Only symmetric encryption keys may leave it out.
func keyUsageFor(spec kmsapi.KeySpec, usage *kmsapi.KeyUsageType) (kmsapi.KeyUsageType, error) {
	allowed := keyspec.Usages(spec)
	if spec != kmsapi.KeySpecSymmetricDefault && !keyspec.Supported(spec) {
		// SM2: see docs/keyspecs.md.
		return "", kmsapi.Errorf(kmsapi.UnsupportedOperationException,
			"KeySpec %s is not supported by this server. AWS KMS offers it only in the China Regions.", spec)
	}
	if usage == nil {
		if spec != kmsapi.KeySpecSymmetricDefault {
			return "", kmsapi.Errorf(kmsapi.ValidationException,
				"You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")
		}
		return kmsapi.KeyUsageTypeEncryptDecrypt, nil
	}
	if !slices.Contains(allowed, *usage) {
		return "", kmsapi.Errorf(kmsapi.ValidationException, "KeyUsage %s is not compatible with KeySpec %s", *usage, spec)
	}
	return *usage, nil
}

// unwrap returns the plaintext of a key's material. Callers clear it when
// done. Material that does not unwrap was tampered with: errTampered.
func (s *Service) unwrap(k *Key, m *Material) ([]byte, error) {
	secret, err := s.root.Unwrap(m.Wrapped, materialAAD(k, m.ID))
	if err != nil {
		return nil, fmt.Errorf("%w: material %s of key %s does not unwrap under its attributes: %v", errTampered, m.ID, k.ARN(), err)
	}
	return secret, nil
}

func (s *Service) DescribeKey(ctx context.Context, call *Call, in *kmsapi.DescribeKeyRequest) (*kmsapi.DescribeKeyResponse, error) {
	// Through the key cache: it is evicted on every change, so the state
	// it reports is current.
	if _, err := s.checkGrantTokens(in.GrantTokens); err != nil {
		return nil, err
	}
	call.Cond.GrantTokens = in.GrantTokens
	k, err := s.liveKeyFor(call, in.GetKeyId(), "kms:DescribeKey")
	if err != nil {
		return nil, s.internalError(ctx, "DescribeKey", err)
	}
	defer k.release()
	return &kmsapi.DescribeKeyResponse{KeyMetadata: k.metadata()}, nil
}

// changeKey runs fn on the key id names inside a write transaction and
// stores the result if fn succeeds.
func (s *Service) changeKey(ctx context.Context, call *Call, op, id string, fn func(k *Key) error) (*Key, error) {
	var k *Key
	err := s.store.Update(func(tx store.Tx) (err error) {
		k, err = s.lookupKey(tx, call, id, keyIDOnly, "kms:"+op)
		if err != nil {
			return err
		}
		if err := fn(k); err != nil {
			return err
		}
		return putKey(tx, k)
	})
	if k != nil {
		s.cache.evict(k.Region, k.ID) // after the commit: see keyCache
	}
	if err != nil {
		return nil, s.internalError(ctx, op, err)
	}
	return k, nil
}

func (s *Service) UpdateKeyDescription(ctx context.Context, call *Call, in *kmsapi.UpdateKeyDescriptionRequest) error {
	_, err := s.changeKey(ctx, call, "UpdateKeyDescription", in.GetKeyId(), func(k *Key) error {
		if err := checkNotPendingDeletion(k); err != nil {
			return err
		}
		k.Description = in.GetDescription()
		return nil
	})
	return err
}

func (s *Service) EnableKey(ctx context.Context, call *Call, in *kmsapi.EnableKeyRequest) error {
	return s.setEnabled(ctx, call, "EnableKey", in.GetKeyId(), kmsapi.KeyStateEnabled)
}

func (s *Service) DisableKey(ctx context.Context, call *Call, in *kmsapi.DisableKeyRequest) error {
	return s.setEnabled(ctx, call, "DisableKey", in.GetKeyId(), kmsapi.KeyStateDisabled)
}

// setEnabled moves a key between Enabled and Disabled; a key in any other
// state (pending deletion, say) cannot be.
func (s *Service) setEnabled(ctx context.Context, call *Call, op, id string, to kmsapi.KeyState) error {
	_, err := s.changeKey(ctx, call, op, id, func(k *Key) error {
		if k.State != kmsapi.KeyStateEnabled && k.State != kmsapi.KeyStateDisabled {
			return invalidState(k)
		}
		k.State = to
		return nil
	})
	return err
}

func (s *Service) ScheduleKeyDeletion(ctx context.Context, call *Call, in *kmsapi.ScheduleKeyDeletionRequest) (*kmsapi.ScheduleKeyDeletionResponse, error) {
	days := int32(defaultDeletionWin)
	if in.PendingWindowInDays != nil {
		days = *in.PendingWindowInDays
	}
	call.Cond.Set("kms:ScheduleKeyDeletionPendingWindowInDays", strconv.Itoa(int(days)))
	// The model allows 1-365 (checked with the request); KMS itself allows 7-30.
	if days < minDeletionWindow || days > maxDeletionWindow {
		return nil, kmsapi.Errorf(kmsapi.ValidationException, "PendingWindowInDays must be between %d and %d", minDeletionWindow, maxDeletionWindow)
	}
	k, err := s.changeKey(ctx, call, "ScheduleKeyDeletion", in.GetKeyId(), func(k *Key) error {
		if err := checkNotPendingDeletion(k); err != nil {
			return err
		}
		k.State = kmsapi.KeyStatePendingDeletion
		k.DeletionDate = s.now().UTC().Add(time.Duration(days) * 24 * time.Hour)
		k.PendingWindowInDays = days
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &kmsapi.ScheduleKeyDeletionResponse{
		KeyId:               new(k.ARN()),
		DeletionDate:        new(kmsapi.Time{Time: k.DeletionDate}),
		KeyState:            new(k.State),
		PendingWindowInDays: new(days),
	}, nil
}

func (s *Service) CancelKeyDeletion(ctx context.Context, call *Call, in *kmsapi.CancelKeyDeletionRequest) (*kmsapi.CancelKeyDeletionResponse, error) {
	k, err := s.changeKey(ctx, call, "CancelKeyDeletion", in.GetKeyId(), func(k *Key) error {
		if k.State != kmsapi.KeyStatePendingDeletion {
			return kmsapi.Errorf(kmsapi.KMSInvalidStateException, "%s is not pending deletion.", k.ARN())
		}
		// AWS leaves a key whose deletion was cancelled disabled.
		k.State = kmsapi.KeyStateDisabled
		k.DeletionDate = time.Time{}
		k.PendingWindowInDays = 0
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &kmsapi.CancelKeyDeletionResponse{KeyId: new(k.ARN())}, nil
}

// DeleteDueKeys removes every key whose deletion window has ended, with its
// aliases and material. Keys past their window are already invisible to
// every operation; this reclaims their storage. It reads only the deletion
// schedule, not every key. It returns how many keys it deleted.
func (s *Service) DeleteDueKeys(ctx context.Context) (int, error) {
	now := s.now()
	type due struct{ region, id string }
	var dues []due
	err := s.store.View(func(tx store.Tx) error {
		return tx.Scan(store.Deletions, "", "", func(entry string, _ []byte) (bool, error) {
			at, region, id, err := parseDeletionIndexKey(entry)
			if err != nil {
				return false, err
			}
			if at.After(now) {
				return false, nil // entries are in date order: the rest are later
			}
			dues = append(dues, due{region, id})
			return true, nil
		})
	})
	if err != nil {
		return 0, err
	}
	deleted := 0
	for _, d := range dues {
		var gone *Key // set afresh on every run: the store may run fn twice
		err := s.store.Update(func(tx store.Tx) error {
			gone = nil
			k, err := getKey(tx, d.region, d.id)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil || !k.deletionDue(now) {
				return err // cancelled meanwhile, or a read error
			}
			gone = k
			return deleteKey(tx, k)
		})
		s.cache.evict(d.region, d.id)
		if err != nil {
			return deleted, err
		}
		if gone != nil {
			deleted++
			s.logger.InfoContext(ctx, "deleted key at the end of its waiting period", "key", gone.ARN())
		}
	}
	if deleted > 0 {
		// The records are gone from the store; make them gone from its
		// files too, so the material cannot be recovered even with the
		// root key.
		if err := s.scrub(); err != nil {
			return deleted, fmt.Errorf("erasing deleted keys from the store's files: %w", err)
		}
	}
	return deleted, nil
}

// Pagination. Markers are opaque to callers: the base64 of the last store
// key returned, which the next page resumes after.

func encodeMarker(last string) *string {
	return new(base64.RawURLEncoding.EncodeToString([]byte(last)))
}

func decodeMarker(m *string, prefix string) (string, error) {
	if m == nil {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*m)
	if err != nil || !strings.HasPrefix(string(b), prefix) {
		return "", kmsapi.Errorf(kmsapi.InvalidMarkerException, "Invalid marker")
	}
	return string(b), nil
}

func limitOr(l *int32, def int) int {
	if l == nil {
		return def
	}
	return int(*l)
}

func (s *Service) ListKeys(ctx context.Context, call *Call, in *kmsapi.ListKeysRequest) (*kmsapi.ListKeysResponse, error) {
	if err := s.authorizeAccount(call, "kms:ListKeys", "*"); err != nil {
		return nil, err
	}
	prefix := accountIndexKey(call.Account, call.Region, "")
	after, err := decodeMarker(in.Marker, prefix)
	if err != nil {
		return nil, err
	}
	limit := limitOr(in.Limit, 100)
	out := &kmsapi.ListKeysResponse{Keys: []kmsapi.KeyListEntry{}, Truncated: new(false)}
	now := s.now()
	err = s.store.View(func(tx store.Tx) error {
		return tx.Scan(store.KeysByAcc, prefix, after, func(ik string, _ []byte) (bool, error) {
			id := ik[len(prefix):]
			k, err := getKey(tx, call.Region, id)
			if errors.Is(err, store.ErrNotFound) || (err == nil && k.deletionDue(now)) {
				return true, nil
			}
			if err != nil {
				return false, err
			}
			if len(out.Keys) == limit {
				out.Truncated = new(true)
				out.NextMarker = encodeMarker(prefix + out.Keys[len(out.Keys)-1].GetKeyId())
				return false, nil
			}
			out.Keys = append(out.Keys, kmsapi.KeyListEntry{KeyId: new(k.ID), KeyArn: new(k.ARN())})
			return true, nil
		})
	})
	if err != nil {
		return nil, s.internalError(ctx, "ListKeys", err)
	}
	return out, nil
}
