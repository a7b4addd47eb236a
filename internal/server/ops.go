package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trent-kms/trent/internal/api"
	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/config"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/metrics"
	"github.com/trent-kms/trent/internal/quota"
	"github.com/trent-kms/trent/internal/rootkey"
	"github.com/trent-kms/trent/internal/store"
)

// ops is the operational side of a Server: TLS, request quotas, metrics,
// the operations listener (/metrics, /healthz, /readyz) and draining.
type ops struct {
	logger *slog.Logger
	level  *slog.LevelVar // nil: the level is not trent's to change

	certs  *certificates // nil without TLS
	quotas *quota.Limiter

	reg          *metrics.Registry
	requests     *metrics.CounterVec
	latency      *metrics.HistogramVec
	storeLatency *metrics.HistogramVec
	storeErrors  *metrics.CounterVec
	auditLatency *metrics.HistogramVec
	jobRuns      *metrics.CounterVec
	jobLatency   *metrics.HistogramVec
	jobMu        sync.Mutex
	jobSuccess   map[string]time.Time

	// What readiness checks; set by Start as it opens them.
	rawStore store.Store
	root     *rootkey.Ring
	auditLog *audit.File

	draining atomic.Bool
	readyMu  sync.Mutex
	check    *readyCheck // the check under way, if any

	listener net.Listener // the operations listener; nil without metrics_listen
	http     *http.Server
	done     sync.WaitGroup
}

func newOps(cfg *config.Config, opts Options, logger *slog.Logger) (*ops, error) {
	o := &ops{logger: logger, level: opts.LogLevel, reg: metrics.NewRegistry(), jobSuccess: map[string]time.Time{}}
	if cfg.TLS != nil {
		certs, err := newCertificates(cfg, logger)
		if err != nil {
			return nil, err
		}
		o.certs = certs
	}
	rates, on := cfg.QuotaRates()
	o.quotas = quota.New(rates, nil)
	o.quotas.SetEnabled(on)

	r := o.reg
	o.requests = r.NewCounterVec("trent_requests_total",
		"KMS API requests answered, by operation and error code (OK for success).", "operation", "code")
	o.latency = r.NewHistogramVec("trent_request_duration_seconds",
		"Time from a request's headers to its answer, audit write included, by operation.", nil, "operation")
	o.storeLatency = r.NewHistogramVec("trent_store_transaction_duration_seconds",
		"Store transactions (view: read-only, update: read-write), retries and commit included.", nil, "kind")
	o.storeErrors = r.NewCounterVec("trent_store_transaction_errors_total",
		"Store transactions that failed (a request's error, such as a key not found, counts too).", "kind")
	o.auditLatency = r.NewHistogramVec("trent_audit_record_duration_seconds",
		"How long a request waits for its audit record to be written (the audit log's lag).", nil)
	o.jobRuns = r.NewCounterVec("trent_job_runs_total", "Runs of background jobs, by job and result (ok, error).", "job", "result")
	o.jobLatency = r.NewHistogramVec("trent_job_duration_seconds", "Duration of background job runs.", nil, "job")
	r.NewLabeledFunc("trent_job_last_success_timestamp_seconds", "When each background job last ended without error (Unix time).",
		"gauge", []string{"job"}, func(emit func(float64, ...string)) {
			o.jobMu.Lock()
			defer o.jobMu.Unlock()
			for job, at := range o.jobSuccess {
				emit(float64(at.UnixNano())/1e9, job)
			}
		})
	start := time.Now()
	r.NewGaugeFunc("process_start_time_seconds", "When trent started (Unix time).", "gauge",
		func() float64 { return float64(start.UnixNano()) / 1e9 })
	r.NewGaugeFunc("go_goroutines", "Goroutines that exist.", "gauge", func() float64 { return float64(runtime.NumGoroutine()) })
	r.NewGaugeFunc("trent_draining", "1 while trent drains before stopping (readyz fails), else 0.", "gauge", func() float64 {
		if o.draining.Load() {
			return 1
		}
		return 0
	})
	if o.certs != nil {
		r.NewGaugeFunc("trent_tls_certificate_not_after_timestamp_seconds", "When the serving certificate expires (Unix time).", "gauge",
			func() float64 { return float64(o.certs.notAfter().Unix()) })
	}
	return o, nil
}

// observe is the API's Observer.
func (o *ops) observe(op string, code kmsapi.ErrorCode, took time.Duration) {
	c := string(code)
	if c == "" {
		c = "OK"
	}
	o.requests.With(op, c).Inc()
	o.latency.With(op).ObserveDuration(took)
}

// JobObserver returns what a background job reports each run to: its name
// (a fixed string, it becomes a label), how long the run took and how it
// ended. The scheduler of internal/kms can take it as a
// func(string, time.Duration, error).
func (s *Server) JobObserver() func(job string, took time.Duration, err error) {
	return s.ops.jobDone
}

func (o *ops) jobDone(job string, took time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	} else {
		o.jobMu.Lock()
		o.jobSuccess[job] = time.Now()
		o.jobMu.Unlock()
	}
	o.jobRuns.With(job, result).Inc()
	o.jobLatency.With(job).ObserveDuration(took)
}

// registerServer adds the series read from the parts Start opened.
func (o *ops) registerServer(s *Server, lim *limitListener) {
	r := o.reg
	r.NewGaugeFunc("trent_connections_open", "Client connections open (max_connections bounds them).", "gauge",
		func() float64 { return float64(len(lim.slots)) })
	r.NewGaugeFunc("trent_connections_refused_total", "Client connections refused because max_connections were open.", "counter",
		func() float64 { return float64(lim.refused.Load()) })
	a := s.audit
	r.NewGaugeFunc("trent_audit_records_total", "Audit records written.", "counter", func() float64 { return float64(a.Stats().Records) })
	r.NewGaugeFunc("trent_audit_writes_total", "Writes to the audit log (each a batch of records).", "counter", func() float64 { return float64(a.Stats().Batches) })
	r.NewGaugeFunc("trent_audit_write_failures_total", "Writes to the audit log that failed.", "counter", func() float64 { return float64(a.Stats().Failures) })
	r.NewGaugeFunc("trent_audit_last_write_timestamp_seconds", "When the audit log was last written (Unix time).", "gauge", func() float64 {
		if t := a.Stats().LastWrite; !t.IsZero() {
			return float64(t.UnixNano()) / 1e9
		}
		return math.NaN()
	})
	r.NewGaugeFunc("trent_audit_healthy", "1 while the audit log can be written; 0 while it cannot (then no request is served).", "gauge", func() float64 {
		if a.Healthy() != nil {
			return 0
		}
		return 1
	})
	cs := s.service
	r.NewGaugeFunc("trent_key_cache_hits_total", "Data-plane key lookups answered from the key cache.", "counter",
		func() float64 { h, _ := cs.CacheStats(); return float64(h) })
	r.NewGaugeFunc("trent_key_cache_misses_total", "Data-plane key lookups that loaded the key from the store.", "counter",
		func() float64 { _, m := cs.CacheStats(); return float64(m) })
	if ps, ok := o.rawStore.(interface{ Unwrap() store.Store }); ok {
		if pg, ok := ps.Unwrap().(postgresStats); ok {
			registerPostgres(r, pg)
		}
	}
}

// timedStore measures the transactions of a store backend.
type timedStore struct {
	store.Store
	view, update           *metrics.Histogram
	viewErrors, updateErrs *metrics.Counter
}

func (o *ops) timeStore(raw store.Store) store.Store {
	return &timedStore{Store: raw,
		view: o.storeLatency.With("view"), update: o.storeLatency.With("update"),
		viewErrors: o.storeErrors.With("view"), updateErrs: o.storeErrors.With("update")}
}

func (t *timedStore) View(fn func(store.Tx) error) error {
	start := time.Now()
	err := t.Store.View(fn)
	t.view.ObserveDuration(time.Since(start))
	if err != nil {
		t.viewErrors.Inc()
	}
	return err
}

func (t *timedStore) Update(fn func(store.Tx) error) error {
	start := time.Now()
	err := t.Store.Update(fn)
	t.update.ObserveDuration(time.Since(start))
	if err != nil {
		t.updateErrs.Inc()
	}
	return err
}

// Raw is the backend, for what looks through wrappers (kms's scrub finds
// bolt's Scrubber this way).
func (t *timedStore) Raw() store.Store { return t.Store }

// Unwrap is the backend too.
func (t *timedStore) Unwrap() store.Store { return t.Store }

// timedAudit measures how long requests wait for their audit records.
type timedAudit struct {
	audit.Log
	wait *metrics.Histogram
}

func (o *ops) timeAudit(l audit.Log) audit.Log {
	return &timedAudit{Log: l, wait: o.auditLatency.With()}
}

func (t *timedAudit) Record(e *audit.Event) error {
	start := time.Now()
	err := t.Log.Record(e)
	t.wait.ObserveDuration(time.Since(start))
	return err
}

// listen wraps the API's listener in TLS when configured.
func (o *ops) listen(lim *limitListener) net.Listener {
	if o.certs == nil {
		return lim
	}
	cfg := o.certs.config()
	lim.tls = cfg
	return tls.NewListener(lim, cfg)
}

// startListener serves /metrics, /healthz and /readyz on metrics_listen,
// in plain HTTP. It never serves the KMS API.
func (o *ops) startListener(addr string) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics_listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", o.reg)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", o.serveReady)
	o.listener = ln
	o.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(o.logger.Handler(), slog.LevelWarn),
	}
	o.done.Add(1)
	go func() {
		defer o.done.Done()
		if err := o.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.logger.Error("metrics listener stopped", "err", err)
		}
	}()
	return nil
}

// MetricsAddr is the address of the operations listener, nil without one.
func (s *Server) MetricsAddr() net.Addr {
	if s.ops.listener == nil {
		return nil
	}
	return s.ops.listener.Addr()
}

// readyTimeout bounds a readiness check: a store or an HSM that does not
// answer within it is not ready.
const readyTimeout = 3 * time.Second

type readyCheck struct {
	done chan struct{}
	err  error
}

// ready checks, in order: not draining; the store answers a read; the root
// key wraps and unwraps a test value; the audit log is writable. Checks
// already under way are shared, so a slow store does not pile them up.
func (o *ops) ready() error {
	if o.draining.Load() {
		return errors.New("draining: trent is stopping")
	}
	o.readyMu.Lock()
	c := o.check
	if c == nil {
		c = &readyCheck{done: make(chan struct{})}
		o.check = c
		go func() {
			c.err = o.checkParts()
			o.readyMu.Lock()
			o.check = nil
			o.readyMu.Unlock()
			close(c.done)
		}()
	}
	o.readyMu.Unlock()
	t := time.NewTimer(readyTimeout)
	defer t.Stop()
	select {
	case <-c.done:
		return c.err
	case <-t.C:
		return fmt.Errorf("the store or the root key did not answer within %v", readyTimeout)
	}
}

var (
	readyAAD   = []byte("trent readiness probe v1")
	readyValue = []byte("trent readiness probe value")
)

func (o *ops) checkParts() error {
	if o.rawStore != nil {
		err := o.rawStore.View(func(tx store.Tx) error {
			_, err := tx.Get(store.Meta, "trent-readiness-probe")
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	if o.root != nil {
		// Every key of the ring: a previous one still unwraps what it
		// wrapped until that is rewrapped.
		for _, k := range o.root.Keys() {
			wrapped, err := k.Wrap(readyValue, readyAAD)
			if err != nil {
				return fmt.Errorf("root key %s: %w", k.ID(), err)
			}
			back, err := k.Unwrap(wrapped, readyAAD)
			if err != nil || !bytes.Equal(back, readyValue) {
				return fmt.Errorf("root key %s: a test value does not unwrap: %v", k.ID(), err)
			}
		}
	}
	if o.auditLog != nil {
		if err := o.auditLog.Healthy(); err != nil {
			return fmt.Errorf("audit log: %w", err)
		}
	}
	return nil
}

func (o *ops) serveReady(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := o.ready(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %v\n", err)
		return
	}
	w.Write([]byte("ready\n"))
}

// Drain is the first step of a graceful stop: /readyz starts answering 503
// and responses ask clients to close their connections, while requests
// are still served, for drain_seconds (or until abort is closed), so that
// a load balancer takes trent out of rotation before it stops accepting.
// Close does the rest.
func (s *Server) Drain(abort <-chan struct{}) {
	s.ops.draining.Store(true)
	s.http.SetKeepAlivesEnabled(false)
	d := s.cfg.Load().Drain()
	if d <= 0 {
		return
	}
	s.logger.Info("draining: readyz fails, requests are still served", "for", d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-abort:
	}
}

// closeListener stops the operations listener, after the API's.
func (o *ops) closeListener() error {
	if o.http == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := o.http.Shutdown(ctx)
	o.done.Wait()
	return err
}

// reloadOps is Reload's part for the operational settings: quotas and the
// log level change at once; the metrics listener, the log format, the
// store backend and turning TLS on or off need a restart and keep their
// old values (with a warning). It returns the configuration to keep.
func (s *Server) reloadOps(old, next *config.Config) *config.Config {
	o := s.ops
	if next.MetricsListen != old.MetricsListen || next.LogFormat != old.LogFormat ||
		(next.TLS == nil) != (old.TLS == nil) || next.InsecurePlaintext != old.InsecurePlaintext ||
		!sameStore(next.Store, old.Store) {
		s.logger.Warn("metrics_listen, log_format, the store backend and turning tls on or off change only with a restart; the old ones stay")
		cp := *next
		cp.MetricsListen, cp.LogFormat, cp.TLS, cp.InsecurePlaintext, cp.Store = old.MetricsListen, old.LogFormat, old.TLS, old.InsecurePlaintext, old.Store
		if old.TLS != nil && next.TLS != nil {
			cp.TLS = next.TLS
		}
		next = &cp
	}
	rates, on := next.QuotaRates()
	o.quotas.Set(rates)
	o.quotas.SetEnabled(on)
	if o.level != nil {
		if lvl, err := next.Level(); err == nil {
			o.level.Set(lvl)
		}
	}
	return next
}

func sameStore(a, b *config.Store) bool {
	pa, pb := a != nil && a.Postgres != nil, b != nil && b.Postgres != nil
	if pa != pb {
		return false
	}
	return !pa || *a.Postgres == *b.Postgres
}

// apiOps are the API's hooks into ops.
func (o *ops) apiConfig(c *api.Config) {
	c.Quotas = o.quotas
	c.Observe = o.observe
}
