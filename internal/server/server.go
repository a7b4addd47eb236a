// Package server assembles a trent server from its configuration: the
// store, the root key, the credentials, the service, the audit log and the
// HTTP front end, and runs the background work (deleting keys whose
// waiting period has ended).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	json "github.com/go-json-experiment/json"
	"github.com/google/uuid"

	"github.com/trent-kms/trent/internal/api"
	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/auth"
	"github.com/trent-kms/trent/internal/config"
	"github.com/trent-kms/trent/internal/kms"
	"github.com/trent-kms/trent/internal/rootkey"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/bolt"
	"github.com/trent-kms/trent/internal/store/sealed"
)

// Options are the knobs tests turn; a production server uses the zero value.
type Options struct {
	// Now is the service's clock (key creation and deletion dates). Request
	// signatures are always checked against the real time.
	Now func() time.Time
	// ScheduleInterval is how often the scheduled work (deletions,
	// rotations, expiry of imported material) runs; 0 means one minute. A
	// negative interval runs none by itself: the test calls
	// RunScheduledWork after moving the clock.
	ScheduleInterval time.Duration
	Logger           *slog.Logger
	// LogLevel, if set, is the level of Logger, which Reload sets from
	// log_level.
	LogLevel *slog.LevelVar
	// HoldRootKeyRewrap, if set, delays the rewrap that starts with trent
	// when a previous root key still wraps something, until it is closed:
	// a test starts its load first.
	HoldRootKeyRewrap <-chan struct{}
}

// Server is a running trent.
type Server struct {
	// cfg is the configuration in force; Reload replaces it.
	cfg      atomic.Pointer[config.Config]
	keyring  *auth.Keyring
	listener net.Listener
	http     *http.Server
	store    store.Store
	rootKeys *rootkey.Ring
	service  *kms.Service
	audit    *audit.File
	logger   *slog.Logger
	ops      *ops // TLS, quotas, metrics, readiness, draining (ops.go)

	stop chan struct{}
	done sync.WaitGroup
}

// Start opens everything cfg names, starts listening and serving, and
// returns. Close stops it.
func Start(cfg *config.Config, opts Options) (*Server, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if err := privateDir(cfg.DataDir, logger); err != nil {
		return nil, err
	}
	ring, err := OpenRootKeys(cfg, true)
	if err != nil {
		return nil, err
	}
	root := ring.Primary()
	keyring, err := keyringOf(cfg)
	if err != nil {
		ring.Close()
		return nil, err
	}
	o, err := newOps(cfg, opts, logger)
	if err != nil {
		ring.Close()
		return nil, err
	}
	db, err := o.openStore(cfg, ring, logger)
	if err != nil {
		ring.Close()
		return nil, err
	}
	o.root = ring
	s := &Server{keyring: keyring, store: db, rootKeys: ring, logger: logger, ops: o, stop: make(chan struct{})}
	s.cfg.Store(cfg)
	fail := func(err error) (*Server, error) {
		s.closeResources()
		return nil, err
	}
	logRootKeys(logger, ring)
	staleRootKeys, err := kms.PrepareRootKeys(db, ring, logger)
	if err != nil {
		return fail(err)
	}
	s.audit, err = audit.OpenFile(cfg.AuditLogPath(), audit.Options{
		RootKey: root,
		MaxSize: int64(cfg.AuditMaxSizeMB) << 20,
		Keep:    cfg.AuditKeep,
		Sync:    cfg.AuditFsync,
		Logger:  logger,
	})
	if err != nil {
		return fail(err)
	}
	o.auditLog = s.audit
	s.service, err = kms.New(kms.Config{
		Store:           db,
		RootKey:         root,
		RootKeys:        ring,
		Now:             opts.Now,
		Logger:          logger,
		PrincipalExists: func(p string) bool { return s.cfg.Load().PrincipalExists(p) },
		ServesRegion:    func(r string) bool { return s.cfg.Load().ServesRegion(r) },
		GrantTokenKey:   db.Key("trent grant token v1"),
		ImportKey:       db.Key("trent import v1"),
		// Read at start: a reload does not change it.
		OnDemandRotationLimit: cfg.OnDemandRotationLimit,
		KeyQuota:              cfg.KeyQuota,
		ScheduleInterval:      opts.ScheduleInterval,
		ScheduledWorkDone: func(took time.Duration, err error) {
			o.jobDone("scheduled_work", took, err)
		},
		Events: serviceEvents{s.audit},
	})
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fail(err)
	}
	lim := newLimitListener(ln, cfg.Connections())
	s.listener = o.listen(lim)
	apiCfg := api.Config{
		Verifier: &auth.Verifier{Keyring: keyring, Service: "kms", Region: func(r string) bool { return s.cfg.Load().ServesRegion(r) }},
		Service:  s.service,
		Audit:    o.timeAudit(s.audit),
		Logger:   logger,
	}
	o.apiConfig(&apiCfg)
	o.registerServer(s, lim)
	if err := o.startListener(cfg.MetricsListen); err != nil {
		ln.Close()
		return fail(err)
	}
	if cfg.Plaintext() {
		logger.Warn("serving plain HTTP on an address that is not loopback (insecure_plaintext): requests and their answers, plaintext and data keys included, cross the network unencrypted unless something in front of trent encrypts them", "listen", cfg.Listen)
	}
	if cfg.Dev {
		apiCfg.Hosts = loopbackHosts(s.listener.Addr())
	}
	s.http = &http.Server{
		Handler:           api.New(apiCfg),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		if err := s.http.Serve(s.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("serving stopped", "err", err)
		}
	}()
	s.startRootKeyRewrap(db, ring, staleRootKeys, opts.HoldRootKeyRewrap)
	return s, nil
}

// OpenStore opens the embedded store at path with its records sealed
// under root's store secret, migrating a store written before records were
// sealed. It refuses a store written under another root key.
func OpenStore(path string, root rootkey.Wrapper, logger *slog.Logger) (*sealed.Store, error) {
	raw, err := bolt.Open(path)
	if err != nil {
		return nil, err
	}
	ring, err := rootkey.NewRing(root)
	if err != nil {
		raw.Close()
		return nil, err
	}
	return sealStore(raw, ring, logger)
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.listener.Addr() }

// URL is the endpoint URL clients use.
func (s *Server) URL() string {
	if s.ops.certs != nil {
		return "https://" + s.Addr().String()
	}
	return "http://" + s.Addr().String()
}

// Service is the KMS behind the server.
func (s *Server) Service() *kms.Service { return s.service }

// Close stops serving, waits for requests in flight, and closes the store
// and the audit log.
func (s *Server) Close() error {
	close(s.stop)
	s.ops.draining.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Load().ShutdownTimeout())
	defer cancel()
	err := s.http.Shutdown(ctx)
	s.done.Wait()
	return errors.Join(err, s.ops.closeListener(), s.closeResources())
}

func (s *Server) closeResources() error {
	var errs []error
	if s.service != nil {
		errs = append(errs, s.service.Close())
	}
	if s.store != nil {
		errs = append(errs, s.store.Close())
	}
	if s.audit != nil {
		errs = append(errs, s.audit.Close())
	}
	if s.rootKeys != nil {
		errs = append(errs, s.rootKeys.Close())
	}
	return errors.Join(errs...)
}

// Reload is what SIGHUP does: the audit log is reopened (after logrotate
// moved it) and, given a new configuration (nil: none), its accounts,
// users, roles, policies, access keys and regions take effect at once,
// without dropping requests in flight: each request sees the old
// configuration or the new one. What needs a restart (listen address, data
// directory, root key, audit and connection settings) is kept, with a
// warning if it changed.
func (s *Server) Reload(next *config.Config) error {
	old := s.cfg.Load()
	if err := s.audit.Reopen(); err != nil {
		return fmt.Errorf("reopening the audit log: %w", err)
	}
	s.logger.Info("audit log reopened", "path", old.AuditLogPath())
	s.reloadCertificates(old, next)
	if next == nil {
		return nil
	}
	if err := next.Check(); err != nil {
		return fmt.Errorf("the new configuration is refused, the old one stays: %w", err)
	}
	if next.Listen != old.Listen || next.DataDir != old.DataDir || !next.RootKey.Equal(old.RootKey) ||
		next.AuditLogPath() != old.AuditLogPath() || next.MaxConnections != old.MaxConnections ||
		next.AuditMaxSizeMB != old.AuditMaxSizeMB || next.AuditKeep != old.AuditKeep || next.AuditFsync != old.AuditFsync {
		s.logger.Warn("the listen address, data directory, root key, audit and connection settings change only with a restart; the old ones stay")
		cp := *next
		cp.Listen, cp.DataDir, cp.RootKey, cp.AuditLog = old.Listen, old.DataDir, old.RootKey, old.AuditLog
		cp.MaxConnections, cp.AuditMaxSizeMB, cp.AuditKeep, cp.AuditFsync = old.MaxConnections, old.AuditMaxSizeMB, old.AuditKeep, old.AuditFsync
		next = &cp
	}
	next.Dev = old.Dev
	next = s.reloadOps(old, next)
	creds, err := credentialsOf(next)
	if err != nil {
		return fmt.Errorf("the new configuration is refused, the old one stays: %w", err)
	}
	s.cfg.Store(next)
	if err := s.keyring.Replace(creds...); err != nil {
		s.cfg.Store(old)
		return fmt.Errorf("the new configuration is refused, the old one stays: %w", err)
	}
	s.logger.Info("configuration reloaded", "accounts", len(next.Accounts), "access keys", len(creds))
	return nil
}

// privateDir makes sure dir exists, belongs to this process's user and is
// open to nobody else: created with mode 0700, tightened to it if looser
// (with a warning), refused if another user owns it.
func privateDir(dir string, logger *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("data directory %s is not a directory", dir)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
		return fmt.Errorf("data directory %s belongs to uid %d, but trent runs as uid %d: refusing a directory another user controls", dir, sys.Uid, os.Geteuid())
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("data directory %s has mode %04o and cannot be made 0700: %w", dir, perm, err)
		}
		logger.Warn("data directory was open to others; its mode is now 0700", "dir", dir, "was", fmt.Sprintf("%04o", perm))
	}
	return nil
}

// RunScheduledWork does the scheduled work that is due now (see
// kms.Service.RunScheduledWork), for tests that move the clock.
func (s *Server) RunScheduledWork(ctx context.Context) (int, error) {
	return s.service.RunScheduledWork(ctx)
}

// serviceEvents records what the service does on its own (deleting a key
// at the end of its waiting period, rotating it, expiring imported
// material) in the audit log, in the shape of AWS's CloudTrail examples of
// these events: invoked by "AWS Internal", no request, no request ID, and
// the key ID with the event's own values in serviceEventDetails.
type serviceEvents struct{ log *audit.File }

func (e serviceEvents) Healthy() error { return e.log.Healthy() }

// internalCaller is how CloudTrail names KMS acting on its own.
const internalCaller = "AWS Internal"

func (e serviceEvents) RecordServiceEvent(ev kms.ServiceEvent) error {
	details := map[string]string{"keyId": ev.KeyID}
	for k, v := range ev.Detail {
		details[k] = v
	}
	b, err := json.Marshal(details, json.Deterministic(true))
	if err != nil {
		return err
	}
	return e.log.Record(&audit.Event{
		EventVersion:        "1.11",
		UserIdentity:        audit.UserIdentity{AccountID: ev.Account, InvokedBy: internalCaller},
		EventTime:           ev.Time.UTC(),
		EventSource:         "kms.amazonaws.com",
		EventName:           ev.Name,
		AWSRegion:           ev.Region,
		SourceIPAddress:     internalCaller,
		UserAgent:           internalCaller,
		EventID:             uuid.NewString(),
		Resources:           []audit.Resource{{AccountID: ev.Account, Type: "AWS::KMS::Key", ARN: ev.KeyARN}},
		EventType:           "AwsServiceEvent",
		ManagementEvent:     true,
		RecipientAccountID:  ev.Account,
		ServiceEventDetails: b,
		EventCategory:       "Management",
	})
}

func keyringOf(cfg *config.Config) (*auth.Keyring, error) {
	creds, err := credentialsOf(cfg)
	if err != nil {
		return nil, err
	}
	return auth.NewKeyring(creds...)
}

// credentialsOf lists the access keys of a configuration with what each
// acts as.
func credentialsOf(cfg *config.Config) ([]auth.Credential, error) {
	var creds []auth.Credential
	for _, a := range cfg.Accounts {
		for _, k := range a.AccessKeys {
			creds = append(creds, auth.Credential{
				AccessKeyID:     k.ID,
				SecretAccessKey: k.Secret,
				SessionToken:    k.SessionToken,
				Expires:         k.Expires,
				Principal:       a.Principal(k),
			})
		}
	}
	return creds, nil
}
