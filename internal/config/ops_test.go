package config

import (
	"strings"
	"testing"
	"time"
)

const opsAccount = `"accounts": [{"id": "111122223333", "access_keys": [{"id": "a", "secret": "s"}]}]`

func TestOpsSettings(t *testing.T) {
	c, err := Load(writeConfig(t, `{"listen": "0.0.0.0:4599", "data_dir": "/d", "root_key": {"file": "k"}, `+opsAccount+`,
		"tls": {"cert_file": "tls/cert.pem", "key_file": "/etc/trent/key.pem", "client_ca_file": "ca.pem"},
		"metrics_listen": "127.0.0.1:9599", "log_format": "text", "log_level": "debug",
		"quotas": {"rates": {"CreateKey": 50, "cryptographic_symmetric": 100000, "ListKeys": -1}},
		"store": {"postgres": {"dsn": "postgres://trent@db/trent", "max_conns": 8}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Path(c.TLS.CertFile) != "/d/tls/cert.pem" || c.Path(c.TLS.KeyFile) != "/etc/trent/key.pem" {
		t.Fatalf("TLS paths: %s %s", c.Path(c.TLS.CertFile), c.Path(c.TLS.KeyFile))
	}
	if lvl, _ := c.Level(); lvl.String() != "DEBUG" || c.JSONLogs() || c.Plaintext() {
		t.Fatalf("level %v, json %v, plaintext %v", lvl, c.JSONLogs(), c.Plaintext())
	}
	if c.Drain() != 5*time.Second || c.ShutdownTimeout() != 10*time.Second {
		t.Fatalf("drain %v, shutdown %v", c.Drain(), c.ShutdownTimeout())
	}
	if rates, on := c.QuotaRates(); !on || rates["CreateKey"] != 50 {
		t.Fatalf("quotas: %v %v", rates, on)
	}
	if c.Store.Postgres.DSN == "" || c.Store.Postgres.MaxConns != 8 {
		t.Fatalf("store: %+v", c.Store.Postgres)
	}
	// Defaults: JSON logs with a config file, text in dev mode; no drain
	// without a metrics listener.
	d, err := Load(writeConfig(t, `{"listen": "127.0.0.1:4599", "data_dir": "d", "root_key": {"file": "k"}, `+opsAccount+`, "drain_seconds": 0}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, on := DevConfig("", "").QuotaRates(); on {
		t.Fatal("quotas are on in dev mode")
	}
	if _, on := d.QuotaRates(); !on {
		t.Fatal("quotas are off with a config file")
	}
	if !d.JSONLogs() || DevConfig("", "").JSONLogs() || d.Drain() != 0 || d.Plaintext() {
		t.Fatalf("defaults: json %v, dev json %v, drain %v", d.JSONLogs(), DevConfig("", "").JSONLogs(), d.Drain())
	}
}

func TestOpsRejects(t *testing.T) {
	base := `"data_dir": "d", "root_key": {"file": "k"}, ` + opsAccount
	for name, tc := range map[string]struct{ text, want string }{
		"plaintext on all addresses": {`{"listen": "0.0.0.0:4599", ` + base + `}`, "insecure_plaintext"},
		"plaintext on a LAN address": {`{"listen": "10.1.2.3:4599", ` + base + `}`, "not a loopback address"},
		"plaintext on every host":    {`{"listen": ":4599", ` + base + `}`, "tls"},
		"tls without key":            {`{"listen": "0.0.0.0:4599", "tls": {"cert_file": "c"}, ` + base + `}`, "key_file"},
		"tls and plaintext":          {`{"listen": "0.0.0.0:4599", "tls": {"cert_file": "c", "key_file": "k"}, "insecure_plaintext": true, ` + base + `}`, "contradict"},
		"metrics on the API port":    {`{"listen": "127.0.0.1:4599", "metrics_listen": "127.0.0.1:4599", ` + base + `}`, "differ"},
		"bad metrics address":        {`{"listen": "127.0.0.1:4599", "metrics_listen": "9599", ` + base + `}`, "metrics_listen"},
		"log format":                 {`{"listen": "127.0.0.1:4599", "log_format": "xml", ` + base + `}`, "log_format"},
		"log level":                  {`{"listen": "127.0.0.1:4599", "log_level": "loud", ` + base + `}`, "log_level"},
		"unknown quota":              {`{"listen": "127.0.0.1:4599", "quotas": {"rates": {"CreatKey": 1}}, ` + base + `}`, "not a quota"},
		"negative quota":             {`{"listen": "127.0.0.1:4599", "quotas": {"rates": {"CreateKey": -5}}, ` + base + `}`, "not a rate"},
		"postgres without dsn":       {`{"listen": "127.0.0.1:4599", "store": {"postgres": {}}, ` + base + `}`, "dsn"},
		"negative drain":             {`{"listen": "127.0.0.1:4599", "drain_seconds": -1, ` + base + `}`, "negative"},
		"unknown tls member":         {`{"listen": "127.0.0.1:4599", "tls": {"cert": "c"}, ` + base + `}`, "unknown"},
	} {
		_, err := Load(writeConfig(t, tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", name, err, tc.want)
		}
	}
	// Plain HTTP elsewhere than loopback, when asked for explicitly.
	c, err := Load(writeConfig(t, `{"listen": "0.0.0.0:4599", "insecure_plaintext": true, `+base+`}`))
	if err != nil || !c.Plaintext() {
		t.Fatalf("insecure_plaintext: %v", err)
	}
}
