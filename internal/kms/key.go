package kms

import (
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	json "github.com/go-json-experiment/json"

	"github.com/trent-kms/trent/internal/ciphertext"
	"github.com/trent-kms/trent/internal/grant"
	"github.com/trent-kms/trent/internal/keyspec"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/lastuse"
	"github.com/trent-kms/trent/internal/store"
)

// Key is a KMS key as stored. Its material is only ever held wrapped under
// the root key.
type Key struct {
	ID           string              `json:"id"`
	Account      string              `json:"account"`
	Region       string              `json:"region"`
	CreationDate time.Time           `json:"creationDate"`
	Description  string              `json:"description"`
	KeySpec      kmsapi.KeySpec      `json:"keySpec"`
	KeyUsage     kmsapi.KeyUsageType `json:"keyUsage"`
	Origin       kmsapi.OriginType   `json:"origin"`
	State        kmsapi.KeyState     `json:"state"`
	// Manager is AWS for an AWS managed key (managed.go); empty for a
	// customer managed key, as every record written before it existed.
	Manager kmsapi.KeyManagerType `json:"keyManager,omitempty"`
	// DeletionDate and PendingWindowInDays are set while State is PendingDeletion.
	DeletionDate        time.Time `json:"deletionDate,omitzero"`
	PendingWindowInDays int32     `json:"pendingWindowInDays,omitempty"`
	// Policy is the key policy document; empty means AWS's default policy.
	Policy string `json:"policy,omitempty"`
	Tags   []Tag  `json:"tags,omitempty"`
	// Materials holds every version of the key material, oldest first;
	// the one in state CURRENT encrypts.
	Materials []Material `json:"materials"`

	// Automatic rotation is on while RotationPeriodInDays is set; the next
	// one is due at NextRotationDate. A key pending deletion keeps its
	// setting but does not rotate (and reports rotation off).
	RotationPeriodInDays int32     `json:"rotationPeriodInDays,omitempty"`
	NextRotationDate     time.Time `json:"nextRotationDate,omitzero"`
	// OnDemandRotations counts the on-demand rotations done (AWS limits
	// them); OnDemandRotationStartDate is set while one is in progress.
	OnDemandRotations         int       `json:"onDemandRotations,omitempty"`
	OnDemandRotationStartDate time.Time `json:"onDemandRotationStartDate,omitzero"`

	// A multi-Region key has a copy (a Key record) in each region it is in,
	// all with the same ID and material. Every copy records the primary's
	// region and the replicas' regions.
	MultiRegion    bool     `json:"multiRegion,omitempty"`
	PrimaryRegion  string   `json:"primaryRegion,omitempty"`
	ReplicaRegions []string `json:"replicaRegions,omitempty"`
}

// Tag is a key's tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Material is one version of a key's material, wrapped under the root key.
type Material struct {
	ID      ciphertext.MaterialID `json:"id"`
	RootKey string                `json:"rootKey"` // ID of the root key that wrapped it
	// Wrapped is the material; nil for imported material that was deleted
	// or has expired (or, in a replica, not imported yet).
	Wrapped []byte    `json:"wrapped,omitempty"`
	Created time.Time `json:"created"`
	// State is CURRENT, NON_CURRENT or PENDING_ROTATION (imported material
	// waiting for RotateKeyOnDemand); records written before rotation
	// existed have none, and decodeKey fills it in.
	State kmsapi.KeyMaterialState `json:"state,omitempty"`
	// RotationDate and RotationType are set on material a rotation made
	// current.
	RotationDate time.Time           `json:"rotationDate,omitzero"`
	RotationType kmsapi.RotationType `json:"rotationType,omitempty"`

	// Imported material (keys of origin EXTERNAL) only.
	Import *ImportedMaterial `json:"import,omitempty"`
}

// ImportedMaterial is what a key of origin EXTERNAL keeps about each of its
// materials: whether it is present, and until when.
type ImportedMaterial struct {
	State           kmsapi.ImportState         `json:"state"`
	Description     string                     `json:"description,omitempty"`
	ExpirationModel kmsapi.ExpirationModelType `json:"expirationModel,omitempty"`
	ValidTo         time.Time                  `json:"validTo,omitzero"`
}

// present reports whether the material is there to use: not imported
// material that was deleted, expired or is still awaited.
func (m *Material) present() bool { return len(m.Wrapped) > 0 }

// ARN is the key's Amazon Resource Name.
func (k *Key) ARN() string {
	return keyARN(k.Region, k.Account, k.ID)
}

// SetARN sets the key's region, account and ID from its ARN (for tools
// that describe a key outside the service).
func (k *Key) SetARN(arn string) error {
	p, ok := parseKeyID(&Call{}, arn)
	if !ok || p.keyID == "" || !strings.HasPrefix(arn, "arn:") {
		return fmt.Errorf("%q is not a key ARN", arn)
	}
	k.Region, k.Account, k.ID = p.region, p.account, p.keyID
	return nil
}

func keyARN(region, account, id string) string {
	return "arn:" + Partition + ":kms:" + region + ":" + account + ":key/" + id
}

func aliasARN(region, account, name string) string {
	return "arn:" + Partition + ":kms:" + region + ":" + account + ":" + name
}

// current returns the key's current material: the one that encrypts, or
// for an imported key whose material was deleted, the one that did.
func (k *Key) current() *Material {
	for i := range k.Materials {
		if k.Materials[i].State == kmsapi.KeyMaterialStateCurrent {
			return &k.Materials[i]
		}
	}
	return nil
}

// pendingRotation returns the imported material waiting to become
// current, if any.
func (k *Key) pendingRotation() *Material {
	for i := range k.Materials {
		switch k.Materials[i].State {
		case kmsapi.KeyMaterialStatePendingRotation, kmsapi.KeyMaterialStatePendingMultiRegionImportAndRotation:
			return &k.Materials[i]
		}
	}
	return nil
}

// fillMaterialStates gives material from before rotation existed its
// state: the last one is current.
func (k *Key) fillMaterialStates() {
	for i := range k.Materials {
		if k.Materials[i].State != "" {
			return
		}
	}
	for i := range k.Materials {
		if k.Materials[i].State == "" {
			k.Materials[i].State = kmsapi.KeyMaterialStateNonCurrent
			if i == len(k.Materials)-1 {
				k.Materials[i].State = kmsapi.KeyMaterialStateCurrent
			}
		}
	}
}

// material returns the material with the given ID, or nil.
func (k *Key) material(id ciphertext.MaterialID) *Material {
	for i := range k.Materials {
		if k.Materials[i].ID == id {
			return &k.Materials[i]
		}
	}
	return nil
}

// materialAAD binds a wrapped material to its key, version and every
// attribute of the key that decides what the material may be used for, so
// a wrapped blob moved to another key, region or account, or a key whose
// spec, usage or origin was rewritten, fails to unwrap (the record's seal,
// store/sealed, catches the same changes first; this holds even without it).
func materialAAD(k *Key, id ciphertext.MaterialID) []byte {
	b := make([]byte, 0, 160)
	b = append(b, "trent key material v2\x00"...)
	for _, f := range []string{k.Region, k.Account, k.ID, string(k.KeySpec), string(k.KeyUsage), string(k.Origin)} {
		b = append(b, f...)
		b = append(b, 0)
	}
	return hex.AppendEncode(b, id[:])
}

// materialAADv1 is what material was bound to before v2: only the key ID and
// the material ID. Only the migration of an old store reads it.
func materialAADv1(keyID string, id ciphertext.MaterialID) []byte {
	return []byte("trent key material v1\x00" + keyID + "\x00" + hex.EncodeToString(id[:]))
}

// deletionDue reports whether the key's deletion window has ended: such a
// key no longer exists, even before the sweeper has removed it.
func (k *Key) deletionDue(now time.Time) bool {
	return k.State == kmsapi.KeyStatePendingDeletion && !now.Before(k.DeletionDate)
}

// metadata is the key as DescribeKey and CreateKey return it.
func (k *Key) metadata() *kmsapi.KeyMetadata {
	m := &kmsapi.KeyMetadata{
		AWSAccountId:          new(k.Account),
		KeyId:                 new(k.ID),
		Arn:                   new(k.ARN()),
		CreationDate:          new(kmsapi.Time{Time: k.CreationDate}),
		Enabled:               new(k.State == kmsapi.KeyStateEnabled),
		Description:           new(k.Description),
		KeyUsage:              new(k.KeyUsage),
		KeyState:              new(k.State),
		Origin:                new(k.Origin),
		KeyManager:            new(k.keyManager()),
		CustomerMasterKeySpec: new(kmsapi.CustomerMasterKeySpec(k.KeySpec)),
		KeySpec:               new(k.KeySpec),
		MultiRegion:           new(k.MultiRegion),
	}
	if k.MultiRegion {
		m.MultiRegionConfiguration = k.multiRegionConfiguration()
	}
	if k.Origin == kmsapi.OriginTypeExternal && k.State != kmsapi.KeyStatePendingImport {
		if cur := k.current(); cur != nil && cur.Import != nil && cur.present() {
			m.ExpirationModel = new(cur.Import.ExpirationModel)
		}
		if validTo := k.earliestExpiry(); !validTo.IsZero() {
			m.ValidTo = new(kmsapi.Time{Time: validTo})
		}
	}
	algs := keyspec.AlgorithmsFor(k.KeySpec, k.KeyUsage)
	m.EncryptionAlgorithms = algs.Encryption
	m.SigningAlgorithms = algs.Signing
	m.KeyAgreementAlgorithms = algs.KeyAgreement
	m.MacAlgorithms = algs.MAC
	m.EncapsulationAlgorithms = algs.Encapsulation
	if cur := k.current(); cur != nil && k.KeySpec == kmsapi.KeySpecSymmetricDefault {
		m.CurrentKeyMaterialId = new(cur.ID.String())
	}
	switch k.State {
	case kmsapi.KeyStatePendingDeletion:
		m.DeletionDate = new(kmsapi.Time{Time: k.DeletionDate})
		m.PendingDeletionWindowInDays = new(k.PendingWindowInDays)
	case kmsapi.KeyStatePendingReplicaDeletion:
		// The window starts only when the last replica is gone.
		m.PendingDeletionWindowInDays = new(k.PendingWindowInDays)
	}
	return m
}

// keyManager is who manages the key: AWS for an AWS managed key, else the
// customer.
func (k *Key) keyManager() kmsapi.KeyManagerType {
	if k.Manager == "" {
		return kmsapi.KeyManagerTypeCustomer
	}
	return k.Manager
}

// earliestExpiry is when the first of the key's imported materials that
// encrypt or decrypt expires; zero if none does.
func (k *Key) earliestExpiry() time.Time {
	var first time.Time
	for i := range k.Materials {
		m := &k.Materials[i]
		if m.Import == nil || !m.present() || m.Import.ValidTo.IsZero() || !m.permanent() {
			continue
		}
		if first.IsZero() || m.Import.ValidTo.Before(first) {
			first = m.Import.ValidTo
		}
	}
	return first
}

// permanent reports whether the material belongs to the key for good
// (it made ciphertexts, or will once current), as opposed to imported
// material waiting for a rotation, which may be deleted harmlessly.
func (m *Material) permanent() bool {
	return m.State == kmsapi.KeyMaterialStateCurrent || m.State == kmsapi.KeyMaterialStateNonCurrent
}

// sortTags keeps tags in key order, so every listing is stable.
func (k *Key) sortTags() {
	sort.Slice(k.Tags, func(i, j int) bool { return k.Tags[i].Key < k.Tags[j].Key })
}

// Reading and writing keys in a transaction. Keys are stored by region and
// ID: the replicas of a multi-Region key share its ID.

func accountIndexKey(account, region, id string) string {
	return account + "/" + region + "/" + id
}

func keyStoreKey(region, id string) string { return region + "/" + id }

func decodeKey(v []byte) (*Key, error) {
	k := new(Key)
	if err := json.Unmarshal(v, k); err != nil {
		return nil, fmt.Errorf("decoding key record: %w", err)
	}
	k.fillMaterialStates()
	return k, nil
}

func getKey(tx store.Tx, region, id string) (*Key, error) {
	v, err := tx.Get(store.Keys, keyStoreKey(region, id))
	if err != nil {
		return nil, err
	}
	k, err := decodeKey(v)
	if err == nil && (k.ID != id || k.Region != region) {
		err = fmt.Errorf("key record %s/%s holds key %s/%s", region, id, k.Region, k.ID)
	}
	return k, err
}

// putKey stores a key and keeps the indexes in step: the account listing
// and the schedule (when the key next needs the scheduler).
func putKey(tx store.Tx, k *Key) error {
	old, err := getKey(tx, k.Region, k.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	var was time.Time
	if old != nil {
		was = old.nextAttention()
	}
	if at := k.nextAttention(); !at.Equal(was) {
		if !was.IsZero() {
			if err := tx.Delete(store.Schedule, scheduleEntry(was, k.Region, k.ID)); err != nil {
				return err
			}
		}
		if !at.IsZero() {
			if err := tx.Put(store.Schedule, scheduleEntry(at, k.Region, k.ID), nil); err != nil {
				return err
			}
		}
	}
	v, err := json.Marshal(k)
	if err != nil {
		return err
	}
	if err := tx.Put(store.Keys, keyStoreKey(k.Region, k.ID), v); err != nil {
		return err
	}
	return tx.Put(store.KeysByAcc, accountIndexKey(k.Account, k.Region, k.ID), nil)
}

// aliasIndexPrefix is where a key's entries in store.AliasesByKey start.
func aliasIndexPrefix(region, keyID string) string { return region + "/" + keyID + "/" }

// aliasesOf lists the names of the aliases that point to a key, from the
// per-key index: it reads at most the key's own aliases (50).
func aliasesOf(tx store.Tx, region, keyID string) ([]string, error) {
	var names []string
	prefix := aliasIndexPrefix(region, keyID)
	err := tx.Scan(store.AliasesByKey, prefix, "", func(entry string, _ []byte) (bool, error) {
		names = append(names, entry[len(prefix):])
		return true, nil
	})
	return names, err
}

// deleteKey removes a key, its index entries, its grants and every alias
// that points to it.
func deleteKey(tx store.Tx, k *Key) error {
	if err := grant.DeleteAll(tx, k.Region, k.ID); err != nil {
		return err
	}
	stored, err := getKey(tx, k.Region, k.ID) // its schedule entry is the stored record's
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if stored != nil {
		if at := stored.nextAttention(); !at.IsZero() {
			if err := tx.Delete(store.Schedule, scheduleEntry(at, k.Region, k.ID)); err != nil {
				return err
			}
		}
	}
	if err := tx.Delete(store.Keys, keyStoreKey(k.Region, k.ID)); err != nil {
		return err
	}
	if err := lastuse.Forget(tx, lastuse.Key{Region: k.Region, ID: k.ID}); err != nil {
		return err
	}
	if err := deleteImportParameters(tx, k.Region, k.ID); err != nil {
		return err
	}
	if err := tx.Delete(store.KeysByAcc, accountIndexKey(k.Account, k.Region, k.ID)); err != nil {
		return err
	}
	if err := addKeyCount(tx, k.Account, k.Region, k.ID, -1); err != nil {
		return err
	}
	names, err := aliasesOf(tx, k.Region, k.ID)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := tx.Delete(store.Aliases, aliasStoreKey(k.Account, k.Region, name)); err != nil {
			return err
		}
		if err := tx.Delete(store.AliasesByKey, aliasIndexPrefix(k.Region, k.ID)+name); err != nil {
			return err
		}
	}
	return nil
}
