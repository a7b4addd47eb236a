package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// awsCLI is Debian's AWS CLI, which scripts/install-test-deps.sh installs.
const awsCLI = "/usr/bin/aws"

// cli runs the AWS CLI against s and returns its standard output, or fails
// the test. Use cliErr for commands that must fail.
func (s *server) cli(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := s.runCLI(t, args...)
	if err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func (s *server) cliErr(t *testing.T, args ...string) string {
	t.Helper()
	_, errOut, err := s.runCLI(t, args...)
	if err == nil {
		t.Fatalf("aws %s succeeded, want an error", strings.Join(args, " "))
	}
	return errOut
}

func (s *server) runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return s.runAWS(t, cred{accessKey, secretKey, ""}, args...)
}

// runAWS runs the AWS CLI against the server as c, in the request's
// region unless args name another (--region). Its home directory holds
// the current KMS model (testdata/awscli-models): Debian's CLI predates
// the operations AWS added since 2024, and the CLI prefers the models in
// ~/.aws/models to its own.
func (s *server) runAWS(t *testing.T, c cred, args ...string) (string, string, error) {
	t.Helper()
	if _, err := os.Stat(awsCLI); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: scripts/install-test-deps.sh installs it", awsCLI)
		}
		t.Skipf("%s is missing: run scripts/install-test-deps.sh (make test does)", awsCLI)
	}
	home := t.TempDir()
	models := filepath.Join(home, ".aws", "models", "kms", "2014-11-01")
	if err := os.MkdirAll(models, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"service-2.json", "paginators-1.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "awscli-models", "kms", "2014-11-01", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(models, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(awsCLI, append(args, "--endpoint-url", s.URL, "--output", "json")...)
	cmd.Env = []string{
		"HOME=" + home,
		"PATH=/usr/bin:/bin",
		"AWS_ACCESS_KEY_ID=" + c.id,
		"AWS_SECRET_ACCESS_KEY=" + c.secret,
		"AWS_DEFAULT_REGION=" + region,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "none"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
		"AWS_MAX_ATTEMPTS=1",
		"AWS_PAGER=",
	}
	if c.token != "" {
		cmd.Env = append(cmd.Env, "AWS_SESSION_TOKEN="+c.token)
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func TestAWSCLI(t *testing.T) {
	s := startServer(t, t.TempDir())
	var created struct {
		KeyMetadata struct{ KeyId, Arn, KeyState string }
	}
	mustJSON(t, s.cli(t, "kms", "create-key", "--description", "cli key", "--tags", "TagKey=team,TagValue=infra"), &created)
	id := created.KeyMetadata.KeyId
	if created.KeyMetadata.KeyState != "Enabled" || created.KeyMetadata.Arn != keyARN(id) {
		t.Fatalf("create-key = %+v", created)
	}
	s.cli(t, "kms", "create-alias", "--alias-name", "alias/cli", "--target-key-id", id)
	var described struct{ KeyMetadata struct{ Description string } }
	mustJSON(t, s.cli(t, "kms", "describe-key", "--key-id", "alias/cli"), &described)
	if described.KeyMetadata.Description != "cli key" {
		t.Fatalf("describe-key = %+v", described)
	}

	dir := t.TempDir()
	in := filepath.Join(dir, "plain.txt")
	os.WriteFile(in, []byte("secret via the cli"), 0o600)
	var enc struct{ CiphertextBlob, KeyId string }
	mustJSON(t, s.cli(t, "kms", "encrypt", "--key-id", "alias/cli", "--plaintext", "fileb://"+in,
		"--encryption-context", "app=cli"), &enc)
	blob, err := base64.StdEncoding.DecodeString(enc.CiphertextBlob)
	if err != nil || enc.KeyId != keyARN(id) {
		t.Fatalf("encrypt = %+v (%v)", enc, err)
	}
	ct := filepath.Join(dir, "blob")
	os.WriteFile(ct, blob, 0o600)
	var dec struct{ Plaintext, KeyId string }
	mustJSON(t, s.cli(t, "kms", "decrypt", "--ciphertext-blob", "fileb://"+ct, "--encryption-context", "app=cli"), &dec)
	if pt, _ := base64.StdEncoding.DecodeString(dec.Plaintext); string(pt) != "secret via the cli" {
		t.Fatalf("decrypt = %q", pt)
	}
	if msg := s.cliErr(t, "kms", "decrypt", "--ciphertext-blob", "fileb://"+ct, "--encryption-context", "app=other"); !strings.Contains(msg, "InvalidCiphertextException") {
		t.Fatalf("decrypt with the wrong context: %s", msg)
	}
	blob[len(blob)-1] ^= 1
	os.WriteFile(ct, blob, 0o600)
	if msg := s.cliErr(t, "kms", "decrypt", "--ciphertext-blob", "fileb://"+ct, "--encryption-context", "app=cli"); !strings.Contains(msg, "InvalidCiphertextException") {
		t.Fatalf("decrypt of a tampered blob: %s", msg)
	}

	var dk struct{ Plaintext, CiphertextBlob string }
	mustJSON(t, s.cli(t, "kms", "generate-data-key", "--key-id", id, "--key-spec", "AES_256"), &dk)
	if pt, _ := base64.StdEncoding.DecodeString(dk.Plaintext); len(pt) != 32 {
		t.Fatalf("generate-data-key plaintext of %d bytes", len(pt))
	}
	var rnd struct{ Plaintext string }
	mustJSON(t, s.cli(t, "kms", "generate-random", "--number-of-bytes", "16"), &rnd)
	if b, _ := base64.StdEncoding.DecodeString(rnd.Plaintext); len(b) != 16 {
		t.Fatalf("generate-random gave %d bytes", len(b))
	}

	var aliases struct {
		Aliases []struct{ AliasName, TargetKeyId string }
	}
	mustJSON(t, s.cli(t, "kms", "list-aliases", "--key-id", id), &aliases)
	if len(aliases.Aliases) != 1 || aliases.Aliases[0].AliasName != "alias/cli" || aliases.Aliases[0].TargetKeyId != id {
		t.Fatalf("list-aliases = %+v", aliases)
	}
	var tags struct {
		Tags []struct{ TagKey, TagValue string }
	}
	mustJSON(t, s.cli(t, "kms", "list-resource-tags", "--key-id", id), &tags)
	if len(tags.Tags) != 1 || tags.Tags[0].TagKey != "team" {
		t.Fatalf("list-resource-tags = %+v", tags)
	}
	var policy struct{ Policy string }
	mustJSON(t, s.cli(t, "kms", "get-key-policy", "--key-id", id, "--policy-name", "default"), &policy)
	if !strings.Contains(policy.Policy, "key-default-1") {
		t.Fatalf("get-key-policy = %q", policy.Policy)
	}

	s.cli(t, "kms", "disable-key", "--key-id", id)
	if msg := s.cliErr(t, "kms", "encrypt", "--key-id", id, "--plaintext", "fileb://"+in); !strings.Contains(msg, "DisabledException") || !strings.Contains(msg, keyARN(id)+" is disabled.") {
		t.Fatalf("encrypt with a disabled key: %s", msg)
	}
	s.cli(t, "kms", "enable-key", "--key-id", id)
	var sched struct {
		KeyState            string
		PendingWindowInDays int
	}
	mustJSON(t, s.cli(t, "kms", "schedule-key-deletion", "--key-id", id, "--pending-window-in-days", "7"), &sched)
	if sched.KeyState != "PendingDeletion" || sched.PendingWindowInDays != 7 {
		t.Fatalf("schedule-key-deletion = %+v", sched)
	}
	if msg := s.cliErr(t, "kms", "encrypt", "--key-id", id, "--plaintext", "fileb://"+in); !strings.Contains(msg, "KMSInvalidStateException") {
		t.Fatalf("encrypt with a key pending deletion: %s", msg)
	}
	s.cli(t, "kms", "cancel-key-deletion", "--key-id", id)
	if msg := s.cliErr(t, "kms", "describe-key", "--key-id", "alias/unknown"); !strings.Contains(msg, "NotFoundException") {
		t.Fatalf("describe-key of an unknown alias: %s", msg)
	}
}

// TestAWSCLIWrongSecret checks that the CLI sees an authentication failure
// for a bad secret rather than an answer.
func TestAWSCLIWrongSecret(t *testing.T) {
	s := startServer(t, t.TempDir())
	cmd := []string{"kms", "list-keys"}
	out, errOut, err := s.runCLIWith(t, "test", "wrong-secret", cmd...)
	if err == nil || !strings.Contains(errOut, "InvalidSignatureException") {
		t.Fatalf("list-keys with a wrong secret: err=%v out=%s stderr=%s", err, out, errOut)
	}
}

func (s *server) runCLIWith(t *testing.T, id, secret string, args ...string) (string, string, error) {
	t.Helper()
	return s.runAWS(t, cred{id, secret, ""}, args...)
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("CLI output %q is not the expected JSON: %v", s, err)
	}
}

// TestAWSCLIRemainingOperations covers, with the CLI, the operations that
// TestAWSCLI does not.
func TestAWSCLIRemainingOperations(t *testing.T) {
	s := startServer(t, t.TempDir())
	var a, b struct{ KeyMetadata struct{ KeyId string } }
	mustJSON(t, s.cli(t, "kms", "create-key"), &a)
	mustJSON(t, s.cli(t, "kms", "create-key"), &b)
	k1, k2 := a.KeyMetadata.KeyId, b.KeyMetadata.KeyId

	s.cli(t, "kms", "update-key-description", "--key-id", k1, "--description", "described by the cli")
	var d struct{ KeyMetadata struct{ Description string } }
	mustJSON(t, s.cli(t, "kms", "describe-key", "--key-id", k1), &d)
	if d.KeyMetadata.Description != "described by the cli" {
		t.Fatalf("update-key-description: %+v", d)
	}

	s.cli(t, "kms", "create-alias", "--alias-name", "alias/moving", "--target-key-id", k1)
	s.cli(t, "kms", "update-alias", "--alias-name", "alias/moving", "--target-key-id", k2)
	var moved struct{ KeyMetadata struct{ KeyId string } }
	mustJSON(t, s.cli(t, "kms", "describe-key", "--key-id", "alias/moving"), &moved)
	if moved.KeyMetadata.KeyId != k2 {
		t.Fatalf("update-alias did not move the alias to %s: %+v", k2, moved)
	}
	s.cli(t, "kms", "delete-alias", "--alias-name", "alias/moving")
	if msg := s.cliErr(t, "kms", "delete-alias", "--alias-name", "alias/moving"); !strings.Contains(msg, "NotFoundException") {
		t.Fatalf("second delete-alias: %s", msg)
	}

	s.cli(t, "kms", "tag-resource", "--key-id", k1, "--tags", "TagKey=a,TagValue=1", "TagKey=b,TagValue=2")
	s.cli(t, "kms", "untag-resource", "--key-id", k1, "--tag-keys", "a")
	var tags struct{ Tags []struct{ TagKey string } }
	mustJSON(t, s.cli(t, "kms", "list-resource-tags", "--key-id", k1), &tags)
	if len(tags.Tags) != 1 || tags.Tags[0].TagKey != "b" {
		t.Fatalf("tags after untag-resource: %+v", tags)
	}

	var policies struct{ PolicyNames []string }
	mustJSON(t, s.cli(t, "kms", "list-key-policies", "--key-id", k1), &policies)
	if len(policies.PolicyNames) != 1 || policies.PolicyNames[0] != "default" {
		t.Fatalf("list-key-policies: %+v", policies)
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Sid":"cli","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`
	s.cli(t, "kms", "put-key-policy", "--key-id", k1, "--policy-name", "default", "--policy", policy)
	var got struct{ Policy string }
	mustJSON(t, s.cli(t, "kms", "get-key-policy", "--key-id", k1, "--policy-name", "default"), &got)
	if got.Policy != policy {
		t.Fatalf("get-key-policy after put-key-policy: %q", got.Policy)
	}
	if msg := s.cliErr(t, "kms", "put-key-policy", "--key-id", k1, "--policy-name", "default", "--policy", "not json"); !strings.Contains(msg, "MalformedPolicyDocumentException") {
		t.Fatalf("put-key-policy with a broken policy: %s", msg)
	}

	var wp struct{ CiphertextBlob string }
	mustJSON(t, s.cli(t, "kms", "generate-data-key-without-plaintext", "--key-id", k1, "--key-spec", "AES_128",
		"--encryption-context", "use=cli"), &wp)
	blob, _ := base64.StdEncoding.DecodeString(wp.CiphertextBlob)
	dir := t.TempDir()
	ct := filepath.Join(dir, "blob")
	os.WriteFile(ct, blob, 0o600)
	var re struct{ CiphertextBlob, SourceKeyId, KeyId string }
	mustJSON(t, s.cli(t, "kms", "re-encrypt", "--ciphertext-blob", "fileb://"+ct, "--source-encryption-context", "use=cli",
		"--destination-key-id", k2), &re)
	if re.SourceKeyId != keyARN(k1) || re.KeyId != keyARN(k2) {
		t.Fatalf("re-encrypt: %+v", re)
	}
	blob, _ = base64.StdEncoding.DecodeString(re.CiphertextBlob)
	os.WriteFile(ct, blob, 0o600)
	var dec struct{ Plaintext, KeyId string }
	mustJSON(t, s.cli(t, "kms", "decrypt", "--ciphertext-blob", "fileb://"+ct), &dec)
	if pt, _ := base64.StdEncoding.DecodeString(dec.Plaintext); len(pt) != 16 || dec.KeyId != keyARN(k2) {
		t.Fatalf("decrypt of the re-encrypted data key: %d bytes from %s", len(pt), dec.KeyId)
	}
}
