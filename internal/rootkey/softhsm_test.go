//go:build cgo

package rootkey

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	p11 "github.com/miekg/pkcs11"
)

// The PKCS#11 tests run against Debian's SoftHSM2 with throw-away tokens
// in a temporary directory. Without softhsm2 they are skipped, except in
// CI (CI set), where its absence is a failure: scripts/install-test-deps.sh
// installs it.

// softhsmModules are where Debian and other distributions put the module.
var softhsmModules = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
}

var softhsm struct {
	once   sync.Once
	module string
	util   string
	dir    string
	err    error
	labels atomic.Int64
}

const (
	testPIN   = "user-pin-2468"
	testSOPIN = "so-pin-13579"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if softhsm.dir != "" {
		os.RemoveAll(softhsm.dir)
	}
	os.Exit(code)
}

// softHSM returns the SoftHSM2 module path, setting up (once per test
// binary) a configuration whose tokens live in a temporary directory.
// SOFTHSM2_CONF is read by the module at C_Initialize and by
// softhsm2-util, so it is set for the whole process.
func softHSM(t *testing.T) string {
	t.Helper()
	softhsm.once.Do(func() {
		for _, m := range softhsmModules {
			if _, err := os.Stat(m); err == nil {
				softhsm.module = m
				break
			}
		}
		util, err := exec.LookPath("softhsm2-util")
		if softhsm.module == "" || err != nil {
			softhsm.err = fmt.Errorf("softhsm2 is not installed (module in %v, softhsm2-util on PATH): apt-get install softhsm2, or run scripts/install-test-deps.sh", softhsmModules)
			return
		}
		softhsm.util = util
		dir, err := os.MkdirTemp("", "trent-softhsm-")
		if err != nil {
			softhsm.err = err
			return
		}
		softhsm.dir = dir
		tokens := filepath.Join(dir, "tokens")
		conf := filepath.Join(dir, "softhsm2.conf")
		if err := os.Mkdir(tokens, 0o700); err != nil {
			softhsm.err = err
			return
		}
		text := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			softhsm.err = err
			return
		}
		softhsm.err = os.Setenv("SOFTHSM2_CONF", conf)
	})
	if softhsm.err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and the PKCS#11 tests cannot run: %v", softhsm.err)
		}
		t.Skipf("skipping PKCS#11 test: %v", softhsm.err)
	}
	return softhsm.module
}

// newToken initialises a fresh token and returns a config for it, with a
// PIN file holding testPIN and the key label "root". Tokens must be made
// before the module is opened in a test: SoftHSM2 lists the tokens it
// found at C_Initialize.
func newToken(t *testing.T) PKCS11Config {
	t.Helper()
	module := softHSM(t)
	label := fmt.Sprintf("trent-test-%d", softhsm.labels.Add(1))
	out, err := exec.Command(softhsm.util, "--init-token", "--free", "--label", label,
		"--pin", testPIN, "--so-pin", testSOPIN).CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return PKCS11Config{
		Module:     module,
		TokenLabel: label,
		PinFile:    writePINFile(t, testPIN+"\n", 0o600),
		KeyLabel:   "root",
	}
}

func writePINFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func openT(t *testing.T, cfg PKCS11Config, generate bool) *PKCS11 {
	t.Helper()
	open := OpenPKCS11
	if generate {
		open = GeneratePKCS11Key
	}
	p, err := open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// rawToken is a logged-in session on a token outside any PKCS11, to set
// up keys and to inspect what trent made.
type rawToken struct {
	mod  *module
	slot uint
	h    p11.SessionHandle
}

func openRaw(t *testing.T, cfg PKCS11Config) *rawToken {
	t.Helper()
	mod, err := acquireModule(cfg.Module)
	if err != nil {
		t.Fatal(err)
	}
	r := &rawToken{mod: mod}
	t.Cleanup(r.close)
	slots, err := mod.ctx.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range slots {
		if ti, err := mod.ctx.GetTokenInfo(s); err == nil && ti.Label == cfg.TokenLabel {
			r.slot, found = s, true
		}
	}
	if !found {
		t.Fatalf("token %q not found", cfg.TokenLabel)
	}
	if r.h, err = mod.ctx.OpenSession(r.slot, sessionFlags); err != nil {
		t.Fatal(err)
	}
	if err := mod.ctx.Login(r.h, p11.CKU_USER, testPIN); err != nil && !isCKR(err, p11.CKR_USER_ALREADY_LOGGED_IN) {
		t.Fatal(err)
	}
	return r
}

func (r *rawToken) close() {
	if r.mod == nil {
		return
	}
	r.mod.ctx.CloseSession(r.h)
	r.mod.release()
	r.mod = nil
}

func (r *rawToken) find(t *testing.T, label string) p11.ObjectHandle {
	t.Helper()
	ctx := r.mod.ctx
	if err := ctx.FindObjectsInit(r.h, []*p11.Attribute{p11.NewAttribute(p11.CKA_LABEL, label)}); err != nil {
		t.Fatal(err)
	}
	objs, _, err := ctx.FindObjects(r.h, 10)
	ctx.FindObjectsFinal(r.h)
	if err != nil || len(objs) != 1 {
		t.Fatalf("find %q: %v, %v", label, objs, err)
	}
	return objs[0]
}

func (r *rawToken) attr(t *testing.T, o p11.ObjectHandle, typ uint) ([]byte, error) {
	t.Helper()
	a, err := r.mod.ctx.GetAttributeValue(r.h, o, []*p11.Attribute{p11.NewAttribute(typ, nil)})
	if err != nil {
		return nil, err
	}
	return a[0].Value, nil
}

// genKey generates a secret key in the token with the given changes to
// the template (defaults: 32 bytes, token, private, sensitive,
// non-extractable, encrypt and decrypt; nil removes an attribute).
func (r *rawToken) genKey(t *testing.T, mech uint, attrs map[uint]any) p11.ObjectHandle {
	t.Helper()
	base := map[uint]any{
		p11.CKA_VALUE_LEN:   KeySize,
		p11.CKA_TOKEN:       true,
		p11.CKA_PRIVATE:     true,
		p11.CKA_SENSITIVE:   true,
		p11.CKA_EXTRACTABLE: false,
		p11.CKA_ENCRYPT:     true,
		p11.CKA_DECRYPT:     true,
	}
	for k, v := range attrs {
		if v == nil {
			delete(base, k)
		} else {
			base[k] = v
		}
	}
	var tmpl []*p11.Attribute
	for k, v := range base {
		tmpl = append(tmpl, p11.NewAttribute(k, v))
	}
	h, err := r.mod.ctx.GenerateKey(r.h, []*p11.Mechanism{p11.NewMechanism(mech, nil)}, tmpl)
	if err != nil {
		t.Fatalf("GenerateKey %v: %v", attrs, err)
	}
	return h
}

// importAES creates a token AES key with a known value, as an operator
// importing a key would: sensitive and non-extractable from now on, but
// (as the token records) not always so.
func (r *rawToken) importAES(t *testing.T, label string, value []byte) p11.ObjectHandle {
	t.Helper()
	tmpl := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
		p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_AES),
		p11.NewAttribute(p11.CKA_VALUE, value),
		p11.NewAttribute(p11.CKA_LABEL, label),
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_ENCRYPT, true),
		p11.NewAttribute(p11.CKA_DECRYPT, true),
	}
	h, err := r.mod.ctx.CreateObject(r.h, tmpl)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
