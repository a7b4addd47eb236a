package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/config"
	"github.com/trent-kms/trent/internal/testcerts"
)

// opsConfig is dev mode's configuration as if from a file (so not dev
// mode), on a loopback port, for tests to change.
func opsConfig(t *testing.T) *config.Config {
	cfg := config.DevConfig("127.0.0.1:0", t.TempDir())
	cfg.Dev = false
	return cfg
}

func startCfg(t *testing.T, cfg *config.Config) *Server {
	t.Helper()
	s, err := Start(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func tlsClient(s *Server, tc *tls.Config) *awskms.Client {
	return awskms.New(awskms.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.URL()),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: config.DevAccessKey, SecretAccessKey: config.DevSecret}, nil
		}),
		HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.TLSClientConfig = tc
		}),
		RetryMaxAttempts: 1,
	})
}

// TestTLSRefusalUnderTLS: beyond max_connections, a TLS client still gets
// AWS's 503 ThrottlingException, inside TLS.
func TestTLSRefusalUnderTLS(t *testing.T) {
	ca := testcerts.NewCA(t, "test CA")
	dir := t.TempDir()
	certFile, keyFile := ca.Server(t, "trent").Write(t, dir, "server")
	cfg := opsConfig(t)
	cfg.TLS = &config.TLS{CertFile: certFile, KeyFile: keyFile}
	cfg.MaxConnections = 1
	s := startCfg(t, cfg)
	if !strings.HasPrefix(s.URL(), "https://") {
		t.Fatalf("URL %s", s.URL())
	}
	held, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	time.Sleep(100 * time.Millisecond)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	resp, err := client.Post(s.URL(), "application/x-amz-json-1.1", strings.NewReader(`{}`))
	if err != nil {
		t.Fatalf("the refused connection under TLS: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e struct {
		Type string `json:"__type"`
	}
	json.Unmarshal(body, &e)
	if resp.StatusCode != 503 || e.Type != "ThrottlingException" {
		t.Fatalf("refused under TLS: %d %s", resp.StatusCode, body)
	}
	held.Close()
	time.Sleep(100 * time.Millisecond)
	if _, err := tlsClient(s, &tls.Config{RootCAs: ca.Pool()}).ListKeys(context.Background(), &awskms.ListKeysInput{}); err != nil {
		t.Fatalf("after the slot was freed: %v", err)
	}
}

// TestReadiness: /readyz follows the store, the root key, the audit log
// and draining; /healthz only says the process is up; other paths are
// not served, the KMS API least of all.
func TestReadiness(t *testing.T) {
	cfg := opsConfig(t)
	cfg.MetricsListen = "127.0.0.1:0"
	zero := 0.0
	cfg.DrainSeconds = &zero
	s := startCfg(t, cfg)
	base := "http://" + s.MetricsAddr().String()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("healthz: %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("readyz: %d %q", code, body)
	}
	if code, _ := get("/"); code != 404 {
		t.Fatalf("/ on the metrics listener: %d", code)
	}
	resp, err := http.Post(base+"/", "application/x-amz-json-1.1", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 && resp.StatusCode != 405 {
		t.Fatalf("a KMS request on the metrics listener: %d", resp.StatusCode)
	}
	// A store that fails makes trent unready, with the reason.
	s.ops.rawStore.Close()
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "store") {
		t.Fatalf("readyz with the store closed: %d %q", code, body)
	}
	s.Drain(nil)
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "draining") {
		t.Fatalf("readyz while draining: %d %q", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("healthz while draining: %d", code)
	}
}
