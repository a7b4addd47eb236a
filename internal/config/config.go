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
	"slices"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/auth"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/rootkey"
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
	// OnDemandRotationLimit is how many on-demand rotations (RotateKeyOnDemand)
	// a key may have; 0 means AWS's limit, 25.
	OnDemandRotationLimit int `json:"on_demand_rotation_limit,omitempty"`
	// KeyQuota is how many KMS keys an account may have in a region; 0
	// means AWS's quota, 100,000.
	KeyQuota int `json:"key_quota,omitempty"`
	// Accounts are the AWS accounts served, with their access keys.
	Accounts []Account `json:"accounts"`
	// Ops are TLS, metrics, logging, shutdown, quotas and the store
	// backend (ops.go); their members sit at the top level.
	Ops

	// Dev is set for dev mode; it is never read from a file.
	Dev bool `json:"-"`
}

// RootKey names trent's root keys, a ring: the current one (its members
// sit at the top level: "file" or "pkcs11", exactly one), which wraps
// everything wrapped from now on, and the previous ones, which only unwrap
// what they wrapped until it has been rewrapped under the current one
// (trent rootkey rewrap).
type RootKey struct {
	RootKeyRef
	// Previous are older root keys, in any order. Each still wrapping
	// something in the store must be here, or trent refuses to start.
	Previous []RootKeyRef `json:"previous,omitempty"`
}

// RootKeyRef names one root key: a key file or a key in a PKCS#11 token.
type RootKeyRef struct {
	// File is the path of a 32-byte key file with mode 0600. Relative paths
	// are relative to DataDir. The current one is created on first start
	// if absent; a previous one must exist.
	File string `json:"file,omitempty"`
	// PKCS11 names an AES-256 key in a PKCS#11 token (an HSM). Its
	// pin_file, if relative, is relative to DataDir.
	PKCS11 *rootkey.PKCS11Config `json:"pkcs11,omitempty"`
}

// String describes the root key for messages (never the PIN).
func (r RootKeyRef) String() string {
	if r.PKCS11 != nil {
		return fmt.Sprintf("the key labelled %q in PKCS#11 token %q", r.PKCS11.KeyLabel, r.PKCS11.TokenLabel)
	}
	return "the key file " + r.File
}

// Equal reports whether two rings name the same root keys in the same
// roles.
func (k RootKey) Equal(o RootKey) bool {
	return slices.EqualFunc(append([]RootKeyRef{k.RootKeyRef}, k.Previous...), append([]RootKeyRef{o.RootKeyRef}, o.Previous...), RootKeyRef.equal)
}

func (r RootKeyRef) equal(o RootKeyRef) bool {
	if (r.PKCS11 == nil) != (o.PKCS11 == nil) {
		return false
	}
	return r.File == o.File && (r.PKCS11 == nil || *r.PKCS11 == *o.PKCS11)
}

// check reports a root key named badly; where is its place in the file.
func (r RootKeyRef) check(where string) error {
	switch {
	case r.File == "" && r.PKCS11 == nil:
		return fmt.Errorf(`%s: name the root key: "file" (a key file) or "pkcs11" (a key in an HSM)`, where)
	case r.File != "" && r.PKCS11 != nil:
		return fmt.Errorf(`%s: "file" and "pkcs11" together; a root key is one or the other (an older root key goes in root_key.previous)`, where)
	case r.PKCS11 != nil:
		if err := r.PKCS11.Check(); err != nil {
			return fmt.Errorf("%s.pkcs11: %s", where, strings.TrimPrefix(err.Error(), "rootkey: pkcs11: "))
		}
	}
	return nil
}

// checkRootKey checks the ring's shape: every key named once, the same
// key not configured twice (by file path, or by module, token and label).
func (c *Config) checkRootKey() error {
	if err := c.RootKey.check("root_key"); err != nil {
		return err
	}
	seen := map[string]string{c.rootKeyIdentity(c.RootKey.RootKeyRef): "root_key"}
	for i, p := range c.RootKey.Previous {
		where := fmt.Sprintf("root_key.previous[%d]", i)
		if err := p.check(where); err != nil {
			return err
		}
		id := c.rootKeyIdentity(p)
		if first, dup := seen[id]; dup {
			return fmt.Errorf("%s names the same root key as %s (%s)", where, first, p)
		}
		seen[id] = where
	}
	return nil
}

func (c *Config) rootKeyIdentity(r RootKeyRef) string {
	if r.PKCS11 != nil {
		return "pkcs11\x00" + filepath.Clean(r.PKCS11.Module) + "\x00" + r.PKCS11.TokenLabel + "\x00" + r.PKCS11.KeyLabel
	}
	return "file\x00" + c.Path(r.File)
}

// Account is one AWS account ID, its IAM users and roles with their
// identity policies, and the access keys that act for them.
type Account struct {
	ID         string      `json:"id"`
	AccessKeys []AccessKey `json:"access_keys"`
	Users      []Identity  `json:"users,omitempty"`
	Roles      []Identity  `json:"roles,omitempty"`
}

// Identity is an IAM user or role: its name and its identity (IAM)
// policies, each an IAM policy document as a JSON object.
type Identity struct {
	Name     string            `json:"name"`
	Policies []json.RawMessage `json:"policies,omitempty"`

	parsed []*policy.Policy
}

// ParsedPolicies are the identity's policies, parsed by Check.
func (i *Identity) ParsedPolicies() []*policy.Policy { return i.parsed }

// AccessKey is one credential. User names the IAM user it belongs to, Role
// the IAM role whose session (SessionName) it is; neither means the
// account's root user. A role session's key is temporary, so it has a
// SessionToken.
type AccessKey struct {
	ID           string    `json:"id"`
	Secret       string    `json:"secret"`
	User         string    `json:"user,omitempty"`
	Role         string    `json:"role,omitempty"`
	SessionName  string    `json:"session_name,omitempty"`
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
		RootKey:  RootKey{RootKeyRef: RootKeyRef{File: "root.key"}},
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
	if err := c.checkRootKey(); err != nil {
		return err
	}
	if len(c.Accounts) == 0 {
		return errors.New("at least one account is required")
	}
	if c.AuditMaxSizeMB < 0 || c.AuditKeep < 0 || c.MaxConnections < 0 || c.OnDemandRotationLimit < 0 || c.KeyQuota < 0 {
		return errors.New("audit_max_size_mb, audit_keep, max_connections, on_demand_rotation_limit and key_quota cannot be negative")
	}
	if err := c.checkOps(); err != nil {
		return err
	}
	seen := map[string]bool{}
	accounts := map[string]bool{}
	for i := range c.Accounts {
		a := &c.Accounts[i]
		if !accountID.MatchString(a.ID) {
			return fmt.Errorf("account id %q is not 12 digits", a.ID)
		}
		if accounts[a.ID] {
			return fmt.Errorf("account %s appears twice", a.ID)
		}
		accounts[a.ID] = true
		users, err := checkIdentities(a.ID, "user", a.Users)
		if err != nil {
			return err
		}
		roles, err := checkIdentities(a.ID, "role", a.Roles)
		if err != nil {
			return err
		}
		for _, k := range a.AccessKeys {
			if k.ID == "" || k.Secret == "" {
				return fmt.Errorf("account %s: every access key needs an id and a secret", a.ID)
			}
			if seen[k.ID] {
				return fmt.Errorf("access key %s appears twice", k.ID)
			}
			seen[k.ID] = true
			switch {
			case k.User != "" && k.Role != "":
				return fmt.Errorf("account %s: access key %s names both a user and a role", a.ID, k.ID)
			case k.User != "" && !users[k.User]:
				return fmt.Errorf("account %s: access key %s acts as user %q, which is not defined in the account's users", a.ID, k.ID, k.User)
			case k.Role != "" && !roles[k.Role]:
				return fmt.Errorf("account %s: access key %s acts as role %q, which is not defined in the account's roles", a.ID, k.ID, k.Role)
			case k.Role != "" && (k.SessionName == "" || k.SessionToken == ""):
				return fmt.Errorf("account %s: access key %s is a session of role %s: it needs a session_name and a session_token", a.ID, k.ID, k.Role)
			case k.Role == "" && k.SessionName != "":
				return fmt.Errorf("account %s: access key %s has a session_name but no role", a.ID, k.ID)
			case k.SessionName != "" && !iamName.MatchString(k.SessionName):
				return fmt.Errorf("account %s: access key %s: session name %q is not 2-64 of [A-Za-z0-9+=,.@-]", a.ID, k.ID, k.SessionName)
			}
		}
	}
	return nil
}

// iamName is the form of IAM user, role and session names.
var iamName = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,64}$`)

// checkIdentities checks the users or roles of an account and parses their
// policies; it returns the set of their names.
func checkIdentities(account, kind string, ids []Identity) (map[string]bool, error) {
	names := map[string]bool{}
	for i := range ids {
		id := &ids[i]
		if !iamName.MatchString(id.Name) {
			return nil, fmt.Errorf("account %s: %s name %q is not 1-64 of [A-Za-z0-9+=,.@_-]", account, kind, id.Name)
		}
		if names[id.Name] {
			return nil, fmt.Errorf("account %s: %s %s appears twice", account, kind, id.Name)
		}
		names[id.Name] = true
		id.parsed = id.parsed[:0]
		for n, doc := range id.Policies {
			p, err := policy.Parse(string(doc), policy.IdentityPolicy)
			if err != nil {
				return nil, fmt.Errorf("account %s: %s %s: policy %d: %w", account, kind, id.Name, n+1, err)
			}
			id.parsed = append(id.parsed, p)
		}
	}
	return names, nil
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

// RootKeyPath is the current root key file's path, resolved against
// DataDir; empty if the current root key is not a file.
func (c *Config) RootKeyPath() string {
	if c.RootKey.File == "" {
		return ""
	}
	return c.Path(c.RootKey.File)
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

// PrincipalARN is the ARN an access key acts as.
func (a Account) PrincipalARN(k AccessKey) string {
	switch {
	case k.User != "":
		return "arn:aws:iam::" + a.ID + ":user/" + k.User
	case k.Role != "":
		return "arn:aws:sts::" + a.ID + ":assumed-role/" + k.Role + "/" + k.SessionName
	}
	return "arn:aws:iam::" + a.ID + ":root"
}

// PrincipalID is CloudTrail's principalId (and aws:userid) for an access
// key's principal: the account ID for the root user, a stable unique ID like
// AWS's "AIDA..." for a user, "AROA...:<session>" for a role session.
func (a Account) PrincipalID(k AccessKey) string {
	switch {
	case k.User != "":
		return uniqueID("AIDA", a.ID+"/user/"+k.User)
	case k.Role != "":
		return uniqueID("AROA", a.ID+"/role/"+k.Role) + ":" + k.SessionName
	}
	return a.ID
}

func uniqueID(prefix, name string) string {
	sum := sha256.Sum256([]byte(name))
	return prefix + strings.ToUpper(hex.EncodeToString(sum[:8]))
}

// identity finds a user or role of the account by name.
func (a Account) identity(kind, name string) *Identity {
	list := a.Users
	if kind == "role" {
		list = a.Roles
	}
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

// Principal is what an access key acts as, for authentication and
// authorization.
func (a Account) Principal(k AccessKey) auth.Principal {
	p := auth.Principal{Account: a.ID, ARN: a.PrincipalARN(k), UserID: a.PrincipalID(k), Type: policy.TypeAccount}
	switch {
	case k.User != "":
		p.Type, p.Username = policy.TypeUser, k.User
		if id := a.identity("user", k.User); id != nil {
			p.Policies = id.parsed
		}
	case k.Role != "":
		p.Type, p.RoleARN = policy.TypeAssumedRole, "arn:aws:iam::"+a.ID+":role/"+k.Role
		if id := a.identity("role", k.Role); id != nil {
			p.Policies = id.parsed
		}
	}
	return p
}

// PrincipalExists reports whether a principal that a key policy or grant
// names exists in this configuration: an account ID, the ARN of an account,
// a user, a role, or a session of a role that is configured. Other forms
// (federated users, services) are accepted: they never match a caller.
func (c *Config) PrincipalExists(principal string) bool {
	account := func(id string) *Account {
		for i := range c.Accounts {
			if c.Accounts[i].ID == id {
				return &c.Accounts[i]
			}
		}
		return nil
	}
	if accountID.MatchString(principal) {
		return account(principal) != nil
	}
	for _, prefix := range []string{"arn:aws:iam::", "arn:aws:sts::"} {
		rest, ok := strings.CutPrefix(principal, prefix)
		if !ok {
			continue
		}
		id, resource, ok := strings.Cut(rest, ":")
		a := account(id)
		if !ok || a == nil {
			return false
		}
		kind, name, _ := strings.Cut(resource, "/")
		switch {
		case prefix == "arn:aws:iam::" && resource == "root":
			return true
		case prefix == "arn:aws:iam::" && kind == "user":
			return a.identity("user", name) != nil
		case prefix == "arn:aws:iam::" && kind == "role":
			return a.identity("role", name) != nil
		case prefix == "arn:aws:sts::" && kind == "assumed-role":
			role, _, _ := strings.Cut(name, "/")
			return a.identity("role", role) != nil
		}
		return kind == "federated-user"
	}
	return true
}
