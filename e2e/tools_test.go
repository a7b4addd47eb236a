package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	sopskms "github.com/getsops/sops/v3/kms"
	sigstoreaws "github.com/sigstore/sigstore/pkg/signature/kms/aws"
	sigstoreoptions "github.com/sigstore/sigstore/pkg/signature/options"
)

// Tools built on the AWS SDKs work against trent with nothing changed but
// the endpoint. Each test drives the tool's own KMS code (the package its
// command runs), configured the way its users configure it.

// toolEnvironment gives a tool the standard AWS environment and nothing of
// the machine's user: credentials from variables, no config files.
func toolEnvironment(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "credentials"))
	t.Setenv("AWS_ACCESS_KEY_ID", accessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secretKey)
	for _, v := range []string{"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CA_BUNDLE"} {
		t.Setenv(v, "") // restored after the test
		os.Unsetenv(v)
	}
}

// TestSOPS: sops encrypts a file's data key with a trent key and decrypts
// it again, through sops's own AWS KMS key source (the code the sops
// command runs), configured as a user would: the key's ARN, credentials and
// the endpoint from the environment (AWS_ENDPOINT_URL_KMS), nothing else.
func TestSOPS(t *testing.T) {
	s := startServer(t, t.TempDir())
	key := createKey(t, s.client(), "sops")
	toolEnvironment(t)
	t.Setenv("AWS_ENDPOINT_URL_KMS", s.URL)

	// sops writes the context it was given into the file's metadata and
	// passes it to every Encrypt and Decrypt.
	ec := sopskms.ParseKMSContext("app:payments,env:prod")
	dataKey := make([]byte, 32)
	rand.Read(dataKey)
	enc := sopskms.NewMasterKeyFromArn(*key.Arn, ec, "")
	if err := enc.Encrypt(dataKey); err != nil {
		t.Fatalf("sops: Encrypt: %v", err)
	}
	if len(enc.EncryptedKey) == 0 {
		t.Fatal("sops recorded no encrypted data key")
	}

	// Decrypting, as sops does from the metadata of the file.
	dec := sopskms.NewMasterKeyFromArn(*key.Arn, ec, "")
	dec.EncryptedKey = enc.EncryptedKey
	got, err := dec.Decrypt()
	if err != nil {
		t.Fatalf("sops: Decrypt: %v", err)
	}
	if !bytes.Equal(got, dataKey) {
		t.Fatal("sops decrypted another data key")
	}

	// The encryption context is bound: another one is refused.
	wrong := sopskms.NewMasterKeyFromArn(*key.Arn, sopskms.ParseKMSContext("app:payments,env:dev"), "")
	wrong.EncryptedKey = enc.EncryptedKey
	_, err = wrong.Decrypt()
	wantAPIError(t, err, "InvalidCiphertextException", "")
	// A disabled key stops sops too.
	if _, err := s.client().DisableKey(ctx, &kms.DisableKeyInput{KeyId: key.KeyId}); err != nil {
		t.Fatal(err)
	}
	_, err = dec.Decrypt()
	wantAPIError(t, err, "DisabledException", "")
}

// TestCosign: cosign's AWS KMS signer (sigstore's signature/kms/aws, what
// "cosign generate-key-pair --kms" and "cosign sign --key awskms://..." run)
// makes a key behind an alias, signs and verifies, against trent over TLS
// named in the key reference (awskms://host:port/alias/...) as its users
// name a KMS endpoint, with the CA in AWS_CA_BUNDLE.
func TestCosign(t *testing.T) {
	s, ca, dir := startTLSServer(t, "trent")
	toolEnvironment(t)
	t.Setenv("AWS_REGION", region)
	t.Setenv("AWS_CA_BUNDLE", ca.Write(t, dir, "ca"))
	ref := "awskms://" + strings.TrimPrefix(s.URL, "https://") + "/alias/cosign"

	sv, err := sigstoreaws.LoadSignerVerifier(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	// cosign generate-key-pair --kms: the alias does not exist yet (the
	// signer must see NotFoundException as such), so it makes the key.
	pub, err := sv.CreateKey(ctx, "ECC_NIST_P256")
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	ecPub, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("public key %T, want ECDSA", pub)
	}
	c := tlsClient(s.URL, &tls.Config{RootCAs: ca.Pool()}, 1)
	meta, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/cosign")})
	if err != nil {
		t.Fatal(err)
	}
	if meta.KeyMetadata.KeySpec != types.KeySpecEccNistP256 || meta.KeyMetadata.KeyUsage != types.KeyUsageTypeSignVerify {
		t.Fatalf("the key made for cosign: %s %s", meta.KeyMetadata.KeySpec, meta.KeyMetadata.KeyUsage)
	}
	got, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: meta.KeyMetadata.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	if want, err := x509.ParsePKIXPublicKey(got.PublicKey); err != nil || !ecPub.Equal(want) {
		t.Fatalf("cosign's public key is not the key's: %v", err)
	}
	// A second run finds the key instead of making another.
	if again, err := sv.CreateKey(ctx, "ECC_NIST_P256"); err != nil || !ecPub.Equal(again) {
		t.Fatalf("CreateKey again: %v", err)
	}

	// cosign sign: the payload is signed by the key in trent.
	payload := []byte(`{"critical":{"image":{"docker-manifest-digest":"sha256:0123"}}}`)
	sig, err := sv.SignMessage(bytes.NewReader(payload))
	if err != nil {
		t.Fatalf("SignMessage: %v", err)
	}
	digest := sha256.Sum256(payload)
	if !ecdsa.VerifyASN1(ecPub, digest[:], sig) {
		t.Fatal("the signature does not verify with the public key")
	}
	// cosign verify: locally with the public key, and by trent (Verify).
	if err := sv.VerifySignature(bytes.NewReader(sig), bytes.NewReader(payload)); err != nil {
		t.Fatalf("VerifySignature: %v", err)
	}
	if err := sv.VerifySignature(bytes.NewReader(sig), bytes.NewReader(payload), sigstoreoptions.WithRemoteVerification(true)); err != nil {
		t.Fatalf("VerifySignature by trent: %v", err)
	}
	tampered := append([]byte{}, payload...)
	tampered[len(tampered)-3] ^= 1
	if err := sv.VerifySignature(bytes.NewReader(sig), bytes.NewReader(tampered), sigstoreoptions.WithRemoteVerification(true)); err == nil {
		t.Fatal("trent verified a signature over another payload")
	}
}
