package e2e

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/testclock"
)

// The key lifecycle over time: rotation, imported key material, multi-Region
// keys, deletion windows and last usage, against a trent whose clock the
// test moves (startWithClock), driven by the Go SDK, the AWS CLI (with
// today's KMS model) and OpenSSL.

const day = 24 * time.Hour

// clockStart is where a test clock starts: now, since requests are signed
// with the real time (the service's clock only dates keys and schedules).
func clockStart() time.Time { return time.Now().UTC().Truncate(time.Second) }

func createSymmetricKey(t *testing.T, c *kms.Client, in *kms.CreateKeyInput) *types.KeyMetadata {
	t.Helper()
	if in == nil {
		in = &kms.CreateKeyInput{}
	}
	out, err := c.CreateKey(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	return out.KeyMetadata
}

func encryptWith(t *testing.T, c *kms.Client, keyID, plaintext string) []byte {
	t.Helper()
	out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte(plaintext)})
	if err != nil {
		t.Fatal(err)
	}
	return out.CiphertextBlob
}

// decryptWith decrypts and returns the plaintext and the key material ID.
func decryptWith(t *testing.T, c *kms.Client, blob []byte) (string, string) {
	t.Helper()
	out, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	if err != nil {
		t.Fatal(err)
	}
	return string(out.Plaintext), aws.ToString(out.KeyMaterialId)
}

func describeWith(t *testing.T, c *kms.Client, keyID string) *types.KeyMetadata {
	t.Helper()
	out, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		t.Fatal(err)
	}
	return out.KeyMetadata
}

// cliJSON runs the AWS CLI and decodes its JSON output into v.
func (s *server) cliJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := s.cli(t, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// cliTime reads a date as the AWS CLI prints it.
func cliTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("the CLI printed the date %q: %v", s, err)
	}
	return at.UTC()
}

type cliRotation struct {
	KeyMaterialId    string
	KeyMaterialState string
	RotationType     string
	RotationDate     any
	ImportState      string
}

func (s *server) cliRotations(t *testing.T, keyID string, all bool) []cliRotation {
	t.Helper()
	args := []string{"kms", "list-key-rotations", "--key-id", keyID}
	if all {
		args = append(args, "--include-key-material", "ALL_KEY_MATERIAL")
	}
	var out struct{ Rotations []cliRotation }
	s.cliJSON(t, &out, args...)
	return out.Rotations
}

// auditEvents reads the server's audit log.
func auditEvents(t *testing.T, s *server) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.DataDir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var events []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var e map[string]any
		if err := json.Unmarshal(line, &e); err != nil {
			continue // the log's checkpoint records
		}
		if _, ok := e["eventName"]; ok {
			events = append(events, e)
		}
	}
	return events
}

// TestRotationOverAYear: with rotation on (set with the AWS CLI), a year
// passes on the server's clock, across a restart: the key has two
// materials, each decrypting its own ciphertexts, new ciphertexts use the
// new one, and the rotation is in the audit log as AWS's service event.
func TestRotationOverAYear(t *testing.T) {
	start := clockStart()
	clock := testclock.New(start)
	dir := t.TempDir()
	s := startWithClock(t, dir, clock)
	c := s.client()
	key := createSymmetricKey(t, c, nil)
	id := aws.ToString(key.KeyId)

	var status struct {
		KeyRotationEnabled   bool
		KeyId                string
		RotationPeriodInDays int
		NextRotationDate     string
	}
	s.cliJSON(t, &status, "kms", "get-key-rotation-status", "--key-id", id)
	if status.KeyRotationEnabled || status.RotationPeriodInDays != 0 {
		t.Fatalf("new key's rotation status: %+v", status)
	}
	s.cli(t, "kms", "enable-key-rotation", "--key-id", id)
	s.cliJSON(t, &status, "kms", "get-key-rotation-status", "--key-id", id)
	next := start.Add(365 * day)
	if !status.KeyRotationEnabled || status.RotationPeriodInDays != 365 || status.KeyId != keyARN(id) ||
		cliTime(t, status.NextRotationDate) != next {
		t.Fatalf("rotation status after enable-key-rotation: %+v (want next %v)", status, next)
	}
	// The CLI refuses 89 itself; the SDK sends it.
	_, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(89)})
	wantAPIError(t, err, "ValidationException", "")
	first := aws.ToString(key.CurrentKeyMaterialId)
	before := encryptWith(t, c, id, "written before the rotation")

	// The schedule is in the store: it survives a restart.
	s.stop()
	s = startWithClock(t, dir, clock)
	c = s.client()
	clock.Set(next.Add(-time.Second))
	s.runScheduled(t)
	if rs := s.cliRotations(t, id, false); len(rs) != 0 {
		t.Fatalf("rotated a second early: %+v", rs)
	}
	clock.Set(next)
	s.runScheduled(t)

	rs := s.cliRotations(t, id, false)
	if len(rs) != 1 || rs[0].RotationType != "AUTOMATIC" || rs[0].KeyMaterialState != "CURRENT" {
		t.Fatalf("list-key-rotations after a year: %+v", rs)
	}
	second := rs[0].KeyMaterialId
	all := s.cliRotations(t, id, true)
	if len(all) != 2 || all[0].KeyMaterialId != first || all[0].KeyMaterialState != "NON_CURRENT" || all[0].RotationDate != nil {
		t.Fatalf("list-key-rotations --include-key-material ALL_KEY_MATERIAL: %+v", all)
	}
	if got := aws.ToString(describeWith(t, c, id).CurrentKeyMaterialId); got != second {
		t.Fatalf("CurrentKeyMaterialId %s, want the new material %s", got, second)
	}
	after := encryptWith(t, c, id, "written after the rotation")
	if pt, mid := decryptWith(t, c, before); pt != "written before the rotation" || mid != first {
		t.Fatalf("old ciphertext: %q with material %s, want material %s", pt, mid, first)
	}
	if pt, mid := decryptWith(t, c, after); pt != "written after the rotation" || mid != second {
		t.Fatalf("new ciphertext: %q with material %s, want material %s", pt, mid, second)
	}
	gdk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256})
	if err != nil || aws.ToString(gdk.KeyMaterialId) != second {
		t.Fatalf("GenerateDataKey after the rotation: material %v, %v", aws.ToString(gdk.KeyMaterialId), err)
	}
	// The service event, in the shape of AWS's RotateKey example.
	found := false
	for _, e := range auditEvents(t, s) {
		if e["eventName"] != "RotateKey" {
			continue
		}
		found = true
		who, _ := e["userIdentity"].(map[string]any)
		details, _ := e["serviceEventDetails"].(map[string]any)
		_, hasRequestID := e["requestID"]
		if e["eventType"] != "AwsServiceEvent" || who["invokedBy"] != "AWS Internal" || who["accountId"] != account ||
			e["sourceIPAddress"] != "AWS Internal" || e["userAgent"] != "AWS Internal" || hasRequestID ||
			e["requestParameters"] != nil || e["responseElements"] != nil ||
			details["keyId"] != id || details["rotationType"] != "AUTOMATIC" || details["keyMaterialId"] != second {
			t.Fatalf("the RotateKey service event: %v", e)
		}
	}
	if !found {
		t.Fatal("no RotateKey service event in the audit log")
	}
}

// TestOnDemandRotationLimit: an on-demand rotation (asked for with the CLI)
// runs in the background and leaves the automatic schedule alone; one in
// progress makes another a ConflictException; AWS's limit of 25 holds.
func TestOnDemandRotationLimit(t *testing.T) {
	clock := testclock.New(clockStart())
	s := startWithClock(t, t.TempDir(), clock)
	c := s.client()
	id := aws.ToString(createSymmetricKey(t, c, nil).KeyId)
	var out struct{ KeyId string }
	s.cliJSON(t, &out, "kms", "rotate-key-on-demand", "--key-id", id)
	if out.KeyId != keyARN(id) {
		t.Fatalf("rotate-key-on-demand answered KeyId %q, want the ARN", out.KeyId)
	}
	st, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
	if err != nil || st.OnDemandRotationStartDate == nil || !st.OnDemandRotationStartDate.Equal(clock.Now()) {
		t.Fatalf("status while rotating: %+v, %v", st, err)
	}
	if errOut := s.cliErr(t, "kms", "rotate-key-on-demand", "--key-id", id); !strings.Contains(errOut, "ConflictException") {
		t.Fatalf("a second on-demand rotation while one runs: %s", errOut)
	}
	s.runScheduled(t)
	for i := 1; i < 25; i++ {
		if _, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)}); err != nil {
			t.Fatalf("on-demand rotation %d: %v", i+1, err)
		}
		s.runScheduled(t)
	}
	_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	wantAPIError(t, err, "LimitExceededException",
		"The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: "+keyARN(id))
	list, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id), Limit: aws.Int32(1000)})
	if err != nil || len(list.Rotations) != 25 || list.Rotations[24].RotationType != types.RotationTypeOnDemand {
		t.Fatalf("ListKeyRotations after 25 on-demand rotations: %d, %v", len(list.Rotations), err)
	}

	// Asymmetric keys do not rotate.
	rsa, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: rsa.KeyMetadata.KeyId})
	wantAPIError(t, err, "UnsupportedOperationException", "")
	st, err = c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: rsa.KeyMetadata.KeyId})
	if err != nil || st.KeyRotationEnabled {
		t.Fatalf("an RSA key's rotation status: %+v, %v", st, err)
	}
}

// opensslWrap wraps material for ImportKeyMaterial with OpenSSL, as AWS's
// instructions do: RSA-OAEP of the material, or for RSA_AES_KEY_WRAP an
// RSA-OAEP of a fresh AES key followed by the AES key wrap (RFC 5649) of
// the material under it.
func opensslWrap(t *testing.T, dir string, publicKey, material []byte, alg types.AlgorithmSpec) []byte {
	t.Helper()
	pub := filepath.Join(dir, "wrapping-key.der")
	in := filepath.Join(dir, "material.bin")
	os.WriteFile(pub, publicKey, 0o600)
	os.WriteFile(in, material, 0o600)
	md := "sha256"
	if strings.HasSuffix(string(alg), "SHA_1") {
		md = "sha1"
	}
	oaep := func(in, out string) {
		openssl(t, "pkeyutl", "-encrypt", "-in", in, "-out", out, "-inkey", pub, "-keyform", "DER", "-pubin",
			"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:"+md, "-pkeyopt", "rsa_mgf1_md:"+md)
	}
	out := filepath.Join(dir, "wrapped.bin")
	if strings.HasPrefix(string(alg), "RSAES_OAEP") {
		oaep(in, out)
		b, _ := os.ReadFile(out)
		return b
	}
	aesKey := filepath.Join(dir, "aes.key")
	openssl(t, "rand", "-out", aesKey, "32")
	kek, _ := os.ReadFile(aesKey)
	wrappedMaterial := filepath.Join(dir, "material.kwp")
	openssl(t, "enc", "-id-aes256-wrap-pad", "-K", hex.EncodeToString(kek), "-iv", "A65959A6", "-in", in, "-out", wrappedMaterial)
	oaep(aesKey, out)
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(wrappedMaterial)
	return append(a, b...)
}

// importWithOpenSSL asks trent for import parameters (with the SDK), wraps
// material with OpenSSL and imports it.
func importWithOpenSSL(t *testing.T, c *kms.Client, keyID string, material []byte, alg types.AlgorithmSpec, in *kms.ImportKeyMaterialInput) (*kms.ImportKeyMaterialOutput, error) {
	t.Helper()
	params, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{
		KeyId: aws.String(keyID), WrappingAlgorithm: alg, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	if err != nil {
		t.Fatal(err)
	}
	if in == nil {
		in = &kms.ImportKeyMaterialInput{ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire}
	}
	in.KeyId, in.ImportToken = aws.String(keyID), params.ImportToken
	in.EncryptedKeyMaterial = opensslWrap(t, t.TempDir(), params.PublicKey, material, alg)
	return c.ImportKeyMaterial(ctx, in)
}

// TestImportSymmetricWithOpenSSL: symmetric material wrapped by OpenSSL
// with both RSAES_OAEP algorithms (one import through the AWS CLI, as AWS
// documents it) encrypts and decrypts; it expires on time, not a second
// early; it can be deleted and imported again; other material is refused.
func TestImportSymmetricWithOpenSSL(t *testing.T) {
	start := clockStart()
	clock := testclock.New(start)
	s := startWithClock(t, t.TempDir(), clock)
	c := s.client()

	// RSAES_OAEP_SHA_1, through the SDK.
	material := []byte(strings.Repeat("k", 32))
	id := aws.ToString(createSymmetricKey(t, c, &kms.CreateKeyInput{Origin: types.OriginTypeExternal}).KeyId)
	blob := func() []byte {
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
		wantAPIError(t, err, "KMSInvalidStateException", keyARN(id)+" is pending import.")
		out, err := importWithOpenSSL(t, c, id, material, types.AlgorithmSpecRsaesOaepSha1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.KeyId) != keyARN(id) || len(aws.ToString(out.KeyMaterialId)) != 64 {
			t.Fatalf("ImportKeyMaterial answered %+v", out)
		}
		return encryptWith(t, c, id, "sha1-wrapped")
	}()
	if pt, _ := decryptWith(t, c, blob); pt != "sha1-wrapped" {
		t.Fatal("imported material does not decrypt its ciphertext")
	}

	// RSAES_OAEP_SHA_256, through the AWS CLI, with an expiry.
	var created struct {
		KeyMetadata struct{ KeyId, KeyState string }
	}
	s.cliJSON(t, &created, "kms", "create-key", "--origin", "EXTERNAL")
	cid := created.KeyMetadata.KeyId
	if created.KeyMetadata.KeyState != "PendingImport" {
		t.Fatalf("create-key --origin EXTERNAL: state %s", created.KeyMetadata.KeyState)
	}
	dir := t.TempDir()
	var params struct {
		KeyId             string
		ImportToken       []byte
		PublicKey         []byte
		ParametersValidTo string
	}
	s.cliJSON(t, &params, "kms", "get-parameters-for-import", "--key-id", cid,
		"--wrapping-algorithm", "RSAES_OAEP_SHA_256", "--wrapping-key-spec", "RSA_2048")
	if params.KeyId != keyARN(cid) || cliTime(t, params.ParametersValidTo) != start.Add(day) {
		t.Fatalf("get-parameters-for-import: KeyId %s, valid to %v", params.KeyId, params.ParametersValidTo)
	}
	cliMaterial := []byte(strings.Repeat("c", 32))
	token := filepath.Join(dir, "token.bin")
	os.WriteFile(token, params.ImportToken, 0o600)
	wrapped := filepath.Join(dir, "wrapped-for-cli.bin")
	os.WriteFile(wrapped, opensslWrap(t, dir, params.PublicKey, cliMaterial, types.AlgorithmSpecRsaesOaepSha256), 0o600)
	validTo := start.Add(2 * day)
	var imported struct{ KeyId, KeyMaterialId string }
	s.cliJSON(t, &imported, "kms", "import-key-material", "--key-id", cid,
		"--encrypted-key-material", "fileb://"+wrapped, "--import-token", "fileb://"+token,
		"--expiration-model", "KEY_MATERIAL_EXPIRES", "--valid-to", validTo.Format(time.RFC3339))
	md := describeWith(t, c, cid)
	if md.KeyState != types.KeyStateEnabled || md.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires ||
		!md.ValidTo.Equal(validTo) || aws.ToString(md.CurrentKeyMaterialId) != imported.KeyMaterialId {
		t.Fatalf("after import-key-material: %+v", md)
	}
	cblob := encryptWith(t, c, cid, "cli-imported")

	// Other material is refused.
	_, err := importWithOpenSSL(t, c, cid, []byte(strings.Repeat("x", 32)), types.AlgorithmSpecRsaesOaepSha256, nil)
	wantAPIError(t, err, "IncorrectKeyMaterialException", "")

	// Expiry, to the second.
	clock.Set(validTo.Add(-time.Second))
	s.runScheduled(t)
	if pt, _ := decryptWith(t, c, cblob); pt != "cli-imported" {
		t.Fatal("material stopped working before it expired")
	}
	clock.Set(validTo)
	s.runScheduled(t)
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: cblob})
	wantAPIError(t, err, "KMSInvalidStateException", keyARN(cid)+" is pending import.")
	if pt, _ := decryptWith(t, c, blob); pt != "sha1-wrapped" {
		t.Fatal("another key's material expired too")
	}

	// Imported again (no expiry), then deleted, then imported again.
	if _, err := importWithOpenSSL(t, c, cid, cliMaterial, types.AlgorithmSpecRsaesOaepSha1, nil); err != nil {
		t.Fatal(err)
	}
	if pt, _ := decryptWith(t, c, cblob); pt != "cli-imported" {
		t.Fatal("re-imported material does not decrypt")
	}
	del, err := c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(cid)})
	if err != nil || aws.ToString(del.KeyMaterialId) != imported.KeyMaterialId {
		t.Fatalf("DeleteImportedKeyMaterial: %+v, %v", del, err)
	}
	md = describeWith(t, c, cid)
	if md.KeyState != types.KeyStatePendingImport || md.ExpirationModel != "" || aws.ToString(md.CurrentKeyMaterialId) != imported.KeyMaterialId {
		t.Fatalf("after DeleteImportedKeyMaterial: %+v", md)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: cblob})
	wantAPIError(t, err, "KMSInvalidStateException", keyARN(cid)+" is pending import.")
	if _, err := importWithOpenSSL(t, c, cid, cliMaterial, types.AlgorithmSpecRsaesOaepSha256, nil); err != nil {
		t.Fatal(err)
	}
	if pt, _ := decryptWith(t, c, cblob); pt != "cli-imported" {
		t.Fatal("material imported after its deletion does not decrypt")
	}

	// An expired import token.
	p2, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(cid),
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(day)
	_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(cid), ImportToken: p2.ImportToken,
		EncryptedKeyMaterial: opensslWrap(t, t.TempDir(), p2.PublicKey, cliMaterial, types.AlgorithmSpecRsaesOaepSha256),
		ExpirationModel:      types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	wantAPIError(t, err, "ExpiredImportTokenException", "")

	// ValidTo must be set for material that expires, in the future, and at
	// most 365 days away (AWS's limit).
	for validTo, message := range map[*time.Time]string{
		nil:                                     "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES",
		aws.Time(clock.Now().Add(-time.Second)): "The validTo date must be in the future.",
		aws.Time(clock.Now().Add(365*day + time.Hour)): "The validTo date must be no more than 365 days from now.",
	} {
		_, err := importWithOpenSSL(t, c, cid, cliMaterial, types.AlgorithmSpecRsaesOaepSha256,
			&kms.ImportKeyMaterialInput{ExpirationModel: types.ExpirationModelTypeKeyMaterialExpires, ValidTo: validTo})
		wantAPIError(t, err, "ValidationException", message)
	}
	if _, err := importWithOpenSSL(t, c, cid, cliMaterial, types.AlgorithmSpecRsaesOaepSha256,
		&kms.ImportKeyMaterialInput{ExpirationModel: types.ExpirationModelTypeKeyMaterialExpires, ValidTo: aws.Time(clock.Now().Add(365 * day))}); err != nil {
		t.Fatalf("ValidTo 365 days away: %v", err)
	}

	// CloudTrail's record of an import names the key and the material.
	imports := 0
	for _, e := range auditEvents(t, s) {
		if e["eventName"] != "ImportKeyMaterial" || e["errorCode"] != nil {
			continue
		}
		imports++
		el, _ := e["responseElements"].(map[string]any)
		mid, _ := el["keyMaterialId"].(string)
		if len(el) != 2 || (el["keyId"] != keyARN(id) && el["keyId"] != keyARN(cid)) || len(mid) != 64 {
			t.Errorf("an ImportKeyMaterial record's responseElements: %v", el)
		}
	}
	if imports == 0 {
		t.Error("no ImportKeyMaterial record")
	}

	// The imported bytes are nowhere in the data directory.
	filepath.Walk(s.DataDir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(path)
		if bytes.Contains(b, material) || bytes.Contains(b, cliMaterial) {
			t.Errorf("%s holds imported key material", path)
		}
		return nil
	})
}

// TestImportRSAWithOpenSSL: RSA private keys made by OpenSSL, wrapped with
// both RSA_AES_KEY_WRAP algorithms, import into RSA encryption keys; the
// key's public key is OpenSSL's, OpenSSL's ciphertext decrypts in trent
// and trent's in OpenSSL.
func TestImportRSAWithOpenSSL(t *testing.T) {
	clock := testclock.New(clockStart())
	s := startWithClock(t, t.TempDir(), clock)
	c := s.client()
	for _, alg := range []types.AlgorithmSpec{types.AlgorithmSpecRsaAesKeyWrapSha1, types.AlgorithmSpecRsaAesKeyWrapSha256} {
		t.Run(string(alg), func(t *testing.T) {
			dir := t.TempDir()
			pem := filepath.Join(dir, "key.pem")
			openssl(t, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", pem)
			pkcs8 := openssl(t, "pkcs8", "-topk8", "-nocrypt", "-in", pem, "-outform", "DER")
			pub := openssl(t, "pkey", "-in", pem, "-pubout", "-outform", "DER")
			key, err := c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal,
				KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeEncryptDecrypt})
			if err != nil {
				t.Fatal(err)
			}
			id := aws.ToString(key.KeyMetadata.KeyId)
			// RSAES_OAEP cannot carry an RSA private key: AWS's table.
			_, err = c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(id),
				WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
			wantAPIError(t, err, "ValidationException", "")
			if _, err := importWithOpenSSL(t, c, id, pkcs8, alg, nil); err != nil {
				t.Fatal(err)
			}
			got, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(id)})
			if err != nil || !bytes.Equal(got.PublicKey, pub) {
				t.Fatalf("GetPublicKey is not the imported key's: %v", err)
			}
			// trent encrypts, OpenSSL decrypts with the private key it made.
			enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("to openssl"),
				EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
			if err != nil {
				t.Fatal(err)
			}
			ct := filepath.Join(dir, "ct.bin")
			os.WriteFile(ct, enc.CiphertextBlob, 0o600)
			if pt := openssl(t, "pkeyutl", "-decrypt", "-inkey", pem, "-in", ct, "-pkeyopt", "rsa_padding_mode:oaep",
				"-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256"); string(pt) != "to openssl" {
				t.Fatalf("OpenSSL decrypted %q", pt)
			}
			// OpenSSL encrypts, trent decrypts.
			msg := filepath.Join(dir, "msg.txt")
			os.WriteFile(msg, []byte("from openssl"), 0o600)
			pubFile := filepath.Join(dir, "pub.der")
			os.WriteFile(pubFile, pub, 0o600)
			ct2 := openssl(t, "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", pubFile, "-in", msg, "-pkeyopt", "rsa_padding_mode:oaep",
				"-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256")
			dec, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(id), CiphertextBlob: ct2,
				EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
			if err != nil || string(dec.Plaintext) != "from openssl" {
				t.Fatalf("trent decrypted %q, %v", dec.Plaintext, err)
			}
			// Another key's material is refused.
			other := filepath.Join(dir, "other.pem")
			openssl(t, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", other)
			_, err = importWithOpenSSL(t, c, id, openssl(t, "pkcs8", "-topk8", "-nocrypt", "-in", other, "-outform", "DER"), alg, nil)
			wantAPIError(t, err, "IncorrectKeyMaterialException", "")
		})
	}
}

// TestMultiRegionKeyAcrossRegions: a multi-Region key made in us-east-1
// and replicated (with the CLI) to eu-west-1 encrypts in one region and
// decrypts in the other, before and after UpdatePrimaryRegion.
func TestMultiRegionKeyAcrossRegions(t *testing.T) {
	clock := testclock.New(clockStart())
	s := startWithClock(t, t.TempDir(), clock)
	east, west := s.client(), s.clientWith(accessKey, secretKey, "eu-west-1")
	key := createSymmetricKey(t, east, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)})
	id := aws.ToString(key.KeyId)
	if !strings.HasPrefix(id, "mrk-") || len(id) != 36 || key.MultiRegionConfiguration.MultiRegionKeyType != types.MultiRegionKeyTypePrimary {
		t.Fatalf("multi-Region key: %+v", key)
	}
	var replicated struct {
		ReplicaKeyMetadata struct{ Arn, KeyState string }
		ReplicaPolicy      string
	}
	s.cliJSON(t, &replicated, "kms", "replicate-key", "--key-id", id, "--replica-region", "eu-west-1", "--description", "the copy in Ireland")
	westARN := "arn:aws:kms:eu-west-1:" + account + ":key/" + id
	if replicated.ReplicaKeyMetadata.Arn != westARN || replicated.ReplicaKeyMetadata.KeyState != "Creating" || replicated.ReplicaPolicy == "" {
		t.Fatalf("replicate-key: %+v", replicated)
	}
	s.runScheduled(t)
	wm := describeWith(t, west, id)
	if wm.KeyState != types.KeyStateEnabled || aws.ToString(wm.Description) != "the copy in Ireland" ||
		wm.MultiRegionConfiguration.MultiRegionKeyType != types.MultiRegionKeyTypeReplica {
		t.Fatalf("replica: %+v", wm)
	}
	fromEast := encryptWith(t, east, id, "made in Virginia")
	if pt, _ := decryptWith(t, west, fromEast); pt != "made in Virginia" {
		t.Fatal("eu-west-1 does not decrypt what us-east-1 encrypted")
	}

	if _, err := east.UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{KeyId: aws.String(id), PrimaryRegion: aws.String("eu-west-1")}); err != nil {
		t.Fatal(err)
	}
	var described struct {
		KeyMetadata struct {
			MultiRegionConfiguration struct {
				MultiRegionKeyType string
				PrimaryKey         struct{ Region string }
			}
		}
	}
	s.cliJSON(t, &described, "kms", "describe-key", "--key-id", id, "--region", "eu-west-1")
	if mc := described.KeyMetadata.MultiRegionConfiguration; mc.MultiRegionKeyType != "PRIMARY" || mc.PrimaryKey.Region != "eu-west-1" {
		t.Fatalf("eu-west-1 after UpdatePrimaryRegion: %+v", mc)
	}
	if describeWith(t, east, id).MultiRegionConfiguration.MultiRegionKeyType != types.MultiRegionKeyTypeReplica {
		t.Fatal("us-east-1 is not a replica after UpdatePrimaryRegion")
	}
	fromWest := encryptWith(t, west, id, "made in Ireland")
	for _, c := range []*kms.Client{east, west} {
		if pt, _ := decryptWith(t, c, fromEast); pt != "made in Virginia" {
			t.Fatal("a ciphertext from before UpdatePrimaryRegion no longer decrypts")
		}
		if pt, _ := decryptWith(t, c, fromWest); pt != "made in Ireland" {
			t.Fatal("a ciphertext from the new primary does not decrypt")
		}
	}
	// The former primary cannot replicate any more.
	_, err := east.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String("ap-south-1")})
	wantAPIError(t, err, "UnsupportedOperationException", keyARN(id)+" is not a multi-region primary key.")
}

// TestDeletionAtTheEndOfTheWindow: a key is deleted when its waiting
// period ends and not a second before; a cancelled deletion keeps the key.
func TestDeletionAtTheEndOfTheWindow(t *testing.T) {
	start := clockStart()
	clock := testclock.New(start)
	s := startWithClock(t, t.TempDir(), clock)
	c := s.client()
	doomed := aws.ToString(createSymmetricKey(t, c, nil).KeyId)
	kept := aws.ToString(createSymmetricKey(t, c, nil).KeyId)
	for _, id := range []string{doomed, kept} {
		out, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
		if err != nil || !out.DeletionDate.Equal(start.Add(7*day)) {
			t.Fatalf("ScheduleKeyDeletion: %+v, %v", out, err)
		}
	}
	if _, err := c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(kept)}); err != nil {
		t.Fatal(err)
	}
	clock.Set(start.Add(7*day - time.Second))
	s.runScheduled(t)
	if md := describeWith(t, c, doomed); md.KeyState != types.KeyStatePendingDeletion {
		t.Fatalf("a second before the end: %s", md.KeyState)
	}
	clock.Set(start.Add(7 * day))
	s.runScheduled(t)
	_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(doomed)})
	wantAPIError(t, err, "NotFoundException", "Key '"+keyARN(doomed)+"' does not exist")
	if md := describeWith(t, c, kept); md.KeyState != types.KeyStateDisabled {
		t.Fatalf("the key whose deletion was cancelled is %s", md.KeyState)
	}
	deleted := 0
	for _, e := range auditEvents(t, s) {
		if e["eventName"] == "DeleteKey" && e["eventType"] == "AwsServiceEvent" {
			deleted++
		}
	}
	if deleted != 1 {
		t.Fatalf("%d DeleteKey service events in the audit log, want 1", deleted)
	}
}

// TestKeyLastUsage: GetKeyLastUsage names the last cryptographic use, with
// its request ID (as the SDK saw it) and its audit record's event ID.
func TestKeyLastUsage(t *testing.T) {
	start := clockStart()
	clock := testclock.New(start)
	s := startWithClock(t, t.TempDir(), clock)
	c := s.client()
	id := aws.ToString(createSymmetricKey(t, c, nil).KeyId)
	out, err := c.GetKeyLastUsage(ctx, &kms.GetKeyLastUsageInput{KeyId: aws.String(id)})
	if err != nil || out.KeyLastUsage != nil || !out.TrackingStartDate.Equal(start) {
		t.Fatalf("unused key: %+v, %v", out, err)
	}
	clock.Advance(time.Hour)
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	requestID, _ := awsmiddleware.GetRequestIDMetadata(enc.ResultMetadata)
	var got struct {
		KeyLastUsage struct {
			Operation, KmsRequestId, CloudTrailEventId string
			Timestamp                                  string
		}
	}
	s.cliJSON(t, &got, "kms", "get-key-last-usage", "--key-id", id)
	u := got.KeyLastUsage
	if u.Operation != "Encrypt" || u.KmsRequestId != requestID || requestID == "" || cliTime(t, u.Timestamp) != start.Add(time.Hour) {
		t.Fatalf("get-key-last-usage: %+v (request %s)", u, requestID)
	}
	eventID := ""
	for _, e := range auditEvents(t, s) {
		if e["requestID"] == requestID {
			eventID, _ = e["eventID"].(string)
		}
	}
	if eventID == "" || u.CloudTrailEventId != eventID {
		t.Fatalf("CloudTrailEventId %s, the audit record's eventID is %s", u.CloudTrailEventId, eventID)
	}
}
