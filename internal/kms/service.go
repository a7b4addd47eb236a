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
	"sync"
	"time"

	"github.com/trent-kms/trent/internal/ciphertext"
	"github.com/trent-kms/trent/internal/keycache"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/lastuse"
	"github.com/trent-kms/trent/internal/lease"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/rootkey"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sealed"
)

// Partition is the ARN partition of every resource trent serves.
const Partition = "aws"

// Call is one invocation of the service: who calls, in which region, under
// which conditions, and what the call touched, which the front end writes
// to the audit log.
type Call struct {
	Account string // the caller's account ID
	ARN     string // the caller's principal ARN
	Region  string // the region the request was signed for

	// Principal is the caller as policies see it, and Policies its
	// identity (IAM) policies.
	Principal policy.Principal
	Policies  []*policy.Policy
	// SourceIP and SecureTransport are aws:SourceIp and aws:SecureTransport.
	SourceIP        string
	SecureTransport bool

	// Cond holds the request's condition values; the operation fills it in.
	Cond Conditions

	// RequestID and EventID identify the request and its audit record;
	// GetKeyLastUsage reports them.
	RequestID string
	EventID   string

	// EncryptedWith is set by a symmetric Encrypt to the key material it
	// used, which its answer does not name but its audit record does.
	EncryptedWith *ciphertext.MaterialID

	// KeyARN is set by the service to the key the call used, if any, and
	// OtherKeyARN to a second one (ReEncrypt's destination).
	KeyARN      string
	OtherKeyARN string
	// GrantID is set by the service to the grant a call acted on when its
	// answer does not name it (RetireGrant by grant token), for the audit
	// record's additionalEventData.
	GrantID string

	// Quota, if set, takes the request from the request quota of a key's
	// kind (AWS charges a cryptographic operation to the quota of its
	// key's kind). The service calls it for each key the request uses once
	// the caller is found allowed to use it, before the key's state is
	// looked at, and answers its error. The front end sets it only for
	// the cryptographic operations (quota.Keyed): the service calls it on
	// every data-plane key lookup, DescribeKey's and GetPublicKey's too.
	Quota KeyQuota
}

// KeyQuota takes a request from the request quota of keys of a spec.
type KeyQuota interface {
	AdmitKey(spec kmsapi.KeySpec) error
}

// admitKey takes the call from k's request quota.
func (c *Call) admitKey(k *Key) error {
	if c.Quota == nil {
		return nil
	}
	return c.Quota.AdmitKey(k.KeySpec)
}

// Config is what a Service needs.
type Config struct {
	Store   store.Store
	RootKey rootkey.Wrapper
	// RootKeys, if set, is the ring of root keys (rewrap.go): its primary
	// wraps, and each material is unwrapped by the key that wrapped it.
	// Without it the ring is RootKey alone.
	RootKeys *rootkey.Ring
	// Authorizer decides every call; nil means PolicyAuthorizer.
	Authorizer Authorizer
	// PrincipalExists reports whether a principal a key policy or grant
	// names (an account ID or an IAM ARN) exists; nil accepts every
	// well-formed principal.
	PrincipalExists func(string) bool
	// GrantTokenKey authenticates grant tokens (32 bytes, the same on every
	// node sharing the store); nil makes a random one, good for one
	// process. ImportKey does the same for import tokens and the IDs of
	// imported key material.
	GrantTokenKey []byte
	ImportKey     []byte
	// ServesRegion reports whether a region is served (ReplicateKey
	// creates replicas only there); nil serves every region.
	ServesRegion func(string) bool
	// OnDemandRotationLimit is how many on-demand rotations a key may have;
	// 0 means AWS's limit, 25. KeyQuota is how many keys an account may
	// have in a region; 0 means AWS's quota, 100,000.
	OnDemandRotationLimit int
	KeyQuota              int
	// ScheduleInterval is how often the scheduled work (deletions,
	// rotations, expiry of imported material) runs; 0 means one minute.
	// A negative interval runs none in the background: the caller calls
	// RunScheduledWork.
	ScheduleInterval time.Duration
	// Events receives what the scheduled work does; nil records nothing.
	Events EventLog
	// ScheduledWorkDone, if set, is told of every background run of the
	// scheduled work: how long it took and how it ended (for metrics).
	ScheduledWorkDone func(took time.Duration, err error)
	// UsageFlushInterval is how often the last use of keys, tracked in
	// memory, is written to the store; 0 means ten seconds.
	UsageFlushInterval time.Duration
	// Now is the service's clock: key creation, deletion, rotation and
	// expiry dates, and the scheduled work, all read it; nil means
	// time.Now. Only Go code can set it (tests move it by years).
	Now func() time.Time
	// Rand is the source of key material, IDs and nonces; nil means crypto/rand.
	Rand io.Reader
	// Logger receives operational messages (never secrets); nil means slog.Default().
	Logger *slog.Logger
	// KeyCacheTTL bounds how long a key stays cached for the data plane
	// (see internal/keycache); 0 means 10 seconds. KeyCacheSize bounds how many keys
	// are cached; 0 means 10,000.
	KeyCacheTTL  time.Duration
	KeyCacheSize int
}

// Service is the KMS. It is safe for concurrent use. Close stops its
// background work and wipes the keys it holds in memory.
type Service struct {
	store store.Store
	root  rootkey.Wrapper // the ring's primary: it wraps
	ring  *rootkey.Ring   // unwraps, by the ID stored with each blob
	authz Authorizer
	// principalExists, grantTokenKey, importKey, servesRegion,
	// onDemandLimit, events: see Config.
	principalExists func(string) bool
	grantTokenKey   []byte
	importKey       []byte
	servesRegion    func(string) bool
	onDemandLimit   int
	keyQuota        int
	keyCounts       struct {
		mu sync.Mutex
		m  map[accountRegion]keyCountRead
	}
	events   EventLog
	workDone func(time.Duration, error)
	now      func() time.Time
	rand     io.Reader
	logger   *slog.Logger
	cache    *keycache.Cache[*liveKey]
	usage    *lastuse.Tracker

	// lease is the scheduler's (schedule.go); kicks wakes the scheduler
	// loop.
	lease *lease.Lease
	kicks chan struct{}

	stop       chan struct{}
	closeOnce  sync.Once
	background sync.WaitGroup
}

// New returns a Service over the given store and root key.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || (cfg.RootKey == nil && cfg.RootKeys == nil) {
		return nil, errors.New("kms: a store and a root key are required")
	}
	s := &Service{
		store:           cfg.Store,
		root:            cfg.RootKey,
		authz:           cfg.Authorizer,
		principalExists: cfg.PrincipalExists,
		grantTokenKey:   cfg.GrantTokenKey,
		importKey:       cfg.ImportKey,
		servesRegion:    cfg.ServesRegion,
		onDemandLimit:   cfg.OnDemandRotationLimit,
		keyQuota:        cfg.KeyQuota,
		events:          cfg.Events,
		workDone:        cfg.ScheduledWorkDone,
		now:             cfg.Now,
		rand:            cfg.Rand,
		logger:          cfg.Logger,
	}
	if err := s.useRootKeys(cfg.RootKey, cfg.RootKeys); err != nil {
		return nil, err
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
	if s.authz == nil {
		s.authz = PolicyAuthorizer{Logger: s.logger}
	}
	if s.grantTokenKey == nil {
		k, err := s.randomBytes(32)
		if err != nil {
			return nil, err
		}
		s.grantTokenKey = k
	}
	if s.importKey == nil {
		k, err := s.randomBytes(32)
		if err != nil {
			return nil, err
		}
		s.importKey = k
	}
	if s.principalExists == nil {
		s.principalExists = func(string) bool { return true }
	}
	if s.servesRegion == nil {
		s.servesRegion = func(string) bool { return true }
	}
	if s.onDemandLimit == 0 {
		s.onDemandLimit = defaultOnDemandRotationLimit
	}
	if s.keyQuota == 0 {
		s.keyQuota = defaultKeyQuota
	}
	s.keyCounts.m = make(map[accountRegion]keyCountRead)
	ttl, size := cfg.KeyCacheTTL, cfg.KeyCacheSize
	if ttl == 0 {
		ttl = 10 * time.Second
	}
	if size == 0 {
		size = 10000
	}
	s.cache = keycache.New[*liveKey](ttl, size)
	node, err := s.randomBytes(8)
	if err != nil {
		return nil, err
	}
	interval := cfg.ScheduleInterval
	if interval == 0 {
		interval = time.Minute
	}
	s.lease = &lease.Lease{Store: s.store, Table: store.Meta, Key: leaseKey,
		Holder: fmt.Sprintf("%x", node), TTL: max(2*interval, time.Minute)}
	s.kicks = make(chan struct{}, 1)
	if err := moveLegacySchedule(s.store); err != nil {
		return nil, fmt.Errorf("moving the deletion schedule: %w", err)
	}
	if err := countKeysOnce(s.store); err != nil {
		return nil, fmt.Errorf("counting keys: %w", err)
	}
	flush := cfg.UsageFlushInterval
	if flush == 0 {
		flush = 10 * time.Second
	}
	if s.usage, err = lastuse.Open(s.store, s.now()); err != nil {
		return nil, err
	}
	s.stop = make(chan struct{})
	s.background.Add(2)
	go func() {
		defer s.background.Done()
		s.runSweeper(s.stop)
	}()
	go func() {
		defer s.background.Done()
		s.runUsageFlusher(flush, s.stop)
	}()
	if w := watcherOf(s.store); w != nil {
		s.background.Add(1)
		go func() {
			defer s.background.Done()
			s.watchStore(w, s.stop)
		}()
	}
	if interval > 0 {
		s.background.Add(1)
		go func() {
			defer s.background.Done()
			s.runScheduler(interval, s.stop)
		}()
	}
	return s, nil
}

// Close stops the background work (cache sweeper, scheduler), writes the
// last use of keys to the store and wipes every cached key. It does not
// close the store.
func (s *Service) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	s.background.Wait()
	return s.flushUsage()
}

// errTampered marks failures that mean stored data was changed outside
// trent: key material that does not unwrap under its key's attributes.
var errTampered = errors.New("tampering detected")

// tampered reports whether err means stored data failed authentication.
func tampered(err error) bool {
	return errors.Is(err, errTampered) || errors.Is(err, sealed.ErrTampered)
}

// scrub asks the store's backend to erase deleted records from its files,
// if it can (scrubStore).
func (s *Service) scrub() error { return scrubStore(s.store) }

// internalError logs err and returns the generic KMSInternalException, so
// that nothing about the failure (which could concern key material) leaks
// to the caller. Tampering is logged as such: it is an emergency, and the
// record concerned is never used.
func (s *Service) internalError(ctx context.Context, op string, err error) error {
	var kerr *kmsapi.Error
	if errors.As(err, &kerr) {
		return kerr
	}
	if tampered(err) {
		s.logger.ErrorContext(ctx, "TAMPERING DETECTED: stored data failed authentication and was not used", "op", op, "err", err)
	} else {
		s.logger.ErrorContext(ctx, "internal error", "op", op, "err", err)
	}
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
