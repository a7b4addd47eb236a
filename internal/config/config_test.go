package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "trent.json")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadValidConfig(t *testing.T) {
	c, err := Load(writeConfig(t, `{
		"listen": "0.0.0.0:4599",
		"insecure_plaintext": true,
		"data_dir": "/var/lib/trent",
		"regions": ["eu-west-1"],
		"root_key": {"file": "root.key"},
		"accounts": [{"id": "444455556666", "access_keys": [
			{"id": "AKIDADMIN", "secret": "s1", "user": "admin"},
			{"id": "AKIDROOT", "secret": "s2"},
			{"id": "ASIDAPP", "secret": "s3", "role": "app", "session_name": "s1", "session_token": "t"}
		],
		"users": [{"name": "admin", "policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}]}],
		"roles": [{"name": "app"}]}]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.RootKeyPath() != "/var/lib/trent/root.key" || c.AuditLogPath() != "/var/lib/trent/audit.jsonl" {
		t.Fatalf("paths: %s, %s", c.RootKeyPath(), c.AuditLogPath())
	}
	if !c.ServesRegion("eu-west-1") || c.ServesRegion("us-east-1") {
		t.Fatal("regions not applied")
	}
	a := c.Accounts[0]
	admin, root, app := a.Principal(a.AccessKeys[0]), a.Principal(a.AccessKeys[1]), a.Principal(a.AccessKeys[2])
	if admin.Type != "User" || admin.Username != "admin" || len(admin.Policies) != 1 || root.Type != "Account" || len(root.Policies) != 0 ||
		app.Type != "AssumedRole" || app.ARN != "arn:aws:sts::444455556666:assumed-role/app/s1" || app.RoleARN != "arn:aws:iam::444455556666:role/app" ||
		!strings.HasPrefix(app.UserID, "AROA") || !strings.HasSuffix(app.UserID, ":s1") {
		t.Fatalf("principals: %+v %+v %+v", admin, root, app)
	}
	for p, want := range map[string]bool{
		"444455556666": true, "111122223333": false, "arn:aws:iam::444455556666:root": true,
		"arn:aws:iam::444455556666:user/admin": true, "arn:aws:iam::444455556666:user/bob": false,
		"arn:aws:iam::444455556666:role/app": true, "arn:aws:sts::444455556666:assumed-role/app/other": true,
		"arn:aws:sts::444455556666:assumed-role/nope/s": false, "arn:aws:iam::111122223333:root": false,
	} {
		if c.PrincipalExists(p) != want {
			t.Errorf("PrincipalExists(%s) = %v", p, !want)
		}
	}
	if a.PrincipalARN(a.AccessKeys[0]) != "arn:aws:iam::444455556666:user/admin" ||
		a.PrincipalARN(a.AccessKeys[1]) != "arn:aws:iam::444455556666:root" ||
		a.PrincipalID(a.AccessKeys[1]) != "444455556666" || !strings.HasPrefix(a.PrincipalID(a.AccessKeys[0]), "AIDA") {
		t.Fatalf("principals: %s %s", a.PrincipalARN(a.AccessKeys[0]), a.PrincipalID(a.AccessKeys[0]))
	}
}

// TestLoadRejects: every mistake fails loudly instead of falling back to a default.
func TestLoadRejects(t *testing.T) {
	base := `"listen": "127.0.0.1:4599", "data_dir": "d", "root_key": {"file": "k"}`
	account := `"accounts": [{"id": "111122223333", "access_keys": [{"id": "a", "secret": "s"}]}]`
	for name, tc := range map[string]struct{ text, want string }{
		"unknown member":     {`{` + base + `, ` + account + `, "listen_addr": "x"}`, "unknown"},
		"not JSON":           {`listen: x`, "invalid"},
		"bad listen":         {`{"listen": "4599", "data_dir": "d", "root_key": {"file": "k"}, ` + account + `}`, "listen"},
		"no data dir":        {`{"listen": "127.0.0.1:1", "root_key": {"file": "k"}, ` + account + `}`, "data_dir"},
		"no root key":        {`{"listen": "127.0.0.1:1", "data_dir": "d", ` + account + `}`, "root_key"},
		"no accounts":        {`{` + base + `}`, "account"},
		"short account id":   {`{` + base + `, "accounts": [{"id": "1234", "access_keys": []}]}`, "12 digits"},
		"key without secret": {`{` + base + `, "accounts": [{"id": "111122223333", "access_keys": [{"id": "a"}]}]}`, "secret"},
		"access key twice":   {`{` + base + `, "accounts": [{"id": "111122223333", "access_keys": [{"id": "a", "secret": "s"}, {"id": "a", "secret": "t"}]}]}`, "twice"},
		"undefined user":     {`{` + base + `, "accounts": [{"id": "111122223333", "access_keys": [{"id": "a", "secret": "s", "user": "ghost"}]}]}`, "not defined"},
		"undefined role":     {`{` + base + `, "accounts": [{"id": "111122223333", "access_keys": [{"id": "a", "secret": "s", "role": "ghost", "session_name": "x", "session_token": "t"}]}]}`, "not defined"},
		"role without token": {`{` + base + `, "accounts": [{"id": "111122223333", "roles": [{"name": "r"}], "access_keys": [{"id": "a", "secret": "s", "role": "r", "session_name": "x"}]}]}`, "session_token"},
		"user and role":      {`{` + base + `, "accounts": [{"id": "111122223333", "users": [{"name": "u"}], "roles": [{"name": "r"}], "access_keys": [{"id": "a", "secret": "s", "user": "u", "role": "r"}]}]}`, "both"},
		"bad policy":         {`{` + base + `, "accounts": [{"id": "111122223333", "users": [{"name": "u", "policies": [{"Statement": [{"Effect": "Maybe", "Action": "kms:*", "Resource": "*"}]}]}], "access_keys": [{"id": "a", "secret": "s"}]}]}`, "policy 1"},
		"bad user name":      {`{` + base + `, "accounts": [{"id": "111122223333", "users": [{"name": "a b"}], "access_keys": [{"id": "a", "secret": "s"}]}]}`, "user name"},
		"account twice":      {`{` + base + `, "accounts": [{"id": "111122223333", "access_keys": []}, {"id": "111122223333", "access_keys": []}]}`, "twice"},
	} {
		_, err := Load(writeConfig(t, tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", name, err, tc.want)
		}
	}
}

func TestDevModeIsLoopbackOnly(t *testing.T) {
	for listen, ok := range map[string]bool{
		"127.0.0.1:4599": true, "localhost:1": true, "[::1]:1": true,
		"0.0.0.0:4599": false, "10.0.0.1:4599": false, ":4599": false,
	} {
		err := DevConfig(listen, "d").Check()
		if (err == nil) != ok {
			t.Errorf("dev mode on %s: %v", listen, err)
		}
	}
	c := DevConfig("", "")
	if c.Listen != DevListen || c.DataDir != DevDataDir || !c.ServesRegion("ap-south-1") || c.ServesRegion("") {
		t.Fatalf("dev defaults: %+v", c)
	}
}

// TestLoadRefusesReadableSecrets: a config file with secret access keys
// that group or others can read is refused.
func TestLoadRefusesReadableSecrets(t *testing.T) {
	text := `{"listen": "127.0.0.1:4599", "data_dir": "d", "root_key": {"file": "k"},
		"accounts": [{"id": "111122223333", "access_keys": [{"id": "a", "secret": "s"}]}]}`
	p := writeConfig(t, text)
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p)
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("mode %04o: %v", mode, err)
		}
	}
	os.Chmod(p, 0o400)
	if _, err := Load(p); err != nil {
		t.Fatalf("mode 0400: %v", err)
	}
}

// TestRootKeyRing: the current root key is a file or a key in a PKCS#11
// token, with previous ones after it, and every way to name them wrongly
// is refused with a message that says where.
func TestRootKeyRing(t *testing.T) {
	account := `"accounts": [{"id": "111122223333", "access_keys": [{"id": "a", "secret": "s"}]}]`
	load := func(rootKey string) (*Config, error) {
		return Load(writeConfig(t, `{"listen": "127.0.0.1:4599", "data_dir": "/var/lib/trent", "root_key": `+rootKey+`, `+account+`}`))
	}
	hsm := `{"module": "/usr/lib/softhsm/libsofthsm2.so", "token_label": "trent", "pin_file": "hsm.pin", "key_label": "root-2"}`
	c, err := load(`{"pkcs11": ` + hsm + `, "previous": [{"file": "root.key"}, {"pkcs11": {"module": "/usr/lib/softhsm/libsofthsm2.so", "token_label": "trent", "pin_file": "/etc/trent/hsm.pin", "key_label": "root-1"}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	k := c.RootKey
	if k.File != "" || k.PKCS11 == nil || k.PKCS11.KeyLabel != "root-2" || k.PKCS11.TokenLabel != "trent" || k.PKCS11.PinFile != "hsm.pin" ||
		len(k.Previous) != 2 || k.Previous[0].File != "root.key" || k.Previous[1].PKCS11.KeyLabel != "root-1" {
		t.Fatalf("ring: %+v", k)
	}
	if c.RootKeyPath() != "" || c.Path(k.PKCS11.PinFile) != "/var/lib/trent/hsm.pin" || c.Path(k.Previous[0].File) != "/var/lib/trent/root.key" {
		t.Fatalf("paths: %q %q", c.RootKeyPath(), c.Path(k.PKCS11.PinFile))
	}
	if got := k.String(); got != `the key labelled "root-2" in PKCS#11 token "trent"` {
		t.Fatalf("String: %s", got)
	}
	same, err := load(`{"pkcs11": ` + hsm + `, "previous": [{"file": "root.key"}, {"pkcs11": {"module": "/usr/lib/softhsm/libsofthsm2.so", "token_label": "trent", "pin_file": "/etc/trent/hsm.pin", "key_label": "root-1"}}]}`)
	if err != nil || !same.RootKey.Equal(c.RootKey) {
		t.Fatalf("Equal on the same ring: %v", err)
	}
	other, _ := load(`{"pkcs11": ` + hsm + `, "previous": [{"file": "root.key"}]}`)
	swapped, _ := load(`{"file": "root.key", "previous": [{"pkcs11": ` + hsm + `}]}`)
	if other.RootKey.Equal(c.RootKey) || swapped.RootKey.Equal(other.RootKey) || !swapped.RootKey.Equal(swapped.RootKey) {
		t.Fatal("Equal on different rings")
	}

	for name, tc := range map[string]struct{ rootKey, want string }{
		"empty":                {`{}`, `root_key: name the root key: "file" (a key file) or "pkcs11"`},
		"both":                 {`{"file": "k", "pkcs11": ` + hsm + `}`, `root_key: "file" and "pkcs11" together`},
		"relative module":      {`{"pkcs11": {"module": "libsofthsm2.so", "token_label": "t", "pin_file": "p", "key_label": "k"}}`, `root_key.pkcs11: module "libsofthsm2.so" must be an absolute path`},
		"no token":             {`{"pkcs11": {"module": "/m.so", "pin_file": "p", "key_label": "k"}}`, "root_key.pkcs11: token_label is required"},
		"no pin file":          {`{"pkcs11": {"module": "/m.so", "token_label": "t", "key_label": "k"}}`, "root_key.pkcs11: pin_file is required"},
		"no key label":         {`{"pkcs11": {"module": "/m.so", "token_label": "t", "pin_file": "p"}}`, "root_key.pkcs11: key_label is required"},
		"long token label":     {`{"pkcs11": {"module": "/m.so", "token_label": "` + strings.Repeat("t", 33) + `", "pin_file": "p", "key_label": "k"}}`, "longer than the 32 bytes"},
		"a PIN in the config":  {`{"pkcs11": {"module": "/m.so", "token_label": "t", "pin": "1234", "key_label": "k"}}`, "unknown field"},
		"empty previous":       {`{"file": "k", "previous": [{}]}`, `root_key.previous[0]: name the root key`},
		"nested previous":      {`{"file": "k", "previous": [{"file": "j", "previous": [{"file": "i"}]}]}`, "unknown field"},
		"bad previous pkcs11":  {`{"file": "k", "previous": [{"file": "j"}, {"pkcs11": {"module": "m.so", "token_label": "t", "pin_file": "p", "key_label": "k"}}]}`, "root_key.previous[1].pkcs11: module"},
		"same file twice":      {`{"file": "root.key", "previous": [{"file": "/var/lib/trent/root.key"}]}`, "root_key.previous[0] names the same root key as root_key (the key file /var/lib/trent/root.key)"},
		"same hsm key twice":   {`{"pkcs11": ` + hsm + `, "previous": [{"pkcs11": ` + strings.Replace(hsm, "hsm.pin", "other.pin", 1) + `}]}`, "root_key.previous[0] names the same root key as root_key"},
		"previous twice":       {`{"file": "a", "previous": [{"file": "b"}, {"file": "b"}]}`, "root_key.previous[1] names the same root key as root_key.previous[0]"},
		"file and pkcs11 prev": {`{"file": "a", "previous": [{"file": "b", "pkcs11": ` + hsm + `}]}`, `root_key.previous[0]: "file" and "pkcs11" together`},
	} {
		_, err := load(tc.rootKey)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
}
