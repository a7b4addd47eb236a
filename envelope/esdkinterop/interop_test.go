package esdkinterop

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	mpl "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygenerated"
	mpltypes "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygeneratedtypes"
	esdk "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygenerated"
	esdktypes "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygeneratedtypes"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/envelope"
	"github.com/trent-kms/trent/envelope/internal/trenttest"
)

// official wraps the official SDK's client and keyring constructors.
type official struct {
	t   *testing.T
	mpl *mpl.Client
	sdk *esdk.Client
	kms *kms.Client
}

func newOfficial(t *testing.T, c *kms.Client) *official {
	m, err := mpl.NewClient(mpltypes.MaterialProvidersConfig{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := esdk.NewClient(esdktypes.AwsEncryptionSdkConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return &official{t: t, mpl: m, sdk: s, kms: c}
}

// keyring is the official KMS keyring for one key, or a multi-keyring of
// a generator and children.
func (o *official) keyring(keys ...string) mpltypes.IKeyring {
	o.t.Helper()
	var rings []mpltypes.IKeyring
	for _, k := range keys {
		kr, err := o.mpl.CreateAwsKmsKeyring(context.Background(), mpltypes.CreateAwsKmsKeyringInput{KmsClient: o.kms, KmsKeyId: k})
		if err != nil {
			o.t.Fatal(err)
		}
		rings = append(rings, kr)
	}
	if len(rings) == 1 {
		return rings[0]
	}
	kr, err := o.mpl.CreateMultiKeyring(context.Background(), mpltypes.CreateMultiKeyringInput{Generator: rings[0], ChildKeyrings: rings[1:]})
	if err != nil {
		o.t.Fatal(err)
	}
	return kr
}

func (o *official) discovery(accounts ...string) mpltypes.IKeyring {
	o.t.Helper()
	kr, err := o.mpl.CreateAwsKmsDiscoveryKeyring(context.Background(), mpltypes.CreateAwsKmsDiscoveryKeyringInput{
		KmsClient: o.kms, DiscoveryFilter: &mpltypes.DiscoveryFilter{AccountIds: accounts, Partition: "aws"},
	})
	if err != nil {
		o.t.Fatal(err)
	}
	return kr
}

func (o *official) encrypt(pt []byte, suite *envelope.AlgorithmSuite, frame int64, ec map[string]string, kr mpltypes.IKeyring) []byte {
	o.t.Helper()
	id := mpltypes.ESDKAlgorithmSuiteId(fmt.Sprintf("0x%04X", suite.ID))
	out, err := o.sdk.Encrypt(context.Background(), esdktypes.EncryptInput{
		Plaintext: pt, AlgorithmSuiteId: &id, FrameLength: &frame, EncryptionContext: ec, Keyring: kr,
	})
	if err != nil {
		o.t.Fatalf("official Encrypt: %v", err)
	}
	return out.Ciphertext
}

func (o *official) decrypt(msg []byte, ec map[string]string, kr mpltypes.IKeyring) ([]byte, error) {
	out, err := o.sdk.Decrypt(context.Background(), esdktypes.DecryptInput{Ciphertext: msg, EncryptionContext: ec, Keyring: kr})
	if err != nil {
		return nil, err
	}
	return out.Plaintext, nil
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

var suites = []*envelope.AlgorithmSuite{envelope.SuiteCommitKeyECDSAP384, envelope.SuiteCommitKey}

// TestPackageToOfficial: messages the envelope package writes decrypt with
// the official SDK, for each suite, with several keys, each key alone and a
// discovery keyring with an account filter.
func TestPackageToOfficial(t *testing.T) {
	ctx := context.Background()
	_, c := trenttest.Start(t)
	k1, k2, k3 := trenttest.CreateKey(t, c), trenttest.CreateKey(t, c), trenttest.CreateKey(t, c)
	o := newOfficial(t, c)
	ec := map[string]string{"purpose": "interop", "team": "trent"}
	for _, suite := range suites {
		for _, size := range []int{0, 1, 4096, 300_000, 3<<20 + 17} {
			for _, frame := range []int{4096, envelope.DefaultFrameLength} {
				name := fmt.Sprintf("%04x/size%d/frame%d", suite.ID, size, frame)
				pt := randBytes(size)
				msg, _, err := envelope.Encrypt(ctx, pt, envelope.EncryptConfig{
					Keyring: &envelope.KMSKeyring{Client: c, Generator: k1, KeyIDs: []string{k2, k3}},
					Suite:   suite, FrameLength: frame, Context: ec,
				})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for i, kr := range []mpltypes.IKeyring{o.keyring(k1), o.keyring(k2), o.keyring(k3), o.discovery(trenttest.Account)} {
					got, err := o.decrypt(msg, ec, kr)
					if err != nil || !bytes.Equal(got, pt) {
						t.Fatalf("%s: official decrypt with keyring %d: %v", name, i, err)
					}
				}
				if size > 4096 {
					continue
				}
				// The official SDK refuses a flipped bit, a wrong context and another account's filter.
				bad := bytes.Clone(msg)
				bad[len(bad)/2] ^= 0x10
				if _, err := o.decrypt(bad, ec, o.keyring(k1)); err == nil {
					t.Fatalf("%s: official SDK accepted a flipped bit", name)
				}
				if _, err := o.decrypt(msg, map[string]string{"purpose": "other"}, o.keyring(k1)); err == nil {
					t.Fatalf("%s: official SDK accepted a wrong context", name)
				}
				if _, err := o.decrypt(msg, ec, o.discovery("444455556666")); err == nil {
					t.Fatalf("%s: official SDK decrypted with another account's filter", name)
				}
			}
		}
	}
}

// TestOfficialToPackage: messages the official SDK writes decrypt with the
// envelope package.
func TestOfficialToPackage(t *testing.T) {
	ctx := context.Background()
	_, c := trenttest.Start(t)
	k1, k2, k3 := trenttest.CreateKey(t, c), trenttest.CreateKey(t, c), trenttest.CreateKey(t, c)
	o := newOfficial(t, c)
	ec := map[string]string{"purpose": "interop"}
	for _, suite := range suites {
		for _, size := range []int{0, 1, 4096, 300_000, 2<<20 + 5} {
			for _, frame := range []int64{4096, 1 << 20} {
				name := fmt.Sprintf("%04x/size%d/frame%d", suite.ID, size, frame)
				pt := randBytes(size)
				msg := o.encrypt(pt, suite, frame, ec, o.keyring(k1, k2, k3))
				keyrings := []envelope.Keyring{
					&envelope.KMSKeyring{Client: c, KeyIDs: []string{k1}},
					&envelope.KMSKeyring{Client: c, KeyIDs: []string{k3}},
					&envelope.KMSKeyring{Client: c, Discovery: true, Filter: &envelope.DiscoveryFilter{Partition: "aws", AccountIDs: []string{trenttest.Account}}},
					&envelope.KMSKeyring{Client: c, Discovery: true, Filter: &envelope.DiscoveryFilter{KeyARNs: []string{k2}}},
				}
				for i, kr := range keyrings {
					got, h, err := envelope.Decrypt(ctx, msg, envelope.DecryptConfig{Keyring: kr, Context: ec})
					if err != nil || !bytes.Equal(got, pt) {
						t.Fatalf("%s: decrypt with keyring %d: %v", name, i, err)
					}
					if h.Suite != suite || int64(h.FrameLength) != frame || len(h.EncryptedDataKeys) != 3 {
						t.Fatalf("%s: header %v %d %d", name, h.Suite, h.FrameLength, len(h.EncryptedDataKeys))
					}
				}
				if _, _, err := envelope.Decrypt(ctx, msg, envelope.DecryptConfig{
					Keyring: &envelope.KMSKeyring{Client: c, Discovery: true, Filter: &envelope.DiscoveryFilter{AccountIDs: []string{"444455556666"}}},
				}); err == nil {
					t.Fatalf("%s: decrypted with another account's filter", name)
				}
			}
		}
	}
}

// TestRequiredContextInterop: pairs authenticated but not stored (the
// official required encryption context CMM) work both ways.
func TestRequiredContextInterop(t *testing.T) {
	ctx := context.Background()
	_, c := trenttest.Start(t)
	k1 := trenttest.CreateKey(t, c)
	o := newOfficial(t, c)
	ec := map[string]string{"tenant": "acme", "purpose": "interop"}
	pt := randBytes(10_000)

	// Ours to theirs.
	msg, _, err := envelope.Encrypt(ctx, pt, envelope.EncryptConfig{
		Keyring: &envelope.KMSKeyring{Client: c, Generator: k1}, Context: ec, RequiredContextKeys: []string{"tenant"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := o.decrypt(msg, map[string]string{"tenant": "acme"}, o.keyring(k1)); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("official decrypt with the required pair: %v", err)
	}
	if _, err := o.decrypt(msg, nil, o.keyring(k1)); err == nil {
		t.Fatal("official decrypt without the required pair succeeded")
	}

	// Theirs to ours.
	def, err := o.mpl.CreateDefaultCryptographicMaterialsManager(ctx, mpltypes.CreateDefaultCryptographicMaterialsManagerInput{Keyring: o.keyring(k1)})
	if err != nil {
		t.Fatal(err)
	}
	cmm, err := o.mpl.CreateRequiredEncryptionContextCMM(ctx, mpltypes.CreateRequiredEncryptionContextCMMInput{
		RequiredEncryptionContextKeys: []string{"tenant"}, UnderlyingCMM: def,
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := o.sdk.Encrypt(ctx, esdktypes.EncryptInput{Plaintext: pt, EncryptionContext: ec, MaterialsManager: cmm})
	if err != nil {
		t.Fatal(err)
	}
	kr := &envelope.KMSKeyring{Client: c, KeyIDs: []string{k1}}
	if got, _, err := envelope.Decrypt(ctx, out.Ciphertext, envelope.DecryptConfig{Keyring: kr, Context: map[string]string{"tenant": "acme"}}); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("decrypt with the required pair: %v", err)
	}
	if _, _, err := envelope.Decrypt(ctx, out.Ciphertext, envelope.DecryptConfig{Keyring: kr}); err == nil {
		t.Fatal("decrypt without the required pair succeeded")
	}
}
