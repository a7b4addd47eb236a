package e2e

import (
	"bytes"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// Interoperability with OpenSSL, a tool nobody here wrote: its verdict on
// trent's signatures, ciphertexts and shared secrets is independent.

const opensslBin = "/usr/bin/openssl"

func openssl(t *testing.T, args ...string) []byte {
	t.Helper()
	if _, err := os.Stat(opensslBin); err != nil {
		t.Fatalf("%s is missing: scripts/install-test-deps.sh installs it", opensslBin)
	}
	cmd := exec.Command(opensslBin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// publicKeyPEM fetches a key's public key from trent and writes it as PEM.
func publicKeyPEM(t *testing.T, c *kms.Client, keyID *string, dir string) string {
	t.Helper()
	out, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: keyID})
	if err != nil {
		t.Fatal(err)
	}
	der := filepath.Join(dir, "pub.der")
	os.WriteFile(der, out.PublicKey, 0o600)
	pem := filepath.Join(dir, "pub.pem")
	openssl(t, "pkey", "-pubin", "-inform", "DER", "-in", der, "-out", pem)
	return pem
}

func TestOpenSSLVerifiesSignatures(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	message := []byte("artifact digest to sign")
	for _, tc := range []struct {
		spec  types.KeySpec
		alg   types.SigningAlgorithmSpec
		flags []string // openssl dgst options besides -verify
	}{
		{types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, []string{"-sha256"}},
		{types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPssSha256, []string{"-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"}},
		{types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPssSha512, []string{"-sha512", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"}},
		{types.KeySpecEccNistP256, types.SigningAlgorithmSpecEcdsaSha256, []string{"-sha256"}},
		{types.KeySpecEccNistP384, types.SigningAlgorithmSpecEcdsaSha384, []string{"-sha384"}},
		{types.KeySpecEccNistP521, types.SigningAlgorithmSpecEcdsaSha512, []string{"-sha512"}},
		{types.KeySpecEccSecgP256k1, types.SigningAlgorithmSpecEcdsaSha256, []string{"-sha256"}},
		{types.KeySpecEccNistEdwards25519, types.SigningAlgorithmSpecEd25519Sha512, nil},
	} {
		t.Run(string(tc.spec)+"/"+string(tc.alg), func(t *testing.T) {
			dir := t.TempDir()
			k := createAsymmetricKey(t, c, tc.spec, types.KeyUsageTypeSignVerify)
			pem := publicKeyPEM(t, c, k.KeyId, dir)
			sig, err := c.Sign(ctx, &kms.SignInput{KeyId: k.KeyId, Message: message, SigningAlgorithm: tc.alg})
			if err != nil {
				t.Fatal(err)
			}
			msgFile, sigFile := filepath.Join(dir, "msg"), filepath.Join(dir, "sig")
			os.WriteFile(msgFile, message, 0o600)
			os.WriteFile(sigFile, sig.Signature, 0o600)
			var out []byte
			if tc.spec == types.KeySpecEccNistEdwards25519 {
				out = openssl(t, "pkeyutl", "-verify", "-pubin", "-inkey", pem, "-rawin", "-in", msgFile, "-sigfile", sigFile)
			} else {
				out = openssl(t, append(append([]string{"dgst"}, tc.flags...), "-verify", pem, "-signature", sigFile, msgFile)...)
			}
			if !bytes.Contains(out, []byte("Verified OK")) && !bytes.Contains(out, []byte("Signature Verified Successfully")) {
				t.Fatalf("openssl does not verify: %s", out)
			}
			// OpenSSL must also reject a tampered message, or this test proves nothing.
			os.WriteFile(msgFile, append(message, '!'), 0o600)
			cmd := []string{"dgst"}
			if tc.spec == types.KeySpecEccNistEdwards25519 {
				cmd = []string{"pkeyutl", "-verify", "-pubin", "-inkey", pem, "-rawin", "-in", msgFile, "-sigfile", sigFile}
			} else {
				cmd = append(append(cmd, tc.flags...), "-verify", pem, "-signature", sigFile, msgFile)
			}
			if err := exec.Command(opensslBin, cmd...).Run(); err == nil {
				t.Fatal("openssl verified a signature over a different message")
			}
		})
	}
}

func TestOpenSSLEncryptsForTrent(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	k := createAsymmetricKey(t, c, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	dir := t.TempDir()
	pem := publicKeyPEM(t, c, k.KeyId, dir)
	plaintext := []byte("a secret for the key holder")
	in := filepath.Join(dir, "plain")
	os.WriteFile(in, plaintext, 0o600)
	for _, tc := range []struct {
		alg types.EncryptionAlgorithmSpec
		md  string
	}{{types.EncryptionAlgorithmSpecRsaesOaepSha1, "sha1"}, {types.EncryptionAlgorithmSpecRsaesOaepSha256, "sha256"}} {
		ct := openssl(t, "pkeyutl", "-encrypt", "-pubin", "-inkey", pem, "-in", in,
			"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:"+tc.md, "-pkeyopt", "rsa_mgf1_md:"+tc.md)
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: k.KeyId, CiphertextBlob: ct, EncryptionAlgorithm: tc.alg})
		if err != nil || !bytes.Equal(dec.Plaintext, plaintext) {
			t.Fatalf("%s: trent does not decrypt what openssl encrypted: %v %q", tc.alg, err, dec.Plaintext)
		}
	}
	// And the other way: what trent encrypts, openssl cannot decrypt without
	// the private key, but the length is the modulus size.
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: plaintext, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	if err != nil || len(enc.CiphertextBlob) != 256 {
		t.Fatalf("Encrypt with RSA_2048: %v, %d bytes", err, len(enc.CiphertextBlob))
	}
}

func TestOpenSSLAgreesOnECDH(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	for _, curve := range []struct {
		spec types.KeySpec
		name string
	}{{types.KeySpecEccNistP256, "P-256"}, {types.KeySpecEccNistP384, "P-384"}, {types.KeySpecEccNistP521, "P-521"}} {
		t.Run(curve.name, func(t *testing.T) {
			dir := t.TempDir()
			k := createAsymmetricKey(t, c, curve.spec, types.KeyUsageTypeKeyAgreement)
			trentPub := publicKeyPEM(t, c, k.KeyId, dir)
			peer := filepath.Join(dir, "peer.pem")
			openssl(t, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:"+curve.name, "-out", peer)
			peerPubDER := openssl(t, "pkey", "-in", peer, "-pubout", "-outform", "DER")
			want := openssl(t, "pkeyutl", "-derive", "-inkey", peer, "-peerkey", trentPub)
			got, err := c.DeriveSharedSecret(ctx, &kms.DeriveSharedSecretInput{KeyId: k.KeyId, PublicKey: peerPubDER,
				KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.SharedSecret, want) || got.KeyAgreementAlgorithm != types.KeyAgreementAlgorithmSpecEcdh || got.KeyOrigin != types.OriginTypeAwsKms {
				t.Fatalf("shared secret %x, openssl derived %x", got.SharedSecret, want)
			}
		})
	}
	// A peer key on another curve is refused.
	k := createAsymmetricKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement)
	dir := t.TempDir()
	other := filepath.Join(dir, "p384.pem")
	openssl(t, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", other)
	der := openssl(t, "pkey", "-in", other, "-pubout", "-outform", "DER")
	_, err := c.DeriveSharedSecret(ctx, &kms.DeriveSharedSecretInput{KeyId: k.KeyId, PublicKey: der, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh})
	wantAPIError(t, err, "ValidationException", "")
}

// TestOpenSSLReadsDataKeyPairs: the PKCS#8 private keys of every data key
// pair spec, secp256k1 included (which Go's x509 cannot read), parse in
// OpenSSL and match their public keys.
func TestOpenSSLReadsDataKeyPairs(t *testing.T) {
	c := startServer(t, t.TempDir()).client()
	k := createKey(t, c, "wrapping")
	for _, spec := range []types.DataKeyPairSpec{types.DataKeyPairSpecRsa2048, types.DataKeyPairSpecEccNistP256,
		types.DataKeyPairSpecEccSecgP256k1, types.DataKeyPairSpecEccNistEdwards25519} {
		dir := t.TempDir()
		out, err := c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: k.KeyId, KeyPairSpec: spec})
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		priv := filepath.Join(dir, "priv.der")
		os.WriteFile(priv, out.PrivateKeyPlaintext, 0o600)
		pubFromPriv := openssl(t, "pkey", "-inform", "DER", "-in", priv, "-pubout", "-outform", "DER")
		if !bytes.Equal(pubFromPriv, out.PublicKey) {
			t.Fatalf("%s: openssl derives public key %x from the private key, trent returned %x", spec, sha256.Sum256(pubFromPriv), sha256.Sum256(out.PublicKey))
		}
	}
}
