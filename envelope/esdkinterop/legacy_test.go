package esdkinterop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	mpltypes "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygeneratedtypes"
	esdk "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygenerated"
	esdktypes "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygeneratedtypes"

	"github.com/trent-kms/trent/envelope"
	"github.com/trent-kms/trent/envelope/internal/trenttest"
)

// TestLegacyMessages: the official SDK, told to write without key
// commitment, writes version 1 messages in each of the nine legacy suites;
// the package reads them when the commitment policy allows it and refuses
// them by default.
func TestLegacyMessages(t *testing.T) {
	ctx := context.Background()
	_, c := trenttest.Start(t)
	key := trenttest.CreateKey(t, c)
	o := newOfficial(t, c)
	policy := mpltypes.ESDKCommitmentPolicyForbidEncryptAllowDecrypt
	legacy, err := esdk.NewClient(esdktypes.AwsEncryptionSdkConfig{CommitmentPolicy: &policy})
	if err != nil {
		t.Fatal(err)
	}
	ec := map[string]string{"era": "v1"}
	kr := &envelope.KMSKeyring{Client: c, KeyIDs: []string{key}}
	for _, id := range []uint16{0x0014, 0x0046, 0x0078, 0x0114, 0x0146, 0x0178, 0x0214, 0x0346, 0x0378} {
		suite, _ := envelope.SuiteByID(id)
		for _, size := range []int{0, 4096, 100_000} {
			pt := randBytes(size)
			sid := mpltypes.ESDKAlgorithmSuiteId(fmt.Sprintf("0x%04X", id))
			frame := int64(4096)
			out, err := legacy.Encrypt(ctx, esdktypes.EncryptInput{Plaintext: pt, AlgorithmSuiteId: &sid, FrameLength: &frame, EncryptionContext: ec, Keyring: o.keyring(key)})
			if err != nil {
				t.Fatalf("%s: official Encrypt: %v", suite.Name, err)
			}
			if out.Ciphertext[0] != 1 {
				t.Fatalf("%s: version %d", suite.Name, out.Ciphertext[0])
			}
			if _, _, err := envelope.Decrypt(ctx, out.Ciphertext, envelope.DecryptConfig{Keyring: kr}); !errors.Is(err, envelope.ErrPolicy) {
				t.Fatalf("%s: read under the default policy: %v", suite.Name, err)
			}
			got, h, err := envelope.Decrypt(ctx, out.Ciphertext, envelope.DecryptConfig{Keyring: kr, Context: ec, CommitmentPolicy: envelope.RequireEncryptAllowDecrypt})
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("%s, %d bytes: %v", suite.Name, size, err)
			}
			if h.Version != 1 || h.Suite != suite {
				t.Fatalf("%s: header version %d suite %v", suite.Name, h.Version, h.Suite)
			}
			bad := bytes.Clone(out.Ciphertext)
			bad[len(bad)-20] ^= 1
			if _, _, err := envelope.Decrypt(ctx, bad, envelope.DecryptConfig{Keyring: kr, CommitmentPolicy: envelope.RequireEncryptAllowDecrypt}); err == nil {
				t.Fatalf("%s: flipped bit accepted", suite.Name)
			}
		}
	}
}
