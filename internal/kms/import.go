package kms

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	json "github.com/go-json-experiment/json"

	"github.com/trent-kms/trent/internal/ciphertext"
	"github.com/trent-kms/trent/internal/keyimport"
	"github.com/trent-kms/trent/internal/keyspec"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/store"
)

// Imported key material (keys of origin EXTERNAL). GetParametersForImport
// makes an RSA wrapping key pair and an import token; the private key is
// kept in the store wrapped under the root key, like key material, and the
// token names it. ImportKeyMaterial unwraps the customer's material with
// it (internal/keyimport), checks it against the key and wraps it under
// the root key: the imported bytes are never stored or logged otherwise.

const (
	// importParametersLifetime is how long an import token and its
	// wrapping key are valid.
	importParametersLifetime = 24 * time.Hour
	// maxValidTo bounds ImportKeyMaterial's ValidTo.
	maxValidTo = 365 * 24 * time.Hour
	// maxImportParameters bounds how many unexpired wrapping keys a key
	// keeps: asking for more drops the oldest (its token stops working).
	maxImportParameters = 20
	importTokenIDSize   = 16
)

// importParameters is a wrapping key as stored, in store.ImportParams.
type importParameters struct {
	Algorithm kmsapi.AlgorithmSpec   `json:"algorithm"`
	Spec      kmsapi.WrappingKeySpec `json:"spec"`
	ValidTo   time.Time              `json:"validTo"`
	RootKey   string                 `json:"rootKey"`
	Wrapped   []byte                 `json:"wrapped"` // the PKCS #8 private key, wrapped
}

func importParamsPrefix(region, keyID string) string { return region + "/" + keyID + "/" }

// importParamsAAD binds a wrapped wrapping key to its key and token.
func importParamsAAD(k *Key, tokenID []byte) []byte {
	b := []byte("trent import wrapping key v1\x00" + k.Region + "\x00" + k.Account + "\x00" + k.ID + "\x00")
	return hex.AppendEncode(b, tokenID)
}

// An import token is the token ID, its expiry (Unix seconds) and a MAC of
// both and of the key it is for, under the service's import key: it
// proves it was made here, for this key, and says when it ends without a
// read of the store.
const importTokenSize = importTokenIDSize + 8 + sha256.Size

func (s *Service) importTokenMAC(k *Key, tokenID []byte, expiry int64) []byte {
	m := hmac.New(sha256.New, s.importKey)
	m.Write([]byte("trent import token v1\x00" + k.Region + "\x00" + k.Account + "\x00" + k.ID + "\x00"))
	m.Write(tokenID)
	m.Write(binary.BigEndian.AppendUint64(nil, uint64(expiry)))
	return m.Sum(nil)
}

func (s *Service) importToken(k *Key, tokenID []byte, validTo time.Time) []byte {
	tok := append([]byte(nil), tokenID...)
	tok = binary.BigEndian.AppendUint64(tok, uint64(validTo.Unix()))
	return append(tok, s.importTokenMAC(k, tokenID, validTo.Unix())...)
}

// checkImportToken returns the token ID of a token made for k, or AWS's
// error for an expired or foreign one.
func (s *Service) checkImportToken(k *Key, tok []byte, now time.Time) ([]byte, error) {
	invalid := kmsapi.Errorf(kmsapi.InvalidImportTokenException, "The import token is invalid or was not issued for %s.", k.ARN())
	if len(tok) != importTokenSize {
		return nil, invalid
	}
	id, expiry, mac := tok[:importTokenIDSize], int64(binary.BigEndian.Uint64(tok[importTokenIDSize:])), tok[importTokenIDSize+8:]
	if !hmac.Equal(mac, s.importTokenMAC(k, id, expiry)) {
		return nil, invalid
	}
	if !now.Before(time.Unix(expiry, 0)) {
		return nil, kmsapi.Errorf(kmsapi.ExpiredImportTokenException, "The import token expired at %s.", time.Unix(expiry, 0).UTC().Format(time.RFC3339))
	}
	return id, nil
}

// materialIDOf is the ID of imported material: a MAC of the key ID and
// the material under the service's import key. The same bytes give the
// same ID in every copy of a multi-Region key (they share the key ID) and
// a different one in any other key; the ID reveals nothing of the bytes
// to whoever reads the store.
func (s *Service) materialIDOf(k *Key, material []byte) ciphertext.MaterialID {
	m := hmac.New(sha256.New, s.importKey)
	m.Write([]byte("trent imported material id v1\x00" + k.ID + "\x00"))
	m.Write(material)
	var id ciphertext.MaterialID
	copy(id[:], m.Sum(nil))
	return id
}

// checkImportState is the state check of the import operations.
func checkImportState(k *Key) error {
	if k.Origin != kmsapi.OriginTypeExternal {
		return originNotValid(k)
	}
	switch k.State {
	case kmsapi.KeyStateEnabled, kmsapi.KeyStateDisabled, kmsapi.KeyStatePendingImport:
		return nil
	}
	return invalidState(k)
}

// hasAllMaterial reports whether every material the key holds for good
// is present, so that the key can be used.
func (k *Key) hasAllMaterial() bool {
	found := false
	for i := range k.Materials {
		if m := &k.Materials[i]; m.permanent() {
			if !m.present() {
				return false
			}
			found = true
		}
	}
	return found
}

func (s *Service) GetParametersForImport(ctx context.Context, call *Call, in *kmsapi.GetParametersForImportRequest) (*kmsapi.GetParametersForImportResponse, error) {
	alg, spec := *in.WrappingAlgorithm, *in.WrappingKeySpec
	call.Cond.Set("kms:WrappingAlgorithm", string(alg))
	call.Cond.Set("kms:WrappingKeySpec", string(spec))
	var k *Key
	err := s.store.View(func(tx store.Tx) (err error) {
		k, err = s.lookupKey(tx, call, in.GetKeyId(), keyIDOnly, "kms:GetParametersForImport")
		if err != nil {
			return err
		}
		if err := checkImportState(k); err != nil {
			return err
		}
		return keyimport.CheckAllowed(alg, spec, k.KeySpec)
	})
	if err != nil {
		return nil, s.internalError(ctx, "GetParametersForImport", err)
	}
	// Made outside any transaction: an RSA_4096 key takes a while.
	priv, pub, err := keyimport.GenerateWrappingKey(spec, s.rand)
	if err != nil {
		return nil, s.internalError(ctx, "GetParametersForImport", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, s.internalError(ctx, "GetParametersForImport", err)
	}
	defer clear(der)
	tokenID, err := s.randomBytes(importTokenIDSize)
	if err != nil {
		return nil, s.internalError(ctx, "GetParametersForImport", err)
	}
	wrapped, err := s.root.Wrap(der, importParamsAAD(k, tokenID))
	if err != nil {
		return nil, s.internalError(ctx, "GetParametersForImport", err)
	}
	now := s.now().UTC()
	// AWS's ParametersValidTo is to the second; so is the token's expiry.
	validTo := now.Add(importParametersLifetime).Truncate(time.Second)
	v, err := json.Marshal(importParameters{Algorithm: alg, Spec: spec, ValidTo: validTo, RootKey: s.root.ID(), Wrapped: wrapped})
	if err != nil {
		return nil, s.internalError(ctx, "GetParametersForImport", err)
	}
	err = s.store.Update(func(tx store.Tx) error {
		if _, err := getKey(tx, k.Region, k.ID); err != nil {
			return err // deleted meanwhile
		}
		if err := pruneImportParameters(tx, k, now); err != nil {
			return err
		}
		return tx.Put(store.ImportParams, importParamsPrefix(k.Region, k.ID)+hex.EncodeToString(tokenID), v)
	})
	if err != nil {
		return nil, s.internalError(ctx, "GetParametersForImport", err)
	}
	return &kmsapi.GetParametersForImportResponse{
		KeyId:             new(k.ARN()),
		ImportToken:       s.importToken(k, tokenID, validTo),
		PublicKey:         pub,
		ParametersValidTo: new(kmsapi.Time{Time: validTo}),
	}, nil
}

// pruneImportParameters drops a key's expired wrapping keys, and the
// oldest ones beyond maxImportParameters-1, to make room for one more.
func pruneImportParameters(tx store.Tx, k *Key, now time.Time) error {
	type entry struct {
		name    string
		validTo time.Time
	}
	var live []entry
	var drop []string
	prefix := importParamsPrefix(k.Region, k.ID)
	err := tx.Scan(store.ImportParams, prefix, "", func(name string, v []byte) (bool, error) {
		var p importParameters
		if err := json.Unmarshal(v, &p); err != nil {
			return false, err
		}
		if !now.Before(p.ValidTo) {
			drop = append(drop, name)
		} else {
			live = append(live, entry{name, p.ValidTo})
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	for len(live) >= maxImportParameters {
		oldest := 0
		for i := range live {
			if live[i].validTo.Before(live[oldest].validTo) {
				oldest = i
			}
		}
		drop = append(drop, live[oldest].name)
		live = append(live[:oldest], live[oldest+1:]...)
	}
	for _, name := range drop {
		if err := tx.Delete(store.ImportParams, name); err != nil {
			return err
		}
	}
	return nil
}

// deleteImportParameters drops every wrapping key of a key being deleted.
func deleteImportParameters(tx store.Tx, region, keyID string) error {
	var names []string
	err := tx.Scan(store.ImportParams, importParamsPrefix(region, keyID), "", func(name string, _ []byte) (bool, error) {
		names = append(names, name)
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := tx.Delete(store.ImportParams, name); err != nil {
			return err
		}
	}
	return nil
}

// wrappingKey reads and unwraps the wrapping key of a checked token.
func (s *Service) wrappingKey(tx store.Tx, k *Key, tokenID []byte) (*rsa.PrivateKey, kmsapi.AlgorithmSpec, error) {
	v, err := tx.Get(store.ImportParams, importParamsPrefix(k.Region, k.ID)+hex.EncodeToString(tokenID))
	if errors.Is(err, store.ErrNotFound) {
		// Its MAC is good, so it was ours: dropped to make room for newer ones.
		return nil, "", kmsapi.Errorf(kmsapi.InvalidImportTokenException,
			"The import token is no longer valid: %s has newer import parameters.", k.ARN())
	}
	if err != nil {
		return nil, "", err
	}
	var p importParameters
	if err := json.Unmarshal(v, &p); err != nil {
		return nil, "", err
	}
	der, err := s.ring.Unwrap(p.RootKey, p.Wrapped, importParamsAAD(k, tokenID))
	if err != nil {
		return nil, "", errors.Join(errTampered, err)
	}
	defer clear(der)
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, "", err
	}
	rk, ok := priv.(*rsa.PrivateKey)
	if !ok {
		return nil, "", errors.New("import wrapping key is not an RSA key")
	}
	return rk, p.Algorithm, nil
}

// importRequest is an ImportKeyMaterial request checked on its own.
type importRequest struct {
	model       kmsapi.ExpirationModelType
	validTo     time.Time
	typ         kmsapi.ImportType // "" when not given
	description *string
	materialID  *ciphertext.MaterialID
}

func checkImportRequest(in *kmsapi.ImportKeyMaterialRequest, now time.Time) (importRequest, error) {
	r := importRequest{model: kmsapi.ExpirationModelTypeKeyMaterialExpires, description: in.KeyMaterialDescription}
	if in.ExpirationModel != nil {
		r.model = *in.ExpirationModel
	}
	if in.ImportType != nil {
		r.typ = *in.ImportType
	}
	switch r.model {
	case kmsapi.ExpirationModelTypeKeyMaterialExpires:
		if in.ValidTo == nil {
			return r, kmsapi.Errorf(kmsapi.ValidationException, "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES")
		}
		r.validTo = in.ValidTo.UTC()
		if !r.validTo.After(now) {
			return r, kmsapi.Errorf(kmsapi.ValidationException, "The validTo date must be in the future.")
		}
		if r.validTo.Sub(now) > maxValidTo {
			return r, kmsapi.Errorf(kmsapi.ValidationException, "The validTo date must be no more than 365 days from now.")
		}
	case kmsapi.ExpirationModelTypeKeyMaterialDoesNotExpire:
		if in.ValidTo != nil {
			return r, kmsapi.Errorf(kmsapi.ValidationException, "A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE")
		}
	}
	if in.KeyMaterialId != nil {
		if r.typ == kmsapi.ImportTypeNewKeyMaterial {
			return r, kmsapi.Errorf(kmsapi.ValidationException, "KeyMaterialId cannot be specified when ImportType is NEW_KEY_MATERIAL.")
		}
		id := parseMaterialID(*in.KeyMaterialId)
		r.materialID = &id
	}
	return r, nil
}

func (s *Service) ImportKeyMaterial(ctx context.Context, call *Call, in *kmsapi.ImportKeyMaterialRequest) (*kmsapi.ImportKeyMaterialResponse, error) {
	now := s.now().UTC()
	r, err := checkImportRequest(in, now)
	call.Cond.Set("kms:ExpirationModel", string(r.model))
	if !r.validTo.IsZero() {
		call.Cond.Set("kms:ValidTo", strconv.FormatInt(r.validTo.Unix(), 10))
	}
	if err != nil {
		return nil, err
	}
	var k *Key
	var id ciphertext.MaterialID
	err = s.store.Update(func(tx store.Tx) (err error) {
		k, err = s.lookupKey(tx, call, in.GetKeyId(), keyIDOnly, "kms:ImportKeyMaterial")
		if err != nil {
			return err
		}
		if err := checkImportState(k); err != nil {
			return err
		}
		if k.KeySpec != kmsapi.KeySpecSymmetricDefault && (in.ImportType != nil || in.KeyMaterialId != nil || in.KeyMaterialDescription != nil) {
			return kmsapi.Errorf(kmsapi.ValidationException,
				"ImportType, KeyMaterialId and KeyMaterialDescription apply only to symmetric encryption keys; %s has key spec %s.", k.ARN(), k.KeySpec)
		}
		tokenID, err := s.checkImportToken(k, in.ImportToken, now)
		if err != nil {
			return err
		}
		priv, alg, err := s.wrappingKey(tx, k, tokenID)
		if err != nil {
			return err
		}
		unwrapped, err := keyimport.Unwrap(priv, alg, in.EncryptedKeyMaterial)
		if err != nil {
			return kmsapi.Errorf(kmsapi.InvalidCiphertextException, "")
		}
		defer clear(unwrapped)
		material, err := checkImportedMaterial(k.KeySpec, unwrapped)
		if err != nil {
			return err
		}
		defer clear(material)
		id = s.materialIDOf(k, material)
		copies, err := copiesOf(tx, k)
		if err != nil {
			return err
		}
		m, err := placeImport(copies, id, r)
		if err != nil {
			return err
		}
		wrapped, err := s.wrapMaterial([]*Key{k}, id, material, now)
		if err != nil {
			return err
		}
		m.Wrapped, m.RootKey = wrapped[0].Wrapped, wrapped[0].RootKey
		if m.Created.IsZero() {
			m.Created = now
		}
		desc := ""
		if m.Import != nil {
			desc = m.Import.Description // kept when the request leaves it out
		}
		if r.description != nil {
			desc = *r.description
		}
		m.Import = &ImportedMaterial{State: kmsapi.ImportStateImported, Description: desc, ExpirationModel: r.model, ValidTo: r.validTo}
		settlePendingState(copies, id)
		if k.State == kmsapi.KeyStatePendingImport && k.hasAllMaterial() {
			k.State = kmsapi.KeyStateEnabled
		}
		return putAll(tx, copies, &work{})
	})
	if k != nil {
		s.evictCopies(k)
	}
	if err != nil {
		return nil, s.internalError(ctx, "ImportKeyMaterial", err)
	}
	return &kmsapi.ImportKeyMaterialResponse{KeyId: new(k.ARN()), KeyMaterialId: new(id.String())}, nil
}

// evictCopies drops every copy of a key from the cache.
func (s *Service) evictCopies(k *Key) {
	if !k.MultiRegion {
		s.cache.Evict(k.Region, k.ID)
		return
	}
	for _, r := range k.regions() {
		s.cache.Evict(r, k.ID)
	}
}

// checkImportedMaterial checks material against the key's spec (256 bits
// for a symmetric key, an HMAC key of an allowed length, an unencrypted
// PKCS #8 private key of the spec's type and size) and returns it in the
// form the key keeps (keyspec.ImportedMaterial).
func checkImportedMaterial(spec kmsapi.KeySpec, material []byte) ([]byte, error) {
	if spec == kmsapi.KeySpecSymmetricDefault {
		if len(material) != 32 {
			return nil, kmsapi.Errorf(kmsapi.IncorrectKeyMaterialException,
				"Key material for a SYMMETRIC_DEFAULT key must be 32 bytes, not %d.", len(material))
		}
		return bytes.Clone(material), nil
	}
	incorrect := kmsapi.Errorf(kmsapi.IncorrectKeyMaterialException, "The key material is not a valid %s key.", spec)
	kept, err := keyspec.ImportedMaterial(spec, material)
	if err != nil {
		return nil, incorrect
	}
	k, err := keyspec.Parse(spec, kept)
	if err != nil {
		clear(kept)
		return nil, incorrect
	}
	k.Wipe()
	return kept, nil
}

// placeImport finds or makes the place of imported material id in k (the
// first of copies) according to the request's ImportType, and returns it.
func placeImport(copies []*Key, id ciphertext.MaterialID, r importRequest) (*Material, error) {
	k := copies[0]
	typ := r.typ
	if typ == "" {
		typ = kmsapi.ImportTypeNewKeyMaterial
		if len(k.Materials) > 0 {
			typ = kmsapi.ImportTypeExistingKeyMaterial
		}
	}
	if typ == kmsapi.ImportTypeExistingKeyMaterial {
		if r.materialID != nil && *r.materialID != id {
			return nil, kmsapi.Errorf(kmsapi.IncorrectKeyMaterialException,
				"The key material does not match the key material ID %s.", *r.materialID)
		}
		m := k.material(id)
		if m == nil {
			return nil, kmsapi.Errorf(kmsapi.IncorrectKeyMaterialException,
				"The key material is not the key material of %s. Import the same key material, or import new key material with ImportType NEW_KEY_MATERIAL.", k.ARN())
		}
		return m, nil
	}
	// NEW_KEY_MATERIAL.
	if k.material(id) != nil {
		return nil, kmsapi.Errorf(kmsapi.IncorrectKeyMaterialException,
			"The key material was already imported into %s; import it with ImportType EXISTING_KEY_MATERIAL.", k.ARN())
	}
	if len(k.Materials) == 0 {
		k.Materials = append(k.Materials, Material{ID: id, State: kmsapi.KeyMaterialStateCurrent})
		return &k.Materials[0], nil
	}
	if k.KeySpec != kmsapi.KeySpecSymmetricDefault {
		return nil, kmsapi.Errorf(kmsapi.IncorrectKeyMaterialException,
			"The key material is not the key material of %s: a %s key has one key material.", k.ARN(), k.KeySpec)
	}
	if !k.rotates() {
		return nil, kmsapi.Errorf(kmsapi.UnsupportedOperationException,
			"%s is a multi-Region replica key: import new key material into its primary key, then the same key material into each replica.", k.ARN())
	}
	if p := k.pendingRotation(); p != nil {
		return nil, kmsapi.Errorf(kmsapi.KMSInvalidStateException,
			"New key material (id: %s) cannot be imported into KMS key %s, because another key material (id: %s) is pending rotation.", id, k.ID, p.ID)
	}
	// Pending until RotateKeyOnDemand; a multi-Region key's replicas
	// learn of it and wait for the same bytes.
	for _, c := range copies {
		c.Materials = append(c.Materials, Material{ID: id, State: kmsapi.KeyMaterialStatePendingRotation,
			Import: &ImportedMaterial{State: kmsapi.ImportStatePendingImport}})
	}
	return &k.Materials[len(k.Materials)-1], nil
}

// settlePendingState gives material pending rotation in a multi-Region key
// its state on the primary: PENDING_MULTI_REGION_IMPORT_AND_ROTATION until
// it is imported into every replica, then PENDING_ROTATION.
func settlePendingState(copies []*Key, id ciphertext.MaterialID) {
	if !copies[0].MultiRegion {
		return
	}
	everywhere := true
	var primary *Material
	for _, c := range copies {
		m := c.material(id)
		if m == nil || (m.State != kmsapi.KeyMaterialStatePendingRotation && m.State != kmsapi.KeyMaterialStatePendingMultiRegionImportAndRotation) {
			return
		}
		if !m.present() {
			everywhere = false
		}
		if c.Region == c.PrimaryRegion {
			primary = m
		}
	}
	if primary == nil {
		return
	}
	primary.State = kmsapi.KeyMaterialStatePendingRotation
	if !everywhere {
		primary.State = kmsapi.KeyMaterialStatePendingMultiRegionImportAndRotation
	}
}

// dropMaterial deletes imported material from k: the bytes go, what is
// known of them stays (so that only the same bytes can come back). A key
// that loses material it holds for good cannot be used until it is
// imported again.
func dropMaterial(k *Key, m *Material) {
	m.Wrapped = nil
	m.RootKey = ""
	m.Import = &ImportedMaterial{State: kmsapi.ImportStatePendingImport, Description: m.Import.Description}
	if m.permanent() && !k.pendingDeletion() {
		k.State = kmsapi.KeyStatePendingImport
	}
}

// expireMaterial drops the imported material of k whose ValidTo has come.
func expireMaterial(k *Key, now time.Time, w *work) {
	for i := range k.Materials {
		m := &k.Materials[i]
		if m.Import == nil || !m.present() || m.Import.ValidTo.IsZero() || now.Before(m.Import.ValidTo) {
			continue
		}
		dropMaterial(k, m)
		w.event("DeleteExpiredKeyMaterial", k, now, map[string]string{"keyMaterialId": m.ID.String()})
	}
}

func (s *Service) DeleteImportedKeyMaterial(ctx context.Context, call *Call, in *kmsapi.DeleteImportedKeyMaterialRequest) (*kmsapi.DeleteImportedKeyMaterialResponse, error) {
	if in.KeyMaterialId != nil {
		call.Cond.Set("kms:KeyMaterialId", *in.KeyMaterialId)
	}
	var k *Key
	var deleted *ciphertext.MaterialID
	err := s.store.Update(func(tx store.Tx) (err error) {
		deleted = nil
		k, err = s.lookupKey(tx, call, in.GetKeyId(), keyIDOnly, "kms:DeleteImportedKeyMaterial")
		if err != nil {
			return err
		}
		if k.Origin != kmsapi.OriginTypeExternal {
			return originNotValid(k)
		}
		switch k.State {
		case kmsapi.KeyStateCreating, kmsapi.KeyStateUpdating:
			return invalidState(k)
		}
		m := k.current()
		if in.KeyMaterialId != nil {
			m = k.material(parseMaterialID(*in.KeyMaterialId))
			if m == nil {
				return kmsapi.Errorf(kmsapi.NotFoundException, "Key material %s does not exist in %s.", *in.KeyMaterialId, k.ARN())
			}
		}
		if m == nil {
			return nil // nothing was ever imported
		}
		id := m.ID
		copies, err := copiesOf(tx, k)
		if err != nil {
			return err
		}
		if !m.permanent() {
			// Material waiting for a rotation is simply forgotten, in
			// every copy when deleted from the primary.
			targets := copies[:1]
			if k.rotates() {
				targets = copies
			}
			for _, c := range targets {
				for i := range c.Materials {
					if c.Materials[i].ID == id {
						c.Materials = append(c.Materials[:i], c.Materials[i+1:]...)
						break
					}
				}
			}
			deleted = &id
			return putAll(tx, copies, &work{})
		}
		if m.present() {
			dropMaterial(k, m)
			deleted = &id
		}
		return putKey(tx, k)
	})
	if k != nil {
		s.evictCopies(k)
	}
	if err != nil {
		return nil, s.internalError(ctx, "DeleteImportedKeyMaterial", err)
	}
	out := &kmsapi.DeleteImportedKeyMaterialResponse{KeyId: new(k.ARN())}
	if deleted != nil {
		out.KeyMaterialId = new(deleted.String())
		// Erase the wrapped bytes from the store's files as well.
		if err := s.scrub(); err != nil {
			s.logger.ErrorContext(ctx, "erasing deleted key material from the store's files", "key", k.ARN(), "err", err)
		}
	}
	return out, nil
}
