package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// noIMDS keeps the AWS credential chain off the EC2 metadata address: the
// tests talk to loopback only.
const noIMDS = "AWS_EC2_METADATA_DISABLED=true"

// trentBin is the trent command, built once for these tests.
var trentBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "trent-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	trentBin = filepath.Join(dir, "trent")
	build := exec.Command("go", "build", "-o", trentBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building trent:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// serveTrent runs "trent serve" in dev mode and returns its endpoint.
func serveTrent(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(trentBin, "serve", "--listen", "127.0.0.1:0", "--data", t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "endpoint:"); ok {
				urls <- strings.TrimSpace(u)
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
		}
	})
	select {
	case u := <-urls:
		return u
	case <-time.After(30 * time.Second):
		t.Fatalf("trent did not start: %s", stderr.String())
	}
	return ""
}

type cli struct {
	t        *testing.T
	endpoint string
}

// env is the environment of a run: the standard AWS chain, with nothing
// from the machine's own AWS configuration.
func (c *cli) env() []string {
	home := c.t.TempDir()
	return []string{
		"HOME=" + home, "PATH=" + os.Getenv("PATH"),
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
		noIMDS,
	}
}

// run runs trent with args (the endpoint added) and returns stdout, stderr
// and the exit code.
func (c *cli) run(stdin []byte, args ...string) (stdout, stderr []byte, code int) {
	c.t.Helper()
	cmd := exec.Command(trentBin, append(args, "--endpoint-url", c.endpoint)...)
	cmd.Env = c.env()
	cmd.Stdin = bytes.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return o.Bytes(), e.Bytes(), ee.ExitCode()
		}
		c.t.Fatal(err)
	}
	return o.Bytes(), e.Bytes(), 0
}

func (c *cli) ok(stdin []byte, args ...string) []byte {
	c.t.Helper()
	out, errOut, code := c.run(stdin, args...)
	if code != 0 {
		c.t.Fatalf("trent %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

func (c *cli) fails(stdin []byte, want string, args ...string) {
	c.t.Helper()
	_, errOut, code := c.run(stdin, args...)
	if code == 0 {
		c.t.Fatalf("trent %s succeeded", strings.Join(args, " "))
	}
	if !strings.Contains(string(errOut), want) {
		c.t.Fatalf("trent %s: stderr %q does not say %q", strings.Join(args, " "), errOut, want)
	}
}

func (c *cli) kms() *kms.Client {
	return kms.New(kms.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(c.endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		}),
	})
}

func (c *cli) createKey(alias string) string {
	c.t.Helper()
	k := c.kms()
	out, err := k.CreateKey(context.Background(), &kms.CreateKeyInput{})
	if err != nil {
		c.t.Fatal(err)
	}
	if alias != "" {
		if _, err := k.CreateAlias(context.Background(), &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
			c.t.Fatal(err)
		}
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

// onlyFiles fails unless dir holds exactly the named files.
func onlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("%s holds %v, want %v", dir, got, names)
	}
}

func TestEncryptDecryptCLI(t *testing.T) {
	c := &cli{t: t, endpoint: serveTrent(t)}
	k1 := c.createKey("alias/cli-backup")
	k2 := c.createKey("")
	k3 := c.createKey("")
	k2ID := k2[strings.LastIndex(k2, "/")+1:]
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	pt := make([]byte, 3<<20+11)
	rand.Read(pt)
	os.WriteFile(plain, pt, 0o600)
	msg := filepath.Join(dir, "plain.enc")

	for _, alg := range []string{"committing-signed", "committing"} {
		// Keys by alias, key ID and ARN; the message records their ARNs.
		c.ok(nil, "encrypt", "--key-id", "alias/cli-backup", "--key-id", k2ID, "--key-id", k3,
			"--context", "host=db1", "--context", "kind=backup", "-i", plain, "-o", msg, "--algorithm", alg, "--frame-size", "65536")
		raw, _ := os.ReadFile(msg)
		for _, k := range []string{k1, k2, k3} {
			if !bytes.Contains(raw, []byte(k)) {
				t.Fatalf("message does not name %s", k)
			}
		}
		out := filepath.Join(dir, "out")
		for _, keyArgs := range [][]string{
			{"--key-id", "alias/cli-backup"}, {"--key-id", k2ID}, {"--key-id", k3},
			{"--discovery"}, {"--discovery", "--discovery-account", "111122223333"},
		} {
			args := append([]string{"decrypt", "-i", msg, "-o", out, "--context", "host=db1"}, keyArgs...)
			c.ok(nil, args...)
			got, _ := os.ReadFile(out)
			if !bytes.Equal(got, pt) {
				t.Fatalf("%s %v: plaintext differs", alg, keyArgs)
			}
			os.Remove(out)
		}
		// Refusals leave no output file.
		c.fails(nil, "no encrypted data key could be decrypted", "decrypt", "-i", msg, "-o", out, "--discovery", "--discovery-account", "444455556666")
		c.fails(nil, "host", "decrypt", "-i", msg, "-o", out, "--discovery", "--context", "host=db2")
		c.fails(nil, "", "decrypt", "-i", msg, "-o", out, "--discovery", "--context", "owner=alice")
		onlyFiles(t, dir, "plain", "plain.enc")
	}

	// Pipes: standard input and output.
	enc := c.ok(pt[:5000], "encrypt", "--key-id", k1, "-i", "-", "-o", "-")
	dec := c.ok(enc, "decrypt", "--key-id", k1, "-i", "-", "-o", "-")
	if !bytes.Equal(dec, pt[:5000]) {
		t.Fatal("pipe round trip differs")
	}
	empty := c.ok(nil, "encrypt", "--key-id", k1, "-i", "-", "-o", "-")
	if got := c.ok(empty, "decrypt", "--discovery", "-i", "-", "-o", "-"); len(got) != 0 {
		t.Fatal("empty round trip")
	}
}

// TestDecryptTamperedCLI flips bits across a message: each is refused with
// a non-zero exit and no plaintext file left behind.
func TestDecryptTamperedCLI(t *testing.T) {
	c := &cli{t: t, endpoint: serveTrent(t)}
	k := c.createKey("")
	dir := t.TempDir()
	pt := make([]byte, 200_000)
	rand.Read(pt)
	for _, alg := range []string{"committing-signed", "committing"} {
		msg := c.ok(pt, "encrypt", "--key-id", k, "-i", "-", "-o", "-", "--frame-size", "4096", "--algorithm", alg)
		// Every byte of the header, then a spread of positions through the body and footer.
		var positions []int
		for i := 0; i < 400 && i < len(msg); i++ {
			positions = append(positions, i)
		}
		for i := 400; i < len(msg); i += 997 {
			positions = append(positions, i)
		}
		positions = append(positions, len(msg)-1)
		bad := filepath.Join(dir, "bad.enc")
		out := filepath.Join(dir, "out")
		for _, p := range positions {
			m := bytes.Clone(msg)
			m[p] ^= 0x04
			os.WriteFile(bad, m, 0o600)
			if _, errOut, code := c.run(nil, "decrypt", "--discovery", "-i", bad, "-o", out); code == 0 {
				t.Fatalf("%s: flipped bit at byte %d of %d accepted", alg, p, len(msg))
			} else if len(errOut) == 0 {
				t.Fatalf("%s: no message for byte %d", alg, p)
			}
			onlyFiles(t, dir, "bad.enc")
		}
		// Truncated and extended.
		for _, m := range [][]byte{msg[:len(msg)-1], msg[:len(msg)/2], append(bytes.Clone(msg), 0)} {
			os.WriteFile(bad, m, 0o600)
			c.fails(nil, "malformed", "decrypt", "--discovery", "-i", bad, "-o", out)
			onlyFiles(t, dir, "bad.enc")
		}
	}
}

func TestCLIUsageErrors(t *testing.T) {
	c := &cli{t: t, endpoint: "http://127.0.0.1:1"}
	c.fails(nil, "at least one --key-id", "encrypt", "-i", "-", "-o", "-")
	c.fails(nil, "--discovery", "decrypt", "-i", "-", "-o", "-")
	c.fails(nil, "required", "encrypt", "--key-id", "k")
	c.fails(nil, "key=value", "encrypt", "--key-id", "k", "--context", "novalue", "-i", "-", "-o", "-")
	c.fails(nil, "--algorithm", "encrypt", "--key-id", "k", "--algorithm", "0x0178", "-i", "-", "-o", "-")
	c.fails(nil, "reserved", "encrypt", "--key-id", "k", "--context", "aws-crypto-public-key=x", "-i", "-", "-o", "-")
}

// TestCLISharedConfigProfile: credentials and region from the shared files
// and a named profile, with no AWS variables but the files' paths.
func TestCLISharedConfigProfile(t *testing.T) {
	endpoint := serveTrent(t)
	c := &cli{t: t, endpoint: endpoint}
	key := c.createKey("alias/profile-test")
	home := t.TempDir()
	creds := filepath.Join(home, "credentials")
	conf := filepath.Join(home, "config")
	os.WriteFile(creds, []byte("[backup]\naws_access_key_id = test\naws_secret_access_key = test\n"), 0o600)
	os.WriteFile(conf, []byte("[profile backup]\nregion = us-east-1\n"), 0o600)
	env := []string{"HOME=" + home, "AWS_SHARED_CREDENTIALS_FILE=" + creds, "AWS_CONFIG_FILE=" + conf, noIMDS}
	run := func(stdin []byte, args ...string) []byte {
		cmd := exec.Command(trentBin, append(args, "--endpoint-url", endpoint)...)
		cmd.Env = env
		cmd.Stdin = bytes.NewReader(stdin)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("trent %v: %v: %s", args, err, e.String())
		}
		return o.Bytes()
	}
	msg := run([]byte("from a profile"), "encrypt", "--profile", "backup", "--key-id", "alias/profile-test", "-i", "-", "-o", "-")
	if got := run(msg, "decrypt", "--profile", "backup", "--key-id", key, "-i", "-", "-o", "-"); string(got) != "from a profile" {
		t.Fatalf("got %q", got)
	}
}

// TestOutputToSpecialFile: an output that is a device or a named pipe is
// written to as it is: renaming a temporary file over it, as for regular
// files, would replace /dev/null with a regular file.
func TestOutputToSpecialFile(t *testing.T) {
	c := &cli{t: t, endpoint: serveTrent(t)}
	k := c.createKey("")
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	msg := c.ok([]byte("through a pipe"), "encrypt", "--key-id", k, "-i", "-", "-o", "-")
	in := filepath.Join(dir, "msg")
	os.WriteFile(in, msg, 0o600)
	got := make(chan []byte, 1)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- b
	}()
	c.ok(nil, "decrypt", "--key-id", k, "-i", in, "-o", fifo)
	if b := <-got; string(b) != "through a pipe" {
		t.Fatalf("read %q from the pipe", b)
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the named pipe was replaced: %v %v", st.Mode(), err)
	}
	onlyFiles(t, dir, "fifo", "msg")
}

// TestCLIProgress: on a terminal (a pseudo-terminal made by script(1)) the
// command draws a progress bar on standard error, and --quiet draws none;
// in a pipe it writes nothing to standard error on success.
func TestCLIProgress(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script (bsdutils) is not installed")
	}
	c := &cli{t: t, endpoint: serveTrent(t)}
	k := c.createKey("")
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, make([]byte, 8<<20), 0o600)
	onTerminal := func(extra ...string) string {
		t.Helper()
		args := append([]string{trentBin, "encrypt", "--endpoint-url", c.endpoint, "--key-id", k, "-i", plain, "-o", filepath.Join(dir, "out")}, extra...)
		// script runs the command on a new pseudo-terminal and copies what
		// the command writes to it to script's standard output.
		cmd := exec.Command(script, "-q", "-e", "-c", strings.Join(args, " "), "/dev/null")
		cmd.Env = c.env()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("trent encrypt on a terminal: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := onTerminal(); !strings.Contains(out, "encrypting [") || !strings.Contains(out, "100%") || !strings.Contains(out, "8.0 MiB") {
		t.Fatalf("no progress bar on a terminal: %q", out)
	}
	if out := onTerminal("--quiet"); strings.Contains(out, "encrypting") {
		t.Fatalf("--quiet drew a progress bar: %q", out)
	}
	_, errOut, code := c.run(nil, "encrypt", "--key-id", k, "-i", plain, "-o", filepath.Join(dir, "piped"))
	if code != 0 || len(errOut) != 0 {
		t.Fatalf("in a pipe: exit %d, standard error %q", code, errOut)
	}
}

// TestCLIRegion: --region names the region the requests are signed for (a
// key of another region is not found); without a region anywhere the
// command says what to set.
func TestCLIRegion(t *testing.T) {
	c := &cli{t: t, endpoint: serveTrent(t)}
	c.createKey("alias/in-us-east-1")
	var env []string
	for _, v := range c.env() {
		if !strings.HasPrefix(v, "AWS_REGION=") {
			env = append(env, v)
		}
	}
	run := func(args ...string) (string, int) {
		cmd := exec.Command(trentBin, append(args, "--endpoint-url", c.endpoint)...)
		cmd.Env = env
		cmd.Stdin = strings.NewReader("data")
		var e bytes.Buffer
		cmd.Stderr = &e
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return e.String(), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return e.String(), 0
	}
	if msg, code := run("encrypt", "--region", "us-east-1", "--key-id", "alias/in-us-east-1", "-i", "-", "-o", "/dev/null"); code != 0 {
		t.Fatalf("--region us-east-1: exit %d: %s", code, msg)
	}
	if msg, code := run("encrypt", "--region", "eu-west-1", "--key-id", "alias/in-us-east-1", "-i", "-", "-o", "/dev/null"); code == 0 || !strings.Contains(msg, "NotFoundException") {
		t.Fatalf("--region eu-west-1 found us-east-1's alias: exit %d: %s", code, msg)
	}
	if msg, code := run("encrypt", "--key-id", "alias/in-us-east-1", "-i", "-", "-o", "/dev/null"); code == 0 || !strings.Contains(msg, "no AWS region: set --region") {
		t.Fatalf("without a region: exit %d: %s", code, msg)
	}
}

// TestCLIStreamMemory: 5 GiB through "trent encrypt | trent decrypt", the
// plaintext made and checked by the test as it streams: each process's
// peak resident memory stays under 64 MiB. About 40 seconds on the
// project's 2-core machine; ENVELOPE_STREAM_BYTES sets another size,
// -short skips it.
//
// The peak is the kernel's VmHWM of each process, read while it runs.
// Not the maxrss that wait4 reports: Linux carries the forking process's
// peak into its child's maxrss across exec, so that would be the test
// binary's size.
func TestCLIStreamMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("long: skipped under -short")
	}
	size := int64(5 << 30)
	if s := os.Getenv("ENVELOPE_STREAM_BYTES"); s != "" {
		fmt.Sscan(s, &size)
	}
	c := &cli{t: t, endpoint: serveTrent(t)}
	k := c.createKey("")
	block := make([]byte, 1<<20+7)
	rand.Read(block)
	enc := exec.Command(trentBin, "encrypt", "--endpoint-url", c.endpoint, "--key-id", k, "-i", "-", "-o", "-")
	dec := exec.Command(trentBin, "decrypt", "--endpoint-url", c.endpoint, "--key-id", k, "-i", "-", "-o", "-")
	enc.Env, dec.Env = c.env(), c.env()
	var encErr, decErr bytes.Buffer
	enc.Stderr, dec.Stderr = &encErr, &decErr
	plainIn, err := enc.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if dec.Stdin, err = enc.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	plainOut, err := dec.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := enc.Start(); err != nil {
		t.Fatal(err)
	}
	if err := dec.Start(); err != nil {
		t.Fatal(err)
	}
	var peakEnc, peakDec atomic.Int64 // KiB
	stopWatching := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			peakEnc.Store(max(peakEnc.Load(), highWaterKiB(enc.Process.Pid)))
			peakDec.Store(max(peakDec.Load(), highWaterKiB(dec.Process.Pid)))
			select {
			case <-stopWatching:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	go func() {
		defer plainIn.Close()
		for off := int64(0); off < size; {
			b := block[off%int64(len(block)):]
			b = b[:min(int64(len(b)), size-off)]
			if _, err := plainIn.Write(b); err != nil {
				return
			}
			off += int64(len(b))
		}
	}()
	var got int64
	buf := make([]byte, 1<<20)
	bad := false
	for {
		n, err := plainOut.Read(buf)
		for i := 0; i < n; {
			at := (got + int64(i)) % int64(len(block))
			m := min(n-i, len(block)-int(at))
			if !bytes.Equal(buf[i:i+m], block[at:int(at)+m]) {
				bad = true
			}
			i += m
		}
		got += int64(n)
		if err != nil {
			break
		}
	}
	// The processes are finishing: one more look catches a late peak.
	peakEnc.Store(max(peakEnc.Load(), highWaterKiB(enc.Process.Pid)))
	peakDec.Store(max(peakDec.Load(), highWaterKiB(dec.Process.Pid)))
	close(stopWatching)
	<-watched
	if err := enc.Wait(); err != nil {
		t.Fatalf("trent encrypt: %v: %s", err, encErr.String())
	}
	if err := dec.Wait(); err != nil {
		t.Fatalf("trent decrypt: %v: %s", err, decErr.String())
	}
	if got != size || bad {
		t.Fatalf("%d bytes of %d came out, mismatch %v", got, size, bad)
	}
	t.Logf("%d MiB through trent encrypt | trent decrypt in %v; peak resident memory %d KiB and %d KiB",
		size>>20, time.Since(start).Round(time.Millisecond), peakEnc.Load(), peakDec.Load())
	for name, kib := range map[string]int64{"encrypt": peakEnc.Load(), "decrypt": peakDec.Load()} {
		if kib == 0 {
			t.Errorf("trent %s's resident memory was never read", name)
		}
		if kib > 64<<10 {
			t.Errorf("trent %s peaked at %d KiB of resident memory, more than 64 MiB", name, kib)
		}
	}
}

// highWaterKiB is a running process's peak resident memory (VmHWM), or 0
// once it has gone.
func highWaterKiB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kib int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kib)
			return kib
		}
	}
	return 0
}
