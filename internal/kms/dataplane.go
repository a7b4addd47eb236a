package kms

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/trent-kms/trent/internal/ciphertext"
	"github.com/trent-kms/trent/internal/grant"
	"github.com/trent-kms/trent/internal/keyspec"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/store"
)

// The cryptographic operations on symmetric keys. Plaintext and unwrapped
// key material never leave these functions except in the response.

// usableKey finds a key for a cryptographic operation, checking in AWS's
// order: it must exist, the call must be allowed, the key must be enabled
// (state), and made for usage. The caller must release the key.
func (s *Service) usableKey(call *Call, id, action string, usage kmsapi.KeyUsageType) (*liveKey, error) {
	k, err := s.enabledKey(call, id, action)
	if err != nil {
		return nil, err
	}
	if k.KeyUsage != usage {
		k.Release()
		return nil, wrongUsage(k.Key, action)
	}
	return k, nil
}

// enabledKey is usableKey without the usage check: Decrypt and ReEncrypt
// compare the named key with the ciphertext's before they look at its
// usage. The caller must release the key.
func (s *Service) enabledKey(call *Call, id, action string) (*liveKey, error) {
	k, err := s.liveKeyFor(call, id, action)
	if err != nil {
		return nil, err
	}
	if err := checkUsable(k.Key, s.now()); err != nil {
		k.Release()
		return nil, err
	}
	return k, nil
}

// incorrectKey is AWS's answer to a KeyId that is not the key that made
// a symmetric ciphertext.
func incorrectKey() error {
	return kmsapi.Errorf(kmsapi.IncorrectKeyException,
		"The key ID in the request does not identify a CMK that can perform this operation.")
}

func wrongUsage(k *Key, action string) error {
	return kmsapi.Errorf(kmsapi.InvalidKeyUsageException,
		"%s key usage is %s which is not valid for %s.", k.ARN(), k.KeyUsage, strings.TrimPrefix(action, "kms:"))
}

// symmetricOnly refuses asymmetric keys for the operations that only
// symmetric encryption keys can do (GenerateDataKey and friends): AWS words
// it as the symmetric algorithm not fitting the key spec.
func symmetricOnly(k *Key) error {
	if k.KeySpec != kmsapi.KeySpecSymmetricDefault {
		return algorithmMismatch(kmsapi.EncryptionAlgorithmSpecSymmetricDefault, k)
	}
	return nil
}

// checkAlgorithm checks an EncryptionAlgorithm against a key; leaving it
// out means SYMMETRIC_DEFAULT.
func checkAlgorithm(k *Key, alg *kmsapi.EncryptionAlgorithmSpec) error {
	a := *algorithmOrDefault(alg)
	if k.KeySpec == kmsapi.KeySpecSymmetricDefault && a == kmsapi.EncryptionAlgorithmSpecSymmetricDefault {
		return nil // the data plane's common case, without building the list
	}
	if !slices.Contains(keyspec.AlgorithmsFor(k.KeySpec, k.KeyUsage).Encryption, a) {
		return algorithmMismatch(a, k)
	}
	return nil
}

// MaxEncryptionContextBytes bounds an encryption context: the length of
// its canonical encoding (ciphertext.EncodeContext: 2 bytes, then 4 plus
// the lengths of key and value per pair). AWS publishes no number, but its
// external key stores receive the context as additional authenticated data
// of at most 8192 bytes (XKS proxy API specification), so no context AWS
// KMS accepts is larger.
const MaxEncryptionContextBytes = 8192

// checkContexts refuses an encryption context larger than
// MaxEncryptionContextBytes, before anything else is done with it.
func checkContexts(ecs ...map[string]string) error {
	for _, ec := range ecs {
		n := 2
		for k, v := range ec {
			n += 4 + len(k) + len(v)
		}
		if n > MaxEncryptionContextBytes {
			return kmsapi.Errorf(kmsapi.ValidationException,
				"Invalid EncryptionContext: its encoding takes %d bytes, more than the limit of %d.", n, MaxEncryptionContextBytes)
		}
	}
	return nil
}

// noContextForAsymmetric: encryption context exists only for symmetric keys.
func noContextForAsymmetric(k *Key, ec map[string]string) error {
	if k.KeySpec != kmsapi.KeySpecSymmetricDefault && len(ec) > 0 {
		return kmsapi.Errorf(kmsapi.ValidationException,
			"EncryptionContext is not supported when encrypting/decrypting with asymmetric CMKs.")
	}
	return nil
}

// encrypt encrypts plaintext under k: a ciphertext blob for a symmetric
// key, RSA-OAEP for an RSA key. k and alg must have been checked.
func (s *Service) encrypt(k *liveKey, alg *kmsapi.EncryptionAlgorithmSpec, plaintext []byte, ec map[string]string) ([]byte, *ciphertext.MaterialID, error) {
	if k.KeySpec == kmsapi.KeySpecSymmetricDefault {
		blob, mid, err := s.seal(k, plaintext, ec)
		return blob, &mid, err
	}
	pk := k.private
	ct, err := pk.Encrypt(*alg, plaintext, s.rand)
	if errors.Is(err, keyspec.ErrPlaintextTooLong) {
		limit, _ := pk.MaxPlaintext(*alg)
		return nil, nil, kmsapi.Errorf(kmsapi.ValidationException,
			"Algorithm %s and key spec %s cannot encrypt data larger than %d bytes.", *alg, k.KeySpec, limit)
	}
	return ct, nil, err
}

// algorithmOrDefault is the EncryptionAlgorithm an answer reports.
func algorithmOrDefault(alg *kmsapi.EncryptionAlgorithmSpec) *kmsapi.EncryptionAlgorithmSpec {
	if alg == nil {
		return &symmetricDefault
	}
	return alg
}

// symmetricDefault is shared by every answer that reports the default
// algorithm; answers are only ever encoded, never changed.
var symmetricDefault = kmsapi.EncryptionAlgorithmSpecSymmetricDefault

func materialIDString(mid *ciphertext.MaterialID) *string {
	if mid == nil {
		return nil
	}
	return new(mid.String())
}

// seal encrypts plaintext under the key's current material.
func (s *Service) seal(k *liveKey, plaintext []byte, ec map[string]string) ([]byte, ciphertext.MaterialID, error) {
	m := k.current()
	blob, err := ciphertext.Seal(k.secrets[m.ID], ciphertext.Header{KeyID: k.ID, MaterialID: m.ID}, plaintext, ec, s.rand)
	return blob, m.ID, err
}

func (s *Service) Encrypt(ctx context.Context, call *Call, in *kmsapi.EncryptRequest) (*kmsapi.EncryptResponse, error) {
	if err := checkContexts(in.EncryptionContext); err != nil {
		return nil, err
	}
	if err := s.cryptoRequest(call, in.EncryptionContext, in.EncryptionAlgorithm, in.GrantTokens); err != nil {
		return nil, err
	}
	k, err := s.usableKey(call, in.GetKeyId(), "kms:Encrypt", kmsapi.KeyUsageTypeEncryptDecrypt)
	if err != nil {
		return nil, s.internalError(ctx, "Encrypt", err)
	}
	defer k.Release()
	if err := checkAlgorithm(k.Key, in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	if err := noContextForAsymmetric(k.Key, in.EncryptionContext); err != nil {
		return nil, err
	}
	// A dry run answers after every check, the plaintext's size for the
	// key included: it says whether the request would have succeeded.
	blob, mid, err := s.encrypt(k, in.EncryptionAlgorithm, in.Plaintext, in.EncryptionContext)
	if err != nil {
		return nil, s.internalError(ctx, "Encrypt", err)
	}
	if in.GetDryRun() {
		return nil, dryRunError()
	}
	call.EncryptedWith = mid
	s.used(call, k.Key, kmsapi.KeyLastUsageTrackingOperationEncrypt)
	return &kmsapi.EncryptResponse{
		CiphertextBlob:      blob,
		KeyId:               new(k.ARN()),
		EncryptionAlgorithm: algorithmOrDefault(in.EncryptionAlgorithm),
	}, nil
}

func invalidCiphertext() error {
	return kmsapi.Errorf(kmsapi.InvalidCiphertextException, "")
}

// open decrypts a symmetric ciphertext blob: it finds the key the blob
// names, checks it against named (the key the caller gave, if any),
// authorises action and opens the blob with the encryption context. The
// key it returns carries a reference for the caller: named's own, or a new
// one.
func (s *Service) open(call *Call, blob []byte, ec map[string]string, named *liveKey, action string) (*liveKey, []byte, ciphertext.MaterialID, error) {
	h, err := ciphertext.ParseHeader(blob)
	if err != nil {
		return nil, nil, h.MaterialID, invalidCiphertext()
	}
	k := named
	if named == nil {
		k, err = s.liveKeyByID(call.Region, h.KeyID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && k.deletionDue(s.now())) {
			if err == nil {
				k.Release()
			}
			return nil, nil, h.MaterialID, ciphertextKeyDenied(call, action)
		}
		if err != nil {
			return nil, nil, h.MaterialID, err
		}
		call.KeyARN = k.ARN()
		var grants func() ([]*grant.Grant, error)
		if len(k.grants) > 0 {
			grants = k.knownGrants
		}
		if _, err := s.authorizeKey(call, action, k.Key, k.policy, grants); err != nil {
			k.Release()
			if k.Account != call.Account {
				// Another account's key: do not say whether it exists.
				return nil, nil, h.MaterialID, ciphertextKeyDenied(call, action)
			}
			return nil, nil, h.MaterialID, err
		}
		if err := call.admitKey(k.Key); err != nil { // once allowed, as in liveKeyFor
			k.Release()
			return nil, nil, h.MaterialID, err
		}
		if err := checkUsable(k.Key, s.now()); err != nil {
			k.Release()
			return nil, nil, h.MaterialID, err
		}
	} else if named.ID != h.KeyID {
		return nil, nil, h.MaterialID, incorrectKey()
	}
	secret, ok := k.secrets[h.MaterialID]
	if !ok {
		if named == nil {
			k.Release()
		}
		return nil, nil, h.MaterialID, invalidCiphertext()
	}
	plaintext, err := ciphertext.Open(secret, blob, ec)
	if err != nil {
		if named == nil {
			k.Release()
		}
		return nil, nil, h.MaterialID, invalidCiphertext()
	}
	return k, plaintext, h.MaterialID, nil
}

// ignoresCiphertext reports whether a dry run asked to skip ciphertext checks.
func ignoresCiphertext(mods []kmsapi.DryRunModifierType) bool {
	return slices.Contains(mods, kmsapi.DryRunModifierTypeIgnoreCiphertext)
}

// dryRunWithoutCiphertext answers a DryRun with IGNORE_CIPHERTEXT: the named
// key must exist, be allowed and usable; the blob is not looked at.
func (s *Service) dryRunWithoutCiphertext(call *Call, keyID *string, action string) error {
	if keyID == nil {
		return kmsapi.Errorf(kmsapi.ValidationException,
			"KeyId is required when the IGNORE_CIPHERTEXT dry run modifier is used.")
	}
	k, err := s.usableKey(call, *keyID, action, kmsapi.KeyUsageTypeEncryptDecrypt)
	if err != nil {
		return err
	}
	k.Release()
	return dryRunError()
}

// decrypt decrypts a ciphertext for Decrypt and ReEncrypt. A symmetric blob
// names its key; an RSA ciphertext does not, so then keyID must name the RSA
// key and alg its algorithm. mid is the material of a symmetric blob. The
// caller must release k.
//
// A named key is checked as AWS checks it: it must exist, be allowed and be
// enabled; then, if the blob is a symmetric ciphertext of another key, the
// answer is IncorrectKeyException whatever the named key's usage and spec
// (captured on AWS: a symmetric ciphertext decrypted naming an HMAC key);
// only then its usage.
func (s *Service) decrypt(call *Call, blob []byte, ec map[string]string, keyID *string, alg *kmsapi.EncryptionAlgorithmSpec, action string) (
	k *liveKey, plaintext []byte, mid *ciphertext.MaterialID, err error) {
	var named *liveKey
	if keyID != nil {
		named, err = s.enabledKey(call, *keyID, action)
		if err != nil {
			return nil, nil, nil, err
		}
		if h, err := ciphertext.ParseHeader(blob); err == nil && h.KeyID != named.ID {
			named.Release()
			return nil, nil, nil, incorrectKey()
		}
		if named.KeyUsage != kmsapi.KeyUsageTypeEncryptDecrypt {
			named.Release()
			return nil, nil, nil, wrongUsage(named.Key, action)
		}
		if named.KeySpec != kmsapi.KeySpecSymmetricDefault {
			plaintext, err := decryptAsymmetric(named, blob, ec, alg)
			if err != nil {
				named.Release()
				return nil, nil, nil, err
			}
			return named, plaintext, nil, nil
		}
	}
	k, plaintext, m, err := s.open(call, blob, ec, named, action)
	if err != nil {
		if named != nil {
			named.Release()
		}
		return nil, nil, nil, err
	}
	if err := checkAlgorithm(k.Key, alg); err != nil {
		clear(plaintext)
		k.Release()
		return nil, nil, nil, err
	}
	return k, plaintext, &m, nil
}

// decryptAsymmetric decrypts an RSA ciphertext with the key the caller named.
func decryptAsymmetric(k *liveKey, blob []byte, ec map[string]string, alg *kmsapi.EncryptionAlgorithmSpec) ([]byte, error) {
	if alg == nil {
		// AWS reads the ciphertext as a symmetric one first, and fails.
		return nil, invalidCiphertext()
	}
	if err := checkAlgorithm(k.Key, alg); err != nil {
		return nil, err
	}
	if err := noContextForAsymmetric(k.Key, ec); err != nil {
		return nil, err
	}
	plaintext, err := k.private.Decrypt(*alg, blob)
	if err != nil {
		return nil, invalidCiphertext()
	}
	return plaintext, nil
}

func (s *Service) Decrypt(ctx context.Context, call *Call, in *kmsapi.DecryptRequest) (*kmsapi.DecryptResponse, error) {
	if err := checkContexts(in.EncryptionContext); err != nil {
		return nil, err
	}
	if err := s.cryptoRequest(call, in.EncryptionContext, in.EncryptionAlgorithm, in.GrantTokens); err != nil {
		return nil, err
	}
	if in.Recipient != nil {
		return nil, kmsapi.Errorf(kmsapi.UnsupportedOperationException, "Recipient is not supported by this server yet.")
	}
	if in.GetDryRun() && ignoresCiphertext(in.DryRunModifiers) {
		return nil, s.dryRunWithoutCiphertext(call, in.KeyId, "kms:Decrypt")
	}
	k, plaintext, mid, err := s.decrypt(call, in.CiphertextBlob, in.EncryptionContext, in.KeyId, in.EncryptionAlgorithm, "kms:Decrypt")
	if err != nil {
		return nil, s.internalError(ctx, "Decrypt", err)
	}
	defer k.Release()
	if in.GetDryRun() {
		clear(plaintext)
		return nil, dryRunError()
	}
	s.used(call, k.Key, kmsapi.KeyLastUsageTrackingOperationDecrypt)
	return &kmsapi.DecryptResponse{
		KeyId:               new(k.ARN()),
		Plaintext:           plaintext,
		EncryptionAlgorithm: algorithmOrDefault(in.EncryptionAlgorithm),
		KeyMaterialId:       materialIDString(mid),
	}, nil
}

func (s *Service) ReEncrypt(ctx context.Context, call *Call, in *kmsapi.ReEncryptRequest) (*kmsapi.ReEncryptResponse, error) {
	if err := checkContexts(in.SourceEncryptionContext, in.DestinationEncryptionContext); err != nil {
		return nil, err
	}
	// Two permissions, each with its own conditions: kms:ReEncryptFrom with
	// the source context and algorithm, kms:ReEncryptTo with the
	// destination's (on a copy of the call, whose audit record names both
	// keys).
	base := *call
	if err := s.cryptoRequest(call, in.SourceEncryptionContext, in.SourceEncryptionAlgorithm, in.GrantTokens); err != nil {
		return nil, err
	}
	dstCall := base
	dstCall.Cond = Conditions{}
	if err := s.cryptoRequest(&dstCall, in.DestinationEncryptionContext, in.DestinationEncryptionAlgorithm, in.GrantTokens); err != nil {
		return nil, err
	}
	// destination returns the destination key with a reference for the caller.
	destination := func(c *Call) (*liveKey, error) {
		dst, err := s.usableKey(c, in.GetDestinationKeyId(), "kms:ReEncryptTo", kmsapi.KeyUsageTypeEncryptDecrypt)
		if err != nil {
			return nil, err
		}
		if err := checkAlgorithm(dst.Key, in.DestinationEncryptionAlgorithm); err != nil {
			dst.Release()
			return nil, err
		}
		if err := noContextForAsymmetric(dst.Key, in.DestinationEncryptionContext); err != nil {
			dst.Release()
			return nil, err
		}
		return dst, nil
	}
	if in.GetDryRun() && ignoresCiphertext(in.DryRunModifiers) {
		if err := s.dryRunWithoutCiphertext(call, in.SourceKeyId, "kms:ReEncryptFrom"); !isDryRun(err) {
			return nil, err
		}
		dst, err := destination(&dstCall)
		if err != nil {
			return nil, err
		}
		dst.Release()
		return nil, dryRunError()
	}
	src, plaintext, srcMaterial, err := s.decrypt(call, in.CiphertextBlob, in.SourceEncryptionContext, in.SourceKeyId,
		in.SourceEncryptionAlgorithm, "kms:ReEncryptFrom")
	if err != nil {
		return nil, s.internalError(ctx, "ReEncrypt", err)
	}
	defer src.Release()
	defer clear(plaintext)
	dstCall.Cond.Set("kms:ReEncryptOnSameKey", boolString(s.peekKeyID(&dstCall, in.GetDestinationKeyId()) == src.ID))
	dst, err := destination(&dstCall)
	if err != nil {
		return nil, s.internalError(ctx, "ReEncrypt", err)
	}
	defer dst.Release()
	call.OtherKeyARN = dst.ARN()
	blob, dstMaterial, err := s.encrypt(dst, in.DestinationEncryptionAlgorithm, plaintext, in.DestinationEncryptionContext)
	if err != nil {
		return nil, s.internalError(ctx, "ReEncrypt", err)
	}
	if in.GetDryRun() {
		return nil, dryRunError()
	}
	s.used(call, src.Key, kmsapi.KeyLastUsageTrackingOperationReEncrypt)
	s.used(call, dst.Key, kmsapi.KeyLastUsageTrackingOperationReEncrypt)
	return &kmsapi.ReEncryptResponse{
		CiphertextBlob:                 blob,
		SourceKeyId:                    new(src.ARN()),
		KeyId:                          new(dst.ARN()),
		SourceEncryptionAlgorithm:      algorithmOrDefault(in.SourceEncryptionAlgorithm),
		DestinationEncryptionAlgorithm: algorithmOrDefault(in.DestinationEncryptionAlgorithm),
		SourceKeyMaterialId:            materialIDString(srcMaterial),
		DestinationKeyMaterialId:       materialIDString(dstMaterial),
	}, nil
}

// peekKeyID resolves a key identifier to a key ID without authorising
// anything ("" if it does not resolve), for kms:ReEncryptOnSameKey.
func (s *Service) peekKeyID(call *Call, id string) string {
	probe := *call
	probe.Cond = Conditions{}
	var keyID string
	s.store.View(func(tx store.Tx) error {
		keyID, _ = s.resolveID(tx, &probe, id, keyIDOrAlias, "kms:ReEncryptTo")
		return nil
	})
	return keyID
}

func isDryRun(err error) bool {
	var kerr *kmsapi.Error
	return errors.As(err, &kerr) && kerr.Code == kmsapi.DryRunOperationException
}

// dataKeySize checks GenerateDataKey's KeySpec / NumberOfBytes pair: exactly one must be given.
func dataKeySize(spec *kmsapi.DataKeySpec, n *int32) (int, error) {
	switch {
	case spec != nil && n != nil:
		return 0, kmsapi.Errorf(kmsapi.ValidationException, "Please specify either number of bytes or key spec.")
	case spec != nil && *spec == kmsapi.DataKeySpecAes128:
		return 16, nil
	case spec != nil:
		return 32, nil
	case n != nil:
		return int(*n), nil
	default:
		return 0, kmsapi.Errorf(kmsapi.ValidationException, "Please specify either number of bytes or key spec.")
	}
}

// generateDataKey makes a random data key and its encrypted copy under the
// key keyID names, whose ARN it returns.
func (s *Service) generateDataKey(ctx context.Context, call *Call, op string, keyID string, spec *kmsapi.DataKeySpec, n *int32,
	ec map[string]string, tokens []string, dryRun bool) (arn string, plaintext, blob []byte, mid ciphertext.MaterialID, err error) {
	size, err := dataKeySize(spec, n)
	if err != nil {
		return "", nil, nil, mid, err
	}
	if err := checkContexts(ec); err != nil {
		return "", nil, nil, mid, err
	}
	if err := s.cryptoRequest(call, ec, nil, tokens); err != nil {
		return "", nil, nil, mid, err
	}
	k, err := s.usableKey(call, keyID, "kms:"+op, kmsapi.KeyUsageTypeEncryptDecrypt)
	if err != nil {
		return "", nil, nil, mid, s.internalError(ctx, op, err)
	}
	defer k.Release()
	if err := symmetricOnly(k.Key); err != nil {
		return "", nil, nil, mid, err
	}
	if dryRun {
		return "", nil, nil, mid, dryRunError()
	}
	plaintext, err = s.randomBytes(size)
	if err != nil {
		return "", nil, nil, mid, s.internalError(ctx, op, err)
	}
	blob, mid, err = s.seal(k, plaintext, ec)
	if err != nil {
		clear(plaintext)
		return "", nil, nil, mid, s.internalError(ctx, op, err)
	}
	s.used(call, k.Key, kmsapi.KeyLastUsageTrackingOperation(op))
	return k.ARN(), plaintext, blob, mid, nil
}

func (s *Service) GenerateDataKey(ctx context.Context, call *Call, in *kmsapi.GenerateDataKeyRequest) (*kmsapi.GenerateDataKeyResponse, error) {
	if in.Recipient != nil {
		return nil, kmsapi.Errorf(kmsapi.UnsupportedOperationException, "Recipient is not supported by this server yet.")
	}
	arn, plaintext, blob, mid, err := s.generateDataKey(ctx, call, "GenerateDataKey", in.GetKeyId(), in.KeySpec, in.NumberOfBytes, in.EncryptionContext, in.GrantTokens, in.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &kmsapi.GenerateDataKeyResponse{
		CiphertextBlob: blob,
		Plaintext:      plaintext,
		KeyId:          new(arn),
		KeyMaterialId:  new(mid.String()),
	}, nil
}

func (s *Service) GenerateDataKeyWithoutPlaintext(ctx context.Context, call *Call, in *kmsapi.GenerateDataKeyWithoutPlaintextRequest) (*kmsapi.GenerateDataKeyWithoutPlaintextResponse, error) {
	arn, plaintext, blob, mid, err := s.generateDataKey(ctx, call, "GenerateDataKeyWithoutPlaintext", in.GetKeyId(), in.KeySpec, in.NumberOfBytes, in.EncryptionContext, in.GrantTokens, in.GetDryRun())
	if err != nil {
		return nil, err
	}
	clear(plaintext)
	return &kmsapi.GenerateDataKeyWithoutPlaintextResponse{
		CiphertextBlob: blob,
		KeyId:          new(arn),
		KeyMaterialId:  new(mid.String()),
	}, nil
}

func (s *Service) GenerateRandom(ctx context.Context, call *Call, in *kmsapi.GenerateRandomRequest) (*kmsapi.GenerateRandomResponse, error) {
	// The request first, then the permission, then the custom key store it
	// names (a lookup: trent has none).
	if in.NumberOfBytes == nil {
		return nil, kmsapi.Errorf(kmsapi.ValidationException, "NumberOfBytes is required.")
	}
	if in.Recipient != nil {
		return nil, kmsapi.Errorf(kmsapi.UnsupportedOperationException, "Recipient is not supported by this server yet.")
	}
	if err := s.authorizeAccount(call, "kms:GenerateRandom", "*"); err != nil {
		return nil, err
	}
	if in.CustomKeyStoreId != nil {
		return nil, errNoCustomKeyStore()
	}
	b, err := s.randomBytes(int(*in.NumberOfBytes))
	if err != nil {
		return nil, s.internalError(ctx, "GenerateRandom", err)
	}
	return &kmsapi.GenerateRandomResponse{Plaintext: b}, nil
}
