package envelope

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
)

// EncryptionMaterials are what a message is written with.
type EncryptionMaterials struct {
	Suite *AlgorithmSuite
	// Context is the whole encryption context, as authenticated and as sent
	// to the key provider (with the public key of a signed suite).
	Context map[string]string
	// RequiredContextKeys name pairs of Context that are authenticated but
	// not stored in the message: the reader must supply them.
	RequiredContextKeys []string
	DataKey             []byte
	EncryptedDataKeys   []EncryptedDataKey
	SigningKey          *ecdsa.PrivateKey
}

// DecryptionMaterials are what a message is read with.
type DecryptionMaterials struct {
	Suite               *AlgorithmSuite
	Context             map[string]string
	RequiredContextKeys []string
	DataKey             []byte
	VerificationKey     *ecdsa.PublicKey
}

// EncryptionRequest asks a MaterialsManager for encryption materials.
type EncryptionRequest struct {
	Context             map[string]string
	Suite               *AlgorithmSuite // nil: the manager's default
	RequiredContextKeys []string
	// MaxPlaintextLength bounds the plaintext the materials will encrypt;
	// -1 if unknown.
	MaxPlaintextLength int64
}

// DecryptionRequest asks a MaterialsManager for decryption materials.
type DecryptionRequest struct {
	Suite             *AlgorithmSuite
	EncryptedDataKeys []EncryptedDataKey
	// Context is the encryption context stored in the message.
	Context map[string]string
	// ReproducedContext is the context the caller expects: its pairs must
	// match those stored; pairs not stored are authenticated.
	ReproducedContext map[string]string
	CommitmentPolicy  CommitmentPolicy
}

// MaterialsManager is the specification's cryptographic materials manager
// (CMM): it turns requests into materials, usually through a Keyring.
type MaterialsManager interface {
	EncryptionMaterials(ctx context.Context, req *EncryptionRequest) (*EncryptionMaterials, error)
	DecryptionMaterials(ctx context.Context, req *DecryptionRequest) (*DecryptionMaterials, error)
}

// Keyring generates, encrypts and decrypts data keys.
type Keyring interface {
	// OnEncrypt sets m.DataKey if it is nil (generating one) and appends
	// encrypted copies of it to m.EncryptedDataKeys. On failure it must leave m unchanged.
	OnEncrypt(ctx context.Context, m *EncryptionMaterials) error
	// OnDecrypt sets m.DataKey from one of the encrypted data keys.
	OnDecrypt(ctx context.Context, m *DecryptionMaterials, keys []EncryptedDataKey) error
}

// DefaultMaterials is the specification's default CMM around a keyring: it
// adds the signing key of a signed suite and its public key to the context,
// and checks the context on decryption.
type DefaultMaterials struct {
	Keyring Keyring
}

// NewDefaultMaterials returns the default CMM for kr.
func NewDefaultMaterials(kr Keyring) *DefaultMaterials { return &DefaultMaterials{Keyring: kr} }

// EncryptionMaterials implements MaterialsManager.
func (d *DefaultMaterials) EncryptionMaterials(ctx context.Context, req *EncryptionRequest) (*EncryptionMaterials, error) {
	suite := req.Suite
	if suite == nil {
		suite = DefaultSuite
	}
	if !suite.Committing {
		return nil, fmt.Errorf("envelope: suite %s does not commit to its key; only committing suites are written", suite)
	}
	if _, ok := req.Context[PublicKeyContextKey]; ok {
		return nil, fmt.Errorf("envelope: encryption context key %q is reserved", PublicKeyContextKey)
	}
	for _, k := range req.RequiredContextKeys {
		if _, ok := req.Context[k]; !ok {
			return nil, fmt.Errorf("envelope: required encryption context key %q is not in the context", k)
		}
	}
	m := &EncryptionMaterials{Suite: suite, Context: copyContext(req.Context), RequiredContextKeys: slices.Clone(req.RequiredContextKeys)}
	if suite.Signed() {
		priv, err := ecdsa.GenerateKey(suite.Curve, rand.Reader)
		if err != nil {
			return nil, err
		}
		pub, err := encodePublicKey(&priv.PublicKey)
		if err != nil {
			return nil, err
		}
		m.SigningKey = priv
		m.Context[PublicKeyContextKey] = pub
	}
	if err := d.Keyring.OnEncrypt(ctx, m); err != nil {
		return nil, err
	}
	if len(m.DataKey) != suite.KeyLength || len(m.EncryptedDataKeys) == 0 {
		return nil, errors.New("envelope: the keyring returned no data key or no encrypted data key")
	}
	return m, nil
}

// DecryptionMaterials implements MaterialsManager.
func (d *DefaultMaterials) DecryptionMaterials(ctx context.Context, req *DecryptionRequest) (*DecryptionMaterials, error) {
	if !req.CommitmentPolicy.allowsDecrypt(req.Suite) {
		return nil, fmt.Errorf("%w: suite %s does not commit to its key and the commitment policy requires it", ErrPolicy, req.Suite)
	}
	m, err := reconcileContext(req)
	if err != nil {
		return nil, err
	}
	pub, hasPub := m.Context[PublicKeyContextKey]
	switch {
	case req.Suite.Signed() && !hasPub:
		return nil, fmt.Errorf("%w: signed suite without %s in the encryption context", ErrMalformed, PublicKeyContextKey)
	case !req.Suite.Signed() && hasPub:
		return nil, fmt.Errorf("%w: unsigned suite with %s in the encryption context", ErrMalformed, PublicKeyContextKey)
	case hasPub:
		if m.VerificationKey, err = decodePublicKey(req.Suite, pub); err != nil {
			return nil, err
		}
	}
	if err := d.Keyring.OnDecrypt(ctx, m, req.EncryptedDataKeys); err != nil {
		return nil, err
	}
	if len(m.DataKey) != req.Suite.KeyLength {
		return nil, errors.New("envelope: the keyring returned no data key")
	}
	return m, nil
}

// reconcileContext checks the reproduced context against the stored one and
// builds the materials' context: the stored pairs plus the reproduced pairs
// that were not stored (which become required keys, authenticated only).
func reconcileContext(req *DecryptionRequest) (*DecryptionMaterials, error) {
	m := &DecryptionMaterials{Suite: req.Suite, Context: copyContext(req.Context)}
	keys := make([]string, 0, len(req.ReproducedContext))
	for k := range req.ReproducedContext {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := req.ReproducedContext[k]
		if stored, ok := req.Context[k]; ok {
			if stored != v {
				// The header is not authenticated yet: name the key, not what the message says.
				return nil, fmt.Errorf("%w: encryption context %q does not have the expected value in the message", ErrPolicy, k)
			}
			continue
		}
		m.Context[k] = v
		m.RequiredContextKeys = append(m.RequiredContextKeys, k)
	}
	return m, nil
}

// RequiredContext wraps a MaterialsManager so that the given keys must be
// in the context of every encryption (and are then authenticated but not
// stored in the message) and in the reproduced context of every decryption.
type RequiredContext struct {
	Keys       []string
	Underlying MaterialsManager
}

// EncryptionMaterials implements MaterialsManager.
func (r *RequiredContext) EncryptionMaterials(ctx context.Context, req *EncryptionRequest) (*EncryptionMaterials, error) {
	for _, k := range r.Keys {
		if _, ok := req.Context[k]; !ok {
			return nil, fmt.Errorf("envelope: required encryption context key %q is missing", k)
		}
	}
	r2 := *req
	r2.RequiredContextKeys = append(slices.Clone(req.RequiredContextKeys), r.Keys...)
	m, err := r.Underlying.EncryptionMaterials(ctx, &r2)
	if err != nil {
		return nil, err
	}
	for _, k := range r.Keys {
		if !slices.Contains(m.RequiredContextKeys, k) {
			return nil, fmt.Errorf("envelope: the materials manager dropped required key %q", k)
		}
	}
	return m, nil
}

// DecryptionMaterials implements MaterialsManager.
func (r *RequiredContext) DecryptionMaterials(ctx context.Context, req *DecryptionRequest) (*DecryptionMaterials, error) {
	for _, k := range r.Keys {
		if _, ok := req.ReproducedContext[k]; !ok {
			return nil, fmt.Errorf("%w: required encryption context key %q was not supplied", ErrPolicy, k)
		}
	}
	m, err := r.Underlying.DecryptionMaterials(ctx, req)
	if err != nil {
		return nil, err
	}
	for _, k := range r.Keys {
		if _, ok := m.Context[k]; !ok {
			return nil, fmt.Errorf("envelope: the materials manager dropped required key %q", k)
		}
	}
	return m, nil
}
