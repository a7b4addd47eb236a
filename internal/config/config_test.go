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
