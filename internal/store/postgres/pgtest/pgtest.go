// Package pgtest starts throw-away PostgreSQL 15 servers for tests.
//
// A Server runs Debian's binaries (/usr/lib/postgresql/15/bin, or
// $TRENT_PG_BINDIR) on a data directory in a fresh temporary directory. It
// listens on 127.0.0.1 only, on a free port, with no unix socket, and
// requires a password (SCRAM) even there. Stop, or the test cleanup, shuts
// it down and removes the directory.
//
// PostgreSQL refuses to run as root. When the tests run as root (as CI
// does), the server runs as the unprivileged system user trent-pgtest
// ($TRENT_PGTEST_USER), which scripts/install-test-deps.sh creates.
//
// When PostgreSQL or that user is missing, Start and Shared skip the test
// with a message saying what to install, unless the environment variable CI
// is set: then they fail it, so that CI cannot pass by testing nothing.
//
// Packages whose tests share one server use Shared and end with RunMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.RunMain(m)) }
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultBinDir is where Debian's postgresql-15 package puts its programs.
const DefaultBinDir = "/usr/lib/postgresql/15/bin"

// DefaultUser is the account servers run as when the tests run as root.
const DefaultUser = "trent-pgtest"

const adminUser = "pgtest_admin"

// Options shape a server. The zero value is a fast, non-durable server.
type Options struct {
	// Durable keeps fsync, full-page writes and synchronous commit on, as
	// in production; benchmarks want it. Off by default: tests do not
	// crash the machine, and it makes every commit much cheaper.
	Durable bool
	// Settings are extra server settings (name → value), passed as -c.
	Settings map[string]string
}

// Server is a running throw-away PostgreSQL server.
type Server struct {
	dir      string // temporary directory: data/, password file, log
	port     int
	password string
	cmd      *exec.Cmd
	exited   chan struct{}
	waitErr  error

	mu      sync.Mutex
	stopped bool
	serial  int
}

// Missing reports why no server can be started here, or nil if one can.
func Missing() error {
	bin := binDir()
	for _, prog := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(bin, prog)); err != nil {
			return fmt.Errorf("PostgreSQL 15 is not installed (%s/%s: %v); run scripts/install-test-deps.sh", bin, prog, err)
		}
	}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup(runAs()); err != nil {
			return fmt.Errorf("running as root and there is no user %s to run PostgreSQL as (%v); run scripts/install-test-deps.sh", runAs(), err)
		}
	}
	return nil
}

// Require skips tb if no server can be started here, or fails it if the
// environment variable CI is set.
func Require(tb testing.TB) {
	tb.Helper()
	if err := Missing(); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("pgtest: %v (CI is set: failing rather than skipping)", err)
		}
		tb.Skipf("pgtest: %v", err)
	}
}

// Start starts a server for tb and stops it when tb ends.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	Require(tb)
	s, err := StartServer(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

var shared struct {
	sync.Mutex
	s   *Server
	err error
}

// Shared returns a server shared by every test of the process, starting it
// on first use. RunMain stops it.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	Require(tb)
	shared.Lock()
	defer shared.Unlock()
	if shared.s == nil && shared.err == nil {
		shared.s, shared.err = StartServer(Options{})
	}
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.s
}

// RunMain runs the tests and then stops the shared server, if one was
// started; its result is the exit code.
func RunMain(m *testing.M) int {
	code := m.Run()
	shared.Lock()
	defer shared.Unlock()
	if shared.s != nil {
		if err := shared.s.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

func binDir() string {
	if d := os.Getenv("TRENT_PG_BINDIR"); d != "" {
		return d
	}
	return DefaultBinDir
}

func runAs() string {
	if u := os.Getenv("TRENT_PGTEST_USER"); u != "" {
		return u
	}
	return DefaultUser
}

// StartServer starts a server; the caller must Stop it.
func StartServer(opts Options) (*Server, error) {
	if err := Missing(); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "trent-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &Server{dir: dir, password: randomHex(16)}
	if err := s.init(cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The port is free when chosen but may be taken before the server
	// binds it: try a few.
	for attempt := 0; ; attempt++ {
		if err = s.start(cred, opts); err == nil {
			return s, nil
		}
		if attempt == 2 || !strings.Contains(err.Error(), "could not bind") {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// credential is whom the server runs as: nil (ourselves) unless we are root.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(runAs())
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pgtest: user %s: %w", u.Username, err)
	}
	// Groups empty: drop root's supplementary groups too.
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

func (s *Server) command(cred *syscall.Credential, prog string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(binDir(), prog), args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
	// Pdeathsig: a test binary that dies without cleanup takes its server
	// with it (SIGQUIT is PostgreSQL's immediate shutdown).
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	return cmd
}

func (s *Server) init(cred *syscall.Credential) error {
	pwfile := filepath.Join(s.dir, "pw")
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if cred != nil {
		for _, p := range []string{s.dir, pwfile} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return fmt.Errorf("pgtest: %w", err)
			}
		}
	}
	cmd := s.command(cred, "initdb", "-D", filepath.Join(s.dir, "data"), "-U", adminUser,
		"--pwfile="+pwfile, "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	return os.Remove(pwfile)
}

func (s *Server) start(cred *syscall.Credential, opts Options) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.port = port
	settings := map[string]string{
		"listen_addresses":        "127.0.0.1",
		"port":                    strconv.Itoa(port),
		"unix_socket_directories": "",
		"max_connections":         "200",
		"shared_buffers":          "32MB",
		"logging_collector":       "off",
		"log_min_messages":        "warning",
	}
	if !opts.Durable {
		settings["fsync"] = "off"
		settings["full_page_writes"] = "off"
		settings["synchronous_commit"] = "off"
	}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	args := []string{"-D", filepath.Join(s.dir, "data")}
	for k, v := range settings {
		args = append(args, "-c", k+"="+v)
	}
	logPath := filepath.Join(s.dir, "server.log")
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer log.Close()
	s.cmd = s.command(cred, "postgres", args...)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: starting postgres: %w", err)
	}
	s.exited = make(chan struct{})
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := pgx.Connect(ctx, s.AdminDSN())
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-s.exited:
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("pgtest: postgres exited (%v):\n%s", s.waitErr, out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("pgtest: postgres not ready after 60s: %v\n%s", err, out)
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) kill() {
	s.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// Stop shuts the server down and removes its files. Stopping twice is not an error.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	s.stopped = true
	// SIGINT is a fast shutdown: clients are disconnected, nothing waits.
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.kill()
	}
	return os.RemoveAll(s.dir)
}

// Port is the TCP port the server listens on, on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// DataDir is the server's data directory.
func (s *Server) DataDir() string { return filepath.Join(s.dir, "data") }

// AdminDSN connects to the postgres database as the superuser.
func (s *Server) AdminDSN() string { return s.dsn(adminUser, s.password, "postgres") }

func (s *Server) dsn(user, password, db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Admin runs one statement as the superuser.
func (s *Server) Admin(ctx context.Context, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, s.AdminDSN())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// NewDatabase makes an empty database owned by a new role that is not a
// superuser, and returns a DSN that connects to it as that role. Both are
// dropped when tb ends.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	s.mu.Lock()
	s.serial++
	name := fmt.Sprintf("t%d_%s", s.serial, randomHex(4))
	s.mu.Unlock()
	password := randomHex(16)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Identifiers are made here from hex: no quoting needed.
	for _, sql := range []string{
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", name, password),
		fmt.Sprintf("CREATE DATABASE %s OWNER %s", name, name),
	} {
		if err := s.Admin(ctx, sql); err != nil {
			tb.Fatalf("pgtest: %s: %v", sql, err)
		}
	}
	tb.Cleanup(func() {
		s.mu.Lock()
		stopped := s.stopped
		s.mu.Unlock()
		if stopped {
			return // gone with the server
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, sql := range []string{
			fmt.Sprintf("DROP DATABASE %s WITH (FORCE)", name),
			fmt.Sprintf("DROP ROLE %s", name),
		} {
			if err := s.Admin(ctx, sql); err != nil {
				tb.Errorf("pgtest: %s: %v", sql, err)
			}
		}
	})
	return s.dsn(name, password, name)
}

// Log returns what the server has logged so far.
func (s *Server) Log() []byte {
	out, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	return bytes.Clone(out)
}
