// Package config reads trent's configuration file and knows the settings
// of dev mode.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Config is the whole configuration of a trent server. The file format is
// JSON with exactly these members; an unknown member is an error, so that a
// misspelt setting never silently falls back to a default.
type Config struct {
	// Listen is the host:port to serve on.
	Listen string `json:"listen"`
	// DataDir holds the embedded store (and, by default, the audit log).
	DataDir string `json:"data_dir"`
	// Regions lists the regions served; empty means every region a request names.
	Regions []string `json:"regions,omitempty"`
	// RootKey says where the root of trust is.
	RootKey RootKey `json:"root_key"`
	// AuditLog is the file audit records are appended to; "-" means standard
	// output. Empty means DataDir/audit.jsonl.
	AuditLog string `json:"audit_log,omitempty"`
	// AuditMaxSizeMB rotates the audit log when it would grow past this
	// many MiB (audit.jsonl becomes audit.jsonl.1, ...); 0: never, leave
	// rotation to logrotate and SIGHUP.
	AuditMaxSizeMB int `json:"audit_max_size_mb,omitempty"`
	// AuditKeep is how many rotated audit files to keep; 0 means 10.
	AuditKeep int `json:"audit_keep,omitempty"`
	// AuditFsync makes every audit write durable (fdatasync) before the
	// answer leaves: the log survives a power cut, at the cost of latency.
	AuditFsync bool `json:"audit_fsync,omitempty"`
	// MaxConnections bounds concurrent client connections; beyond it a
	// new connection is answered 503 and closed. 0 means 1024.
	MaxConnections int `json:"max_connections,omitempty"`
	// Accounts are the AWS accounts served, with their access keys.
	Accounts []Account `json:"accounts"`

	// Dev is set for dev mode; it is never read from a file.
	Dev bool `json:"-"`
}

// RootKey locates the root key. Only a key file exists today.
type RootKey struct {
	// File is the path of a 32-byte key file with mode 0600. Relative paths
	// are relative to DataDir. Created on first start if absent.
	File string `json:"file"`
}

// Account is one AWS account ID and the access keys that act for it.
type Account struct {
	ID         string      `json:"id"`
	AccessKeys []AccessKey `json:"access_keys"`
}

// AccessKey is one credential. User names the IAM user it belongs to;
// empty means the account's root user.
type AccessKey struct {
	ID           string    `json:"id"`
	Secret       string    `json:"secret"`
	User         string    `json:"user,omitempty"`
	SessionToken string    `json:"session_token,omitempty"`
	Expires      time.Time `json:"expires,omitzero"`
}

// Dev-mode settings, printed by trent serve on start.
const (
	DevListen    = "127.0.0.1:4599"
	DevAccount   = "111122223333"
	DevAccessKey = "test"
	DevSecret    = "test"
	DevDataDir   = "trent-data"
)

// DevConfig is the configuration of dev mode: loopback only, one account,
// the well-known test credentials, a root key file in the data dir.
func DevConfig(listen, dataDir string) *Config {
	if listen == "" {
		listen = DevListen
	}
	if dataDir == "" {
		dataDir = DevDataDir
	}
	return &Config{
		Listen:   listen,
		DataDir:  dataDir,
		RootKey:  RootKey{File: "root.key"},
		Accounts: []Account{{ID: DevAccount, AccessKeys: []AccessKey{{ID: DevAccessKey, Secret: DevSecret}}}},
		Dev:      true,
	}
}

// Load reads and checks a configuration file. A file holding secret
// access keys that group or others can read is refused.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	c := new(Config)
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := c.Check(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 && c.hasSecrets() {
		return nil, fmt.Errorf("config %s holds secret access keys but has mode %04o: make it readable by its owner only (chmod 600 %s)", path, perm, path)
	}
	return c, nil
}

func (c *Config) hasSecrets() bool {
	for _, a := range c.Accounts {
		if len(a.AccessKeys) > 0 {
			return true
		}
	}
	return false
}

var accountID = regexp.MustCompile(`^[0-9]{12}$`)

// Check reports the first problem with c, if any.
func (c *Config) Check() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen %q: %w", c.Listen, err)
	}
	if c.Dev && !isLoopback(c.Listen) {
		return fmt.Errorf("dev mode listens on loopback only, not %q: write a config file to serve elsewhere", c.Listen)
	}
	if c.DataDir == "" {
		return errors.New("data_dir is required")
	}
	if c.RootKey.File == "" {
		return errors.New("root_key.file is required")
	}
	if len(c.Accounts) == 0 {
		return errors.New("at least one account is required")
	}
	if c.AuditMaxSizeMB < 0 || c.AuditKeep < 0 || c.MaxConnections < 0 {
		return errors.New("audit_max_size_mb, audit_keep and max_connections cannot be negative")
	}
	seen := map[string]bool{}
	for _, a := range c.Accounts {
		if !accountID.MatchString(a.ID) {
			return fmt.Errorf("account id %q is not 12 digits", a.ID)
		}
		for _, k := range a.AccessKeys {
			if k.ID == "" || k.Secret == "" {
				return fmt.Errorf("account %s: every access key needs an id and a secret", a.ID)
			}
			if seen[k.ID] {
				return fmt.Errorf("access key %s appears twice", k.ID)
			}
			seen[k.ID] = true
		}
	}
	return nil
}

func isLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Connections is the connection limit in force.
func (c *Config) Connections() int {
	if c.MaxConnections == 0 {
		return 1024
	}
	return c.MaxConnections
}

// RootKeyPath is the root key file's path, resolved against DataDir.
func (c *Config) RootKeyPath() string {
	if filepath.IsAbs(c.RootKey.File) {
		return c.RootKey.File
	}
	return filepath.Join(c.DataDir, c.RootKey.File)
}

// AuditLogPath is where audit records go ("-" for standard output).
func (c *Config) AuditLogPath() string {
	if c.AuditLog == "" {
		return filepath.Join(c.DataDir, "audit.jsonl")
	}
	return c.AuditLog
}

// ServesRegion reports whether region is served.
func (c *Config) ServesRegion(region string) bool {
	if len(c.Regions) == 0 {
		return region != ""
	}
	for _, r := range c.Regions {
		if r == region {
			return true
		}
	}
	return false
}

// PrincipalARN is the IAM ARN an access key acts as.
func (a Account) PrincipalARN(k AccessKey) string {
	if k.User == "" {
		return "arn:aws:iam::" + a.ID + ":root"
	}
	return "arn:aws:iam::" + a.ID + ":user/" + k.User
}

// PrincipalID is CloudTrail's principalId for an access key's principal: the
// account ID for the root user, a stable unique ID like AWS's "AIDA..." for a user.
func (a Account) PrincipalID(k AccessKey) string {
	if k.User == "" {
		return a.ID
	}
	sum := sha256.Sum256([]byte(a.ID + "/" + k.User))
	return "AIDA" + strings.ToUpper(hex.EncodeToString(sum[:8]))
}
