// Package softhsmtest gives tests Debian's SoftHSM2 with throw-away tokens:
// a configuration whose token directory is a temporary directory of the
// test binary, and fresh tokens in it. Without SoftHSM2 the tests that ask
// for it are skipped, except in CI (CI set), where its absence is a failure:
// scripts/install-test-deps.sh installs it.
package softhsmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// modules are where Debian and other distributions put the module.
var modules = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
}

var setup struct {
	once   sync.Once
	module string
	util   string
	dir    string
	err    error
	tokens atomic.Int64
}

// Module returns the path of the SoftHSM2 module, having set up (once per
// test binary) a configuration whose tokens live in a temporary directory.
// SOFTHSM2_CONF points at it for the whole process: the module reads it at
// C_Initialize, and softhsm2-util and any trent process the test starts
// inherit it. Without SoftHSM2 it skips t, or fails it when CI is set.
func Module(t testing.TB) string {
	t.Helper()
	setup.once.Do(func() { setup.err = configure() })
	if setup.err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and the PKCS#11 tests cannot run: %v", setup.err)
		}
		t.Skipf("skipping PKCS#11 test: %v", setup.err)
	}
	return setup.module
}

func configure() error {
	for _, m := range modules {
		if _, err := os.Stat(m); err == nil {
			setup.module = m
			break
		}
	}
	util, err := exec.LookPath("softhsm2-util")
	if setup.module == "" || err != nil {
		return fmt.Errorf("softhsm2 is not installed (module in %v, softhsm2-util on PATH): apt-get install softhsm2, or run scripts/install-test-deps.sh", modules)
	}
	setup.util = util
	dir, err := os.MkdirTemp("", "trent-softhsm-")
	if err != nil {
		return err
	}
	setup.dir = dir
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		return err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	text := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return err
	}
	return os.Setenv("SOFTHSM2_CONF", conf)
}

// NewToken initialises a fresh token with the user PIN pin and the security
// officer PIN soPIN, and returns its label. SoftHSM2 lists the tokens it
// finds at C_Initialize, so a process sees a token only if it opens the
// module after the token was made.
func NewToken(t testing.TB, pin, soPIN string) string {
	t.Helper()
	Module(t)
	label := fmt.Sprintf("trent-test-%d-%d", os.Getpid(), setup.tokens.Add(1))
	out, err := exec.Command(setup.util, "--init-token", "--free", "--label", label,
		"--pin", pin, "--so-pin", soPIN).CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return label
}

// Dir is the temporary directory that holds the tokens and the
// configuration ("" before Module set it up).
func Dir() string { return setup.dir }

// Cleanup removes the temporary directory; call it from TestMain after the
// tests have run.
func Cleanup() {
	if setup.dir != "" {
		os.RemoveAll(setup.dir)
	}
}
