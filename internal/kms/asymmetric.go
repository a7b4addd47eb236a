package kms

import (
	"context"
	"errors"
	"slices"

	"github.com/trent-kms/trent/internal/ciphertext"
	"github.com/trent-kms/trent/internal/keyspec"
	"github.com/trent-kms/trent/internal/kmsapi"
)

// The operations on asymmetric and HMAC keys: signatures, MACs, key
// agreement, key encapsulation, public keys and data key pairs.

// algorithmMismatch is AWS's answer to an algorithm the key spec lacks.
func algorithmMismatch(alg any, k *Key) error {
	return kmsapi.Errorf(kmsapi.InvalidKeyUsageException, "Algorithm %s is incompatible with key spec %s.", alg, k.KeySpec)
}

// signingError turns a keyspec error from Sign or Verify into AWS's error.
func signingError(err error, k *Key, alg kmsapi.SigningAlgorithmSpec, mt kmsapi.MessageType) error {
	switch {
	case errors.Is(err, keyspec.ErrDigestLength):
		return kmsapi.Errorf(kmsapi.ValidationException, "Digest is invalid length for algorithm %s.", alg)
	case errors.Is(err, keyspec.ErrUnsupportedAlgorithm) && alg == kmsapi.SigningAlgorithmSpecMlDsaShake256:
		return kmsapi.Errorf(kmsapi.ValidationException, "Message type %s is incompatible with key spec %s.", mt, k.KeySpec)
	case errors.Is(err, keyspec.ErrUnsupportedAlgorithm):
		return kmsapi.Errorf(kmsapi.ValidationException, "Message type %s is incompatible with algorithm %s.", mt, alg)
	case errors.Is(err, keyspec.ErrInvalidSignature):
		return kmsapi.Errorf(kmsapi.KMSInvalidSignatureException, "")
	}
	return err
}

// signingKey is the common start of Sign and Verify.
func (s *Service) signingKey(call *Call, id, action string, alg *kmsapi.SigningAlgorithmSpec) (*liveKey, *keyspec.Key, error) {
	k, err := s.usableKey(call, id, action, kmsapi.KeyUsageTypeSignVerify)
	if err != nil {
		return nil, nil, err
	}
	if !slices.Contains(keyspec.AlgorithmsFor(k.KeySpec, k.KeyUsage).Signing, *alg) {
		k.Release()
		return nil, nil, algorithmMismatch(*alg, k.Key)
	}
	return k, k.private, nil
}

// signRequest records the condition values of Sign and Verify.
func (s *Service) signRequest(call *Call, alg *kmsapi.SigningAlgorithmSpec, mt *kmsapi.MessageType, tokens []string) error {
	call.Cond.Set("kms:SigningAlgorithm", string(*alg))
	call.Cond.Set("kms:MessageType", string(messageType(mt)))
	return s.useGrantTokens(call, tokens)
}

func messageType(mt *kmsapi.MessageType) kmsapi.MessageType {
	if mt == nil {
		return kmsapi.MessageTypeRaw
	}
	return *mt
}

func (s *Service) Sign(ctx context.Context, call *Call, in *kmsapi.SignRequest) (*kmsapi.SignResponse, error) {
	if err := s.signRequest(call, in.SigningAlgorithm, in.MessageType, in.GrantTokens); err != nil {
		return nil, err
	}
	k, pk, err := s.signingKey(call, in.GetKeyId(), "kms:Sign", in.SigningAlgorithm)
	if err != nil {
		return nil, s.internalError(ctx, "Sign", err)
	}
	defer k.Release()
	mt := messageType(in.MessageType)
	// Signed even in a dry run, which answers after every check (the
	// digest's length, the message type).
	sig, err := pk.Sign(*in.SigningAlgorithm, mt, in.Message, s.rand)
	if err != nil {
		return nil, s.internalError(ctx, "Sign", signingError(err, k.Key, *in.SigningAlgorithm, mt))
	}
	if in.GetDryRun() {
		return nil, dryRunError()
	}
	s.used(call, k.Key, kmsapi.KeyLastUsageTrackingOperationSign)
	return &kmsapi.SignResponse{KeyId: new(k.ARN()), Signature: sig, SigningAlgorithm: in.SigningAlgorithm}, nil
}

func (s *Service) Verify(ctx context.Context, call *Call, in *kmsapi.VerifyRequest) (*kmsapi.VerifyResponse, error) {
	if err := s.signRequest(call, in.SigningAlgorithm, in.MessageType, in.GrantTokens); err != nil {
		return nil, err
	}
	k, pk, err := s.signingKey(call, in.GetKeyId(), "kms:Verify", in.SigningAlgorithm)
	if err != nil {
		return nil, s.internalError(ctx, "Verify", err)
	}
	defer k.Release()
	mt := messageType(in.MessageType)
	if err := pk.Verify(*in.SigningAlgorithm, mt, in.Message, in.Signature); err != nil {
		return nil, s.internalError(ctx, "Verify", signingError(err, k.Key, *in.SigningAlgorithm, mt))
	}
	if in.GetDryRun() {
		return nil, dryRunError()
	}
	s.used(call, k.Key, kmsapi.KeyLastUsageTrackingOperationVerify)
	return &kmsapi.VerifyResponse{KeyId: new(k.ARN()), SignatureValid: new(true), SigningAlgorithm: in.SigningAlgorithm}, nil
}

func (s *Service) GetPublicKey(ctx context.Context, call *Call, in *kmsapi.GetPublicKeyRequest) (*kmsapi.GetPublicKeyResponse, error) {
	if err := s.useGrantTokens(call, in.GrantTokens); err != nil {
		return nil, err
	}
	k, err := s.liveKeyFor(call, in.GetKeyId(), "kms:GetPublicKey")
	if err != nil {
		return nil, s.internalError(ctx, "GetPublicKey", err)
	}
	defer k.Release()
	if err := checkUsable(k.Key, s.now()); err != nil {
		return nil, err
	}
	if k.private == nil || k.KeyUsage == kmsapi.KeyUsageTypeGenerateVerifyMac {
		// AWS answers without a message.
		return nil, kmsapi.Errorf(kmsapi.UnsupportedOperationException, "")
	}
	pk := k.private
	der, err := pk.PublicKey()
	if err != nil {
		return nil, s.internalError(ctx, "GetPublicKey", err)
	}
	algs := keyspec.AlgorithmsFor(k.KeySpec, k.KeyUsage)
	return &kmsapi.GetPublicKeyResponse{
		KeyId:                   new(k.ARN()),
		PublicKey:               der,
		CustomerMasterKeySpec:   new(kmsapi.CustomerMasterKeySpec(k.KeySpec)),
		KeySpec:                 new(k.KeySpec),
		KeyUsage:                new(k.KeyUsage),
		EncryptionAlgorithms:    algs.Encryption,
		SigningAlgorithms:       algs.Signing,
		KeyAgreementAlgorithms:  algs.KeyAgreement,
		EncapsulationAlgorithms: algs.Encapsulation,
	}, nil
}

// macKey is the common start of GenerateMac and VerifyMac.
func (s *Service) macKey(call *Call, id, action string, alg *kmsapi.MacAlgorithmSpec) (*liveKey, *keyspec.Key, error) {
	k, err := s.usableKey(call, id, action, kmsapi.KeyUsageTypeGenerateVerifyMac)
	if err != nil {
		return nil, nil, err
	}
	if !slices.Contains(keyspec.AlgorithmsFor(k.KeySpec, k.KeyUsage).MAC, *alg) {
		k.Release()
		return nil, nil, algorithmMismatch(*alg, k.Key)
	}
	return k, k.private, nil
}

func (s *Service) GenerateMac(ctx context.Context, call *Call, in *kmsapi.GenerateMacRequest) (*kmsapi.GenerateMacResponse, error) {
	call.Cond.Set("kms:MacAlgorithm", string(*in.MacAlgorithm))
	if err := s.useGrantTokens(call, in.GrantTokens); err != nil {
		return nil, err
	}
	k, pk, err := s.macKey(call, in.GetKeyId(), "kms:GenerateMac", in.MacAlgorithm)
	if err != nil {
		return nil, s.internalError(ctx, "GenerateMac", err)
	}
	defer k.Release()
	if in.GetDryRun() {
		return nil, dryRunError()
	}
	mac, err := pk.MAC(*in.MacAlgorithm, in.Message)
	if err != nil {
		return nil, s.internalError(ctx, "GenerateMac", err)
	}
	s.used(call, k.Key, kmsapi.KeyLastUsageTrackingOperationGenerateMac)
	return &kmsapi.GenerateMacResponse{Mac: mac, MacAlgorithm: in.MacAlgorithm, KeyId: new(k.ARN())}, nil
}

func (s *Service) VerifyMac(ctx context.Context, call *Call, in *kmsapi.VerifyMacRequest) (*kmsapi.VerifyMacResponse, error) {
	call.Cond.Set("kms:MacAlgorithm", string(*in.MacAlgorithm))
	if err := s.useGrantTokens(call, in.GrantTokens); err != nil {
		return nil, err
	}
	k, pk, err := s.macKey(call, in.GetKeyId(), "kms:VerifyMac", in.MacAlgorithm)
	if err != nil {
		return nil, s.internalError(ctx, "VerifyMac", err)
	}
	defer k.Release()
	if err := pk.VerifyMAC(*in.MacAlgorithm, in.Message, in.Mac); err != nil {
		if errors.Is(err, keyspec.ErrInvalidMAC) {
			return nil, kmsapi.Errorf(kmsapi.KMSInvalidMacException, "")
		}
		return nil, s.internalError(ctx, "VerifyMac", err)
	}
	if in.GetDryRun() {
		return nil, dryRunError()
	}
	s.used(call, k.Key, kmsapi.KeyLastUsageTrackingOperationVerifyMac)
	return &kmsapi.VerifyMacResponse{KeyId: new(k.ARN()), MacValid: new(true), MacAlgorithm: in.MacAlgorithm}, nil
}

func (s *Service) DeriveSharedSecret(ctx context.Context, call *Call, in *kmsapi.DeriveSharedSecretRequest) (*kmsapi.DeriveSharedSecretResponse, error) {
	if in.Recipient != nil {
		return nil, kmsapi.Errorf(kmsapi.UnsupportedOperationException, "Recipient is not supported by this server yet.")
	}
	call.Cond.Set("kms:KeyAgreementAlgorithm", string(*in.KeyAgreementAlgorithm))
	if err := s.useGrantTokens(call, in.GrantTokens); err != nil {
		return nil, err
	}
	k, err := s.usableKey(call, in.GetKeyId(), "kms:DeriveSharedSecret", kmsapi.KeyUsageTypeKeyAgreement)
	if err != nil {
		return nil, s.internalError(ctx, "DeriveSharedSecret", err)
	}
	defer k.Release()
	alg := *in.KeyAgreementAlgorithm
	if !slices.Contains(keyspec.AlgorithmsFor(k.KeySpec, k.KeyUsage).KeyAgreement, alg) {
		return nil, algorithmMismatch(alg, k.Key)
	}
	secret, err := k.private.DeriveSharedSecret(alg, in.PublicKey)
	if errors.Is(err, keyspec.ErrInvalidPeerKey) {
		// AWS answers without a message.
		return nil, kmsapi.Errorf(kmsapi.ValidationException, "")
	}
	if err != nil {
		return nil, s.internalError(ctx, "DeriveSharedSecret", err)
	}
	if in.GetDryRun() {
		clear(secret)
		return nil, dryRunError()
	}
	s.used(call, k.Key, kmsapi.KeyLastUsageTrackingOperationDeriveSharedSecret)
	return &kmsapi.DeriveSharedSecretResponse{
		KeyId:                 new(k.ARN()),
		SharedSecret:          secret,
		KeyAgreementAlgorithm: new(alg),
		KeyOrigin:             new(k.Origin),
	}, nil
}

// kemKey is the common start of Encapsulate and Decapsulate.
func (s *Service) kemKey(call *Call, id, action string, alg *kmsapi.EncapsulationAlgorithmSpec) (*liveKey, *keyspec.Key, error) {
	k, err := s.usableKey(call, id, action, kmsapi.KeyUsageTypeEncapsulateDecapsulate)
	if err != nil {
		return nil, nil, err
	}
	if alg != nil && !slices.Contains(keyspec.AlgorithmsFor(k.KeySpec, k.KeyUsage).Encapsulation, *alg) {
		k.Release()
		return nil, nil, algorithmMismatch(*alg, k.Key)
	}
	return k, k.private, nil
}

func (s *Service) Encapsulate(ctx context.Context, call *Call, in *kmsapi.EncapsulateRequest) (*kmsapi.EncapsulateResponse, error) {
	if err := s.useGrantTokens(call, in.GrantTokens); err != nil {
		return nil, err
	}
	k, pk, err := s.kemKey(call, in.GetKeyId(), "kms:Encapsulate", in.EncapsulationAlgorithm)
	if err != nil {
		return nil, s.internalError(ctx, "Encapsulate", err)
	}
	defer k.Release()
	if in.GetDryRun() {
		return nil, dryRunError()
	}
	ct, secret, err := pk.Encapsulate(s.rand)
	if err != nil {
		return nil, s.internalError(ctx, "Encapsulate", err)
	}
	s.used(call, k.Key, kmsapi.KeyLastUsageTrackingOperationEncapsulate)
	return &kmsapi.EncapsulateResponse{
		KeyId:                      new(k.ARN()),
		SharedSecret:               secret,
		SharedSecretCiphertextBlob: ct,
		EncapsulationAlgorithm:     new(kmsapi.EncapsulationAlgorithmSpecMlKem),
	}, nil
}

func (s *Service) Decapsulate(ctx context.Context, call *Call, in *kmsapi.DecapsulateRequest) (*kmsapi.DecapsulateResponse, error) {
	if err := s.useGrantTokens(call, in.GrantTokens); err != nil {
		return nil, err
	}
	k, pk, err := s.kemKey(call, in.GetKeyId(), "kms:Decapsulate", in.EncapsulationAlgorithm)
	if err != nil {
		return nil, s.internalError(ctx, "Decapsulate", err)
	}
	defer k.Release()
	secret, err := pk.Decapsulate(in.SharedSecretCiphertextBlob)
	if errors.Is(err, keyspec.ErrInvalidCiphertext) {
		return nil, invalidCiphertext()
	}
	if err != nil {
		return nil, s.internalError(ctx, "Decapsulate", err)
	}
	if in.GetDryRun() {
		clear(secret)
		return nil, dryRunError()
	}
	s.used(call, k.Key, kmsapi.KeyLastUsageTrackingOperationDecapsulate)
	return &kmsapi.DecapsulateResponse{
		KeyId:                  new(k.ARN()),
		SharedSecret:           secret,
		EncapsulationAlgorithm: new(kmsapi.EncapsulationAlgorithmSpecMlKem),
	}, nil
}

// generateDataKeyPair makes a key pair and encrypts its private key under a
// symmetric key.
func (s *Service) generateDataKeyPair(ctx context.Context, call *Call, op, keyID string, spec kmsapi.DataKeyPairSpec,
	ec map[string]string, tokens []string, dryRun bool) (arn string, private, public, blob []byte, mid ciphertext.MaterialID, err error) {
	if err := checkContexts(ec); err != nil {
		return "", nil, nil, nil, mid, err
	}
	if err := s.cryptoRequest(call, ec, nil, tokens); err != nil {
		return "", nil, nil, nil, mid, err
	}
	call.Cond.Set("kms:DataKeyPairSpec", string(spec))
	k, err := s.usableKey(call, keyID, "kms:"+op, kmsapi.KeyUsageTypeEncryptDecrypt)
	if err != nil {
		return "", nil, nil, nil, mid, s.internalError(ctx, op, err)
	}
	defer k.Release()
	if err := symmetricOnly(k.Key); err != nil {
		return "", nil, nil, nil, mid, err
	}
	// The pair's spec is checked before a dry run answers (a data key
	// pair's spec names a key spec of the same name).
	unsupported := func() error {
		return kmsapi.Errorf(kmsapi.UnsupportedOperationException,
			"KeyPairSpec %s is not supported by this server. AWS KMS offers it only in the China Regions.", spec)
	}
	if !keyspec.Supported(kmsapi.KeySpec(spec)) {
		return "", nil, nil, nil, mid, unsupported()
	}
	if dryRun {
		return "", nil, nil, nil, mid, dryRunError()
	}
	private, public, err = keyspec.GenerateDataKeyPair(spec, s.rand)
	if errors.Is(err, keyspec.ErrUnsupportedSpec) {
		return "", nil, nil, nil, mid, unsupported()
	}
	if err != nil {
		return "", nil, nil, nil, mid, s.internalError(ctx, op, err)
	}
	blob, mid, err = s.seal(k, private, ec)
	if err != nil {
		clear(private)
		return "", nil, nil, nil, mid, s.internalError(ctx, op, err)
	}
	s.used(call, k.Key, kmsapi.KeyLastUsageTrackingOperation(op))
	return k.ARN(), private, public, blob, mid, nil
}

func (s *Service) GenerateDataKeyPair(ctx context.Context, call *Call, in *kmsapi.GenerateDataKeyPairRequest) (*kmsapi.GenerateDataKeyPairResponse, error) {
	if in.Recipient != nil {
		return nil, kmsapi.Errorf(kmsapi.UnsupportedOperationException, "Recipient is not supported by this server yet.")
	}
	arn, private, public, blob, mid, err := s.generateDataKeyPair(ctx, call, "GenerateDataKeyPair", in.GetKeyId(), *in.KeyPairSpec, in.EncryptionContext, in.GrantTokens, in.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &kmsapi.GenerateDataKeyPairResponse{
		PrivateKeyCiphertextBlob: blob,
		PrivateKeyPlaintext:      private,
		PublicKey:                public,
		KeyId:                    new(arn),
		KeyPairSpec:              in.KeyPairSpec,
		KeyMaterialId:            new(mid.String()),
	}, nil
}

func (s *Service) GenerateDataKeyPairWithoutPlaintext(ctx context.Context, call *Call, in *kmsapi.GenerateDataKeyPairWithoutPlaintextRequest) (*kmsapi.GenerateDataKeyPairWithoutPlaintextResponse, error) {
	arn, private, public, blob, mid, err := s.generateDataKeyPair(ctx, call, "GenerateDataKeyPairWithoutPlaintext", in.GetKeyId(), *in.KeyPairSpec, in.EncryptionContext, in.GrantTokens, in.GetDryRun())
	if err != nil {
		return nil, err
	}
	clear(private)
	return &kmsapi.GenerateDataKeyPairWithoutPlaintextResponse{
		PrivateKeyCiphertextBlob: blob,
		PublicKey:                public,
		KeyId:                    new(arn),
		KeyPairSpec:              in.KeyPairSpec,
		KeyMaterialId:            new(mid.String()),
	}, nil
}
