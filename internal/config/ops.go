package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/quota"
)

// Ops are the operational settings: TLS, the metrics listener, logging,
// shutdown, request quotas and the store backend. Config embeds it, so its
// members sit at the top level of the file.
type Ops struct {
	// TLS, if set, makes trent serve HTTPS on Listen.
	TLS *TLS `json:"tls,omitempty"`
	// InsecurePlaintext allows plain HTTP on an address that is not
	// loopback. Without TLS and without it, such a config is refused.
	InsecurePlaintext bool `json:"insecure_plaintext,omitempty"`
	// MetricsListen is the host:port of the operations listener
	// (/metrics, /healthz, /readyz), plain HTTP. Empty: none.
	MetricsListen string `json:"metrics_listen,omitempty"`
	// LogFormat is "json" or "text"; empty means json with a config file
	// and text in dev mode.
	LogFormat string `json:"log_format,omitempty"`
	// LogLevel is debug, info (the default), warn or error.
	LogLevel string `json:"log_level,omitempty"`
	// DrainSeconds is how long trent keeps serving after SIGTERM while
	// /readyz answers 503, so that a load balancer stops sending it
	// requests. Absent: 5 with a metrics listener, 0 without.
	DrainSeconds *float64 `json:"drain_seconds,omitempty"`
	// ShutdownTimeoutSeconds bounds how long requests in flight may take
	// to finish once trent stops accepting connections; 0 means 10.
	ShutdownTimeoutSeconds float64 `json:"shutdown_timeout_seconds,omitempty"`
	// Quotas are the request-rate quotas; absent means AWS's defaults.
	Quotas *Quotas `json:"quotas,omitempty"`
	// Store chooses the store backend; absent means the embedded bbolt
	// file in DataDir.
	Store *Store `json:"store,omitempty"`
}

// TLS is the server's certificate and, optionally, the CAs whose client
// certificates it requires.
type TLS struct {
	// CertFile is a PEM file with the server certificate, then any
	// intermediates. KeyFile is its private key (PEM). Relative paths are
	// relative to data_dir. Both are read again on SIGHUP.
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	// ClientCAFile, if set, is a PEM file of CA certificates: every
	// client must then present a certificate one of them issued.
	ClientCAFile string `json:"client_ca_file,omitempty"`
}

// Quotas configure the request-rate quotas (internal/quota).
type Quotas struct {
	// Disabled turns every request quota off.
	Disabled bool `json:"disabled,omitempty"`
	// Rates overrides AWS's default of a quota, in requests per second:
	// 0 keeps the default, -1 turns the quota off.
	Rates map[string]float64 `json:"rates,omitempty"`
}

// Store chooses the store backend.
type Store struct {
	// Postgres, if set, keeps the records in a PostgreSQL database that
	// several trent processes may share.
	Postgres *Postgres `json:"postgres,omitempty"`
}

// Postgres is the PostgreSQL backend's configuration.
type Postgres struct {
	// DSN is a libpq connection string or postgres:// URL. Prefer a
	// passfile or PGPASSWORD to a password in it.
	DSN string `json:"dsn"`
	// MaxConns bounds the connection pool; 0 means 16.
	MaxConns int32 `json:"max_conns,omitempty"`
}

// checkOps reports the first problem with the operational settings.
func (c *Config) checkOps() error {
	if c.TLS != nil {
		if c.TLS.CertFile == "" || c.TLS.KeyFile == "" {
			return errors.New("tls needs cert_file and key_file")
		}
		if c.InsecurePlaintext {
			return errors.New("tls and insecure_plaintext contradict each other: choose one")
		}
	} else if !isLoopback(c.Listen) && !c.InsecurePlaintext {
		return fmt.Errorf(`listen %q is not a loopback address: configure "tls", or set "insecure_plaintext": true if something in front of trent (a load balancer, a service mesh) does TLS`, c.Listen)
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			return fmt.Errorf("metrics_listen %q: %w", c.MetricsListen, err)
		}
		if _, port, _ := net.SplitHostPort(c.Listen); c.MetricsListen == c.Listen && port != "0" {
			return errors.New("metrics_listen must differ from listen: the metrics listener never serves the KMS API")
		}
	}
	switch c.LogFormat {
	case "", "json", "text":
	default:
		return fmt.Errorf("log_format %q: json or text", c.LogFormat)
	}
	if _, err := c.Level(); err != nil {
		return err
	}
	if c.DrainSeconds != nil && *c.DrainSeconds < 0 || c.ShutdownTimeoutSeconds < 0 {
		return errors.New("drain_seconds and shutdown_timeout_seconds cannot be negative")
	}
	if c.Quotas != nil {
		if err := quota.Check(c.Quotas.Rates); err != nil {
			return err
		}
	}
	if c.Store != nil && c.Store.Postgres != nil {
		if c.Store.Postgres.DSN == "" {
			return errors.New("store.postgres.dsn is required")
		}
		if c.Store.Postgres.MaxConns < 0 {
			return errors.New("store.postgres.max_conns cannot be negative")
		}
	}
	return nil
}

// Plaintext reports whether trent serves plain HTTP on an address that is
// not loopback (allowed by insecure_plaintext; trent warns at start).
func (c *Config) Plaintext() bool {
	return c.TLS == nil && !isLoopback(c.Listen)
}

// Level is the log level in force.
func (c *Config) Level() (slog.Level, error) {
	switch strings.ToLower(c.LogLevel) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log_level %q: debug, info, warn or error", c.LogLevel)
}

// JSONLogs reports whether logs are JSON lines: json unless log_format
// says text, except in dev mode, whose default is text.
func (c *Config) JSONLogs() bool {
	if c.LogFormat == "" {
		return !c.Dev
	}
	return c.LogFormat == "json"
}

// Drain is how long trent keeps serving with /readyz failing after
// SIGTERM.
func (c *Config) Drain() time.Duration {
	if c.DrainSeconds != nil {
		return time.Duration(*c.DrainSeconds * float64(time.Second))
	}
	if c.MetricsListen != "" {
		return 5 * time.Second
	}
	return 0
}

// ShutdownTimeout bounds the wait for requests in flight at shutdown.
func (c *Config) ShutdownTimeout() time.Duration {
	if c.ShutdownTimeoutSeconds == 0 {
		return 10 * time.Second
	}
	return time.Duration(c.ShutdownTimeoutSeconds * float64(time.Second))
}

// QuotaRates are the configured request-quota rates for quota.Limiter,
// and false if quotas are off: when disabled, and by default in dev mode
// (AWS's 5 CreateKey per second would get in the way of trying trent).
func (c *Config) QuotaRates() (map[string]float64, bool) {
	if c.Quotas == nil {
		return nil, !c.Dev
	}
	return c.Quotas.Rates, !c.Quotas.Disabled
}

// Path resolves a file named in the configuration against DataDir.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.DataDir, p)
}
