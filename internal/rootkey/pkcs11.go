//go:build cgo

package rootkey

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	p11 "github.com/miekg/pkcs11"
)

// PKCS11Supported reports whether this build can use a PKCS#11 root key.
// It needs cgo (the module is loaded with dlopen).
const PKCS11Supported = true

const (
	// idLabelPKCS11 domain-separates the hash in PKCS11.ID.
	idLabelPKCS11 = "trent rootkey pkcs11 id v1\x00"
	// idBlock is the one AES block the token encrypts (ECB) for PKCS11.ID.
	idBlock = "trent rootkey id"

	// maxPoolSessions bounds the sessions one PKCS11 keeps open for
	// operations (plus one that holds the login).
	maxPoolSessions = 16

	// sessionFlags: read-write because some modules (CloudHSM Client SDK
	// 5) do not support read-only sessions, and key generation needs one.
	sessionFlags = p11.CKF_SERIAL_SESSION | p11.CKF_RW_SESSION
)

// errClosed is returned by calls on a closed PKCS11.
var errClosed = errors.New("rootkey: pkcs11: root key is closed")

// PKCS11 is a root key held in a PKCS#11 token: an AES-256 secret key that
// is sensitive and not extractable, so its value never reaches trent. The
// token does every encryption and decryption (CKM_AES_GCM).
//
// It keeps a small pool of sessions so that concurrent calls proceed in
// parallel, plus one session that holds the login. When a call fails
// because a session, the login or the token went away, it reconnects once
// (find the token by label, log in with the PIN read again from the PIN
// file, find the key, check it is the same key) and retries. It is safe
// for concurrent use. Close releases the sessions and the module.
type PKCS11 struct {
	cfg PKCS11Config
	mod *module
	id  string
	// allowImported accepts a key that was once extractable or not
	// sensitive (tests build one from known bytes).
	allowImported bool

	// sem bounds the calls in flight to the size of the pool.
	sem chan struct{}

	mu     sync.Mutex
	conn   *p11conn // nil after a failed reconnect: the next call tries again
	gen    uint64   // bumped on every reconnect; sessions of older gens are closed
	idle   []p11session
	closed bool
}

var _ Wrapper = (*PKCS11)(nil)

// p11conn is one login to the token and the key's handle in it.
type p11conn struct {
	gen    uint64
	slot   uint
	anchor p11.SessionHandle // keeps the login: logins end with the last session
	key    p11.ObjectHandle
	// generated: this connect made the key (GeneratePKCS11Key).
	generated bool
}

type p11session struct {
	h   p11.SessionHandle
	gen uint64
}

type openOptions struct {
	generate      bool
	allowImported bool
}

// OpenPKCS11 opens the root key named by cfg. It never creates a key: a
// missing key is ErrKeyNotFound, so that a typo in key_label cannot start
// trent with a fresh root key (use GeneratePKCS11Key once, from an init
// command). It refuses, with an error naming the cause, a PIN file that
// group or others can read, a module that does not load, a missing token,
// a wrong PIN, a token without CKM_AES_GCM or CKM_AES_ECB, a missing key,
// several objects with the key's label, and a key that is not AES-256,
// sensitive, non-extractable (and never extractable), private and allowed
// to encrypt and decrypt. It then wraps and unwraps a test value so that
// a module whose AES-GCM does not behave is refused now, not per request.
func OpenPKCS11(cfg PKCS11Config) (*PKCS11, error) {
	return openPKCS11(cfg, openOptions{})
}

// GeneratePKCS11Key generates the root key in the token named by cfg and
// opens it: an AES-256 key with CKA_TOKEN, CKA_PRIVATE and CKA_SENSITIVE
// true, CKA_EXTRACTABLE false, allowed to encrypt and decrypt only. It
// refuses (ErrKeyExists) if an object with the label exists already.
func GeneratePKCS11Key(cfg PKCS11Config) (*PKCS11, error) {
	return openPKCS11(cfg, openOptions{generate: true})
}

func openPKCS11(cfg PKCS11Config, opt openOptions) (*PKCS11, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	// The PIN file is checked before the module is loaded: it is the
	// cheapest mistake to report.
	pin, err := readPINFile(cfg.PinFile)
	if err != nil {
		return nil, err
	}
	mod, err := acquireModule(cfg.Module)
	if err != nil {
		return nil, err
	}
	p := &PKCS11{cfg: cfg, mod: mod, allowImported: opt.allowImported}
	c, err := p.connect(pin, opt.generate)
	if err != nil {
		mod.release()
		return nil, err
	}
	p.id, err = p.computeID(c.anchor, c.key)
	if err != nil {
		p.destroyGenerated(c)
		mod.ctx.CloseSession(c.anchor)
		mod.release()
		return nil, err
	}
	p.conn = c
	p.sem = make(chan struct{}, p.poolSize(c.slot))
	if err := p.selfTest(); err != nil {
		p.destroyGenerated(c)
		p.Close()
		return nil, err
	}
	return p, nil
}

// destroyGenerated removes a key this open generated but cannot use, so
// that no unusable root key is left in the token and init can be retried.
func (p *PKCS11) destroyGenerated(c *p11conn) {
	if c.generated {
		p.mod.ctx.DestroyObject(c.anchor, c.key)
	}
}

// ID returns "pkcs11:" followed by 16 hex digits: the first 8 bytes of
// SHA-256("trent rootkey pkcs11 id v1" ‖ 0x00 ‖ E), where E is the AES
// encryption (CKM_AES_ECB, done by the token) of the block "trent rootkey
// id" under the root key. E depends on the key's value, so a different key
// under the same label gets a different ID and is refused at start; like
// a key check value it reveals nothing about the key.
func (p *PKCS11) ID() string { return p.id }

// Wrap returns 0x01 ‖ IV ‖ AES-256-GCM(root key, IV, plaintext, aad), the
// format File uses, computed by the token. trent offers a random 12-byte
// IV; a token that chooses its own (CloudHSM) writes it back into the IV
// buffer, and the blob records the IV the token used.
func (p *PKCS11) Wrap(plaintext, aad []byte) ([]byte, error) {
	var out []byte
	err := p.do(func(h p11.SessionHandle, key p11.ObjectHandle) error {
		iv := make([]byte, nonceSize)
		if _, err := rand.Read(iv); err != nil {
			return err
		}
		params := p11.NewGCMParams(iv, aad, tagSize*8)
		defer params.Free()
		mech := []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_GCM, params)}
		if err := p.mod.ctx.EncryptInit(h, mech, key); err != nil {
			return err
		}
		ct, err := p.mod.ctx.Encrypt(h, plaintext)
		if err != nil {
			return err
		}
		// PKCS#11 v2.40 puts the tag after the ciphertext and nothing else;
		// a module that appends its own IV too (Luna in FIPS mode) is not
		// supported, and the self-test at open notices it.
		if len(ct) != len(plaintext)+tagSize {
			return fmt.Errorf("token returned %d bytes of AES-GCM output for %d bytes of input, not input+%d as PKCS#11 v2.40 specifies", len(ct), len(plaintext), tagSize)
		}
		used := params.IV()
		if len(used) != nonceSize {
			return fmt.Errorf("token reported a %d-byte IV, not %d", len(used), nonceSize)
		}
		out = make([]byte, 0, len(plaintext)+WrapOverhead)
		out = append(out, wrapVersion)
		out = append(out, used...)
		out = append(out, ct...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rootkey: pkcs11: wrap: %w", err)
	}
	return out, nil
}

// Unwrap reverses Wrap. A blob that does not authenticate (tampered,
// truncated, another aad, another root key, unknown version) gives exactly
// ErrUnwrap: any failure of C_Decrypt itself counts, since tokens differ in
// the code they give for a bad tag (SoftHSM2 says CKR_GENERAL_ERROR). A
// failure to reach the token (no session, no login, token gone, even after
// reconnecting) gives an error that matches ErrUnwrap under errors.Is and
// names the PKCS#11 code, so that an outage is not mistaken for corrupt
// data in the logs. No error contains the blob.
func (p *PKCS11) Unwrap(wrapped, aad []byte) ([]byte, error) {
	if len(wrapped) < WrapOverhead || wrapped[0] != wrapVersion {
		return nil, ErrUnwrap
	}
	var pt []byte
	err := p.do(func(h p11.SessionHandle, key p11.ObjectHandle) error {
		// NewGCMParams copies the IV into C memory, so a token that
		// writes to it cannot change the caller's blob.
		params := p11.NewGCMParams(wrapped[1:1+nonceSize], aad, tagSize*8)
		defer params.Free()
		mech := []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_GCM, params)}
		if err := p.mod.ctx.DecryptInit(h, mech, key); err != nil {
			return err
		}
		out, err := p.mod.ctx.Decrypt(h, wrapped[1+nonceSize:])
		if err != nil {
			return decryptError{err}
		}
		pt = out
		return nil
	})
	var de decryptError
	switch {
	case err == nil && len(pt) == len(wrapped)-WrapOverhead:
		return pt, nil
	case err == nil, errors.As(err, &de) && !isConnectionError(err):
		clear(pt)
		return nil, ErrUnwrap
	case errors.Is(err, errClosed):
		return nil, fmt.Errorf("%w: %w", ErrUnwrap, err)
	default:
		return nil, fmt.Errorf("%w: pkcs11 token %q: %w", ErrUnwrap, p.cfg.TokenLabel, err)
	}
}

// decryptError marks a failure of C_Decrypt, the step that checks the tag.
type decryptError struct{ err error }

func (e decryptError) Error() string { return e.err.Error() }
func (e decryptError) Unwrap() error { return e.err }

// Close closes the sessions and releases the module (finalised when its
// last user closes). It waits for calls in flight; later calls fail.
func (p *PKCS11) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	// Calls in flight hold a slot each: taking every slot waits for them.
	// Calls that get a slot from now on see closed and return at once.
	for range cap(p.sem) {
		p.sem <- struct{}{}
	}
	p.mu.Lock()
	for _, s := range p.idle {
		p.mod.ctx.CloseSession(s.h)
	}
	p.idle = nil
	if p.conn != nil {
		// No C_Logout: the login belongs to the whole process, and another
		// PKCS11 on the same token may still use it. It ends with the
		// process's last session.
		p.mod.ctx.CloseSession(p.conn.anchor)
		p.conn = nil
	}
	p.mu.Unlock()
	for range cap(p.sem) {
		<-p.sem
	}
	p.mod.release()
	return nil
}

// do runs f on a pooled session with the key's current handle. If the
// session, the login or the token went away, it reconnects and runs f
// once more.
func (p *PKCS11) do(f func(p11.SessionHandle, p11.ObjectHandle) error) error {
	p.sem <- struct{}{}
	defer func() { <-p.sem }()
	for attempt := 0; ; attempt++ {
		s, key, err := p.get()
		if err == nil {
			err = f(s.h, key)
			if err == nil || isDataError(err) {
				p.put(s)
				return err
			}
			// The session may be in an unknown state (an operation left
			// active): never reuse it after an unexpected error.
			p.mod.ctx.CloseSession(s.h)
		}
		if attempt > 0 || !isConnectionError(err) {
			return err
		}
		if rerr := p.reconnect(s.gen); rerr != nil {
			return rerr
		}
	}
}

// get takes an idle session of the current connection or opens one. The
// returned session's gen is set even on error, for reconnect.
func (p *PKCS11) get() (p11session, p11.ObjectHandle, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return p11session{gen: p.gen}, 0, errClosed
	}
	if p.conn == nil {
		if err := p.reconnectLocked(); err != nil {
			return p11session{gen: p.gen}, 0, err
		}
	}
	c := p.conn
	for len(p.idle) > 0 {
		s := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if s.gen == c.gen {
			return s, c.key, nil
		}
		p.mod.ctx.CloseSession(s.h)
	}
	h, err := p.mod.ctx.OpenSession(c.slot, sessionFlags)
	if err != nil {
		return p11session{gen: c.gen}, 0, fmt.Errorf("opening a session: %w", err)
	}
	return p11session{h: h, gen: c.gen}, c.key, nil
}

// put returns a session to the pool, or closes it if it is stale.
func (p *PKCS11) put(s p11session) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.conn == nil || s.gen != p.conn.gen {
		p.mod.ctx.CloseSession(s.h)
		return
	}
	p.idle = append(p.idle, s)
}

// reconnect replaces the connection of generation failed, unless another
// call has replaced it already.
func (p *PKCS11) reconnect(failed uint64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errClosed
	}
	if p.conn != nil && p.conn.gen != failed {
		return nil
	}
	return p.reconnectLocked()
}

func (p *PKCS11) reconnectLocked() error {
	for _, s := range p.idle {
		p.mod.ctx.CloseSession(s.h)
	}
	p.idle = nil
	if p.conn != nil {
		p.mod.ctx.CloseSession(p.conn.anchor)
		p.conn = nil
	}
	p.gen++
	c, err := p.connect("", false)
	if err != nil {
		return fmt.Errorf("reconnecting: %w", err)
	}
	id, err := p.computeID(c.anchor, c.key)
	if err == nil && id != p.id {
		err = fmt.Errorf("rootkey: pkcs11: the key labelled %q in token %q is no longer the root key trent opened (ID %s, now %s)", p.cfg.KeyLabel, p.cfg.TokenLabel, p.id, id)
	}
	if err != nil {
		p.mod.ctx.CloseSession(c.anchor)
		return fmt.Errorf("reconnecting: %w", err)
	}
	c.gen = p.gen
	p.conn = c
	return nil
}

// connect finds the token, logs in and finds (or generates) the key. An
// empty pin means: read the PIN file again.
func (p *PKCS11) connect(pin string, generate bool) (_ *p11conn, err error) {
	ctx := p.mod.ctx
	slot, err := p.findSlot()
	if err != nil {
		return nil, err
	}
	if err := p.checkMechanisms(slot, generate); err != nil {
		return nil, err
	}
	h, err := ctx.OpenSession(slot, sessionFlags)
	if err != nil {
		return nil, p.errorf("opening a session: %w", err)
	}
	defer func() {
		if err != nil {
			ctx.CloseSession(h)
		}
	}()
	if pin == "" {
		if pin, err = readPINFile(p.cfg.PinFile); err != nil {
			return nil, err
		}
	}
	// A login is shared by all sessions of the process on the token:
	// "already logged in" (another PKCS11 on the same token) is success.
	// Note that the token does not check the PIN then.
	if err := ctx.Login(h, p11.CKU_USER, pin); err != nil && !isCKR(err, p11.CKR_USER_ALREADY_LOGGED_IN) {
		switch {
		case isCKR(err, p11.CKR_PIN_INCORRECT):
			return nil, fmt.Errorf("rootkey: pkcs11: token %q refused the PIN in %s: %w", p.cfg.TokenLabel, p.cfg.PinFile, ErrPINIncorrect)
		case isCKR(err, p11.CKR_PIN_LOCKED):
			return nil, p.errorf("the user PIN is locked (too many wrong PINs); the security officer must reset it: %w", err)
		default:
			return nil, p.errorf("logging in: %w", err)
		}
	}
	c := &p11conn{slot: slot, anchor: h}
	c.key, err = p.findKey(h)
	if generate {
		switch {
		case err == nil:
			return nil, fmt.Errorf("rootkey: pkcs11: token %q already has an object labelled %q; trent will not create a second one: %w", p.cfg.TokenLabel, p.cfg.KeyLabel, ErrKeyExists)
		case errors.Is(err, ErrKeyNotFound):
			c.key, err = p.generateKey(h)
			c.generated = err == nil
		}
	}
	if err != nil {
		return nil, err
	}
	// A generated key is checked too: a token may ignore parts of the
	// template.
	if err := p.checkKey(h, c.key); err != nil {
		p.destroyGenerated(c)
		return nil, err
	}
	return c, nil
}

// findSlot finds the one slot whose token has the configured label.
func (p *PKCS11) findSlot() (uint, error) {
	ctx := p.mod.ctx
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("rootkey: pkcs11: listing the slots of %s: %w", p.cfg.Module, err)
	}
	var labels []string
	var found []uint
	var info p11.TokenInfo
	for _, s := range slots {
		ti, err := ctx.GetTokenInfo(s)
		if err != nil {
			continue
		}
		if ti.Flags&p11.CKF_TOKEN_INITIALIZED != 0 {
			labels = append(labels, fmt.Sprintf("%q", ti.Label))
		}
		if ti.Label == p.cfg.TokenLabel && ti.Flags&p11.CKF_TOKEN_INITIALIZED != 0 {
			found = append(found, s)
			info = ti
		}
	}
	switch {
	case len(found) == 0:
		present := "none"
		if len(labels) > 0 {
			present = strings.Join(labels, ", ")
		}
		return 0, fmt.Errorf("rootkey: pkcs11: no token labelled %q in %s (tokens present: %s): %w", p.cfg.TokenLabel, p.cfg.Module, present, ErrTokenNotFound)
	case len(found) > 1:
		return 0, fmt.Errorf("rootkey: pkcs11: %d tokens labelled %q in %s; trent needs the label to name one", len(found), p.cfg.TokenLabel, p.cfg.Module)
	case info.Flags&p11.CKF_USER_PIN_INITIALIZED == 0:
		return 0, p.errorf("the token's user PIN is not initialised")
	case info.Flags&p11.CKF_USER_PIN_LOCKED != 0:
		return 0, p.errorf("the user PIN is locked (too many wrong PINs); the security officer must reset it")
	}
	return found[0], nil
}

// checkMechanisms refuses a token that cannot do what trent asks of it,
// at open rather than on the first request.
func (p *PKCS11) checkMechanisms(slot uint, generate bool) error {
	need := []struct {
		mech  uint
		name  string
		flags uint
		why   string
	}{
		{p11.CKM_AES_GCM, "CKM_AES_GCM", p11.CKF_ENCRYPT | p11.CKF_DECRYPT, "to wrap key material"},
		{p11.CKM_AES_ECB, "CKM_AES_ECB", p11.CKF_ENCRYPT, "for the root key's ID (a key check value)"},
	}
	if generate {
		need = append(need, struct {
			mech  uint
			name  string
			flags uint
			why   string
		}{p11.CKM_AES_KEY_GEN, "CKM_AES_KEY_GEN", p11.CKF_GENERATE, "to generate the root key"})
	}
	for _, n := range need {
		info, err := p.mod.ctx.GetMechanismInfo(slot, []*p11.Mechanism{p11.NewMechanism(n.mech, nil)})
		if err != nil {
			return p.errorf("the token does not offer %s, which trent needs %s (%v)", n.name, n.why, err)
		}
		if info.Flags&n.flags != n.flags {
			return p.errorf("the token offers %s but not for the operations trent needs %s", n.name, n.why)
		}
	}
	return nil
}

// findKey finds the one token object with the configured label. Its
// class is checked by checkKey, so that a label naming an RSA key is
// reported as such rather than as missing.
func (p *PKCS11) findKey(h p11.SessionHandle) (p11.ObjectHandle, error) {
	ctx := p.mod.ctx
	tmpl := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_LABEL, p.cfg.KeyLabel),
	}
	if err := ctx.FindObjectsInit(h, tmpl); err != nil {
		return 0, p.errorf("searching for the key: %w", err)
	}
	objs, _, err := ctx.FindObjects(h, 2)
	if ferr := ctx.FindObjectsFinal(h); err == nil && ferr != nil {
		err = ferr
	}
	if err != nil {
		return 0, p.errorf("searching for the key: %w", err)
	}
	switch len(objs) {
	case 0:
		return 0, fmt.Errorf("rootkey: pkcs11: token %q has no key labelled %q (trent rootkey init creates it): %w", p.cfg.TokenLabel, p.cfg.KeyLabel, ErrKeyNotFound)
	case 1:
		return objs[0], nil
	default:
		return 0, fmt.Errorf("rootkey: pkcs11: token %q has several objects labelled %q; trent needs exactly one: %w", p.cfg.TokenLabel, p.cfg.KeyLabel, ErrKeyUnsuitable)
	}
}

// generateKey makes the root key in the token. Only encrypt and decrypt
// are allowed, so the key cannot wrap other keys out of the token, sign,
// or derive.
func (p *PKCS11) generateKey(h p11.SessionHandle) (p11.ObjectHandle, error) {
	tmpl := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_VALUE_LEN, KeySize),
		p11.NewAttribute(p11.CKA_LABEL, p.cfg.KeyLabel),
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_ENCRYPT, true),
		p11.NewAttribute(p11.CKA_DECRYPT, true),
		p11.NewAttribute(p11.CKA_WRAP, false),
		p11.NewAttribute(p11.CKA_UNWRAP, false),
		p11.NewAttribute(p11.CKA_SIGN, false),
		p11.NewAttribute(p11.CKA_VERIFY, false),
		p11.NewAttribute(p11.CKA_DERIVE, false),
	}
	mech := []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_KEY_GEN, nil)}
	key, err := p.mod.ctx.GenerateKey(h, mech, tmpl)
	if err != nil {
		return 0, p.errorf("generating the root key: %w", err)
	}
	return key, nil
}

// checkKey refuses a key that is not an AES-256 secret key kept secret by
// the token.
func (p *PKCS11) checkKey(h p11.SessionHandle, key p11.ObjectHandle) error {
	unsuitable := func(format string, args ...any) error {
		return fmt.Errorf("rootkey: pkcs11: the object labelled %q in token %q %s: %w", p.cfg.KeyLabel, p.cfg.TokenLabel, fmt.Sprintf(format, args...), ErrKeyUnsuitable)
	}
	class, err := p.ulongAttr(h, key, p11.CKA_CLASS)
	if err != nil {
		return err
	}
	if class != p11.CKO_SECRET_KEY {
		return unsuitable("is not a secret key (CKA_CLASS 0x%x)", class)
	}
	typ, err := p.ulongAttr(h, key, p11.CKA_KEY_TYPE)
	if err != nil {
		return err
	}
	if typ != p11.CKK_AES {
		return unsuitable("is not an AES key (CKA_KEY_TYPE 0x%x)", typ)
	}
	n, err := p.ulongAttr(h, key, p11.CKA_VALUE_LEN)
	if err != nil {
		return err
	}
	if n != KeySize {
		return unsuitable("is AES-%d; trent needs AES-256", n*8)
	}
	must := []struct {
		attr uint
		name string
		want bool
		// imported: a key that was once outside the token fails only this.
		imported bool
	}{
		{p11.CKA_SENSITIVE, "CKA_SENSITIVE", true, false},
		{p11.CKA_EXTRACTABLE, "CKA_EXTRACTABLE", false, false},
		{p11.CKA_PRIVATE, "CKA_PRIVATE", true, false},
		{p11.CKA_ENCRYPT, "CKA_ENCRYPT", true, false},
		{p11.CKA_DECRYPT, "CKA_DECRYPT", true, false},
		{p11.CKA_NEVER_EXTRACTABLE, "CKA_NEVER_EXTRACTABLE", true, true},
		{p11.CKA_ALWAYS_SENSITIVE, "CKA_ALWAYS_SENSITIVE", true, true},
	}
	for _, m := range must {
		if m.imported && p.allowImported {
			continue
		}
		v, err := p.boolAttr(h, key, m.attr, m.name)
		if err != nil {
			return err
		}
		if v != m.want {
			why := ""
			if m.imported {
				why = " (its value was once outside the token)"
			}
			return unsuitable("has %s=%v%s; trent needs %v", m.name, v, why, m.want)
		}
	}
	return nil
}

func (p *PKCS11) attr(h p11.SessionHandle, o p11.ObjectHandle, typ uint, name string) ([]byte, error) {
	a, err := p.mod.ctx.GetAttributeValue(h, o, []*p11.Attribute{p11.NewAttribute(typ, nil)})
	if err != nil {
		return nil, p.errorf("reading %s of the key labelled %q: %w", name, p.cfg.KeyLabel, err)
	}
	return a[0].Value, nil
}

func (p *PKCS11) boolAttr(h p11.SessionHandle, o p11.ObjectHandle, typ uint, name string) (bool, error) {
	v, err := p.attr(h, o, typ, name)
	if err != nil {
		return false, err
	}
	if len(v) != 1 {
		return false, p.errorf("the key's %s is %d bytes, not a CK_BBOOL", name, len(v))
	}
	return v[0] != 0, nil
}

func (p *PKCS11) ulongAttr(h p11.SessionHandle, o p11.ObjectHandle, typ uint) (uint, error) {
	name := fmt.Sprintf("attribute 0x%x", typ)
	v, err := p.attr(h, o, typ, name)
	if err != nil {
		return 0, err
	}
	// A CK_ULONG in the module's (native) byte order: 8 bytes on LP64
	// Unix, 4 on Windows.
	switch len(v) {
	case 8:
		return uint(binary.NativeEndian.Uint64(v)), nil
	case 4:
		return uint(binary.NativeEndian.Uint32(v)), nil
	}
	return 0, p.errorf("the key's %s is %d bytes, not a CK_ULONG", name, len(v))
}

// computeID has the token encrypt idBlock under the key; see ID.
func (p *PKCS11) computeID(h p11.SessionHandle, key p11.ObjectHandle) (string, error) {
	ctx := p.mod.ctx
	if err := ctx.EncryptInit(h, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_ECB, nil)}, key); err != nil {
		return "", p.errorf("computing the key's check value (CKM_AES_ECB): %w", err)
	}
	e, err := ctx.Encrypt(h, []byte(idBlock))
	if err != nil {
		return "", p.errorf("computing the key's check value (CKM_AES_ECB): %w", err)
	}
	if len(e) != len(idBlock) {
		return "", p.errorf("CKM_AES_ECB returned %d bytes for one block", len(e))
	}
	sum := sha256.Sum256(append([]byte(idLabelPKCS11), e...))
	return "pkcs11:" + hex.EncodeToString(sum[:8]), nil
}

// selfTest wraps and unwraps a random value, and checks that another aad
// is refused: a module whose CK_GCM_PARAMS layout differs from trent's
// (PKCS#11 v2.40 with ulIvBits) would fail or ignore the aad here.
func (p *PKCS11) selfTest() error {
	pt := make([]byte, KeySize)
	rand.Read(pt)
	aad := []byte("trent rootkey pkcs11 self-test")
	w, err := p.Wrap(pt, aad)
	if err != nil {
		return p.errorf("self-test: %w", err)
	}
	got, err := p.Unwrap(w, aad)
	if err != nil || !bytes.Equal(got, pt) {
		return p.errorf("self-test: the token could not decrypt its own AES-GCM output (%v); its CK_GCM_PARAMS may not be PKCS#11 v2.40's", err)
	}
	if _, err := p.Unwrap(w, append(aad, '!')); err != ErrUnwrap {
		return p.errorf("self-test: the token's AES-GCM did not reject another aad (%v)", err)
	}
	return nil
}

// poolSize is maxPoolSessions, or less if the token allows fewer
// sessions (one is kept for the login).
func (p *PKCS11) poolSize(slot uint) int {
	n := maxPoolSessions
	ti, err := p.mod.ctx.GetTokenInfo(slot)
	if err != nil {
		return n
	}
	for _, limit := range []uint{ti.MaxSessionCount, ti.MaxRwSessionCount} {
		// 0 is CK_EFFECTIVELY_INFINITE, ^0 CK_UNAVAILABLE_INFORMATION.
		if limit != 0 && limit != ^uint(0) && limit-1 < uint(n) {
			n = max(1, int(limit)-1)
		}
	}
	return n
}

func (p *PKCS11) errorf(format string, args ...any) error {
	return fmt.Errorf("rootkey: pkcs11: token %q: %w", p.cfg.TokenLabel, fmt.Errorf(format, args...))
}

func isCKR(err error, code uint) bool {
	var e p11.Error
	return errors.As(err, &e) && uint(e) == code
}

// isDataError reports a failure caused by the input, after which the
// session is still fine.
func isDataError(err error) bool {
	var e p11.Error
	if !errors.As(err, &e) {
		return false
	}
	switch uint(e) {
	case p11.CKR_ENCRYPTED_DATA_INVALID, p11.CKR_ENCRYPTED_DATA_LEN_RANGE,
		p11.CKR_DATA_INVALID, p11.CKR_DATA_LEN_RANGE:
		return true
	}
	return false
}

// isConnectionError reports a failure that a new session, login or
// connection to the token may cure.
func isConnectionError(err error) bool {
	var e p11.Error
	if !errors.As(err, &e) {
		return false
	}
	switch uint(e) {
	case p11.CKR_SESSION_HANDLE_INVALID, p11.CKR_SESSION_CLOSED,
		p11.CKR_USER_NOT_LOGGED_IN, p11.CKR_KEY_HANDLE_INVALID,
		p11.CKR_OBJECT_HANDLE_INVALID, p11.CKR_DEVICE_REMOVED,
		p11.CKR_DEVICE_ERROR, p11.CKR_TOKEN_NOT_PRESENT,
		p11.CKR_TOKEN_NOT_RECOGNIZED, p11.CKR_SLOT_ID_INVALID:
		return true
	}
	return false
}

// A module is one loaded PKCS#11 library. C_Initialize and C_Finalize act
// on the whole process, so every PKCS11 on the same library shares one,
// finalised when the last of them closes.
type module struct {
	path     string
	ctx      *p11.Ctx
	refs     int
	finalize bool // false if someone else in the process initialised it
}

var modules = struct {
	sync.Mutex
	m map[string]*module
}{m: map[string]*module{}}

func acquireModule(path string) (*module, error) {
	path = filepath.Clean(path)
	modules.Lock()
	defer modules.Unlock()
	if m := modules.m[path]; m != nil {
		m.refs++
		return m, nil
	}
	// dlopen's own message is lost by the binding: check the file first.
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("rootkey: pkcs11: module: %w", err)
	}
	ctx := p11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("rootkey: pkcs11: %s could not be loaded as a PKCS#11 module (dlopen failed, or it has no C_GetFunctionList)", path)
	}
	m := &module{path: path, ctx: ctx, refs: 1, finalize: true}
	if err := ctx.Initialize(); err != nil {
		if !isCKR(err, p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			ctx.Destroy()
			return nil, fmt.Errorf("rootkey: pkcs11: initialising %s: %w", path, err)
		}
		m.finalize = false
	}
	modules.m[path] = m
	return m, nil
}

func (m *module) release() {
	modules.Lock()
	defer modules.Unlock()
	m.refs--
	if m.refs > 0 {
		return
	}
	delete(modules.m, m.path)
	if m.finalize {
		m.ctx.Finalize()
	}
	m.ctx.Destroy()
}
