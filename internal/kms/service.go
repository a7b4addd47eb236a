// Package kms is the key management service itself: keys, aliases, tags,
// policies and the cryptographic operations on them. It knows nothing of
// HTTP: a front end (internal/api) authenticates a caller, decodes a request
// into a kmsapi shape and calls the method of the same name here.
//
// Every method has the form
//
//	func (s *Service) Op(ctx context.Context, call *Call, in *kmsapi.OpRequest) (*kmsapi.OpResponse, error)
//
// and returns errors as *kmsapi.Error values carrying AWS's error code.
package kms

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/rootkey"
	"github.com/trent-kms/trent/internal/store"
)

// Partition is the ARN partition of every resource trent serves.
const Partition = "aws"

// Call is one invocation of the service: who calls, in which region, and
// what the call touched, which the front end writes to the audit log.
type Call struct {
	Account string // the caller's account ID
	ARN     string // the caller's principal ARN
	Region  string // the region the request was signed for

	// KeyARN is set by the service to the key the call used, if any.
	KeyARN string
}

// Authorizer decides whether a call may perform action (for example
// "kms:Encrypt") on a key. It returns nil to allow, or an *kmsapi.Error.
type Authorizer interface {
	Authorize(call *Call, action string, key *Key) error
}

// Config is what a Service needs.
type Config struct {
	Store   store.Store
	RootKey rootkey.Wrapper
	// Authorizer decides every call; nil means SameAccount.
	Authorizer Authorizer
	// Now is the service's clock (key creation and deletion dates); nil means time.Now.
	Now func() time.Time
	// Rand is the source of key material, IDs and nonces; nil means crypto/rand.
	Rand io.Reader
	// Logger receives operational messages (never secrets); nil means slog.Default().
	Logger *slog.Logger
	// KeyCacheTTL bounds how long a key stays cached for the data plane
	// (see keyCache); 0 means 10 seconds. KeyCacheSize bounds how many keys
	// are cached; 0 means 10,000.
	KeyCacheTTL  time.Duration
	KeyCacheSize int
}

// Service is the KMS. It is safe for concurrent use.
type Service struct {
	store  store.Store
	root   rootkey.Wrapper
	authz  Authorizer
	now    func() time.Time
	rand   io.Reader
	logger *slog.Logger
	cache  *keyCache
}

// New returns a Service over the given store and root key.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.RootKey == nil {
		return nil, errors.New("kms: a store and a root key are required")
	}
	s := &Service{
		store:  cfg.Store,
		root:   cfg.RootKey,
		authz:  cfg.Authorizer,
		now:    cfg.Now,
		rand:   cfg.Rand,
		logger: cfg.Logger,
	}
	if s.authz == nil {
		s.authz = SameAccount{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	ttl, size := cfg.KeyCacheTTL, cfg.KeyCacheSize
	if ttl == 0 {
		ttl = 10 * time.Second
	}
	if size == 0 {
		size = 10000
	}
	s.cache = newKeyCache(ttl, size)
	return s, nil
}

// SameAccount is the authorisation in force until key policies, IAM
// policies and grants are evaluated: a principal may use every key of its
// own account, and no other.
type SameAccount struct{}

func (SameAccount) Authorize(call *Call, action string, key *Key) error {
	if call.Account == key.Account {
		return nil
	}
	return kmsapi.Errorf(kmsapi.AccessDeniedException,
		"User: %s is not authorized to perform: %s on resource: %s because no resource-based policy allows the %s action",
		call.ARN, action, key.ARN(), action)
}

// internalError logs err and returns the generic KMSInternalException, so
// that nothing about the failure (which could concern key material) leaks
// to the caller.
func (s *Service) internalError(ctx context.Context, op string, err error) error {
	var kerr *kmsapi.Error
	if errors.As(err, &kerr) {
		return kerr
	}
	s.logger.ErrorContext(ctx, "internal error", "op", op, "err", err)
	return kmsapi.Errorf(kmsapi.KMSInternalException, "An internal error occurred. Try again later.")
}

// randomBytes returns n bytes from the service's random source.
func (s *Service) randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return nil, fmt.Errorf("reading random bytes: %w", err)
	}
	return b, nil
}

// dryRunError is what a DryRun request that would have succeeded returns.
func dryRunError() error {
	return kmsapi.Errorf(kmsapi.DryRunOperationException, "The request would have succeeded, but the DryRun option is set.")
}
