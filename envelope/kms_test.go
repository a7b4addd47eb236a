package envelope

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

func TestKMSKeyringAgainstTrent(t *testing.T) {
	ctx := context.Background()
	c := startTrent(t)
	k1, k2, k3, other := createKey(t, c), createKey(t, c), createKey(t, c), createKey(t, c)
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/env-gen"), TargetKeyId: aws.String(k1)}); err != nil {
		t.Fatal(err)
	}
	keyID2 := k2[strings.LastIndex(k2, "/")+1:]
	ec := map[string]string{"backup": "nightly"}
	pt := randBytes(100_000)
	for _, suite := range []*AlgorithmSuite{SuiteCommitKeyECDSAP384, SuiteCommitKey} {
		// The generator by alias, the extra keys by key ID and by ARN: the
		// message records key ARNs.
		enc := &KMSKeyring{Client: c, Generator: "alias/env-gen", KeyIDs: []string{keyID2, k3}}
		msg, h, err := Encrypt(ctx, pt, EncryptConfig{Keyring: enc, Suite: suite, Context: ec})
		if err != nil {
			t.Fatal(err)
		}
		var arns []string
		for _, k := range h.EncryptedDataKeys {
			if k.ProviderID != KMSProviderID {
				t.Fatalf("provider %q", k.ProviderID)
			}
			arns = append(arns, string(k.ProviderInfo))
		}
		if strings.Join(arns, ",") != strings.Join([]string{k1, k2, k3}, ",") {
			t.Fatalf("encrypted data keys under %v, want %v", arns, []string{k1, k2, k3})
		}
		// Each key alone decrypts.
		for _, k := range []string{k1, k2, k3} {
			got, _, err := Decrypt(ctx, msg, DecryptConfig{Keyring: &KMSKeyring{Client: c, KeyIDs: []string{k}}, Context: ec})
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("decrypt with %s: %v", k, err)
			}
		}
		// A key not in the message does not, and KMS is not even asked.
		_, _, err = Decrypt(ctx, msg, DecryptConfig{Keyring: &KMSKeyring{Client: c, KeyIDs: []string{other}}})
		if !errors.Is(err, ErrNoDecryptableKey) {
			t.Fatalf("other key: %v", err)
		}
		// Discovery: by account, by ARN, refused for another account.
		for _, f := range []*DiscoveryFilter{nil, {Partition: "aws", AccountIDs: []string{"111122223333"}}, {KeyARNs: []string{k3}}} {
			got, _, err := Decrypt(ctx, msg, DecryptConfig{Keyring: &KMSKeyring{Client: c, Discovery: true, Filter: f}})
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("discovery %+v: %v", f, err)
			}
		}
		for _, f := range []*DiscoveryFilter{{AccountIDs: []string{"444455556666"}}, {Partition: "aws-cn", AccountIDs: []string{"111122223333"}}, {KeyARNs: []string{other}}} {
			if _, _, err := Decrypt(ctx, msg, DecryptConfig{Keyring: &KMSKeyring{Client: c, Discovery: true, Filter: f}}); !errors.Is(err, ErrNoDecryptableKey) {
				t.Fatalf("discovery %+v: %v", f, err)
			}
		}
		// Context: a wrong or missing pair is refused.
		disc := &KMSKeyring{Client: c, Discovery: true}
		if _, _, err := Decrypt(ctx, msg, DecryptConfig{Keyring: disc, Context: map[string]string{"backup": "weekly"}}); err == nil {
			t.Fatal("wrong context value accepted")
		}
		if _, _, err := Decrypt(ctx, msg, DecryptConfig{Keyring: disc, Context: map[string]string{"missing": "x"}}); err == nil {
			t.Fatal("missing context pair accepted")
		}
		// The limit on encrypted data keys.
		if _, _, err := Decrypt(ctx, msg, DecryptConfig{Keyring: disc, MaxEncryptedDataKeys: 2}); !errors.Is(err, ErrPolicy) {
			t.Fatalf("EDK limit: %v", err)
		}
	}
	// A discovery keyring does not encrypt.
	if _, _, err := Encrypt(ctx, pt, EncryptConfig{Keyring: &KMSKeyring{Client: c, Discovery: true}}); err == nil {
		t.Fatal("discovery keyring encrypted")
	}
}

// countingClient counts KMS calls.
type countingClient struct {
	KMSClient
	generate, decrypt atomic.Int64
}

func (c *countingClient) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, o ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	c.generate.Add(1)
	return c.KMSClient.GenerateDataKey(ctx, in, o...)
}

func (c *countingClient) Decrypt(ctx context.Context, in *kms.DecryptInput, o ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	c.decrypt.Add(1)
	return c.KMSClient.Decrypt(ctx, in, o...)
}
