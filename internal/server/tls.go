package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/trent-kms/trent/internal/config"
)

// certificates serves trent's TLS: the certificate, its key and the client
// CAs are read at start and again on SIGHUP (Reload), and each handshake
// uses what was read last. A reload that fails keeps the old ones.
type certificates struct {
	current atomic.Pointer[tls.Config]
	logger  *slog.Logger
}

// newCertificates reads the files cfg names; it fails if they do not load.
func newCertificates(cfg *config.Config, logger *slog.Logger) (*certificates, error) {
	c := &certificates{logger: logger}
	tc, err := loadTLS(cfg, logger)
	if err != nil {
		return nil, err
	}
	c.current.Store(tc)
	return c, nil
}

// config is the listener's configuration: every handshake takes the
// configuration loaded last.
func (c *certificates) config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return c.current.Load(), nil
		},
	}
}

// reload reads the files cfg names again; on failure the old ones stay.
func (c *certificates) reload(cfg *config.Config) error {
	tc, err := loadTLS(cfg, c.logger)
	if err != nil {
		return err
	}
	c.current.Store(tc)
	return nil
}

// notAfter is when the certificate in use expires.
func (c *certificates) notAfter() time.Time {
	tc := c.current.Load()
	if len(tc.Certificates) == 0 || tc.Certificates[0].Leaf == nil {
		return time.Time{}
	}
	return tc.Certificates[0].Leaf.NotAfter
}

// loadTLS reads the certificate chain, its key and the client CAs, and
// makes the configuration handshakes use: TLS 1.2 or 1.3 with Go's
// default cipher suites and curves, HTTP/1.1 only (AWS SDKs speak it to
// KMS; serving HTTP/2 would multiplex many requests on one connection
// and so weaken max_connections as a bound).
func loadTLS(cfg *config.Config, logger *slog.Logger) (*tls.Config, error) {
	certFile, keyFile := cfg.Path(cfg.TLS.CertFile), cfg.Path(cfg.TLS.KeyFile)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: loading %s and %s: %w", certFile, keyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tls: %s: %w", certFile, err)
		}
	}
	now := time.Now()
	if now.After(cert.Leaf.NotAfter) || now.Before(cert.Leaf.NotBefore) {
		logger.Warn("tls: the certificate is not valid now", "file", certFile,
			"not_before", cert.Leaf.NotBefore, "not_after", cert.Leaf.NotAfter)
	}
	if st, err := os.Stat(keyFile); err == nil && st.Mode().Perm()&0o077 != 0 {
		logger.Warn("tls: the private key file can be read by other users than its owner", "file", keyFile,
			"mode", fmt.Sprintf("%04o", st.Mode().Perm()))
	}
	tc := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"http/1.1"},
	}
	if cfg.TLS.ClientCAFile != "" {
		caFile := cfg.Path(cfg.TLS.ClientCAFile)
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("tls: client_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: client_ca_file %s holds no PEM certificate", caFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// reloadCertificates is Reload's part for TLS: the files the new
// configuration names (or, without one, the same files) are read again.
// Turning TLS on or off needs a restart.
func (s *Server) reloadCertificates(old, next *config.Config) {
	if s.ops.certs == nil {
		if next != nil && next.TLS != nil {
			s.logger.Warn("tls: turning TLS on needs a restart")
		}
		return
	}
	cfg := old
	if next != nil {
		if next.TLS == nil {
			s.logger.Warn("tls: turning TLS off needs a restart; the certificate is reloaded from the old paths")
		} else if next.Check() == nil {
			cp := *next
			cp.DataDir = old.DataDir
			cfg = &cp
		}
	}
	if err := s.ops.certs.reload(cfg); err != nil {
		s.logger.Error("tls: the certificate is not reloaded; the old one stays", "err", err)
		return
	}
	s.logger.Info("tls: certificate reloaded", "file", cfg.Path(cfg.TLS.CertFile), "not_after", s.ops.certs.notAfter())
}
