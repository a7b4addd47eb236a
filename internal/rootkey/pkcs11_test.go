//go:build cgo

package rootkey

import (
	"bytes"
	"crypto/aes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/trent-kms/trent/internal/rootkey/softhsmtest"
)

// The key trent generates is AES-256, sensitive, never extractable,
// private, and only for encryption: read back from the token, and its
// value cannot be read or wrapped out.
func TestPKCS11GeneratedKeyStaysInToken(t *testing.T) {
	cfg := newToken(t)
	p := openT(t, cfg, true)
	if !strings.HasPrefix(p.ID(), "pkcs11:") || len(p.ID()) != len("pkcs11:")+16 {
		t.Fatalf("ID = %q", p.ID())
	}

	raw := openRaw(t, cfg)
	key := raw.find(t, cfg.KeyLabel)
	want := map[uint]byte{
		p11.CKA_TOKEN:             1,
		p11.CKA_PRIVATE:           1,
		p11.CKA_SENSITIVE:         1,
		p11.CKA_ALWAYS_SENSITIVE:  1,
		p11.CKA_EXTRACTABLE:       0,
		p11.CKA_NEVER_EXTRACTABLE: 1,
		p11.CKA_ENCRYPT:           1,
		p11.CKA_DECRYPT:           1,
		p11.CKA_WRAP:              0,
		p11.CKA_UNWRAP:            0,
		p11.CKA_SIGN:              0,
		p11.CKA_DERIVE:            0,
	}
	for typ, w := range want {
		v, err := raw.attr(t, key, typ)
		if err != nil || len(v) != 1 || v[0] != w {
			t.Errorf("attribute 0x%x = %x, %v; want %d", typ, v, err, w)
		}
	}
	if v, err := raw.attr(t, key, p11.CKA_KEY_TYPE); err != nil || !bytes.Equal(v, ulong(p11.CKK_AES)) {
		t.Errorf("CKA_KEY_TYPE = %x, %v", v, err)
	}
	if v, err := raw.attr(t, key, p11.CKA_VALUE_LEN); err != nil || !bytes.Equal(v, ulong(KeySize)) {
		t.Errorf("CKA_VALUE_LEN = %x, %v", v, err)
	}

	// The value itself: refused.
	v, err := raw.attr(t, key, p11.CKA_VALUE)
	if !isCKR(err, p11.CKR_ATTRIBUTE_SENSITIVE) {
		t.Fatalf("C_GetAttributeValue(CKA_VALUE) = %x, %v; want CKR_ATTRIBUTE_SENSITIVE", v, err)
	}
	// Nor can it be made extractable (PKCS#11 allows true -> false only).
	err = raw.mod.ctx.SetAttributeValue(raw.h, key, []*p11.Attribute{p11.NewAttribute(p11.CKA_EXTRACTABLE, true)})
	if err == nil {
		t.Fatal("C_SetAttributeValue(CKA_EXTRACTABLE, true) succeeded")
	}
	// Nor wrapped out under another key.
	kek := raw.genKey(t, p11.CKM_AES_KEY_GEN, map[uint]any{p11.CKA_TOKEN: false, p11.CKA_WRAP: true, p11.CKA_LABEL: "kek"})
	out, err := raw.mod.ctx.WrapKey(raw.h, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_KEY_WRAP, nil)}, kek, key)
	if !isCKR(err, p11.CKR_KEY_UNEXTRACTABLE) {
		t.Fatalf("C_WrapKey(root key) = %x, %v; want CKR_KEY_UNEXTRACTABLE", out, err)
	}

	// A second init with the same label is refused, not a second key.
	_, err = GeneratePKCS11Key(cfg)
	if !errors.Is(err, ErrKeyExists) || !strings.Contains(err.Error(), `"root"`) {
		t.Fatalf("second GeneratePKCS11Key: %v", err)
	}
}

func ulong(v uint) []byte {
	b := make([]byte, 8)
	for i := range b {
		b[i] = byte(v >> (8 * i)) // little-endian: the hosts these tests run on
	}
	return b
}

func TestPKCS11RoundTrip(t *testing.T) {
	p := openT(t, newToken(t), true)
	for _, n := range []int{0, 1, 32, 1000, 8192} {
		pt := make([]byte, n)
		rand.Read(pt)
		aad := []byte("key 1234 material abcd")
		w, err := p.Wrap(pt, aad)
		if err != nil {
			t.Fatal(err)
		}
		if len(w) != n+WrapOverhead || w[0] != 0x01 {
			t.Fatalf("len %d, version %#x", len(w), w[0])
		}
		if n >= 16 && bytes.Contains(w, pt) {
			t.Fatal("wrapped blob contains the plaintext")
		}
		got, err := p.Unwrap(w, aad)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Unwrap = %x, %v; want %x", got, err, pt)
		}
		w, _ = p.Wrap(pt, nil)
		if _, err := p.Unwrap(w, []byte{}); err != nil {
			t.Fatalf("nil vs empty aad: %v", err)
		}
	}
	a, _ := p.Wrap([]byte("x"), nil)
	b, _ := p.Wrap([]byte("x"), nil)
	if bytes.Equal(a, b) || bytes.Equal(a[1:13], b[1:13]) {
		t.Fatal("two wraps share an IV")
	}
}

func TestPKCS11UnwrapRefusals(t *testing.T) {
	cfg := newToken(t)
	other := newToken(t) // same key label, another token
	p := openT(t, cfg, true)
	q := openT(t, other, true)
	if p.ID() == q.ID() {
		t.Fatal("two generated keys have the same ID")
	}
	aad := []byte("aad-1")
	w, err := p.Wrap([]byte("some key material"), aad)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{nil, []byte("aad-2"), []byte("aad-1\x00"), []byte("AAD-1")} {
		if _, err := p.Unwrap(w, bad); err != ErrUnwrap {
			t.Errorf("aad %q: err = %v, want ErrUnwrap", bad, err)
		}
	}
	for i := range len(w) * 8 {
		mod := bytes.Clone(w)
		mod[i/8] ^= 1 << (i % 8)
		if _, err := p.Unwrap(mod, aad); err != ErrUnwrap {
			t.Fatalf("flip bit %d: err = %v, want ErrUnwrap", i, err)
		}
	}
	for n := range len(w) {
		if _, err := p.Unwrap(w[:n], aad); err != ErrUnwrap {
			t.Fatalf("truncated to %d: err = %v", n, err)
		}
	}
	if _, err := p.Unwrap(append(bytes.Clone(w), 0), aad); err != ErrUnwrap {
		t.Fatalf("extended: err = %v", err)
	}
	if _, err := q.Unwrap(w, aad); err != ErrUnwrap {
		t.Fatalf("another token's key: err = %v", err)
	}
	f, _ := newTestFile(t)
	if _, err := f.Unwrap(w, aad); err != ErrUnwrap {
		t.Fatalf("a file key: err = %v", err)
	}
	// The failures left the pool usable.
	if got, err := p.Unwrap(w, aad); err != nil || string(got) != "some key material" {
		t.Fatalf("after refusals: %q, %v", got, err)
	}
}

func TestPKCS11OpenErrors(t *testing.T) {
	cfg := newToken(t)
	locked := newToken(t) // only ever given a wrong PIN
	openT(t, cfg, true).Close()

	wrongPIN := locked
	wrongPIN.PinFile = writePINFile(t, "not-the-pin\n", 0o600)
	noToken := cfg
	noToken.TokenLabel = "no-such-token"
	noKey := cfg
	noKey.KeyLabel = "no-such-key"
	loose := cfg
	loose.PinFile = writePINFile(t, testPIN, 0o640)
	empty := cfg
	empty.PinFile = writePINFile(t, "\n", 0o600)
	missingPIN := cfg
	missingPIN.PinFile = filepath.Join(t.TempDir(), "absent")
	relative := cfg
	relative.Module = "libsofthsm2.so"
	absent := cfg
	absent.Module = "/nonexistent/libpkcs11.so"
	garbage := cfg
	garbage.Module = filepath.Join(t.TempDir(), "garbage.so")
	os.WriteFile(garbage.Module, []byte("not a shared object"), 0o600)
	longLabel := cfg
	longLabel.TokenLabel = strings.Repeat("x", 33)

	for _, c := range []struct {
		name string
		cfg  PKCS11Config
		is   error
		says []string
	}{
		{"wrong PIN", wrongPIN, ErrPINIncorrect, []string{"refused the PIN", wrongPIN.PinFile, locked.TokenLabel}},
		{"missing token", noToken, ErrTokenNotFound, []string{`no token labelled "no-such-token"`, cfg.TokenLabel}},
		{"missing key", noKey, ErrKeyNotFound, []string{`no key labelled "no-such-key"`, cfg.TokenLabel}},
		{"loose PIN file", loose, nil, []string{"mode 0640", "chmod 600"}},
		{"empty PIN file", empty, nil, []string{"is empty"}},
		{"missing PIN file", missingPIN, os.ErrNotExist, []string{"PIN file"}},
		{"relative module", relative, nil, []string{"absolute path"}},
		{"absent module", absent, os.ErrNotExist, []string{absent.Module}},
		{"not a module", garbage, nil, []string{"could not be loaded as a PKCS#11 module"}},
		{"label too long", longLabel, nil, []string{"32 bytes"}},
	} {
		p, err := OpenPKCS11(c.cfg)
		if err == nil {
			p.Close()
			t.Errorf("%s: opened", c.name)
			continue
		}
		if c.is != nil && !errors.Is(err, c.is) {
			t.Errorf("%s: %v is not %v", c.name, err, c.is)
		}
		for _, s := range c.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q does not say %q", c.name, err, s)
			}
		}
		if strings.Contains(err.Error(), testPIN) || strings.Contains(err.Error(), "not-the-pin") {
			t.Errorf("%s: error shows a PIN: %v", c.name, err)
		}
		t.Logf("%s: %v", c.name, err)
	}
}

// Keys trent did not generate are checked the same way: it refuses those
// the token does not keep secret, and those it cannot use as AES-256-GCM.
func TestPKCS11RefusesUnsuitableKeys(t *testing.T) {
	cfg := newToken(t)
	raw := openRaw(t, cfg)
	aes := uint(p11.CKM_AES_KEY_GEN)
	raw.genKey(t, aes, map[uint]any{p11.CKA_LABEL: "extractable", p11.CKA_EXTRACTABLE: true})
	raw.genKey(t, aes, map[uint]any{p11.CKA_LABEL: "not-sensitive", p11.CKA_SENSITIVE: false})
	raw.genKey(t, aes, map[uint]any{p11.CKA_LABEL: "public", p11.CKA_PRIVATE: false})
	raw.genKey(t, aes, map[uint]any{p11.CKA_LABEL: "aes128", p11.CKA_VALUE_LEN: 16})
	raw.genKey(t, aes, map[uint]any{p11.CKA_LABEL: "no-decrypt", p11.CKA_DECRYPT: false})
	raw.genKey(t, p11.CKM_GENERIC_SECRET_KEY_GEN, map[uint]any{p11.CKA_LABEL: "generic", p11.CKA_ENCRYPT: nil, p11.CKA_DECRYPT: nil})
	raw.genKey(t, aes, map[uint]any{p11.CKA_LABEL: "twice"})
	raw.genKey(t, aes, map[uint]any{p11.CKA_LABEL: "twice"})
	value := make([]byte, KeySize)
	rand.Read(value)
	raw.importAES(t, "imported", value)
	clear(value)

	for label, says := range map[string]string{
		"extractable":   "CKA_EXTRACTABLE=true",
		"not-sensitive": "CKA_SENSITIVE=false",
		"public":        "CKA_PRIVATE=false",
		"aes128":        "AES-128; trent needs AES-256",
		"no-decrypt":    "CKA_DECRYPT=false",
		"generic":       "is not an AES key",
		"twice":         "several objects",
		"imported":      "CKA_NEVER_EXTRACTABLE=false (its value was once outside the token)",
	} {
		c := cfg
		c.KeyLabel = label
		p, err := OpenPKCS11(c)
		if err == nil {
			p.Close()
			t.Errorf("%s: opened", label)
			continue
		}
		if !errors.Is(err, ErrKeyUnsuitable) || !strings.Contains(err.Error(), says) {
			t.Errorf("%s: %v; want ErrKeyUnsuitable saying %q", label, err, says)
		}
		t.Logf("%s: %v", label, err)
	}
}

// Closing and opening again (the module is finalised and loaded anew)
// finds the same key, with the same ID, and it unwraps what it wrapped.
// Two opens of one key at once share the module and the login; closing
// one leaves the other working.
func TestPKCS11Reopen(t *testing.T) {
	cfg := newToken(t)
	p, err := GeneratePKCS11Key(cfg)
	if err != nil {
		t.Fatal(err)
	}
	id := p.ID()
	w, err := p.Wrap([]byte("material"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := p.Wrap([]byte("x"), nil); err == nil {
		t.Fatal("Wrap after Close succeeded")
	}
	modules.Lock()
	loaded := len(modules.m)
	modules.Unlock()
	if loaded != 0 {
		t.Fatalf("%d modules still loaded after the last Close", loaded)
	}

	a := openT(t, cfg, false)
	b := openT(t, cfg, false)
	if a.ID() != id || b.ID() != id {
		t.Fatalf("IDs after reopen: %s, %s; want %s", a.ID(), b.ID(), id)
	}
	if pt, err := a.Unwrap(w, []byte("aad")); err != nil || string(pt) != "material" {
		t.Fatalf("Unwrap after reopen: %q, %v", pt, err)
	}
	a.Close()
	if pt, err := b.Unwrap(w, []byte("aad")); err != nil || string(pt) != "material" {
		t.Fatalf("Unwrap after closing the other: %q, %v", pt, err)
	}
}

// A key of known value (imported for the test) gives the ID that ID's
// doc describes, and the File with the same value unwraps what the token
// wrapped and the other way round: one blob format, the same AES-GCM.
func TestPKCS11KnownKeyMatchesFile(t *testing.T) {
	cfg := newToken(t)
	value := bytes.Repeat([]byte{0x42}, KeySize)
	raw := openRaw(t, cfg)
	raw.importAES(t, cfg.KeyLabel, value)
	raw.close()

	if _, err := OpenPKCS11(cfg); !errors.Is(err, ErrKeyUnsuitable) {
		t.Fatalf("imported key opened without allowImported: %v", err)
	}
	p, err := openPKCS11(cfg, openOptions{allowImported: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	block, _ := aes.NewCipher(value)
	e := make([]byte, 16)
	block.Encrypt(e, []byte(idBlock))
	sum := sha256.Sum256(append([]byte("trent rootkey pkcs11 id v1\x00"), e...))
	if want := "pkcs11:" + hex.EncodeToString(sum[:8]); p.ID() != want {
		t.Fatalf("ID = %s, want %s", p.ID(), want)
	}
	// Pinned, as File's is: the ID is stored next to every wrapped blob.
	if p.ID() != "pkcs11:"+wantPKCS11ID42 {
		t.Fatalf("ID = %s, want pkcs11:%s", p.ID(), wantPKCS11ID42)
	}

	path := filepath.Join(t.TempDir(), "root.key")
	os.WriteFile(path, value, 0o600)
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	aad := []byte("key 1 material 2")
	fromFile, _ := f.Wrap([]byte("from the file"), aad)
	if pt, err := p.Unwrap(fromFile, aad); err != nil || string(pt) != "from the file" {
		t.Fatalf("token unwrapping the file's blob: %q, %v", pt, err)
	}
	fromToken, err := p.Wrap([]byte("from the token"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := f.Unwrap(fromToken, aad); err != nil || string(pt) != "from the token" {
		t.Fatalf("file unwrapping the token's blob: %q, %v", pt, err)
	}
	if _, err := f.Unwrap(fromToken, []byte("other")); err != ErrUnwrap {
		t.Fatalf("the token's blob under another aad: %v", err)
	}
}

// wantPKCS11ID42 is the ID of the AES key 0x42*32, computed as in ID's doc.
const wantPKCS11ID42 = "384af647bb8270dc"

func TestPKCS11Concurrent(t *testing.T) {
	p := openT(t, newToken(t), true)
	const workers, each = 24, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				aad := fmt.Appendf(nil, "worker %d item %d", g, i)
				pt := fmt.Appendf(nil, "material of %d/%d", g, i)
				w, err := p.Wrap(pt, aad)
				if err != nil {
					errs <- err
					return
				}
				got, err := p.Unwrap(w, aad)
				if err != nil || !bytes.Equal(got, pt) {
					errs <- fmt.Errorf("worker %d item %d: %q, %v", g, i, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	p.mu.Lock()
	idle := len(p.idle)
	p.mu.Unlock()
	if idle < 1 || idle > maxPoolSessions {
		t.Fatalf("%d idle sessions after the run", idle)
	}
	t.Logf("%d workers × %d wrap+unwrap; %d sessions in the pool", workers, each, idle)
}

// If the token closes every session (as after a device reset), calls
// reconnect: new sessions, a new login with the PIN read again from the
// file. A PIN file that went wrong meanwhile makes calls fail with that
// reason, and they work again once it is fixed.
func TestPKCS11Reconnect(t *testing.T) {
	cfg := newToken(t)
	p := openT(t, cfg, true)
	aad := []byte("aad")
	w, err := p.Wrap([]byte("before"), aad)
	if err != nil {
		t.Fatal(err)
	}
	raw := openRaw(t, cfg)
	dropAll := func() {
		t.Helper()
		if err := raw.mod.ctx.CloseAllSessions(raw.slot); err != nil {
			t.Fatal(err)
		}
	}

	dropAll() // also logs the token out: the raw session was closed too
	if pt, err := p.Unwrap(w, aad); err != nil || string(pt) != "before" {
		t.Fatalf("Unwrap after all sessions were closed: %q, %v", pt, err)
	}
	if _, err := p.Wrap([]byte("after"), aad); err != nil {
		t.Fatalf("Wrap after reconnect: %v", err)
	}
	if p.gen != 1 {
		t.Fatalf("gen = %d, want one reconnect", p.gen)
	}

	pin, _ := os.ReadFile(cfg.PinFile)
	os.WriteFile(cfg.PinFile, []byte("wrong"), 0o600)
	dropAll()
	_, err = p.Unwrap(w, aad)
	if !errors.Is(err, ErrUnwrap) || !errors.Is(err, ErrPINIncorrect) {
		t.Fatalf("Unwrap with a wrong PIN file: %v", err)
	}
	t.Logf("with a wrong PIN file: %v", err)
	if _, err := p.Wrap([]byte("x"), aad); !errors.Is(err, ErrPINIncorrect) {
		t.Fatalf("Wrap with a wrong PIN file: %v", err)
	}
	os.WriteFile(cfg.PinFile, pin, 0o600)
	if pt, err := p.Unwrap(w, aad); err != nil || string(pt) != "before" {
		t.Fatalf("Unwrap after fixing the PIN file: %q, %v", pt, err)
	}
}

// The login lost under load (another session logs the process out, as a
// token reset would): calls in flight fail cleanly or recover, nothing
// races (-race), and afterwards every call works. (C_CloseAllSessions from
// another thread, as in TestPKCS11Reconnect, is not used here: SoftHSM2
// 2.6.1 crashed in C_EncryptInit when it ran concurrently with operations
// on the sessions it closed.)
func TestPKCS11ReconnectUnderLoad(t *testing.T) {
	cfg := newToken(t)
	p := openT(t, cfg, true)
	raw := openRaw(t, cfg)
	aad := []byte("aad")
	w, err := p.Wrap([]byte("material"), aad)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				pt, err := p.Unwrap(w, aad)
				if err == nil && string(pt) != "material" {
					t.Errorf("Unwrap = %q", pt)
				}
				if err != nil && !errors.Is(err, ErrUnwrap) {
					t.Errorf("Unwrap error %v is not ErrUnwrap", err)
				}
				_, werr := p.Wrap([]byte("x"), aad)
				if err != nil || werr != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		}()
	}
	for range 5 {
		time.Sleep(5 * time.Millisecond)
		if err := raw.mod.ctx.Logout(raw.h); err != nil && !isCKR(err, p11.CKR_USER_NOT_LOGGED_IN) {
			t.Error(err)
		}
	}
	wg.Wait()
	t.Logf("%d of 800 rounds saw a failure while the login was dropped 5 times; %d reconnects", failed, p.gen)
	if p.gen == 0 {
		t.Fatal("no reconnect happened")
	}
	if pt, err := p.Unwrap(w, aad); err != nil || string(pt) != "material" {
		t.Fatalf("after the storm: %q, %v", pt, err)
	}
}

// A ring across a File key (the old root) and a PKCS#11 key (the new
// primary): old material unwraps, rewraps under the token, and a ring
// without the file key is refused by Check before any request.
func TestRingFileAndPKCS11(t *testing.T) {
	f, _ := newTestFile(t)
	p := openT(t, newToken(t), true)

	type record struct {
		rootKey string
		wrapped []byte
		aad     []byte
		plain   []byte
	}
	var store []record
	old, _ := NewRing(f)
	for i := range 5 {
		aad := fmt.Appendf(nil, "key %d", i)
		plain := fmt.Appendf(nil, "material %d", i)
		id, w, err := old.Wrap(plain, aad)
		if err != nil {
			t.Fatal(err)
		}
		store = append(store, record{id, w, aad, plain})
	}

	ring, err := NewRing(p, f)
	if err != nil {
		t.Fatal(err)
	}
	if ids := ring.IDs(); len(ids) != 2 || ids[0] != p.ID() || ids[1] != f.ID() {
		t.Fatalf("IDs = %v", ids)
	}
	inUse := func() []string {
		var ids []string
		for _, r := range store {
			ids = append(ids, r.rootKey)
		}
		return ids
	}
	if err := ring.Check(inUse()); err != nil {
		t.Fatal(err)
	}
	// New material goes to the token.
	id, w, err := ring.Wrap([]byte("new"), []byte("key new"))
	if err != nil || id != p.ID() {
		t.Fatalf("Wrap: %s, %v", id, err)
	}
	store = append(store, record{id, w, []byte("key new"), []byte("new")})

	// Rewrap everything, as `trent rootkey rewrap` will.
	moved := 0
	for i, r := range store {
		newID, nw, err := ring.Rewrap(r.rootKey, r.wrapped, r.aad)
		if err != nil {
			t.Fatal(err)
		}
		if newID != r.rootKey {
			moved++
		}
		store[i].rootKey, store[i].wrapped = newID, nw
	}
	if moved != 5 {
		t.Fatalf("moved %d, want 5", moved)
	}

	// Now the file key can go.
	tokenOnly, _ := NewRing(p)
	if err := tokenOnly.Check(inUse()); err != nil {
		t.Fatalf("after rewrap: %v", err)
	}
	for _, r := range store {
		if pt, err := tokenOnly.Unwrap(r.rootKey, r.wrapped, r.aad); err != nil || !bytes.Equal(pt, r.plain) {
			t.Fatalf("Unwrap %s: %q, %v", r.aad, pt, err)
		}
	}
	// And a ring missing the token key is refused up front.
	fileOnly, _ := NewRing(f)
	err = fileOnly.Check(inUse())
	if !errors.Is(err, ErrUnknownRootKey) || !strings.Contains(err.Error(), p.ID()) {
		t.Fatalf("Check without the token key: %v", err)
	}
	t.Logf("ring without the token key: %v", err)
}

// Nothing trent controls shows the PIN: not the errors, not a printed
// PKCS11, not the environment or command line, and the PIN file is not
// held open. (The key's value never reaches the process at all; see
// TestPKCS11GeneratedKeyStaysInToken.)
func TestPKCS11NoPINInSight(t *testing.T) {
	cfg := newToken(t)
	p := openT(t, cfg, true)
	for _, s := range []string{fmt.Sprintf("%v", p), fmt.Sprintf("%+v", p), fmt.Sprintf("%#v", p), p.ID()} {
		if strings.Contains(s, testPIN) {
			t.Fatalf("printed PKCS11 shows the PIN: %s", s)
		}
	}
	for _, f := range []string{"/proc/self/environ", "/proc/self/cmdline"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Logf("%s: %v", f, err)
			continue
		}
		if bytes.Contains(b, []byte(testPIN)) {
			t.Fatalf("%s shows the PIN", f)
		}
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	for _, fd := range fds {
		target, _ := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if target == cfg.PinFile {
			t.Fatalf("fd %s still has the PIN file open", fd.Name())
		}
	}
	// Files SoftHSM2 keeps for the token (the test's own setup) do not
	// hold the PIN in the clear either.
	filepath.WalkDir(softhsmtest.Dir(), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(testPIN)) {
			t.Errorf("%s holds the PIN in the clear", path)
		}
		return nil
	})
}
