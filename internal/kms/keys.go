package kms

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/trent-kms/trent/internal/ciphertext"
	"github.com/trent-kms/trent/internal/keycache"
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
	origin := kmsapi.OriginTypeAwsKms
	if in.Origin != nil {
		origin = *in.Origin
	}
	// A custom key store is looked up, and found missing, after the
	// permission is asked (AWS_CLOUDHSM, EXTERNAL_KEY_STORE: trent has none).
	customStore := in.CustomKeyStoreId != nil || in.XksKeyId != nil
	switch origin {
	case kmsapi.OriginTypeAwsKms:
	case kmsapi.OriginTypeExternal:
		if !importable(spec) {
			return nil, kmsapi.Errorf(kmsapi.UnsupportedOperationException,
				"KeySpec %s does not support Origin EXTERNAL.", spec)
		}
	default:
		customStore = true
	}
	multiRegion := in.GetMultiRegion()
	tags, err := mergeTags(nil, in.Tags)
	if err != nil {
		return nil, err
	}
	// The policy document is part of the request: validated before the
	// permissions are asked, like the tags. Whether the caller could still
	// change it (the lockout check) depends on the key, so comes later.
	var keyPolicy *policy.Policy
	if in.Policy != nil {
		if keyPolicy, err = s.checkPolicy(*in.Policy); err != nil {
			return nil, err
		}
	}
	// kms:CreateKey is an IAM-only permission, with the would-be key's
	// properties as conditions; tags need kms:TagResource too.
	call.Cond.Set("kms:KeySpec", string(spec))
	call.Cond.Set("kms:CustomerMasterKeySpec", string(spec))
	call.Cond.Set("kms:KeyUsage", string(usage))
	call.Cond.Set("kms:CustomerMasterKeyUsage", string(usage))
	call.Cond.Set("kms:KeyOrigin", string(origin))
	call.Cond.Set("kms:MultiRegion", boolString(multiRegion))
	if multiRegion {
		call.Cond.Set("kms:MultiRegionKeyType", string(kmsapi.MultiRegionKeyTypePrimary))
	}
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
	if customStore {
		return nil, errNoCustomKeyStore()
	}

	now := s.now().UTC()
	id, err := s.newKeyID(multiRegion)
	if err != nil {
		return nil, s.internalError(ctx, "CreateKey", err)
	}
	k := &Key{
		ID:           id,
		Account:      call.Account,
		Region:       call.Region,
		CreationDate: now,
		Description:  in.GetDescription(),
		KeySpec:      spec,
		KeyUsage:     usage,
		Origin:       origin,
		State:        kmsapi.KeyStateEnabled,
		Policy:       in.GetPolicy(),
		Tags:         tags,
		MultiRegion:  multiRegion,
	}
	if multiRegion {
		k.PrimaryRegion = k.Region
	}
	if keyPolicy != nil {
		if err := s.checkLockout(call, k, keyPolicy, in.GetBypassPolicyLockoutSafetyCheck()); err != nil {
			return nil, err
		}
	}
	call.KeyARN = k.ARN()
	if origin == kmsapi.OriginTypeExternal {
		k.State = kmsapi.KeyStatePendingImport // until its material is imported
	} else {
		m, err := s.newMaterial([]*Key{k}, now)
		if err != nil {
			return nil, s.internalError(ctx, "CreateKey", err)
		}
		k.Materials = []Material{m[0]}
	}
	if err := s.checkKeyQuota(k.Account, k.Region); err != nil {
		return nil, s.internalError(ctx, "CreateKey", err)
	}
	err = s.store.Update(func(tx store.Tx) error {
		if err := addKeyCount(tx, k.Account, k.Region, k.ID, 1); err != nil {
			return err
		}
		return putKey(tx, k)
	})
	if err != nil {
		return nil, s.internalError(ctx, "CreateKey", err)
	}
	return &kmsapi.CreateKeyResponse{KeyMetadata: k.metadata()}, nil
}

// newKeyID makes a key ID: a random UUID, or for a multi-Region key
// "mrk-" and 32 random hex digits.
func (s *Service) newKeyID(multiRegion bool) (string, error) {
	if multiRegion {
		b, err := s.randomBytes(16)
		if err != nil {
			return "", err
		}
		return "mrk-" + hex.EncodeToString(b), nil
	}
	u, err := uuid.NewRandomFromReader(s.rand)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// importable reports whether keys of spec may have imported material:
// symmetric, HMAC, RSA and elliptic-curve keys, as keyimport.CheckAllowed
// allows (AWS imports no ML-DSA material, and documents none for ML-KEM).
func importable(spec kmsapi.KeySpec) bool {
	switch spec {
	case kmsapi.KeySpecSymmetricDefault,
		kmsapi.KeySpecHmac224, kmsapi.KeySpecHmac256, kmsapi.KeySpecHmac384, kmsapi.KeySpecHmac512,
		kmsapi.KeySpecRsa2048, kmsapi.KeySpecRsa3072, kmsapi.KeySpecRsa4096,
		kmsapi.KeySpecEccNistP256, kmsapi.KeySpecEccNistP384, kmsapi.KeySpecEccNistP521, kmsapi.KeySpecEccSecgP256k1,
		kmsapi.KeySpecEccNistEdwards25519:
		return true
	}
	return false
}

// newMaterial makes fresh key material for a key and returns it wrapped for
// each of the key's copies (a multi-Region key has one per region; all
// must share spec and usage), in state CURRENT: 256 random bits for a
// symmetric key, a private key or an HMAC key otherwise. The plaintext
// material lives only in this function.
func (s *Service) newMaterial(copies []*Key, now time.Time) ([]Material, error) {
	spec := copies[0].KeySpec
	var secret []byte
	var err error
	if spec == kmsapi.KeySpecSymmetricDefault {
		secret, err = s.randomBytes(32)
	} else {
		secret, err = keyspec.Generate(spec, s.rand)
	}
	if err != nil {
		return nil, err
	}
	defer clear(secret)
	var id ciphertext.MaterialID
	idBytes, err := s.randomBytes(len(id))
	if err != nil {
		return nil, err
	}
	copy(id[:], idBytes)
	return s.wrapMaterial(copies, id, secret, now)
}

// wrapMaterial wraps secret as material id of each of a key's copies.
func (s *Service) wrapMaterial(copies []*Key, id ciphertext.MaterialID, secret []byte, now time.Time) ([]Material, error) {
	out := make([]Material, len(copies))
	for i, k := range copies {
		wrapped, err := s.root.Wrap(secret, materialAAD(k, id))
		if err != nil {
			return nil, err
		}
		out[i] = Material{ID: id, RootKey: s.root.ID(), Wrapped: wrapped, Created: now, State: kmsapi.KeyMaterialStateCurrent}
	}
	return out, nil
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
	secret, err := s.ring.Unwrap(m.RootKey, m.Wrapped, materialAAD(k, m.ID))
	if rootKeyUnavailable(err) {
		return nil, fmt.Errorf("material %s of key %s: %w", m.ID, k.ARN(), err)
	}
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
	// A predefined alias (alias/aws/<service>) gets its AWS managed key now.
	if err := s.ensureManagedKey(call, in.GetKeyId()); err != nil {
		return nil, s.internalError(ctx, "DescribeKey", err)
	}
	k, err := s.liveKeyFor(call, in.GetKeyId(), "kms:DescribeKey")
	if err != nil {
		return nil, s.internalError(ctx, "DescribeKey", err)
	}
	defer k.Release()
	return &kmsapi.DescribeKeyResponse{KeyMetadata: k.metadata()}, nil
}

// changeKey runs fn on the key id names inside a write transaction and
// stores the result if fn succeeds. The settings the copies of a
// multi-Region key share (sharedSettings) go to every copy.
func (s *Service) changeKey(ctx context.Context, call *Call, op, id string, fn func(k *Key) error) (*Key, error) {
	return s.changeKeyIn(ctx, call, op, id, func(_ store.Tx, k *Key) error { return fn(k) })
}

// changeKeyIn is changeKey for an fn that reads more of the store.
func (s *Service) changeKeyIn(ctx context.Context, call *Call, op, id string, fn func(tx store.Tx, k *Key) error) (*Key, error) {
	var k *Key
	var touched []keycache.Name
	err := s.store.Update(func(tx store.Tx) (err error) {
		touched = touched[:0]
		k, err = s.lookupKey(tx, call, id, keyIDOnly, "kms:"+op)
		if err != nil {
			return err
		}
		if err := fn(tx, k); err != nil {
			return err
		}
		if err := putKey(tx, k); err != nil {
			return err
		}
		touched = append(touched, keycache.Name{Region: k.Region, ID: k.ID})
		if !k.MultiRegion {
			return nil
		}
		copies, err := copiesOf(tx, k)
		if err != nil {
			return err
		}
		for _, c := range copies[1:] {
			c.sharedSettings(k)
			if err := putKey(tx, c); err != nil {
				return err
			}
			touched = append(touched, keycache.Name{Region: c.Region, ID: c.ID})
		}
		return nil
	})
	s.cache.EvictAll(touched) // after the commit: see internal/keycache
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
	if err == nil && to == kmsapi.KeyStateEnabled {
		s.kick() // a rotation missed while it was disabled happens at once
	}
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
		if k.State == kmsapi.KeyStateUpdating {
			return invalidState(k)
		}
		k.PendingWindowInDays = days
		if k.MultiRegion && k.Region == k.PrimaryRegion && len(k.ReplicaRegions) > 0 {
			// A primary waits for its replicas: its window starts when the
			// last of them is deleted (deleteKeyCopy).
			k.State = kmsapi.KeyStatePendingReplicaDeletion
			return nil
		}
		k.State = kmsapi.KeyStatePendingDeletion
		k.DeletionDate = s.now().UTC().Add(time.Duration(days) * 24 * time.Hour)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &kmsapi.ScheduleKeyDeletionResponse{
		KeyId:               new(k.ARN()),
		KeyState:            new(k.State),
		PendingWindowInDays: new(days),
	}
	if k.State == kmsapi.KeyStatePendingDeletion {
		out.DeletionDate = new(kmsapi.Time{Time: k.DeletionDate})
	}
	return out, nil
}

func (s *Service) CancelKeyDeletion(ctx context.Context, call *Call, in *kmsapi.CancelKeyDeletionRequest) (*kmsapi.CancelKeyDeletionResponse, error) {
	k, err := s.changeKey(ctx, call, "CancelKeyDeletion", in.GetKeyId(), func(k *Key) error {
		if k.State != kmsapi.KeyStatePendingDeletion && k.State != kmsapi.KeyStatePendingReplicaDeletion {
			return kmsapi.Errorf(kmsapi.KMSInvalidStateException, "%s is not pending deletion.", k.ARN())
		}
		// AWS leaves a key whose deletion was cancelled disabled (an
		// imported key without its material: pending import).
		k.State = kmsapi.KeyStateDisabled
		if k.Origin == kmsapi.OriginTypeExternal && !k.hasAllMaterial() {
			k.State = kmsapi.KeyStatePendingImport
		}
		k.DeletionDate = time.Time{}
		k.PendingWindowInDays = 0
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &kmsapi.CancelKeyDeletionResponse{KeyId: new(k.ARN())}, nil
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

// Key quota. AWS allows 100,000 KMS keys per account and region (AWS
// managed keys aside). The count is kept in the account index
// (store.KeysByAcc, under "count/<account>/<region>/<shard>", which no key
// entry can be: those start with a 12-digit account ID), in 256 shards by
// the first two hex digits of the key ID. The transaction that creates or
// deletes a key changes only its own shard, so keys created at once rarely
// touch the same record (one shared counter made concurrent CreateKeys on
// PostgreSQL retry on serialization failures: half the throughput, ten
// times the p99). The quota is checked against the sum of the shards just
// before the creating transaction (from a count at most a second old while
// the account is below 90 % of it), so keys created at the same moment on
// several nodes can pass it by a few.

const defaultKeyQuota = 100000

func keyCountPrefix(account, region string) string { return "count/" + account + "/" + region + "/" }

func keyCountKey(account, region, keyID string) string {
	shard := strings.TrimPrefix(keyID, "mrk-")
	if len(shard) > 2 {
		shard = shard[:2]
	}
	return keyCountPrefix(account, region) + shard
}

func readCount(tx store.Tx, key string) (int, error) {
	v, err := tx.Get(store.KeysByAcc, key)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(v))
}

// addKeyCount counts a key created (+1) or deleted (-1) in its shard.
func addKeyCount(tx store.Tx, account, region, keyID string, delta int) error {
	key := keyCountKey(account, region, keyID)
	n, err := readCount(tx, key)
	if err != nil {
		return err
	}
	return tx.Put(store.KeysByAcc, key, []byte(strconv.Itoa(max(n+delta, 0))))
}

// checkKeyQuota refuses a new key of account in region when the account
// has reached the quota, with AWS's words. The sum of the shards is read
// from the store at most once a second per account and region while the
// account is well below its quota (counting this node's creations
// meanwhile), since reading it costs a transaction; near the quota it is
// read every time.
func (s *Service) checkKeyQuota(account, region string) error {
	name := accountRegion{account, region}
	now := time.Now()
	s.keyCounts.mu.Lock()
	e, ok := s.keyCounts.m[name]
	if ok && now.Sub(e.read) < time.Second && e.n < s.keyQuota*9/10 {
		e.n++
		s.keyCounts.m[name] = e
		s.keyCounts.mu.Unlock()
		return nil
	}
	s.keyCounts.mu.Unlock()
	n := 0
	err := s.store.View(func(tx store.Tx) error {
		n = 0
		return tx.Scan(store.KeysByAcc, keyCountPrefix(account, region), "", func(_ string, v []byte) (bool, error) {
			c, err := strconv.Atoi(string(v))
			n += c
			return true, err
		})
	})
	if err != nil {
		return err
	}
	if n >= s.keyQuota {
		return kmsapi.Errorf(kmsapi.LimitExceededException,
			"Key quota for this account in this region is %d but the current usage is %d.", s.keyQuota, n)
	}
	s.keyCounts.mu.Lock()
	s.keyCounts.m[name] = keyCountRead{n: n + 1, read: now}
	s.keyCounts.mu.Unlock()
	return nil
}

// accountRegion names an account's keys in one region.
type accountRegion struct{ account, region string }

// keyCountRead is the number of keys of an account in a region as last
// read (plus this node's creations since), and when it was read.
type keyCountRead struct {
	n    int
	read time.Time
}

// keyCountsMarker in store.Meta says the key counts have been made; a store
// written before they existed gets them counted once, at start.
const keyCountsMarker = "key counts v1"

func countKeysOnce(st store.Store) error {
	return st.Update(func(tx store.Tx) error {
		if _, err := tx.Get(store.Meta, keyCountsMarker); err == nil {
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		counts := map[string]int{}
		err := tx.Scan(store.KeysByAcc, "", "", func(entry string, _ []byte) (bool, error) {
			if strings.HasPrefix(entry, "count/") {
				return true, nil
			}
			parts := strings.SplitN(entry, "/", 3) // account/region/key ID
			if len(parts) != 3 {
				return false, fmt.Errorf("malformed account index entry %q", entry)
			}
			counts[keyCountKey(parts[0], parts[1], parts[2])]++
			return true, nil
		})
		if err != nil {
			return err
		}
		for k, n := range counts {
			if err := tx.Put(store.KeysByAcc, k, []byte(strconv.Itoa(n))); err != nil {
				return err
			}
		}
		return tx.Put(store.Meta, keyCountsMarker, []byte("1"))
	})
}
