package envelope

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// KMSClient is the part of an AWS KMS client the keyring uses. The AWS SDK
// for Go v2's *kms.Client satisfies it, against AWS or against trent.
type KMSClient interface {
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, opts ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Encrypt(ctx context.Context, in *kms.EncryptInput, opts ...func(*kms.Options)) (*kms.EncryptOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// KMSProviderID is the key provider ID of data keys encrypted by AWS KMS.
const KMSProviderID = "aws-kms"

// KMSKeyring encrypts data keys with AWS KMS keys.
//
// To encrypt, Generator generates the data key (GenerateDataKey) and each of
// KeyIDs encrypts a further copy (Encrypt); any key identifier works (key
// ID, ARN, alias name or alias ARN) and the message records the key ARN that
// KMS answers with.
//
// To decrypt, a keyring with keys tries the message's encrypted data keys
// whose ARN is one of Generator and KeyIDs, which must then be key ARNs. A
// keyring with Discovery set instead tries any KMS key named in the message
// that the filter allows.
type KMSKeyring struct {
	Client      KMSClient
	Generator   string
	KeyIDs      []string
	GrantTokens []string
	// Discovery makes the keyring decrypt with whatever key the message
	// names, as allowed by Filter. A discovery keyring cannot encrypt.
	Discovery bool
	Filter    *DiscoveryFilter
}

// DiscoveryFilter limits a discovery keyring to some keys. A nil filter
// allows every key. A key passes when its partition matches (if Partition is
// set) and either its account is in AccountIDs or its ARN is in KeyARNs; if
// both lists are empty, any account passes.
type DiscoveryFilter struct {
	Partition  string
	AccountIDs []string
	KeyARNs    []string
}

func (f *DiscoveryFilter) allows(a *keyARN) bool {
	if f == nil {
		return true
	}
	if f.Partition != "" && f.Partition != a.partition {
		return false
	}
	if len(f.AccountIDs) == 0 && len(f.KeyARNs) == 0 {
		return true
	}
	return slices.Contains(f.AccountIDs, a.account) || slices.Contains(f.KeyARNs, a.raw)
}

// keyARN is a parsed AWS KMS ARN.
type keyARN struct {
	raw, partition, region, account, resourceType, resource string
}

func parseKMSARN(s string) (*keyARN, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] != "kms" || parts[3] == "" || parts[4] == "" {
		return nil, fmt.Errorf("envelope: %q is not an AWS KMS ARN", s)
	}
	typ, res, ok := strings.Cut(parts[5], "/")
	if !ok || res == "" || (typ != "key" && typ != "alias") {
		return nil, fmt.Errorf("envelope: %q is not an AWS KMS key or alias ARN", s)
	}
	return &keyARN{raw: s, partition: parts[1], region: parts[3], account: parts[4], resourceType: typ, resource: res}, nil
}

// OnEncrypt implements Keyring.
func (k *KMSKeyring) OnEncrypt(ctx context.Context, m *EncryptionMaterials) error {
	if k.Discovery {
		return errors.New("envelope: a discovery keyring cannot encrypt")
	}
	var added []EncryptedDataKey
	dataKey := m.DataKey
	if dataKey == nil {
		if k.Generator == "" {
			return errors.New("envelope: the keyring has no generator key to make a data key with")
		}
		out, err := k.Client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
			KeyId:             aws.String(k.Generator),
			NumberOfBytes:     aws.Int32(int32(m.Suite.KeyLength)),
			EncryptionContext: m.Context,
			GrantTokens:       k.GrantTokens,
		})
		if err != nil {
			return fmt.Errorf("envelope: KMS GenerateDataKey with %s: %w", k.Generator, err)
		}
		if len(out.Plaintext) != m.Suite.KeyLength {
			return fmt.Errorf("envelope: KMS returned a data key of %d bytes, not %d", len(out.Plaintext), m.Suite.KeyLength)
		}
		if _, err := parseKMSARN(aws.ToString(out.KeyId)); err != nil {
			return fmt.Errorf("envelope: KMS GenerateDataKey answered with key %q: %w", aws.ToString(out.KeyId), err)
		}
		dataKey = out.Plaintext
		added = append(added, EncryptedDataKey{ProviderID: KMSProviderID, ProviderInfo: []byte(aws.ToString(out.KeyId)), Ciphertext: out.CiphertextBlob})
	} else if k.Generator != "" {
		// Another keyring made the data key: the generator encrypts a copy like the others.
		added = nil
		if err := k.encryptCopy(ctx, k.Generator, m, dataKey, &added); err != nil {
			return err
		}
	}
	for _, id := range k.KeyIDs {
		if err := k.encryptCopy(ctx, id, m, dataKey, &added); err != nil {
			return err
		}
	}
	m.DataKey = dataKey
	m.EncryptedDataKeys = append(m.EncryptedDataKeys, added...)
	return nil
}

func (k *KMSKeyring) encryptCopy(ctx context.Context, id string, m *EncryptionMaterials, dataKey []byte, added *[]EncryptedDataKey) error {
	out, err := k.Client.Encrypt(ctx, &kms.EncryptInput{
		KeyId:             aws.String(id),
		Plaintext:         dataKey,
		EncryptionContext: m.Context,
		GrantTokens:       k.GrantTokens,
	})
	if err != nil {
		return fmt.Errorf("envelope: KMS Encrypt with %s: %w", id, err)
	}
	if _, err := parseKMSARN(aws.ToString(out.KeyId)); err != nil {
		return fmt.Errorf("envelope: KMS Encrypt answered with key %q: %w", aws.ToString(out.KeyId), err)
	}
	*added = append(*added, EncryptedDataKey{ProviderID: KMSProviderID, ProviderInfo: []byte(aws.ToString(out.KeyId)), Ciphertext: out.CiphertextBlob})
	return nil
}

// OnDecrypt implements Keyring.
func (k *KMSKeyring) OnDecrypt(ctx context.Context, m *DecryptionMaterials, keys []EncryptedDataKey) error {
	if m.DataKey != nil {
		return errors.New("envelope: decryption materials already hold a data key")
	}
	var errs []error
	tried := 0
	for _, edk := range keys {
		if edk.ProviderID != KMSProviderID {
			continue
		}
		arn, err := parseKMSARN(string(edk.ProviderInfo))
		if err != nil || arn.resourceType != "key" {
			errs = append(errs, fmt.Errorf("envelope: encrypted data key with provider info %q: not a KMS key ARN", edk.ProviderInfo))
			continue
		}
		if k.Discovery {
			if !k.Filter.allows(arn) {
				continue
			}
		} else if arn.raw != k.Generator && !slices.Contains(k.KeyIDs, arn.raw) {
			continue
		}
		tried++
		out, err := k.Client.Decrypt(ctx, &kms.DecryptInput{
			KeyId:             aws.String(arn.raw),
			CiphertextBlob:    edk.Ciphertext,
			EncryptionContext: m.Context,
			GrantTokens:       k.GrantTokens,
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("KMS Decrypt with %s: %w", arn.raw, err))
			continue
		}
		if aws.ToString(out.KeyId) != arn.raw {
			errs = append(errs, fmt.Errorf("KMS Decrypt with %s answered for key %s", arn.raw, aws.ToString(out.KeyId)))
			continue
		}
		if len(out.Plaintext) != m.Suite.KeyLength {
			errs = append(errs, fmt.Errorf("KMS Decrypt with %s returned %d bytes, not %d", arn.raw, len(out.Plaintext), m.Suite.KeyLength))
			continue
		}
		m.DataKey = out.Plaintext
		return nil
	}
	if tried == 0 && len(errs) == 0 {
		return fmt.Errorf("%w: none of the message's %d encrypted data keys is under a KMS key this keyring may use", ErrNoDecryptableKey, len(keys))
	}
	return fmt.Errorf("%w: %w", ErrNoDecryptableKey, errors.Join(errs...))
}

// ErrNoDecryptableKey: no encrypted data key of the message could be decrypted.
var ErrNoDecryptableKey = errors.New("envelope: no encrypted data key could be decrypted")
