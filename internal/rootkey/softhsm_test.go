//go:build cgo

package rootkey

import (
	"os"
	"path/filepath"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/trent-kms/trent/internal/rootkey/softhsmtest"
)

// The PKCS#11 tests run against Debian's SoftHSM2 with throw-away tokens
// (softhsmtest).

const (
	testPIN   = "user-pin-2468"
	testSOPIN = "so-pin-13579"
)

func TestMain(m *testing.M) {
	code := m.Run()
	softhsmtest.Cleanup()
	os.Exit(code)
}

// newToken initialises a fresh token and returns a config for it, with a
// PIN file holding testPIN and the key label "root". Tokens must be made
// before the module is opened in a test: SoftHSM2 lists the tokens it
// found at C_Initialize.
func newToken(t *testing.T) PKCS11Config {
	t.Helper()
	module := softhsmtest.Module(t)
	return PKCS11Config{
		Module:     module,
		TokenLabel: softhsmtest.NewToken(t, testPIN, testSOPIN),
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
