package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// TestTargetMustBeSignedOnce replays a signed DescribeKey as a DisableKey:
// with X-Amz-Target left out of the signature, or added a second time
// after signing. Both are refused and the key stays enabled.
func TestTargetMustBeSignedOnce(t *testing.T) {
	s := startServer(t, t.TempDir())
	c := s.client()
	k := createKey(t, c, "replay target")
	body := `{"KeyId":"` + *k.KeyId + `"}`
	for _, tc := range []struct {
		name          string
		before, after func(*http.Request)
		code, message string
	}{
		{"target not signed",
			func(r *http.Request) { r.Header.Del("X-Amz-Target") },
			func(r *http.Request) { r.Header.Set("X-Amz-Target", "TrentService.DisableKey") },
			"InvalidSignatureException", "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."},
		{"target added after signing", nil,
			func(r *http.Request) { r.Header.Add("X-Amz-Target", "TrentService.DisableKey") },
			"InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."},
		{"two targets signed",
			func(r *http.Request) { r.Header.Add("X-Amz-Target", "TrentService.DisableKey") }, nil,
			"UnknownOperationException", ""},
		{"content type not signed",
			func(r *http.Request) { r.Header.Del("Content-Type") },
			func(r *http.Request) { r.Header.Set("Content-Type", "application/x-amz-json-1.1") },
			"InvalidSignatureException", "'Content-Type' must be a 'SignedHeader' in the AWS Authorization."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := s.do(t, signedRequest{Target: "DescribeKey", Body: body, Before: tc.before, After: tc.after})
			code, msg := resp.errorBody(t)
			if resp.Status != 400 || code != tc.code || msg != tc.message {
				t.Fatalf("got %d %s %q, want 400 %s %q", resp.Status, code, msg, tc.code, tc.message)
			}
		})
	}
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
	if err != nil || d.KeyMetadata.KeyState != types.KeyStateEnabled {
		t.Fatalf("the key after the replays: %v, %v", d, err)
	}
}

// TestDevModeAnswersLoopbackNamesOnly: a web page that rebinds its name to
// 127.0.0.1 sends its own name as Host, and is refused.
func TestDevModeAnswersLoopbackNamesOnly(t *testing.T) {
	s := startServer(t, t.TempDir())
	u, _ := url.Parse(s.URL)
	_, port, _ := net.SplitHostPort(u.Host)
	for host, ok := range map[string]bool{
		"127.0.0.1:" + port: true, "localhost:" + port: true, "LOCALHOST:" + port: true,
		"evil.example:" + port: false, "evil.example": false, "127.0.0.1:1": false, "127.0.0.1.nip.io:" + port: false,
	} {
		resp := s.do(t, signedRequest{Target: "ListKeys", Body: `{}`, Before: func(r *http.Request) { r.Host = host }})
		if ok && resp.Status != 200 {
			t.Errorf("Host %q: %d %s", host, resp.Status, resp.Body)
		}
		if !ok {
			code, msg := resp.errorBody(t)
			if resp.Status != 400 || code != "AccessDeniedException" || !strings.Contains(msg, "dev mode answers only requests for") {
				t.Errorf("Host %q: %d %s %q", host, resp.Status, code, msg)
			}
		}
	}
}

// TestEncryptionContextIsBounded: an encryption context beyond 8192
// encoded bytes is a ValidationException, not an internal error, and its
// audit record does not hold it all.
func TestEncryptionContextIsBounded(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	c := s.client()
	k := createKey(t, c, "ec bound")
	big := map[string]string{}
	for i := range 20000 {
		big["k"+strconv.Itoa(i)] = "v"
	}
	_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x"), EncryptionContext: big})
	wantAPIError(t, err, "ValidationException", "Invalid EncryptionContext: its encoding takes 208892 bytes, more than the limit of 8192.")
	fits := map[string]string{"k": strings.Repeat("v", 8192-2-4-1)}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x"), EncryptionContext: fits})
	if err != nil {
		t.Fatalf("a context of exactly 8192 bytes: %v", err)
	}
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: fits}); err != nil {
		t.Fatal(err)
	}
	fits["k"] += "v"
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: fits})
	wantAPIError(t, err, "ValidationException", "")
	s.stop()
	info, err := os.Stat(filepath.Join(dir, "audit.jsonl"))
	if err != nil || info.Size() > 100<<10 {
		t.Fatalf("the audit log holds %d bytes after one huge context", info.Size())
	}
}

// TestAuditFailureFailsRequests puts the audit log over a file size limit
// (as a full disk would): no request may then succeed, trent says so once
// and /readyz fails, and it recovers when the log can be written again,
// with an intact chain.
func TestAuditFailureFailsRequests(t *testing.T) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prlimit (util-linux) is not installed; scripts/install-test-deps.sh installs it")
		}
		t.Skip("prlimit (util-linux) is not installed")
	}
	dir := t.TempDir()
	metricsAddr := freePort(t)
	cfg := devConfig()
	cfg["metrics_listen"] = metricsAddr
	cfg["drain_seconds"] = 0
	s := startServerWithConfig(t, dir, cfg)
	c := s.client()
	ready := func() int {
		t.Helper()
		resp, err := http.Get("http://" + metricsAddr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := ready(); code != 200 {
		t.Fatalf("/readyz before the outage: %d", code)
	}
	k := createKey(t, c, "audited")
	pid := strconv.Itoa(s.cmd.Process.Pid)
	info, err := os.Stat(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	limit := func(soft string) {
		t.Helper()
		if out, err := exec.Command("prlimit", "--pid", pid, "--fsize="+soft+":unlimited").CombinedOutput(); err != nil {
			t.Fatalf("prlimit: %v %s", err, out)
		}
	}
	limit(strconv.FormatInt(info.Size(), 10)) // the disk is full
	for range 5 {
		resp := s.do(t, signedRequest{Target: "Encrypt", Body: `{"KeyId":"` + *k.KeyId + `","Plaintext":"aGk="}`})
		code, _ := resp.errorBody(t)
		if resp.Status != 500 || code != "KMSInternalException" {
			t.Fatalf("with the audit log unwritable: %d %s", resp.Status, resp.Body)
		}
	}
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{})
	wantAPIError(t, err, "KMSInternalException", "")
	if code := ready(); code != 503 {
		t.Fatalf("/readyz while the audit log cannot be written: %d", code)
	}
	limit("unlimited")
	// trent finds out within a second (it tries to write the log every
	// second while it cannot), or from the next request's record.
	time.Sleep(1500 * time.Millisecond)
	if code := ready(); code != 200 {
		t.Fatalf("/readyz after the audit log recovered: %d", code)
	}
	if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("hi")}); err != nil {
		t.Fatalf("after the log recovered: %v", err)
	}
	s.stop()
	if n := strings.Count(s.stderr.String(), "AUDIT LOG NOT WRITABLE"); n != 1 {
		t.Fatalf("the outage was logged %d times, want once:\n%s", n, s.stderr)
	}
	out, err := exec.Command(trentBinary, "audit", "verify", "--data", dir, filepath.Join(dir, "audit.jsonl")).CombinedOutput()
	// The refused requests could not be recorded; the log resumed with a new segment.
	if err != nil || !strings.HasPrefix(string(out), "OK: 2 records, 2 segments") {
		t.Fatalf("audit verify after the outage: %v\n%s", err, out)
	}
}

// TestAuditReopenOnSIGHUP follows logrotate: the log is renamed, trent gets
// SIGHUP and writes a new file from the next request on; nothing is lost
// in between, and trent audit verify checks the chain across both files.
func TestAuditReopenOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	c := s.client()
	for range 3 {
		createKey(t, c, "before the rotation")
	}
	path := filepath.Join(dir, "audit.jsonl")
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	// A request between the rename and SIGHUP goes to the renamed file,
	// as with any program that logrotate renames under.
	createKey(t, c, "between")
	s.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool {
		createKey(t, c, "after the rotation")
		_, err := os.Stat(path)
		return err == nil
	}, "a new audit.jsonl after SIGHUP")
	createKey(t, c, "after the rotation")
	s.stop()
	count := func(p string) int {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(b), `"eventName":"CreateKey"`)
	}
	before, after := count(rotated), count(path)
	if before < 4 || after < 1 {
		t.Fatalf("CreateKey records: %d in the rotated file, %d in the new one", before, after)
	}
	out, err := exec.Command(trentBinary, "audit", "verify", "--data", dir, rotated, path).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "OK: "+strconv.Itoa(before+after)+" records") {
		t.Fatalf("audit verify across the rotation: %v\n%s", err, out)
	}
	// The new file alone verifies, and the verifier says that records come
	// before it.
	out, err = exec.Command(trentBinary, "audit", "verify", "--data", dir, path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ": the records before it are not in them.") {
		t.Fatalf("audit verify of the new file alone: %v\n%s", err, out)
	}
}

// TestAuditVerifyCommand runs trent audit verify on an intact log, then on
// one with a record changed: it names the place, and exits 1.
func TestAuditVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	c := s.client()
	for range 3 {
		createKey(t, c, "k")
	}
	s.stop()
	path := filepath.Join(dir, "audit.jsonl")
	verify := func() (string, error) {
		out, err := exec.Command(trentBinary, "audit", "verify", "--data", dir, path).CombinedOutput()
		return string(out), err
	}
	if out, err := verify(); err != nil || !strings.HasPrefix(out, "OK: 3 records") || !strings.Contains(out, "authenticated by a checkpoint") {
		t.Fatalf("an intact log: %v\n%s", err, out)
	}
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	lines[2] = strings.Replace(lines[2], `"eventName":"CreateKey"`, `"eventName":"DescribeKey"`, 1)
	os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	out, err := verify()
	if err == nil || !strings.Contains(out, "BROKEN at "+path+":4") {
		t.Fatalf("a changed record: %v\n%s", err, out)
	}
}

// rssKiB is the resident memory of a process.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestSlowConnectionsDoNotGrowMemory opens 300 connections that announce a
// 1 MiB body and send it a byte at a time: half without a valid access
// key, half with the (public) dev key but a signature that will not
// verify. trent must not set aside memory for bodies it has not received;
// before, this held 300 MiB.
func TestSlowConnectionsDoNotGrowMemory(t *testing.T) {
	s := startServer(t, t.TempDir())
	c := s.client()
	for range 20 { // warm up: buffers, caches, the first goroutines
		createKey(t, c, "warm")
	}
	pid := s.cmd.Process.Pid
	before := rssKiB(t, pid)
	u, _ := url.Parse(s.URL)
	now := time.Now().UTC()
	const conns = 300
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for i := range conns {
		akid := "AKIDUNKNOWN"
		if i%2 == 0 {
			akid = accessKey
		}
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, conn)
		fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: TrentService.Encrypt\r\n"+
			"X-Amz-Date: %s\r\nAuthorization: AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/kms/aws4_request, "+
			"SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=%s\r\nContent-Length: 1048576\r\n\r\n{",
			u.Host, now.Format("20060102T150405Z"), akid, now.Format("20060102"), strings.Repeat("0", 64))
	}
	for range 20 { // two seconds of trickling
		for _, conn := range open {
			conn.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
			conn.Write([]byte(" "))
		}
		time.Sleep(100 * time.Millisecond)
	}
	grown := rssKiB(t, pid) - before
	// Stated bound (docs/security.md): about 100 KiB per connection before
	// authentication; under the race detector, which multiplies memory,
	// twice that.
	bound := conns * 100
	if raceEnabled {
		bound *= 2
	}
	t.Logf("resident memory grew by %d KiB for %d slow connections (bound %d KiB)", grown, conns, bound)
	if grown > bound {
		t.Fatalf("resident memory grew by %d KiB for %d slow connections, more than %d KiB", grown, conns, bound)
	}
	// The unauthenticated half was answered without its body.
	r := bufio.NewReader(open[1])
	open[1].SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Type string `json:"__type"`
	}
	json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != 400 || e.Type != "UnrecognizedClientException" {
		t.Fatalf("an unknown access key with a slow body: %d %s", resp.StatusCode, e.Type)
	}
}

// TestConnectionLimit: beyond max_connections a new connection is told to
// back off (503 ThrottlingException, which SDKs retry), and served again
// once a slot is free.
func TestConnectionLimit(t *testing.T) {
	cfg := devConfig()
	cfg["max_connections"] = 4
	s := startServerWithConfig(t, t.TempDir(), cfg)
	u, _ := url.Parse(s.URL)
	var held []net.Conn
	for range 4 {
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, conn)
	}
	time.Sleep(100 * time.Millisecond) // let trent accept them
	resp := s.do(t, signedRequest{Target: "ListKeys", Body: `{}`})
	code, msg := resp.errorBody(t)
	if resp.Status != 503 || code != "ThrottlingException" || !strings.Contains(msg, "at most 4") {
		t.Fatalf("the fifth connection: %d %s %q", resp.Status, code, msg)
	}
	held[0].Close()
	time.Sleep(100 * time.Millisecond)
	if _, err := s.client().ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
		t.Fatalf("after a slot was freed: %v", err)
	}
	for _, c := range held[1:] {
		c.Close()
	}
}

var _ = aws.String
