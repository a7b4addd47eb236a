package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/trent-kms/trent/internal/config"
	"github.com/trent-kms/trent/internal/rootkey/softhsmtest"
	trentserver "github.com/trent-kms/trent/internal/server"
	"github.com/trent-kms/trent/internal/testclock"
)

const (
	region    = "us-east-1"
	account   = "111122223333"
	accessKey = "test"
	secretKey = "test"
)

// trentBinary is the trent command built once for all tests.
var trentBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "trent-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	trentBinary = filepath.Join(dir, "trent")
	args := []string{"build", "-o", trentBinary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "../cmd/trent")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building trent:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	softhsmtest.Cleanup()
	os.Exit(code)
}

// server is one "trent serve" process.
type server struct {
	t       *testing.T
	cmd     *exec.Cmd
	URL     string
	DataDir string
	// configPath is the config file of a server started with one.
	configPath string
	stderr     *syncBuffer
	exited     chan struct{}
	// inProcess is set for a server run in the test's process
	// (startWithClock) rather than as a trent process.
	inProcess *trentserver.Server
}

// startServer runs trent in dev mode on a free loopback port with the given
// data directory and waits until it prints its endpoint.
func startServer(t *testing.T, dataDir string) *server {
	t.Helper()
	return startTrent(t, dataDir, "serve", "--listen", "127.0.0.1:0", "--data", dataDir)
}

// startServerWithConfig runs trent with a config file holding cfg (JSON),
// on a free loopback port; data_dir is set to dataDir.
func startServerWithConfig(t *testing.T, dataDir string, cfg map[string]any) *server {
	t.Helper()
	cfg["data_dir"] = dataDir
	cfg["listen"] = "127.0.0.1:0"
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "trent.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startTrent(t, dataDir, "serve", "--config", path)
	s.configPath = path
	return s
}

// devConfig is dev mode's configuration as a config file, to change.
// Request quotas are off, as in dev mode: tests create keys faster than
// AWS's 5 CreateKey per second.
func devConfig() map[string]any {
	return map[string]any{
		"quotas":   map[string]any{"disabled": true},
		"root_key": map[string]any{"file": "root.key"},
		"accounts": []any{map[string]any{"id": account, "access_keys": []any{map[string]any{"id": accessKey, "secret": secretKey}}}},
	}
}

func startTrent(t *testing.T, dataDir string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(trentBinary, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, DataDir: dataDir, stderr: new(syncBuffer), exited: make(chan struct{})}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if u, ok := strings.CutPrefix(line, "endpoint:"); ok {
				urls <- strings.TrimSpace(u)
			} else if u, ok := strings.CutPrefix(line, "trent is serving on "); ok {
				urls <- strings.TrimSpace(u)
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { cmd.Wait(); close(s.exited) }()
	select {
	case s.URL = <-urls:
	case <-s.exited:
		t.Fatalf("trent exited before serving: %s", s.stderr)
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("trent did not print its endpoint in 30s: %s", s.stderr)
	}
	t.Cleanup(s.stop)
	return s
}

// stop ends the server gracefully and fails the test if it does not exit
// cleanly (a data race report, for example, makes it exit non-zero).
func (s *server) stop() {
	if s.inProcess != nil {
		srv := s.inProcess
		s.inProcess = nil
		if err := srv.Close(); err != nil {
			s.t.Errorf("closing trent: %v", err)
		}
		return
	}
	if s.cmd == nil {
		return // an in-process server, already stopped
	}
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		s.t.Errorf("trent did not stop within 20s after SIGTERM")
		<-s.exited
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		s.t.Errorf("trent exited with status %d: %s", code, s.stderr)
	}
}

// startWithClock runs trent in dev mode in the test's own process (the
// server package, as "trent serve" runs it), on a free loopback port, with
// two differences only Go code can make: the service reads the time from
// clock, and it does its scheduled work (deletions, rotations, expiry)
// only when the test calls runScheduled. That is how a test lets years
// pass in seconds. Requests still travel over HTTP and are signed and
// checked against the real time.
func startWithClock(t *testing.T, dataDir string, clock *testclock.Clock) *server {
	t.Helper()
	s := &server{t: t, DataDir: dataDir, stderr: new(syncBuffer), exited: make(chan struct{})}
	cfg := config.DevConfig("127.0.0.1:0", dataDir)
	srv, err := trentserver.Start(cfg, trentserver.Options{
		Now:              clock.Now,
		ScheduleInterval: -1,
		Logger:           slog.New(slog.NewTextHandler(s.stderr, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	s.inProcess, s.URL = srv, srv.URL()
	t.Cleanup(s.stop)
	return s
}

// runScheduled does the scheduled work that is due on the server's clock.
func (s *server) runScheduled(t *testing.T) {
	t.Helper()
	if _, err := s.inProcess.RunScheduledWork(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// client returns an AWS SDK KMS client for the server with the dev credentials.
func (s *server) client() *kms.Client {
	return s.clientWith(accessKey, secretKey, region)
}

func (s *server) clientWith(id, secret, region string) *kms.Client {
	return kms.New(kms.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}, nil
		}),
		HTTPClient:       stableBodies{awshttp.NewBuildableClient()},
		RetryMaxAttempts: 1,
	})
}

// stableBodies hands the transport a request body of its own: the bytes
// the SDK would send, in a reader nothing else touches. On loopback, with
// the race detector slowing the client, trent's answer can arrive while
// the Go transport is still making its last read of the request body; the
// SDK's body then reports an error there, and the transport closes the
// connection under the answer, which the caller sees as "deserialization
// failed ... use of closed network connection" on a 200 (seen with ML-DSA
// Sign and long descriptions). That is the client's race, not trent's; with
// a plain reader it cannot happen.
type stableBodies struct{ next *awshttp.BuildableClient }

func (c stableBodies) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	return c.next.Do(req)
}

// rawResponse is an HTTP answer from trent.
type rawResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// errorBody decodes an AWS error body.
func (r rawResponse) errorBody(t *testing.T) (code, message string) {
	t.Helper()
	var e struct {
		Type    string  `json:"__type"`
		Message *string `json:"message"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", r.Body, err)
	}
	if e.Message != nil {
		message = *e.Message
	}
	return e.Type, message
}

// signedRequest describes a raw request: target operation and body, and how
// to sign it.
type signedRequest struct {
	Target    string // e.g. "Encrypt"; sent as TrentService.<Target>
	Body      string
	AccessKey string    // default accessKey
	Secret    string    // default secretKey
	SigningAt time.Time // default now
	Unsigned  bool      // send no Authorization header at all
	RawTarget string    // if set, the whole X-Amz-Target value
	Region    string    // default region
	// Before and After change the request before and after it is signed.
	Before, After func(*http.Request)
}

// do sends a request signed with the SDK's own SigV4 signer.
func (s *server) do(t *testing.T, r signedRequest) rawResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	target := "TrentService." + r.Target
	if r.RawTarget != "" {
		target = r.RawTarget
	}
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if r.Before != nil {
		r.Before(req)
	}
	if !r.Unsigned {
		creds := aws.Credentials{AccessKeyID: or(r.AccessKey, accessKey), SecretAccessKey: or(r.Secret, secretKey)}
		at := r.SigningAt
		if at.IsZero() {
			at = time.Now()
		}
		sum := sha256.Sum256([]byte(r.Body))
		err = v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "kms", or(r.Region, region), at)
		if err != nil {
			t.Fatal(err)
		}
	}
	if r.After != nil {
		r.After(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// wantAPIError checks that err is an AWS API error with the given code and,
// if message is not empty, exactly that message.
func wantAPIError(t *testing.T, err error, code, message string) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("got error %v, want API error %s", err, code)
	}
	if apiErr.ErrorCode() != code {
		t.Fatalf("got error code %s (%s), want %s", apiErr.ErrorCode(), apiErr.ErrorMessage(), code)
	}
	if message != "" && apiErr.ErrorMessage() != message {
		t.Fatalf("%s message:\n got %q\nwant %q", code, apiErr.ErrorMessage(), message)
	}
}

func keyARN(id string) string { return "arn:aws:kms:" + region + ":" + account + ":key/" + id }

// syncBuffer is a bytes.Buffer that a test may read while the process
// still writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
