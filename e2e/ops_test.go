package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/store/postgres/pgtest"
	"github.com/trent-kms/trent/internal/testcerts"
)

// tlsClient is an SDK client for a TLS server, trusting roots and
// presenting cert (if any). retries 0 keeps the SDK's default retryer
// (3 attempts with exponential back-off and jitter).
func tlsClient(url string, roots *tls.Config, retries int) *kms.Client {
	opts := kms.Options{
		Region:       region,
		BaseEndpoint: aws.String(url),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}, nil
		}),
		HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.TLSClientConfig = roots
		}),
	}
	if retries > 0 {
		opts.RetryMaxAttempts = retries
	}
	return kms.New(opts)
}

// tlsConfigFor writes a server certificate issued by ca into dir and
// returns the "tls" member of trent's config.
func tlsConfigFor(t *testing.T, ca *testcerts.CA, dir, name string) map[string]any {
	certFile, keyFile := ca.Server(t, name).Write(t, dir, "server")
	return map[string]any{"cert_file": certFile, "key_file": keyFile}
}

// startTLSServer runs trent in dev mode over TLS, with a server certificate
// named name issued by a new test CA; the certificate files are in dir.
func startTLSServer(t *testing.T, name string) (s *server, ca *testcerts.CA, dir string) {
	t.Helper()
	ca = testcerts.NewCA(t, "trent test CA")
	dir = t.TempDir()
	cfg := devConfig()
	cfg["tls"] = tlsConfigFor(t, ca, dir, name)
	return startServerWithConfig(t, t.TempDir(), cfg), ca, dir
}

// servedCertificate is the common name of the certificate a new TLS
// connection to url gets.
func servedCertificate(t *testing.T, url string, roots *tls.Config) string {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(url, "https://"), roots)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// TestTLSWithSDKAndCLI: trent serves HTTPS; the Go SDK (trusting the test
// CA) and Debian's AWS CLI (--ca-bundle) use it; plain HTTP to the TLS
// port gets nothing served.
func TestTLSWithSDKAndCLI(t *testing.T) {
	s, ca, dir := startTLSServer(t, "trent-1")
	if !strings.HasPrefix(s.URL, "https://127.0.0.1:") {
		t.Fatalf("endpoint %s", s.URL)
	}
	roots := &tls.Config{RootCAs: ca.Pool()}
	c := tlsClient(s.URL, roots, 1)
	key, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("over TLS")})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "secret" {
		t.Fatalf("decrypt over TLS: %v", err)
	}
	// A client that does not trust the CA fails the handshake.
	if _, err := tlsClient(s.URL, &tls.Config{}, 1).ListKeys(ctx, &kms.ListKeysInput{}); err == nil {
		t.Fatal("a client without the CA was served")
	}
	// A client that offers only TLS 1.2.
	if _, err := tlsClient(s.URL, &tls.Config{RootCAs: ca.Pool(), MaxVersion: tls.VersionTLS12}, 1).ListAliases(ctx, &kms.ListAliasesInput{}); err != nil {
		t.Fatalf("TLS 1.2: %v", err)
	}
	// The audit records say how each request came, as CloudTrail's
	// tlsDetails do.
	host := strings.TrimPrefix(s.URL, "https://")
	tls12Suite := regexp.MustCompile(`^ECDHE-(RSA|ECDSA)-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)$`)
	seen := map[string]bool{}
	for _, r := range readRecords(t, filepath.Join(s.DataDir, "audit.jsonl")) {
		d, _ := r["tlsDetails"].(map[string]any)
		switch r["eventName"] {
		case "CreateKey":
			if d == nil || d["tlsVersion"] != "TLSv1.3" || d["clientProvidedHostHeader"] != host ||
				!slices.Contains([]any{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}, d["cipherSuite"]) ||
				d["keyExchange"] == nil || d["keyExchange"] == "" {
				t.Errorf("tlsDetails of a TLS 1.3 request: %v", d)
			}
		case "ListAliases":
			if suite, _ := d["cipherSuite"].(string); d["tlsVersion"] != "TLSv1.2" || !tls12Suite.MatchString(suite) || d["clientProvidedHostHeader"] != host {
				t.Errorf("tlsDetails of a TLS 1.2 request: %v", d)
			}
		default:
			continue
		}
		seen[r["eventName"].(string)] = true
	}
	if !seen["CreateKey"] || !seen["ListAliases"] {
		t.Fatalf("audit records found: %v", seen)
	}
	// Plain HTTP on the TLS port is not served.
	plain := strings.Replace(s.URL, "https://", "http://", 1)
	if resp, err := http.Post(plain, "application/x-amz-json-1.1", strings.NewReader("{}")); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 || strings.Contains(string(b), "__type") {
			t.Fatalf("plain HTTP on the TLS port: %d %s", resp.StatusCode, b)
		}
	}

	// The AWS CLI with --ca-bundle.
	bundle := ca.Write(t, dir, "ca")
	out, errOut, err := runCLIWith(t, s.URL, bundle, nil, "kms", "describe-key", "--key-id", *key.KeyMetadata.KeyId)
	if err != nil || !strings.Contains(out, *key.KeyMetadata.KeyId) {
		t.Fatalf("aws kms describe-key --ca-bundle: %v\n%s%s", err, out, errOut)
	}
	pt := filepath.Join(dir, "pt")
	os.WriteFile(pt, []byte("cli over tls"), 0o600)
	out, errOut, err = runCLIWith(t, s.URL, bundle, nil, "kms", "encrypt", "--key-id", *key.KeyMetadata.KeyId, "--plaintext", "fileb://"+pt)
	if err != nil || !strings.Contains(out, "CiphertextBlob") {
		t.Fatalf("aws kms encrypt --ca-bundle: %v\n%s%s", err, out, errOut)
	}
	// Without the bundle the CLI refuses the certificate.
	if _, errOut, err := runCLIWith(t, s.URL, "", nil, "kms", "list-keys"); err == nil || !strings.Contains(strings.ToLower(errOut), "certificate") {
		t.Fatalf("aws kms list-keys without --ca-bundle: %v %s", err, errOut)
	}
}

// runCLIWith runs the AWS CLI against url, with --ca-bundle bundle if set.
func runCLIWith(t *testing.T, url, bundle string, env []string, args ...string) (string, string, error) {
	t.Helper()
	if _, err := os.Stat(awsCLI); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing", awsCLI)
		}
		t.Skipf("%s is missing", awsCLI)
	}
	home := t.TempDir()
	args = append(args, "--endpoint-url", url, "--output", "json")
	if bundle != "" {
		args = append(args, "--ca-bundle", bundle)
	}
	cmd := exec.Command(awsCLI, args...)
	cmd.Env = append([]string{"HOME=" + home, "PATH=/usr/bin:/bin", "AWS_ACCESS_KEY_ID=" + accessKey, "AWS_SECRET_ACCESS_KEY=" + secretKey,
		"AWS_DEFAULT_REGION=" + region, "AWS_CONFIG_FILE=" + filepath.Join(home, "none"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"), "AWS_MAX_ATTEMPTS=1", "AWS_PAGER="}, env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// TestTLSCertificateReloadOnSIGHUP: SIGHUP swaps the certificate for new
// connections; a certificate that does not load keeps the old one.
func TestTLSCertificateReloadOnSIGHUP(t *testing.T) {
	s, ca, dir := startTLSServer(t, "first")
	roots := &tls.Config{RootCAs: ca.Pool()}
	if cn := servedCertificate(t, s.URL, roots); cn != "first" {
		t.Fatalf("served %q", cn)
	}
	c := tlsClient(s.URL, roots, 1)
	if _, err := c.ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
		t.Fatal(err)
	}
	ca.Server(t, "second").Write(t, dir, "server")
	s.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return servedCertificate(t, s.URL, roots) == "second" }, "the second certificate after SIGHUP")
	if _, err := c.ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
		t.Fatalf("after the reload: %v", err)
	}
	// A broken certificate file: the second certificate stays.
	os.WriteFile(filepath.Join(dir, "server.crt"), []byte("not a certificate"), 0o600)
	s.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return strings.Contains(s.stderr.String(), "the certificate is not reloaded") }, "the failed reload in the log")
	if cn := servedCertificate(t, s.URL, roots); cn != "second" {
		t.Fatalf("after a failed reload, served %q", cn)
	}
	if _, err := tlsClient(s.URL, roots, 1).ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
		t.Fatalf("after a failed reload: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMutualTLS: with client_ca_file, only clients with a certificate
// from that CA get a connection.
func TestMutualTLS(t *testing.T) {
	ca := testcerts.NewCA(t, "server CA")
	clients := testcerts.NewCA(t, "client CA")
	stranger := testcerts.NewCA(t, "another CA")
	dir := t.TempDir()
	cfg := devConfig()
	tlsCfg := tlsConfigFor(t, ca, dir, "trent")
	tlsCfg["client_ca_file"] = clients.Write(t, dir, "clients")
	cfg["tls"] = tlsCfg
	s := startServerWithConfig(t, t.TempDir(), cfg)

	with := func(cert *testcerts.Issued) error {
		tc := &tls.Config{RootCAs: ca.Pool()}
		if cert != nil {
			tc.Certificates = append(tc.Certificates, cert.TLS(t))
		}
		_, err := tlsClient(s.URL, tc, 1).ListKeys(ctx, &kms.ListKeysInput{})
		return err
	}
	if err := with(clients.Client(t, "app")); err != nil {
		t.Fatalf("a client certificate from the client CA: %v", err)
	}
	if err := with(nil); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	if err := with(stranger.Client(t, "app")); err == nil {
		t.Fatal("a client certificate from another CA was served")
	}
	// The AWS CLI cannot present a client certificate: refused too.
	bundle := ca.Write(t, dir, "ca")
	if _, _, err := runCLIWith(t, s.URL, bundle, nil, "kms", "list-keys"); err == nil {
		t.Fatal("the AWS CLI without a client certificate was served")
	}
}

// TestPlaintextOffLoopbackNeedsOptIn: a config that listens beyond
// loopback without TLS is refused at start; with insecure_plaintext it
// starts and warns.
func TestPlaintextOffLoopbackNeedsOptIn(t *testing.T) {
	dataDir := t.TempDir()
	cfg := devConfig()
	cfg["data_dir"] = dataDir
	cfg["listen"] = "0.0.0.0:0"
	path := filepath.Join(t.TempDir(), "trent.json")
	write := func() {
		b, _ := json.Marshal(cfg)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write()
	out, err := exec.Command(trentBinary, "serve", "--config", path).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "insecure_plaintext") || !strings.Contains(string(out), "tls") {
		t.Fatalf("plain HTTP on 0.0.0.0 without opting in: %v\n%s", err, out)
	}
	cfg["insecure_plaintext"] = true
	write()
	s := startTrent(t, dataDir, "serve", "--config", path)
	waitFor(t, func() bool {
		return strings.Contains(s.stderr.String(), "serving plain HTTP on an address that is not loopback")
	}, "the warning")
	// Logs are JSON lines with a config file.
	sc := bufio.NewScanner(strings.NewReader(s.stderr.String()))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line["msg"] == nil || line["level"] == nil {
			t.Fatalf("a log line is not slog JSON: %q", sc.Text())
		}
	}
}

// freePort is a loopback port nothing listens on (for the metrics
// listener, whose address the harness does not read).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scrape reads /metrics into series → value.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("metrics content type %q", ct)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		m[line[:i]] = v
	}
	return m
}

// TestMetricsCountWhatWasSent: /metrics on the separate listener counts
// each request by operation and error code, with latencies, store and
// audit figures, and nothing the caller chose becomes a label.
func TestMetricsCountWhatWasSent(t *testing.T) {
	metricsAddr := freePort(t)
	cfg := devConfig()
	cfg["metrics_listen"] = metricsAddr
	cfg["drain_seconds"] = 0
	s := startServerWithConfig(t, t.TempDir(), cfg)
	c := s.client()
	key, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	const encrypts, badDecrypts = 7, 3
	for range encrypts {
		if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	for range badDecrypts {
		_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: []byte("not a ciphertext blob at all")})
		wantAPIError(t, err, "InvalidCiphertextException", "")
	}
	s.do(t, signedRequest{RawTarget: "TrentService.Secret-Looking-Name", Body: "{}"})
	s.do(t, signedRequest{Target: "ListKeys", Body: "{}", Secret: "wrong"})

	m := scrape(t, metricsAddr)
	for series, want := range map[string]float64{
		`trent_requests_total{operation="CreateKey",code="OK"}`:                       1,
		`trent_requests_total{operation="Encrypt",code="OK"}`:                         encrypts,
		`trent_requests_total{operation="Decrypt",code="InvalidCiphertextException"}`: badDecrypts,
		`trent_requests_total{operation="Unknown",code="UnknownOperationException"}`:  1,
		`trent_request_duration_seconds_count{operation="Encrypt"}`:                   encrypts,
		`trent_request_duration_seconds_bucket{operation="Encrypt",le="+Inf"}`:        encrypts,
		`trent_request_duration_seconds_count{operation="Decrypt"}`:                   badDecrypts,
		`trent_audit_healthy`: 1,
		`trent_job_runs_total{job="scheduled_work",result="ok"}`: 1,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	// The wrong secret: whatever code trent answers, it is counted under ListKeys.
	var wrongSecret float64
	for k, v := range m {
		if strings.HasPrefix(k, `trent_requests_total{operation="ListKeys"`) {
			wrongSecret += v
		}
		if strings.Contains(k, "Secret-Looking-Name") {
			t.Errorf("a caller-chosen target became a label: %s", k)
		}
	}
	if wrongSecret != 1 {
		t.Errorf("the badly signed ListKeys counted %v times", wrongSecret)
	}
	// Seven Encrypts of one key: one key lookup each, all but at most the
	// first from the cache (the ciphertexts that are not blobs name no key).
	hits, misses := m["trent_key_cache_hits_total"], m["trent_key_cache_misses_total"]
	if hits+misses != encrypts || hits < encrypts-1 {
		t.Errorf("key cache: %v hits, %v misses for %d Encrypts of one key", hits, misses, encrypts)
	}
	total := 1.0 + encrypts + badDecrypts + 2
	if got := m["trent_audit_records_total"]; got != total {
		t.Errorf("trent_audit_records_total = %v, want %v (one per request)", got, total)
	}
	if m[`trent_audit_record_duration_seconds_count`] != total {
		t.Errorf("audit record waits counted %v, want %v", m[`trent_audit_record_duration_seconds_count`], total)
	}
	if m[`trent_store_transaction_duration_seconds_count{kind="update"}`] < 1 || m[`trent_store_transaction_duration_seconds_count{kind="view"}`] < 1 {
		t.Errorf("store transactions not timed: %v", m)
	}
	if m["trent_audit_last_write_timestamp_seconds"] < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("trent_audit_last_write_timestamp_seconds = %v", m["trent_audit_last_write_timestamp_seconds"])
	}
	// The metrics listener does not serve the KMS API.
	resp, err := http.Post("http://"+metricsAddr+"/", "application/x-amz-json-1.1", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 4 {
		t.Fatalf("a KMS request to the metrics listener: %d", resp.StatusCode)
	}
}

var throttleMessage = "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."

// TestQuotaThrottles: a quota of N requests per second lets a burst of N
// through and answers the rest ThrottlingException (HTTP 400, AWS's
// message), per account; the Go SDK's default retryer gets a burst through.
func TestQuotaThrottles(t *testing.T) {
	metricsAddr := freePort(t)
	cfg := devConfig()
	cfg["metrics_listen"] = metricsAddr
	cfg["drain_seconds"] = 0
	cfg["quotas"] = map[string]any{"rates": map[string]any{"CreateKey": 3, "cryptographic_symmetric": 20}}
	cfg["accounts"] = append(cfg["accounts"].([]any), map[string]any{"id": "444455556666",
		"access_keys": []any{map[string]any{"id": "other", "secret": "other-secret"}}})
	s := startServerWithConfig(t, t.TempDir(), cfg)

	// A raw loop: exactly the burst passes.
	var ok, throttled int
	start := time.Now()
	for range 10 {
		r := s.do(t, signedRequest{Target: "CreateKey", Body: "{}"})
		switch r.Status {
		case 200:
			ok++
		case 400:
			code, msg := r.errorBody(t)
			if code != "ThrottlingException" || msg != throttleMessage {
				t.Fatalf("throttled with %s %q", code, msg)
			}
			throttled++
		default:
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
	}
	elapsed := time.Since(start)
	// At 3/s, a loop of elapsed seconds may earn 3·elapsed more.
	if maxOK := 3 + int(3*elapsed.Seconds()); ok < 3 || ok > maxOK || ok+throttled != 10 {
		t.Fatalf("10 CreateKey in %v at 3/s: %d passed, %d throttled", elapsed, ok, throttled)
	}
	// Another account has its own quota.
	other := s.do(t, signedRequest{Target: "CreateKey", Body: "{}", AccessKey: "other", Secret: "other-secret"})
	if other.Status != 200 {
		t.Fatalf("another account was throttled: %d %s", other.Status, other.Body)
	}
	// The SDK without retries sees ThrottlingException...
	c := s.clientWith(accessKey, secretKey, region)
	key, err := tlessRetry(func() (*kms.CreateKeyOutput, error) { return c.CreateKey(ctx, &kms.CreateKeyInput{}) })
	if err != nil {
		t.Fatal(err)
	}
	// ...and with its standard retryer gets a burst of twice the symmetric
	// quota through. Its default of 3 attempts, with jittered back-off,
	// lets a request throttled three times fail now and then (2 of 40 in
	// one run of make test on a busy machine): 8 attempts, as a client
	// expecting bursts would set, make that vanishingly rare.
	retrying := kms.New(kms.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}, nil
		}),
		RetryMaxAttempts: 8,
	})
	time.Sleep(1100 * time.Millisecond) // a full bucket
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	burstStart := time.Now()
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := retrying.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("x")})
			if err != nil {
				mu.Lock()
				failures = append(failures, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	burst := time.Since(burstStart)
	if len(failures) > 0 {
		t.Fatalf("%d of 40 Encrypts failed despite retries: %v", len(failures), failures[0])
	}
	m := scrape(t, metricsAddr)
	throttledEncrypts := m[`trent_requests_total{operation="Encrypt",code="ThrottlingException"}`]
	if throttledEncrypts == 0 || m[`trent_requests_total{operation="Encrypt",code="OK"}`] != 40 {
		t.Fatalf("the burst: %v Encrypt OK, %v throttled", m[`trent_requests_total{operation="Encrypt",code="OK"}`], throttledEncrypts)
	}
	t.Logf("40 concurrent Encrypts at a quota of 20/s: all succeeded in %v after %v throttled attempts retried by the SDK", burst.Round(time.Millisecond), throttledEncrypts)
}

// TestQuotaByKeyKind: a cryptographic operation counts against the quota
// of its key's kind, as in AWS: RSA keys (Sign and Encrypt alike) share
// one, ECC keys another, symmetric keys (and GenerateRandom) a third, and
// one quota spent leaves the others untouched. A cross-account request
// counts against the caller's quota, and ReEncrypt between two symmetric
// keys is one request, not two.
func TestQuotaByKeyKind(t *testing.T) {
	const otherAccount = "444455556666"
	cfg := devConfig()
	// A rate of 0.01 holds one request and refills in 100 s: exactly one
	// passes, whatever the machine's speed.
	cfg["quotas"] = map[string]any{"rates": map[string]any{
		"CreateKey": -1, "cryptographic_rsa": 0.01, "cryptographic_ecc": 0.01, "cryptographic_symmetric": 0.01}}
	cfg["accounts"] = append(cfg["accounts"].([]any), map[string]any{"id": otherAccount,
		"access_keys": []any{map[string]any{"id": "other", "secret": "other-secret"}}})
	s := startServerWithConfig(t, t.TempDir(), cfg)
	c := s.client()
	other := s.clientWith("other", "other-secret", region)
	create := func(c *kms.Client, spec types.KeySpec, usage types.KeyUsageType, policy *string) *types.KeyMetadata {
		t.Helper()
		out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage, Policy: policy})
		if err != nil {
			t.Fatal(err)
		}
		return out.KeyMetadata
	}
	encrypt := func(c *kms.Client, key *string, alg types.EncryptionAlgorithmSpec) ([]byte, error) {
		out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: key, Plaintext: []byte("x"), EncryptionAlgorithm: alg})
		if err != nil {
			return nil, err
		}
		return out.CiphertextBlob, nil
	}
	digest := make([]byte, 32)
	sign := func(key *string, alg types.SigningAlgorithmSpec) error {
		_, err := c.Sign(ctx, &kms.SignInput{KeyId: key, Message: digest, MessageType: types.MessageTypeDigest, SigningAlgorithm: alg})
		return err
	}
	throttled := func(what string, err error) {
		t.Helper()
		var te interface{ ErrorCode() string }
		if !errors.As(err, &te) || te.ErrorCode() != "ThrottlingException" {
			t.Fatalf("%s: %v, want ThrottlingException", what, err)
		}
	}
	passed := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// The other account's key, which this account may encrypt with.
	shared := aws.String(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + otherAccount + `:root"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:Encrypt","Resource":"*"}]}`)
	from := create(other, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt, shared)
	to := create(other, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt, nil)
	blob, err := encrypt(c, from.Arn, types.EncryptionAlgorithmSpecSymmetricDefault)
	passed("Encrypt with the other account's key", err)
	_, err = c.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(8)})
	throttled("GenerateRandom after the symmetric quota is spent", err)
	_, err = other.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, DestinationKeyId: to.KeyId})
	passed("the key owner's ReEncrypt between two symmetric keys, with one request in its bucket", err)
	_, err = encrypt(other, from.KeyId, types.EncryptionAlgorithmSpecSymmetricDefault)
	throttled("the key owner's Encrypt right after its ReEncrypt", err)

	// The other kinds have quotas of their own.
	rsaSign := create(c, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify, nil).KeyId
	rsaEncrypt := create(c, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt, nil).KeyId
	ecc := create(c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify, nil).KeyId
	mldsa := create(c, types.KeySpecMlDsa44, types.KeyUsageTypeSignVerify, nil).KeyId
	passed("Sign with an RSA key", sign(rsaSign, types.SigningAlgorithmSpecRsassaPssSha256))
	throttled("a second RSA Sign", sign(rsaSign, types.SigningAlgorithmSpecRsassaPssSha256))
	_, err = encrypt(c, rsaEncrypt, types.EncryptionAlgorithmSpecRsaesOaepSha256)
	throttled("Encrypt with another RSA key after the RSA quota is spent", err)
	passed("Sign with an ECC key", sign(ecc, types.SigningAlgorithmSpecEcdsaSha256))
	_, err = c.Verify(ctx, &kms.VerifyInput{KeyId: ecc, Message: digest, MessageType: types.MessageTypeDigest,
		SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256, Signature: []byte{0x30, 0}})
	throttled("Verify with the ECC key", err)
	for i := range 3 {
		_, err := c.Sign(ctx, &kms.SignInput{KeyId: mldsa, Message: []byte("m"), MessageType: types.MessageTypeRaw,
			SigningAlgorithm: types.SigningAlgorithmSpecMlDsaShake256})
		passed("Sign with ML-DSA (its quota at AWS's 1,000/s) #"+strconv.Itoa(i), err)
	}
}

// tlessRetry calls fn until it is not throttled (the first CreateKey of
// the test may still find the bucket empty), for at most 3 seconds.
func tlessRetry[T any](fn func() (T, error)) (T, error) {
	deadline := time.Now().Add(3 * time.Second)
	for {
		v, err := fn()
		var te interface{ ErrorCode() string }
		if err == nil || !errors.As(err, &te) || te.ErrorCode() != "ThrottlingException" || time.Now().After(deadline) {
			return v, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestGracefulDrainOnSIGTERM: on SIGTERM, /readyz fails at once while the
// API still answers for drain_seconds; then trent stops cleanly.
func TestGracefulDrainOnSIGTERM(t *testing.T) {
	metricsAddr := freePort(t)
	cfg := devConfig()
	cfg["metrics_listen"] = metricsAddr
	cfg["drain_seconds"] = 2
	s := startServerWithConfig(t, t.TempDir(), cfg)
	ready := func() int {
		resp, err := http.Get("http://" + metricsAddr + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := ready(); code != 200 {
		t.Fatalf("readyz before SIGTERM: %d", code)
	}
	sent := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, func() bool { return ready() == 503 }, "readyz to fail after SIGTERM")
	if _, err := s.client().ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
		t.Fatalf("a request while draining: %v", err)
	}
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("trent did not stop after draining")
	}
	if took := time.Since(sent); took < 2*time.Second {
		t.Fatalf("trent stopped %v after SIGTERM, before drain_seconds", took)
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit status %d: %s", code, s.stderr)
	}
	if !strings.Contains(s.stderr.String(), "draining") {
		t.Fatalf("the drain was not logged: %s", s.stderr)
	}
}

// TestPostgresStoreSharedByTwoNodes: two trent processes on one
// PostgreSQL database, with the same root key, serve the same keys.
func TestPostgresStoreSharedByTwoNodes(t *testing.T) {
	pg := pgtest.Start(t, pgtest.Options{})
	dsn := pg.NewDatabase(t)
	rootDir := t.TempDir()
	cfg := func() map[string]any {
		c := devConfig()
		c["root_key"] = map[string]any{"file": filepath.Join(rootDir, "root.key")}
		c["store"] = map[string]any{"postgres": map[string]any{"dsn": dsn, "max_conns": 4}}
		return c
	}
	a := startServerWithConfig(t, t.TempDir(), cfg())
	b := startServerWithConfig(t, t.TempDir(), cfg())
	key, err := a.client().CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("shared")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.client().CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/shared"), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	enc, err := b.client().Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/shared"), Plaintext: []byte("one store")})
	if err != nil {
		t.Fatalf("node b with node a's key: %v", err)
	}
	dec, err := a.client().Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "one store" {
		t.Fatalf("node a decrypting node b's blob: %v", err)
	}
	if _, err := os.Stat(filepath.Join(a.DataDir, "trent.db")); err == nil {
		t.Fatal("a bbolt file was made although the store is PostgreSQL")
	}
	d, err := b.client().DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: key.KeyMetadata.KeyId})
	if err != nil || d.KeyMetadata.KeyState != types.KeyStateEnabled {
		t.Fatalf("describe on node b: %v", err)
	}
	// A restarted node finds everything again.
	b.stop()
	b = startServerWithConfig(t, b.DataDir, cfg())
	if _, err := b.client().Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
}
