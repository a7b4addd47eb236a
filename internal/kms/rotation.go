package kms

import (
	"context"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/trent-kms/trent/internal/ciphertext"
	"github.com/trent-kms/trent/internal/keycache"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/store"
)

// Rotation. Rotating a key adds material and makes it current: new
// ciphertexts use it, old ones name the material that made them and still
// decrypt. Automatic rotation runs every RotationPeriodInDays (the
// scheduler, schedule.go); on-demand rotation runs once, soon after it is
// asked for. Only symmetric encryption keys rotate; imported ones only on
// demand, to material imported for that (ImportType NEW_KEY_MATERIAL).

const (
	defaultRotationPeriod = 365
	minRotationPeriod     = 90
	maxRotationPeriod     = 2560
	// defaultOnDemandRotationLimit is AWS's limit of on-demand rotations
	// per key (it was 10 when on-demand rotation was launched).
	defaultOnDemandRotationLimit = 25
	// onDemandConflictWindow: AWS refuses an on-demand rotation when an
	// automatic one is due this soon.
	onDemandConflictWindow = 20 * time.Minute
)

func days(n int32) time.Duration { return time.Duration(n) * 24 * time.Hour }

// checkRotationState is the state check of the operations that change a
// key's rotation: AWS checks the state before the kind of key.
func checkRotationState(k *Key, op string) error {
	switch k.State {
	case kmsapi.KeyStateEnabled, kmsapi.KeyStateUpdating:
		return nil
	case kmsapi.KeyStateDisabled:
		return kmsapi.Errorf(kmsapi.DisabledException, "%s is disabled.", k.ARN())
	case kmsapi.KeyStatePendingImport:
		if op != "RotateKeyOnDemand" {
			return originNotValid(k)
		}
	}
	return invalidState(k)
}

// checkRotatable refuses keys that do not rotate: asymmetric and HMAC keys
// (AWS says nothing more), imported keys (except on demand), and replicas
// (their primary rotates for them).
func checkRotatable(k *Key, op string) error {
	if k.KeySpec != kmsapi.KeySpecSymmetricDefault {
		return kmsapi.Errorf(kmsapi.UnsupportedOperationException, "")
	}
	if k.Origin == kmsapi.OriginTypeExternal && op != "RotateKeyOnDemand" {
		return originNotValid(k)
	}
	if !k.rotates() {
		return notPrimary(k)
	}
	return nil
}

// originNotValid is AWS's error for an operation the key's origin does not
// allow (rotation settings of an imported key, import into a key of
// origin AWS_KMS).
func originNotValid(k *Key) error {
	return kmsapi.Errorf(kmsapi.UnsupportedOperationException, "%s origin is %s which is not valid for this operation.", k.ARN(), k.Origin)
}

func notPrimary(k *Key) error {
	return kmsapi.Errorf(kmsapi.UnsupportedOperationException, "%s is not a multi-region primary key.", k.ARN())
}

func (s *Service) EnableKeyRotation(ctx context.Context, call *Call, in *kmsapi.EnableKeyRotationRequest) error {
	period := int32(defaultRotationPeriod)
	if in.RotationPeriodInDays != nil {
		period = *in.RotationPeriodInDays
	}
	call.Cond.Set("kms:RotationPeriodInDays", strconv.Itoa(int(period)))
	if period < minRotationPeriod || period > maxRotationPeriod {
		return kmsapi.Errorf(kmsapi.ValidationException, "RotationPeriodInDays must be between %d and %d.", minRotationPeriod, maxRotationPeriod)
	}
	_, err := s.changeKey(ctx, call, "EnableKeyRotation", in.GetKeyId(), func(k *Key) error {
		if err := checkRotationState(k, "EnableKeyRotation"); err != nil {
			return err
		}
		if err := checkRotatable(k, "EnableKeyRotation"); err != nil {
			return err
		}
		if k.RotationPeriodInDays > 0 {
			// A new period counts from the same start as the old one.
			k.NextRotationDate = k.NextRotationDate.Add(days(period) - days(k.RotationPeriodInDays))
		} else {
			k.NextRotationDate = s.now().UTC().Add(days(period))
		}
		k.RotationPeriodInDays = period
		return nil
	})
	return err
}

func (s *Service) DisableKeyRotation(ctx context.Context, call *Call, in *kmsapi.DisableKeyRotationRequest) error {
	_, err := s.changeKey(ctx, call, "DisableKeyRotation", in.GetKeyId(), func(k *Key) error {
		if err := checkRotationState(k, "DisableKeyRotation"); err != nil {
			return err
		}
		if err := checkRotatable(k, "DisableKeyRotation"); err != nil {
			return err
		}
		k.RotationPeriodInDays = 0
		k.NextRotationDate = time.Time{}
		return nil
	})
	return err
}

func (s *Service) GetKeyRotationStatus(ctx context.Context, call *Call, in *kmsapi.GetKeyRotationStatusRequest) (*kmsapi.GetKeyRotationStatusResponse, error) {
	k, err := s.viewKey(ctx, call, "GetKeyRotationStatus", in.GetKeyId())
	if err != nil {
		return nil, err
	}
	// Asymmetric and HMAC keys never rotate: AWS answers false rather than
	// an error (tools read the status of every key). A key pending
	// deletion does not rotate either; it keeps its setting for when the
	// deletion is cancelled.
	on := k.KeySpec == kmsapi.KeySpecSymmetricDefault && k.RotationPeriodInDays > 0 && !k.pendingDeletion()
	out := &kmsapi.GetKeyRotationStatusResponse{KeyId: new(k.ARN()), KeyRotationEnabled: new(on)}
	if on {
		out.RotationPeriodInDays = new(k.RotationPeriodInDays)
		out.NextRotationDate = new(kmsapi.Time{Time: k.NextRotationDate})
	}
	if !k.OnDemandRotationStartDate.IsZero() {
		out.OnDemandRotationStartDate = new(kmsapi.Time{Time: k.OnDemandRotationStartDate})
	}
	return out, nil
}

func (s *Service) RotateKeyOnDemand(ctx context.Context, call *Call, in *kmsapi.RotateKeyOnDemandRequest) (*kmsapi.RotateKeyOnDemandResponse, error) {
	k, err := s.changeKeyIn(ctx, call, "RotateKeyOnDemand", in.GetKeyId(), func(tx store.Tx, k *Key) error {
		if err := checkRotationState(k, "RotateKeyOnDemand"); err != nil {
			return err
		}
		if err := checkRotatable(k, "RotateKeyOnDemand"); err != nil {
			return err
		}
		now := s.now().UTC()
		if k.Origin == kmsapi.OriginTypeExternal {
			if err := s.checkPendingEverywhere(tx, k); err != nil {
				return err
			}
		}
		if !k.OnDemandRotationStartDate.IsZero() {
			return kmsapi.Errorf(kmsapi.ConflictException, "An on-demand rotation of %s is already in progress.", k.ARN())
		}
		if k.rotatesAutomatically() && k.NextRotationDate.Sub(now) < onDemandConflictWindow {
			return kmsapi.Errorf(kmsapi.ConflictException, "An automatic rotation of %s is in progress or due within 20 minutes.", k.ARN())
		}
		if k.OnDemandRotations >= s.onDemandLimit {
			return kmsapi.Errorf(kmsapi.LimitExceededException,
				"The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: %s", k.ARN())
		}
		k.OnDemandRotations++
		k.OnDemandRotationStartDate = now
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.kick()
	return &kmsapi.RotateKeyOnDemandResponse{KeyId: new(k.ARN())}, nil
}

// checkPendingEverywhere checks that an imported key has material waiting
// to become current, imported into every copy of the key.
func (s *Service) checkPendingEverywhere(tx store.Tx, k *Key) error {
	none := kmsapi.Errorf(kmsapi.KMSInvalidStateException, "No available key material pending rotation for the key: %s.", k.ARN())
	p := k.pendingRotation()
	if p == nil {
		return none
	}
	copies, err := copiesOf(tx, k)
	if err != nil {
		return err
	}
	for _, c := range copies {
		if m := c.material(p.ID); m == nil || !m.present() {
			return kmsapi.Errorf(kmsapi.KMSInvalidStateException,
				"Key material %s pending rotation has not been imported into %s.", p.ID, c.ARN())
		}
	}
	return nil
}

// rotate makes new material current in every copy of k: fresh material for
// a key of origin AWS_KMS, the material pending rotation for an imported
// key. It is the scheduler's work (attend).
func (s *Service) rotate(tx store.Tx, k *Key, typ kmsapi.RotationType, now time.Time, w *work) error {
	copies, err := copiesOf(tx, k)
	if err != nil {
		return err
	}
	var id ciphertext.MaterialID
	if k.Origin == kmsapi.OriginTypeExternal {
		if err := s.checkPendingEverywhere(tx, k); err != nil {
			// The pending material expired or was deleted since the
			// rotation was asked for: nothing to rotate to.
			s.logger.Warn("on-demand rotation abandoned", "key", k.ARN(), "reason", err)
			for _, c := range copies {
				c.OnDemandRotationStartDate = time.Time{}
			}
			return putAll(tx, copies, w)
		}
		id = k.pendingRotation().ID
	} else {
		fresh, err := s.newMaterial(copies, now)
		if err != nil {
			return err
		}
		id = fresh[0].ID
		for i, c := range copies {
			c.Materials = append(c.Materials, fresh[i])
			c.Materials[len(c.Materials)-1].State = kmsapi.KeyMaterialStatePendingRotation
		}
	}
	for _, c := range copies {
		for i := range c.Materials {
			m := &c.Materials[i]
			switch {
			case m.ID == id:
				m.State = kmsapi.KeyMaterialStateCurrent
				m.RotationDate = now
				m.RotationType = typ
			case m.State == kmsapi.KeyMaterialStateCurrent:
				m.State = kmsapi.KeyMaterialStateNonCurrent
			}
		}
		if typ == kmsapi.RotationTypeOnDemand {
			c.OnDemandRotationStartDate = time.Time{}
		} else {
			c.NextRotationDate = now.Add(days(c.RotationPeriodInDays))
		}
	}
	w.event("RotateKey", k, now, map[string]string{"keyMaterialId": id.String(), "rotationType": string(typ)})
	return putAll(tx, copies, w)
}

// putAll stores every copy of a key, noting them as changed.
func putAll(tx store.Tx, copies []*Key, w *work) error {
	for _, c := range copies {
		if err := putKey(tx, c); err != nil {
			return err
		}
		w.touched = append(w.touched, keycache.Name{Region: c.Region, ID: c.ID})
	}
	return nil
}

func (s *Service) ListKeyRotations(ctx context.Context, call *Call, in *kmsapi.ListKeyRotationsRequest) (*kmsapi.ListKeyRotationsResponse, error) {
	k, err := s.viewKey(ctx, call, "ListKeyRotations", in.GetKeyId())
	if err != nil {
		return nil, err
	}
	if k.KeySpec != kmsapi.KeySpecSymmetricDefault {
		return nil, kmsapi.Errorf(kmsapi.UnsupportedOperationException, "")
	}
	all := in.IncludeKeyMaterial != nil && *in.IncludeKeyMaterial == kmsapi.IncludeKeyMaterialAllKeyMaterial
	var after string
	if in.Marker != nil {
		b, err := decodeMarker(in.Marker, "rotation/")
		if err != nil {
			return nil, err
		}
		after = b[len("rotation/"):]
		if k.material(parseMaterialID(after)) == nil {
			return nil, kmsapi.Errorf(kmsapi.InvalidMarkerException, "Invalid marker")
		}
	}
	limit := limitOr(in.Limit, 100)
	out := &kmsapi.ListKeyRotationsResponse{Rotations: []kmsapi.RotationsListEntry{}, Truncated: new(false)}
	skipping := after != ""
	for i := range k.Materials {
		m := &k.Materials[i]
		if skipping {
			skipping = m.ID.String() != after
			continue
		}
		if !all && m.RotationDate.IsZero() {
			continue // ROTATIONS_ONLY: the material rotations made current
		}
		if len(out.Rotations) == limit {
			out.Truncated = new(true)
			out.NextMarker = encodeMarker("rotation/" + out.Rotations[limit-1].GetKeyMaterialId())
			break
		}
		out.Rotations = append(out.Rotations, rotationEntry(k, m))
	}
	return out, nil
}

func rotationEntry(k *Key, m *Material) kmsapi.RotationsListEntry {
	e := kmsapi.RotationsListEntry{
		KeyId:            new(k.ID),
		KeyMaterialId:    new(m.ID.String()),
		KeyMaterialState: new(m.State),
	}
	if !m.RotationDate.IsZero() {
		e.RotationDate = new(kmsapi.Time{Time: m.RotationDate})
		e.RotationType = new(m.RotationType)
	}
	if imp := m.Import; imp != nil {
		e.ImportState = new(imp.State)
		e.KeyMaterialDescription = new(imp.Description)
		if imp.State == kmsapi.ImportStateImported {
			e.ExpirationModel = new(imp.ExpirationModel)
			if !imp.ValidTo.IsZero() {
				e.ValidTo = new(kmsapi.Time{Time: imp.ValidTo})
			}
		}
	}
	return e
}

// parseMaterialID reads a key material ID in its 64 hex digits; anything
// else gives the zero ID, which no material has.
func parseMaterialID(s string) ciphertext.MaterialID {
	var id ciphertext.MaterialID
	if b, err := hex.DecodeString(s); err == nil && len(b) == len(id) {
		copy(id[:], b)
	}
	return id
}
