package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/config"
	"github.com/trent-kms/trent/internal/rootkey"
	"github.com/trent-kms/trent/internal/rootkey/softhsmtest"
	trentserver "github.com/trent-kms/trent/internal/server"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/postgres/pgtest"
	"github.com/trent-kms/trent/internal/store/sealed"
)

// The root key tests run against Debian's SoftHSM2, with throw-away
// tokens in a temporary directory that SOFTHSM2_CONF points at (set for
// this process, so for the trent processes it starts too). Without
// SoftHSM2, or in a build without cgo, they are skipped, unless CI is set:
// then that is a failure (scripts/install-test-deps.sh installs SoftHSM2).

const (
	hsmPIN   = "e2e-user-pin-8642"
	hsmSOPIN = "e2e-so-pin-9753"
)

// newToken initialises a fresh SoftHSM2 token and returns the "pkcs11"
// member of a root_key naming keyLabel in it, with a PIN file in dir.
func newToken(t *testing.T, dir, keyLabel string) map[string]any {
	t.Helper()
	if !rootkey.PKCS11Supported {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set and the PKCS#11 tests cannot run: this build has no cgo")
		}
		t.Skip("skipping: this build has no cgo, so no PKCS#11")
	}
	module := softhsmtest.Module(t)
	label := softhsmtest.NewToken(t, hsmPIN, hsmSOPIN)
	pin := filepath.Join(dir, "hsm.pin")
	if err := os.WriteFile(pin, []byte(hsmPIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]any{"module": module, "token_label": label, "pin_file": pin, "key_label": keyLabel}
}

// configWith is dev mode's config with another root_key.
func configWith(rootKey map[string]any) map[string]any {
	c := devConfig()
	c["root_key"] = rootKey
	return c
}

// trentCommand runs a trent command to its end.
func trentCommand(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(trentBinary, args...).CombinedOutput()
	return string(out), err
}

// refusedAtStart runs trent serve with the config file and expects it to
// exit with an error containing every one of want.
func refusedAtStart(t *testing.T, configPath string, want ...string) string {
	t.Helper()
	cmd := exec.Command(trentBinary, "serve", "--config", configPath)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("trent did not exit; it should have refused to start:\n%s", out)
	}
	if err == nil {
		t.Fatalf("trent started:\n%s", out)
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Fatalf("trent's refusal does not say %q:\n%s", w, out)
		}
	}
	return string(out)
}

// wrappedPattern finds a wrapped blob (base64) in a stored record.
var wrappedPattern = regexp.MustCompile(`"wrapped":"([A-Za-z0-9+/=]{40,})"`)

var rootKeyIDPattern = regexp.MustCompile(`created root key ((?:pkcs11|file):[0-9a-f]{16}):`)

// initRootKey runs trent rootkey init and returns the new key's ID.
func initRootKey(t *testing.T, configPath string) string {
	t.Helper()
	out, err := trentCommand(t, "rootkey", "init", "--config", configPath)
	m := rootKeyIDPattern.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("trent rootkey init: %v\n%s", err, out)
	}
	return m[1]
}

// fileRootKeyID is the ID of a root key file.
func fileRootKeyID(t *testing.T, path string) string {
	t.Helper()
	k, err := rootkey.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return k.ID()
}

// TestHSMRootKey: trent with its root key in a SoftHSM2 token. The key is
// made by trent rootkey init, never by trent serve; keys of three kinds
// survive a restart; the audit log's segments name the HSM key and verify;
// and no root key file, nor the PIN, is anywhere in the data directory or
// the configuration directory.
func TestHSMRootKey(t *testing.T) {
	cfgDir, dataDir := t.TempDir(), t.TempDir()
	hsm := newToken(t, cfgDir, "trent-root-1")
	configPath := filepath.Join(cfgDir, "trent.json")
	writeConfigFile(t, configPath, dataDir, configWith(map[string]any{"pkcs11": hsm}))

	refusedAtStart(t, configPath, `has no key labelled "trent-root-1"`, "trent rootkey init")
	id := initRootKey(t, configPath)
	if !strings.HasPrefix(id, "pkcs11:") {
		t.Fatalf("root key ID %s", id)
	}
	if out, err := trentCommand(t, "rootkey", "init", "--config", configPath); err == nil || !strings.Contains(out, "already has an object labelled") {
		t.Fatalf("a second init: %v\n%s", err, out)
	}

	s := startTrent(t, dataDir, "serve", "--config", configPath)
	c := s.client()
	sym := createSymmetricKey(t, c, nil)
	blob := encryptWith(t, c, *sym.KeyId, "kept in an HSM")
	rsaKey := createKeyWith(t, c, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify)
	hmacKey := createKeyWith(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	msg := []byte("signed under an HSM root key")
	sig, err := c.Sign(ctx, &kms.SignInput{KeyId: rsaKey.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})
	if err != nil {
		t.Fatal(err)
	}
	mac, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: hmacKey.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.stderr.String(), id) {
		t.Fatalf("trent's log does not name its root key %s:\n%s", id, s.stderr)
	}
	s.stop()

	s = startTrent(t, dataDir, "serve", "--config", configPath)
	c = s.client()
	if pt, _ := decryptWith(t, c, blob); pt != "kept in an HSM" {
		t.Fatalf("after a restart: %q", pt)
	}
	v, err := c.Verify(ctx, &kms.VerifyInput{KeyId: rsaKey.KeyId, Message: msg, Signature: sig.Signature, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})
	if err != nil || !v.SignatureValid {
		t.Fatalf("Verify after a restart: %v", err)
	}
	m, err := c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: hmacKey.KeyId, Message: msg, Mac: mac.Mac, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	if err != nil || !m.MacValid {
		t.Fatalf("VerifyMac after a restart: %v", err)
	}
	logs := s.stderr.String()
	s.stop()

	auditLog := filepath.Join(dataDir, "audit.jsonl")
	audit, err := os.ReadFile(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(audit), `"rootKey":"`+id+`"`); n != 2 {
		t.Fatalf("%d audit segments name the HSM root key, want 2 (one per start)", n)
	}
	if out, err := trentCommand(t, "audit", "verify", "--config", configPath, auditLog); err != nil {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}

	// Only what belongs there, no 32-byte file, and the PIN only in its
	// own file.
	want := map[string][]string{dataDir: {"audit.jsonl", "trent.db"}, cfgDir: {"hsm.pin", "trent.json"}}
	for dir, names := range want {
		var found []string
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			found = append(found, d.Name())
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if len(data) == rootkey.KeySize {
				t.Errorf("%s is %d bytes long, the size of a root key file", path, len(data))
			}
			if d.Name() != "hsm.pin" && strings.Contains(string(data), hsmPIN) {
				t.Errorf("%s holds the PIN", path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(found)
		if !slices.Equal(found, names) {
			t.Errorf("%s holds %v, want %v", dir, found, names)
		}
	}
	if strings.Contains(logs, hsmPIN) {
		t.Fatal("trent's log holds the PIN")
	}
}

// TestHSMRootKeyRefusedAtStart: a wrong PIN, a token that is not there, a
// key label that names nothing, a PIN file others can read: each stops
// trent at start with the reason, and no message holds a PIN.
func TestHSMRootKeyRefusedAtStart(t *testing.T) {
	cfgDir, dataDir := t.TempDir(), t.TempDir()
	hsm := newToken(t, cfgDir, "root")
	good := filepath.Join(cfgDir, "trent.json")
	writeConfigFile(t, good, dataDir, configWith(map[string]any{"pkcs11": hsm}))
	initRootKey(t, good)

	variant := func(name string, change func(map[string]any)) string {
		h := map[string]any{}
		for k, v := range hsm {
			h[k] = v
		}
		change(h)
		path := filepath.Join(cfgDir, name+".json")
		writeConfigFile(t, path, dataDir, configWith(map[string]any{"pkcs11": h}))
		return path
	}
	wrongPIN := filepath.Join(cfgDir, "wrong.pin")
	if err := os.WriteFile(wrongPIN, []byte("not-the-pin-1357\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	loosePIN := filepath.Join(cfgDir, "loose.pin")
	if err := os.WriteFile(loosePIN, []byte(hsmPIN), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(loosePIN, 0o644)
	for _, tc := range []struct {
		name   string
		change func(map[string]any)
		want   []string
	}{
		{"wrong-pin", func(h map[string]any) { h["pin_file"] = wrongPIN }, []string{"refused the PIN in " + wrongPIN, "PIN incorrect"}},
		{"no-token", func(h map[string]any) { h["token_label"] = "not-plugged-in" }, []string{`no token labelled "not-plugged-in"`, "tokens present: ", fmt.Sprintf("%q", hsm["token_label"])}},
		{"no-key", func(h map[string]any) { h["key_label"] = "typo" }, []string{`has no key labelled "typo"`}},
		{"loose-pin-file", func(h map[string]any) { h["pin_file"] = loosePIN }, []string{"PIN file " + loosePIN + " has mode 0644"}},
		{"no-module", func(h map[string]any) { h["module"] = "/nonexistent/libpkcs11.so" }, []string{"/nonexistent/libpkcs11.so"}},
	} {
		out := refusedAtStart(t, variant(tc.name, tc.change), tc.want...)
		if strings.Contains(out, hsmPIN) || strings.Contains(out, "not-the-pin-1357") {
			t.Errorf("%s: the refusal holds a PIN:\n%s", tc.name, out)
		}
	}
	// The good config still starts after all that (the wrong PIN did not
	// lock the token).
	s := startTrent(t, dataDir, "serve", "--config", good)
	createSymmetricKey(t, s.client(), nil)
}

// rotationFixture is keys of every kind made under one root key, and what
// was made with them, to check after the root key has changed.
type rotationFixture struct {
	sym        []string
	blobs      map[string][]byte // key ID → ciphertext of "plaintext of <key ID>"
	rsaKey     string
	hmacKey    string
	msg, sig   []byte
	mac        []byte
	mrk        string
	westBlob   []byte
	ext        string
	token      []byte
	wrapping   *rsa.PublicKey
	rotatedKey string
}

func plaintextOf(id string) string { return "plaintext of " + id }

func makeFixture(t *testing.T, s *server, symmetric int) *rotationFixture {
	t.Helper()
	c := s.client()
	f := &rotationFixture{blobs: map[string][]byte{}, msg: []byte("signed before the rotation")}
	for range symmetric {
		f.sym = append(f.sym, *createSymmetricKey(t, c, nil).KeyId)
	}
	// One key with three materials.
	f.rotatedKey = f.sym[0]
	for n := range 2 {
		if _, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(f.rotatedKey)}); err != nil {
			t.Fatal(err)
		}
		waitMinute(t, "the on-demand rotation", func() bool {
			r, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(f.rotatedKey)})
			return err == nil && len(r.Rotations) == n+1
		})
	}
	f.rsaKey = *createKeyWith(t, c, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify).KeyId
	f.hmacKey = *createKeyWith(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac).KeyId
	sig, err := c.Sign(ctx, &kms.SignInput{KeyId: aws.String(f.rsaKey), Message: f.msg, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})
	if err != nil {
		t.Fatal(err)
	}
	f.sig = sig.Signature
	mac, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(f.hmacKey), Message: f.msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	if err != nil {
		t.Fatal(err)
	}
	f.mac = mac.Mac
	// A multi-Region key with a replica.
	f.mrk = *createSymmetricKey(t, c, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)}).KeyId
	if _, err := c.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(f.mrk), ReplicaRegion: aws.String("eu-west-1")}); err != nil {
		t.Fatal(err)
	}
	west := s.clientWith(accessKey, secretKey, "eu-west-1")
	waitMinute(t, "the replica", func() bool {
		d, err := west.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(f.mrk)})
		return err == nil && d.KeyMetadata.KeyState == types.KeyStateEnabled
	})
	f.westBlob = encryptWith(t, west, f.mrk, "made in eu-west-1")
	// An imported key still waiting for its material: its wrapping key is
	// in the store.
	f.ext = *createSymmetricKey(t, c, &kms.CreateKeyInput{Origin: types.OriginTypeExternal}).KeyId
	p, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(f.ext),
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(p.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	f.token, f.wrapping = p.ImportToken, pub.(*rsa.PublicKey)
	for _, id := range append(slices.Clone(f.sym), f.mrk) {
		f.blobs[id] = encryptWith(t, c, id, plaintextOf(id))
	}
	return f
}

// check decrypts, verifies and imports everything the fixture made.
func (f *rotationFixture) check(t *testing.T, s *server) {
	t.Helper()
	c := s.client()
	for id, blob := range f.blobs {
		if pt, _ := decryptWith(t, c, blob); pt != plaintextOf(id) {
			t.Fatalf("key %s decrypts %q", id, pt)
		}
	}
	if pt, _ := decryptWith(t, s.clientWith(accessKey, secretKey, "eu-west-1"), f.westBlob); pt != "made in eu-west-1" {
		t.Fatalf("eu-west-1: %q", pt)
	}
	v, err := c.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(f.rsaKey), Message: f.msg, Signature: f.sig, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})
	if err != nil || !v.SignatureValid {
		t.Fatalf("Verify: %v", err)
	}
	if _, err := c.Sign(ctx, &kms.SignInput{KeyId: aws.String(f.rsaKey), Message: f.msg, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256}); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	m, err := c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: aws.String(f.hmacKey), Message: f.msg, Mac: f.mac, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	if err != nil || !m.MacValid {
		t.Fatalf("VerifyMac: %v", err)
	}
	// The import token from before the rotation: its wrapping key was
	// rewrapped with everything else.
	material := make([]byte, 32)
	rand.Read(material)
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, f.wrapping, material, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(f.ext), ImportToken: f.token,
		EncryptedKeyMaterial: wrapped, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire}); err != nil {
		t.Fatalf("ImportKeyMaterial with the token made before the rotation: %v", err)
	}
	if pt, _ := decryptWith(t, c, encryptWith(t, c, f.ext, "imported")); pt != "imported" {
		t.Fatalf("imported key: %q", pt)
	}
}

func waitMinute(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// load is a steady stream of Decrypts of known ciphertexts and of
// Encrypt-then-Decrypt round trips, from a few workers, each request
// tried once (no SDK retries): every failure counts.
type load struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	ok, fail atomic.Int64
	firstErr atomic.Pointer[error]
}

func startLoad(c *kms.Client, blobs map[string][]byte, workers int) *load {
	l := &load{stop: make(chan struct{})}
	var ids []string
	for id := range blobs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	failed := func(err error) {
		l.fail.Add(1)
		l.firstErr.CompareAndSwap(nil, &err)
	}
	for w := range workers {
		l.wg.Go(func() {
			for n := w; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				id := ids[n%len(ids)]
				out, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blobs[id]})
				if err != nil {
					failed(err)
				} else if string(out.Plaintext) != plaintextOf(id) {
					failed(fmt.Errorf("key %s decrypted %q", id, out.Plaintext))
				} else {
					l.ok.Add(1)
				}
				enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("fresh")})
				if err != nil {
					failed(err)
					continue
				}
				dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
				if err != nil || string(dec.Plaintext) != "fresh" {
					failed(fmt.Errorf("round trip with %s: %v", id, err))
				} else {
					l.ok.Add(2)
				}
			}
		})
	}
	return l
}

// await waits until the load has made n more successful requests.
func (l *load) await(t *testing.T, n int64) {
	t.Helper()
	target := l.ok.Load() + n
	waitMinute(t, fmt.Sprintf("%d more requests", n), func() bool { return l.ok.Load() >= target || l.fail.Load() > 0 })
}

// finish stops the load and fails the test if any request failed.
func (l *load) finish(t *testing.T) int64 {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	if n := l.fail.Load(); n > 0 {
		t.Fatalf("%d requests failed (%d succeeded); the first: %v", n, l.ok.Load(), *l.firstErr.Load())
	}
	return l.ok.Load()
}

// startInProcess runs trent from a config file in the test's process,
// logging into the server's stderr buffer, with the root key rewrap held
// until hold is closed.
func startInProcess(t *testing.T, configPath string, hold <-chan struct{}) *server {
	t.Helper()
	cfg, err := config.Load(configPath)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, DataDir: cfg.DataDir, stderr: new(syncBuffer), exited: make(chan struct{})}
	srv, err := trentserver.Start(cfg, trentserver.Options{
		Logger:            slog.New(slog.NewTextHandler(s.stderr, nil)),
		HoldRootKeyRewrap: hold,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.inProcess, s.URL = srv, srv.URL()
	t.Cleanup(s.stop)
	return s
}

// fileToHSMConfigs writes the three configs of a move from a root key file
// to a key in a fresh SoftHSM2 token (labelled keyLabel), all on one data
// directory: the file alone, the HSM key current with the file previous,
// and the HSM key alone.
func fileToHSMConfigs(t *testing.T, keyLabel string) (dataDir, fileKey, fileCfg, ringCfg, hsmCfg string) {
	t.Helper()
	cfgDir := t.TempDir()
	dataDir = t.TempDir()
	fileKey = filepath.Join(cfgDir, "root.key")
	hsm := newToken(t, cfgDir, keyLabel)
	fileCfg = filepath.Join(cfgDir, "file.json")
	writeConfigFile(t, fileCfg, dataDir, configWith(map[string]any{"file": fileKey}))
	ringCfg = filepath.Join(cfgDir, "ring.json")
	writeConfigFile(t, ringCfg, dataDir, configWith(map[string]any{"pkcs11": hsm, "previous": []any{map[string]any{"file": fileKey}}}))
	hsmCfg = filepath.Join(cfgDir, "hsm.json")
	writeConfigFile(t, hsmCfg, dataDir, configWith(map[string]any{"pkcs11": hsm}))
	return dataDir, fileKey, fileCfg, ringCfg, hsmCfg
}

// TestRootKeyRotationFromFileToHSMWhileServing moves a trent from a root
// key file to a key in SoftHSM2. Keys of every kind are made under the
// file; trent restarts with the HSM key as the current root key and the
// file as the previous one, and rewraps everything while a steady load of
// Encrypt and Decrypt runs, with no failed request. trent rootkey rewrap
// is refused while trent holds the store, and finds nothing left once it
// is stopped; the file then leaves the configuration and everything
// still works after a restart, with the HSM key alone.
func TestRootKeyRotationFromFileToHSMWhileServing(t *testing.T) {
	dataDir, fileKey, fileCfg, ringCfg, hsmCfg := fileToHSMConfigs(t, "trent-root-2")

	s := startTrent(t, dataDir, "serve", "--config", fileCfg)
	f := makeFixture(t, s, 24)
	s.stop()
	fileID := fileRootKeyID(t, fileKey)
	hsmID := initRootKey(t, ringCfg)
	// Blobs the file key wraps now: the rotation must leave none of them
	// in the store file, not even in its free pages.
	var oldBlobs []string
	for _, rec := range [][]byte{
		rawRecord(t, dataDir, store.Keys, "us-east-1/"+f.sym[1]),
		rawRecord(t, dataDir, store.Keys, "eu-west-1/"+f.mrk),
		rawRecord(t, dataDir, store.Meta, sealed.SecretKey),
	} {
		m := wrappedPattern.FindSubmatch(rec)
		if m == nil {
			t.Fatalf("no wrapped blob in %q", rec)
		}
		oldBlobs = append(oldBlobs, string(m[1]))
	}

	// The HSM key alone does not open a store the file key wrote.
	refusedAtStart(t, hsmCfg, "this store was written under root key "+fileID, "root_key.previous")

	hold := make(chan struct{})
	s = startInProcess(t, ringCfg, hold)
	if !strings.Contains(s.stderr.String(), "previous="+fileID) {
		t.Fatalf("the log does not name the previous root key:\n%s", s.stderr)
	}
	l := startLoad(s.client(), f.blobs, 4)
	l.await(t, 200)
	// Made while the rewrap waits: wrapped by the HSM key at once.
	late := createSymmetricKey(t, s.client(), nil)
	lateBlob := encryptWith(t, s.client(), *late.KeyId, "made during the rotation")
	close(hold)
	waitMinute(t, "the rewrap", func() bool { return strings.Contains(s.stderr.String(), "root key rewrap done") })
	l.await(t, 200)
	n := l.finish(t)
	t.Logf("%d requests during the rotation, none failed", n)
	logs := s.stderr.String()
	// 24 symmetric keys with two extra materials on one, the multi-Region
	// key in two Regions, RSA, HMAC: 30 materials in 28 key records; one
	// import wrapping key.
	for _, want := range []string{"root key rewrap started", "from=" + fileID, "to=" + hsmID,
		"store_secret=true keys=28 materials=30 import_parameters=1", "can be removed from root_key.previous"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("the log does not say %q:\n%s", want, logs)
		}
	}

	// The store is trent's while it runs.
	out, err := trentCommand(t, "rootkey", "rewrap", "--config", ringCfg)
	if err == nil || !strings.Contains(out, "A running trent holds the store") {
		t.Fatalf("rootkey rewrap beside a running trent: %v\n%s", err, out)
	}
	s.stop()
	out, err = trentCommand(t, "rootkey", "rewrap", "--config", ringCfg)
	if err != nil || !strings.Contains(out, "key records rewritten: 0 (0 key materials rewrapped)") ||
		!strings.Contains(out, "store secret: already wrapped by the current root key") ||
		!strings.Contains(out, "nothing is wrapped by "+fileID+" any more") {
		t.Fatalf("rootkey rewrap after the rotation: %v\n%s", err, out)
	}

	db, err := os.ReadFile(filepath.Join(dataDir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range oldBlobs {
		if strings.Contains(string(db), b) {
			t.Fatalf("the store file still holds a blob the file key wrapped: %s", b)
		}
	}

	// The file leaves the configuration.
	s = startTrent(t, dataDir, "serve", "--config", hsmCfg)
	f.check(t, s)
	if pt, _ := decryptWith(t, s.client(), lateBlob); pt != "made during the rotation" {
		t.Fatalf("the key made during the rotation: %q", pt)
	}
	s.stop()
	// The audit log's older segments name the file key: verifying them
	// needs it, so it stays in a config kept for that.
	auditLog := filepath.Join(dataDir, "audit.jsonl")
	if out, err := trentCommand(t, "audit", "verify", "--config", ringCfg, auditLog); err != nil {
		t.Fatalf("audit verify with both keys: %v\n%s", err, out)
	}
	if out, err := trentCommand(t, "audit", "verify", "--config", hsmCfg, auditLog); err == nil || !strings.Contains(out, "under root key "+fileID) {
		t.Fatalf("audit verify without the file key: %v\n%s", err, out)
	}
}

// TestRootKeyRingMissingAKeyIsRefusedAtStart: a trent that wrapped new key
// material under a new root key, stopped before it had rewrapped the old,
// cannot be started with either key alone: the old alone lacks what the
// new one wrapped (the store's register says so, though the store secret
// is still the old key's), the new alone lacks the store secret's key.
// Both messages name what is missing.
func TestRootKeyRingMissingAKeyIsRefusedAtStart(t *testing.T) {
	dataDir, fileKey, fileCfg, ringCfg, hsmCfg := fileToHSMConfigs(t, "trent-root-3")

	s := startTrent(t, dataDir, "serve", "--config", fileCfg)
	old := createSymmetricKey(t, s.client(), nil)
	oldBlob := encryptWith(t, s.client(), *old.KeyId, "under the file")
	s.stop()
	fileID := fileRootKeyID(t, fileKey)
	hsmID := initRootKey(t, ringCfg)

	hold := make(chan struct{}) // never closed: no rewrap
	s = startInProcess(t, ringCfg, hold)
	fresh := createSymmetricKey(t, s.client(), nil)
	freshBlob := encryptWith(t, s.client(), *fresh.KeyId, "under the HSM")
	s.stop()
	if strings.Contains(s.stderr.String(), "root key rewrap started") {
		t.Fatal("the rewrap ran although it was held")
	}

	refusedAtStart(t, fileCfg, "key material is wrapped by root key "+hsmID, "the configured ring holds only "+fileID, "root_key.previous")
	refusedAtStart(t, hsmCfg, "this store was written under root key "+fileID)

	// With both, it starts (and rewraps).
	s = startTrent(t, dataDir, "serve", "--config", ringCfg)
	for blob, want := range map[*[]byte]string{&oldBlob: "under the file", &freshBlob: "under the HSM"} {
		if pt, _ := decryptWith(t, s.client(), *blob); pt != want {
			t.Fatalf("decrypts %q, want %q", pt, want)
		}
	}
	waitMinute(t, "the rewrap", func() bool { return strings.Contains(s.stderr.String(), "root key rewrap done") })
}

// TestRootKeyRotationOnPostgresWhileServing: two trent nodes on one
// PostgreSQL database move from a root key file to a SoftHSM2 key while
// node a serves a steady load. Node a first learns the HSM key as a
// previous one; node b starts with the HSM key as current and rewraps
// everything as it starts; trent rootkey rewrap, run beside both, finds
// nothing left. No request fails, including those node a serves from the
// store after its cache has expired (it unwraps with the HSM key), and
// afterwards both nodes run on the HSM key alone.
func TestRootKeyRotationOnPostgresWhileServing(t *testing.T) {
	cfgDir := t.TempDir()
	hsm := newToken(t, cfgDir, "trent-root-4")
	pg := pgtest.Start(t, pgtest.Options{})
	dsn := pg.NewDatabase(t)
	fileKey := filepath.Join(cfgDir, "root.key")
	file := map[string]any{"file": fileKey}
	pkcs11 := map[string]any{"pkcs11": hsm}
	aDir, bDir := filepath.Join(cfgDir, "a"), filepath.Join(cfgDir, "b")
	node := func(name, dataDir string, rootKey map[string]any) string {
		c := configWith(rootKey)
		c["store"] = map[string]any{"postgres": map[string]any{"dsn": dsn, "max_conns": 4}}
		path := filepath.Join(cfgDir, name+".json")
		writeConfigFile(t, path, dataDir, c)
		return path
	}
	aFile := node("a-file", aDir, file)
	aLearns := node("a-learns", aDir, map[string]any{"file": fileKey, "previous": []any{pkcs11}})
	bRing := node("b-ring", bDir, map[string]any{"pkcs11": hsm, "previous": []any{file}})
	aHSM := node("a-hsm", aDir, pkcs11)
	bHSM := node("b-hsm", bDir, pkcs11)

	a := startTrent(t, aDir, "serve", "--config", aFile)
	f := makeFixture(t, a, 12)
	a.stop()
	hsmID := initRootKey(t, bRing)
	fileID := fileRootKeyID(t, fileKey)

	// Node a holds the HSM key before anything is wrapped by it.
	a = startTrent(t, aDir, "serve", "--config", aLearns)
	la := startLoad(a.client(), f.blobs, 3)
	la.await(t, 200)
	b := startTrent(t, bDir, "serve", "--config", bRing)
	lb := startLoad(b.client(), f.blobs, 1)
	waitMinute(t, "node b's rewrap", func() bool { return strings.Contains(b.stderr.String(), "root key rewrap done") })
	// 12 symmetric keys, one with two extra materials, the multi-Region
	// key in two Regions, RSA, HMAC (node b logs JSON).
	if !strings.Contains(b.stderr.String(), `"from":"`+fileID) || !strings.Contains(b.stderr.String(), `"materials":18`) {
		t.Fatalf("node b's rewrap:\n%s", b.stderr)
	}
	out, err := trentCommand(t, "rootkey", "rewrap", "--config", bRing)
	if err != nil || !strings.Contains(out, "key records rewritten: 0") || !strings.Contains(out, "nothing is wrapped by "+fileID+" any more") {
		t.Fatalf("rootkey rewrap beside both nodes: %v\n%s", err, out)
	}
	// Node a's cache keeps a key for at most 11 seconds: past that, it
	// reads the rewrapped records and unwraps them with the HSM key.
	time.Sleep(12 * time.Second)
	la.await(t, 200)
	lb.await(t, 50)
	t.Logf("node a: %d requests, node b: %d, none failed", la.finish(t), lb.finish(t))
	if !strings.Contains(b.stderr.String(), hsmID) {
		t.Fatalf("node b does not name %s", hsmID)
	}

	a.stop()
	b.stop()
	a = startTrent(t, aDir, "serve", "--config", aHSM)
	b = startTrent(t, bDir, "serve", "--config", bHSM)
	f.check(t, a)
	if pt, _ := decryptWith(t, b.client(), f.blobs[f.sym[1]]); pt != plaintextOf(f.sym[1]) {
		t.Fatalf("node b: %q", pt)
	}
}

// TestRootKeyRotationBetweenHSMKeysWithTheCommand: from one key in the
// token to another, with trent stopped: trent rootkey rewrap moves the
// store secret, every material and the import wrapping key, says so, and
// trent then starts with the new key alone (and has nothing to rewrap).
func TestRootKeyRotationBetweenHSMKeysWithTheCommand(t *testing.T) {
	cfgDir, dataDir := t.TempDir(), t.TempDir()
	first := newToken(t, cfgDir, "trent-root-5a")
	second := map[string]any{}
	for k, v := range first {
		second[k] = v
	}
	second["key_label"] = "trent-root-5b"
	firstCfg := filepath.Join(cfgDir, "first.json")
	writeConfigFile(t, firstCfg, dataDir, configWith(map[string]any{"pkcs11": first}))
	ringCfg := filepath.Join(cfgDir, "ring.json")
	writeConfigFile(t, ringCfg, dataDir, configWith(map[string]any{"pkcs11": second, "previous": []any{map[string]any{"pkcs11": first}}}))
	secondCfg := filepath.Join(cfgDir, "second.json")
	writeConfigFile(t, secondCfg, dataDir, configWith(map[string]any{"pkcs11": second}))

	firstID := initRootKey(t, firstCfg)
	s := startTrent(t, dataDir, "serve", "--config", firstCfg)
	f := makeFixture(t, s, 3)
	s.stop()
	secondID := initRootKey(t, ringCfg)
	if secondID == firstID {
		t.Fatal("two keys with one ID")
	}
	refusedAtStart(t, secondCfg, "this store was written under root key "+firstID)

	out, err := trentCommand(t, "rootkey", "rewrap", "--config", ringCfg)
	// 3 symmetric keys, one with two extra materials, the multi-Region key
	// in two Regions, RSA, HMAC: 9 materials in 7 key records.
	for _, want := range []string{"current root key: " + secondID, "previous root keys: " + firstID, "store secret: rewrapped",
		"key records rewritten: 7 (9 key materials rewrapped)", "import wrapping keys rewrapped: 1", "nothing is wrapped by " + firstID + " any more"} {
		if !strings.Contains(out, want) {
			t.Fatalf("rootkey rewrap does not say %q: %v\n%s", want, err, out)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	s = startTrent(t, dataDir, "serve", "--config", secondCfg)
	f.check(t, s)
	if strings.Contains(s.stderr.String(), "root key rewrap started") {
		t.Fatal("a trent without previous root keys started a rewrap")
	}
}

// TestRootKeyInitMakesAKeyFile: with a "file" root key, trent rootkey init
// makes the file (32 bytes, mode 0600) and never replaces it.
func TestRootKeyInitMakesAKeyFile(t *testing.T) {
	cfgDir, dataDir := t.TempDir(), t.TempDir()
	keyFile := filepath.Join(cfgDir, "keys", "root.key")
	path := filepath.Join(cfgDir, "trent.json")
	writeConfigFile(t, path, dataDir, configWith(map[string]any{"file": keyFile}))
	id := initRootKey(t, path)
	st, err := os.Stat(keyFile)
	if err != nil || st.Size() != rootkey.KeySize || st.Mode().Perm() != 0o600 || id != fileRootKeyID(t, keyFile) {
		t.Fatalf("the key file: %v, %v, ID %s", st, err, id)
	}
	before, _ := os.ReadFile(keyFile)
	out, err := trentCommand(t, "rootkey", "init", "--config", path)
	if err == nil || !strings.Contains(out, "exists already; trent will not replace a root key") {
		t.Fatalf("a second init: %v\n%s", err, out)
	}
	if after, _ := os.ReadFile(keyFile); string(after) != string(before) {
		t.Fatal("the key file changed")
	}
	s := startTrent(t, dataDir, "serve", "--config", path)
	if !strings.Contains(s.stderr.String(), id) {
		t.Fatalf("trent does not use the key init made:\n%s", s.stderr)
	}
}
