// Command loadgen drives one KMS operation against a trent (or any AWS KMS
// endpoint) or against bench/ceiling, and reports throughput, latency
// percentiles and errors by type.
//
//	loadgen -endpoint http://127.0.0.1:4599 -op Encrypt -duration 10s
//	loadgen -endpoint http://127.0.0.1:4599 -op Decrypt -rate 5000 -json
//	loadgen -endpoint http://127.0.0.1:8080 -op ceiling
//
// It builds a pool of distinct real requests (its own plaintexts,
// ciphertexts, messages, encryption contexts), signs each with the AWS SDK's
// SigV4 signer before the clock starts, and re-signs the pool every four
// minutes (a signature is good for five). The load runs over one keep-alive
// HTTP/1.1 transport with -concurrency connections; every response body is
// read in full. With -rate, requests are sent on a fixed schedule; a
// request that could not leave on time because every connection was busy
// has its latency counted from the moment it was due, so a stalled server
// is not hidden by the generator waiting for it (no coordinated omission).
// Latencies are those of successful (2xx) responses.
//
// Exit status: 0 done, 1 failed, 2 bad flags, 3 the server does not support
// the operation or key spec (the result's "unsupported" says why).
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	maxDuration  = 120 * time.Second
	resignEvery  = 4 * time.Minute
	userAgent    = "aws-sdk-go-v2/1.48.0 ua/2.1 os/linux lang/go#1.26.8 md/GOOS#linux md/GOARCH#amd64 api/kms#1.62.5 m/E trent-bench"
	contentType  = "application/x-amz-json-1.1"
	targetPrefix = "TrentService."
)

type config struct {
	endpoint    string
	op          string
	key         string
	keyspec     string
	duration    time.Duration
	requests    int64
	concurrency int
	rate        float64
	payload     int
	pool        int
	region      string
	accessKey   string
	secretKey   string
	json        bool
	serverPID   int
}

// result is what a run reports; -json prints it as one line.
type result struct {
	Op          string           `json:"op"`
	Endpoint    string           `json:"endpoint"`
	KeySpec     string           `json:"keyspec,omitempty"`
	Key         string           `json:"key,omitempty"` // the key used (given or created)
	Concurrency int              `json:"concurrency"`
	Rate        float64          `json:"rate"`
	Payload     int              `json:"payload,omitempty"` // plaintext or message bytes, where the operation takes one
	BodyBytes   int              `json:"body_bytes"`        // mean request body size
	DurationS   float64          `json:"duration_s"`
	Requests    int64            `json:"requests"` // answered, successfully or not
	OK          int64            `json:"ok"`
	RPS         float64          `json:"rps"` // successful requests per second
	P50Ms       float64          `json:"p50_ms"`
	P99Ms       float64          `json:"p99_ms"`
	P999Ms      float64          `json:"p999_ms"`
	MaxMs       float64          `json:"max_ms"`
	MeanMs      float64          `json:"mean_ms"`
	ErrorsTotal int64            `json:"errors_total"`
	Errors      map[string]int64 `json:"errors"`
	GenCPUPct   float64          `json:"gen_cpu_pct"`           // the generator's own CPU use, in % of one core
	SrvCPUPct   float64          `json:"srv_cpu_pct,omitempty"` // the server's (with -server-pid), in % of one core
	Unsupported string           `json:"unsupported,omitempty"`
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	res, err := run(cfg)
	var unsupported errUnsupported
	switch {
	case errors.As(err, &unsupported):
		res = &result{Op: cfg.op, Endpoint: cfg.endpoint, KeySpec: cfg.keyspec, Unsupported: unsupported.msg}
		report(cfg, res)
		os.Exit(3)
	case err != nil:
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	report(cfg, res)
}

func parseFlags(args []string) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.StringVar(&cfg.endpoint, "endpoint", "http://127.0.0.1:4599", "endpoint `URL`")
	fs.StringVar(&cfg.op, "op", "Encrypt", "operation: "+strings.Join(ops, ", "))
	fs.StringVar(&cfg.key, "key", "", "key `id` or ARN or alias; empty: create a suitable key")
	fs.StringVar(&cfg.keyspec, "keyspec", "", "key spec of the key to create (default: SYMMETRIC_DEFAULT, HMAC_256 for GenerateMac, ECC_NIST_P256 for Sign/Verify)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to send (at most 2m)")
	fs.Int64Var(&cfg.requests, "requests", 1_000_000, "stop after this many requests")
	fs.IntVar(&cfg.concurrency, "concurrency", 32, "connections (and requests in flight)")
	fs.Float64Var(&cfg.rate, "rate", 0, "requests per second; 0: as fast as possible")
	fs.IntVar(&cfg.payload, "payload", 1024, "plaintext or message `bytes` (Encrypt, Decrypt, GenerateMac, Sign, Verify)")
	fs.IntVar(&cfg.pool, "pool", 256, "distinct pre-signed requests")
	fs.StringVar(&cfg.region, "region", "us-east-1", "signing region")
	fs.StringVar(&cfg.accessKey, "access-key", "test", "access key id")
	fs.StringVar(&cfg.secretKey, "secret-key", "test", "secret access key")
	fs.BoolVar(&cfg.json, "json", false, "print the result as one JSON line")
	fs.IntVar(&cfg.serverPID, "server-pid", 0, "`pid` of the server, to report its CPU use during the run (Linux)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	case !slices.Contains(ops, cfg.op):
		return nil, fmt.Errorf("-op %q: want one of %s", cfg.op, strings.Join(ops, ", "))
	case cfg.duration <= 0 || cfg.duration > maxDuration:
		return nil, fmt.Errorf("-duration must be in (0, %s]", maxDuration)
	case cfg.requests <= 0:
		return nil, errors.New("-requests must be positive")
	case cfg.concurrency < 1 || cfg.concurrency > 4096:
		return nil, errors.New("-concurrency must be in [1, 4096]")
	case cfg.rate < 0:
		return nil, errors.New("-rate must not be negative")
	case cfg.pool < 1 || cfg.pool > 65536:
		return nil, errors.New("-pool must be in [1, 65536]")
	case cfg.payload < 1 || cfg.payload > 4096:
		return nil, errors.New("-payload must be in [1, 4096] (KMS's limit for plaintexts and messages)")
	}
	if cfg.keyspec == "" {
		cfg.keyspec = defaultKeySpec(cfg.op)
	}
	return cfg, nil
}

// pooled is one pre-signed request.
type pooled struct {
	header http.Header
	body   []byte
}

// loadgen holds what a run shares between its workers.
type loadgen struct {
	cfg       *config
	url       *url.URL
	transport *http.Transport
	pool      atomic.Pointer[[]pooled]
	hist      histogram
}

func run(cfg *config) (*result, error) {
	u, err := url.Parse(cfg.endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-endpoint %q is not an http(s) URL", cfg.endpoint)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	// Setup (creating a key, making ciphertexts or signatures) is bounded too.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := newClient(cfg)
	if needsKey(cfg.op) && cfg.key == "" {
		if cfg.key, err = createKey(ctx, client, cfg.op, cfg.keyspec); err != nil {
			return nil, err
		}
	}
	bodies, err := buildBodies(ctx, client, cfg, cfg.pool)
	if err != nil {
		return nil, err
	}
	g := &loadgen{cfg: cfg, url: u, transport: &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          cfg.concurrency,
		MaxIdleConnsPerHost:   cfg.concurrency,
		MaxConnsPerHost:       cfg.concurrency,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second, // bounds a run against a hung server
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		TLSNextProto:          map[string]func(string, *tls.Conn) http.RoundTripper{}, // HTTP/1.1 only
	}}
	defer g.transport.CloseIdleConnections()
	if err := g.sign(bodies); err != nil {
		return nil, err
	}
	stopResign := make(chan struct{})
	defer close(stopResign)
	go g.resign(bodies, stopResign)

	// One request first: a server that refuses the operation fails here,
	// before any load.
	var w worker
	if st, typ, err := g.do(&w, 0); err != nil {
		return nil, fmt.Errorf("first request: %w", err)
	} else if st/100 != 2 {
		var e struct {
			Message string `json:"message"`
		}
		json.Unmarshal(w.buf.Bytes(), &e)
		msg := fmt.Sprintf("%s: HTTP %d %s: %s", g.cfg.op, st, typ, e.Message)
		if typ == "UnsupportedOperationException" {
			return nil, errUnsupported{msg}
		}
		return nil, errors.New(msg)
	}
	// Open every connection before the clock starts.
	var wg sync.WaitGroup
	for i := range cfg.concurrency {
		wg.Go(func() { g.do(new(worker), int64(i)) })
	}
	wg.Wait()

	return g.load(bodies)
}

// sign signs every body into a new pool and installs it.
func (g *loadgen) sign(bodies [][]byte) error {
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: g.cfg.accessKey, SecretAccessKey: g.cfg.secretKey}
	target := targetPrefix + g.cfg.op
	if g.cfg.op == "ceiling" {
		target = targetPrefix + "Encrypt" // the same headers, size for size
	}
	now := time.Now()
	pool := make([]pooled, len(bodies))
	for i, body := range bodies {
		r, err := http.NewRequest(http.MethodPost, g.url.String(), bytes.NewReader(body))
		if err != nil {
			return err
		}
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("X-Amz-Target", target)
		r.Header.Set("User-Agent", userAgent)
		r.Header.Set("Amz-Sdk-Invocation-Id", fmt.Sprintf("%08x-3f0d-4c8e-9a57-0d2f3b1c7e42", i))
		r.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
		sum := sha256.Sum256(body)
		if err := signer.SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), "kms", g.cfg.region, now); err != nil {
			return err
		}
		pool[i] = pooled{header: r.Header, body: body}
	}
	g.pool.Store(&pool)
	return nil
}

// resign re-signs the pool every four minutes until stop is closed.
func (g *loadgen) resign(bodies [][]byte, stop chan struct{}) {
	t := time.NewTicker(resignEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if err := g.sign(bodies); err != nil {
				fmt.Fprintln(os.Stderr, "loadgen: re-signing the pool:", err)
			}
		}
	}
}

// worker is one sender's own state; it is merged into the result at the end.
type worker struct {
	buf    bytes.Buffer
	ok     int64
	sum    time.Duration
	max    time.Duration
	errors map[string]int64
}

// do sends pooled request i and reads the whole answer into w.buf. It
// returns the HTTP status and, for an error answer, its __type.
func (g *loadgen) do(w *worker, i int64) (status int, errType string, err error) {
	pool := *g.pool.Load()
	p := &pool[i%int64(len(pool))]
	req := &http.Request{
		Method:     http.MethodPost,
		URL:        g.url,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     p.header, // shared, never written
		// A new reader each time: the transport may still hold the last
		// one after RoundTrip returns.
		Body:          io.NopCloser(bytes.NewReader(p.body)),
		ContentLength: int64(len(p.body)),
		Host:          g.url.Host,
	}
	resp, err := g.transport.RoundTrip(req)
	if err != nil {
		return 0, "", err
	}
	w.buf.Reset()
	_, err = w.buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, "", err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Type string `json:"__type"`
		}
		json.Unmarshal(w.buf.Bytes(), &e)
		errType = e.Type[strings.LastIndexByte(e.Type, '#')+1:] // some servers send "namespace#Code"
		if errType == "" {
			errType = "-"
		}
	}
	return resp.StatusCode, errType, nil
}

// load runs the timed part.
func (g *loadgen) load(bodies [][]byte) (*result, error) {
	cfg := g.cfg
	cpu0, srv0 := cpuTime(), procCPUTime(cfg.serverPID)
	start := time.Now()
	deadline := start.Add(cfg.duration)
	var ticket atomic.Int64
	workers := make([]*worker, cfg.concurrency)
	var wg sync.WaitGroup
	for n := range workers {
		w := &worker{errors: map[string]int64{}}
		workers[n] = w
		wg.Go(func() {
			for {
				i := ticket.Add(1) - 1
				if i >= cfg.requests {
					return
				}
				var due time.Time
				if cfg.rate > 0 {
					due = start.Add(time.Duration(float64(i) * float64(time.Second) / cfg.rate))
					if !due.Before(deadline) {
						return
					}
					if d := time.Until(due); d > 0 {
						// Early: wait, and count from the moment the
						// request actually leaves, so that the timer's
						// own lateness (up to a millisecond when the
						// process is idle) is not charged to the server.
						time.Sleep(d)
						due = time.Now()
					}
					// Late: a worker was not free when the request was
					// due; that wait is the server's doing and counts.
				} else {
					due = time.Now()
					if !due.Before(deadline) {
						return
					}
				}
				status, errType, err := g.do(w, i)
				lat := time.Since(due)
				switch {
				case err != nil:
					w.errors["transport: "+transportError(err)]++
				case status/100 != 2:
					w.errors[fmt.Sprintf("HTTP %d %s", status, errType)]++
				default:
					w.ok++
					w.sum += lat
					w.max = max(w.max, lat)
					g.hist.record(lat)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu, srv := cpuTime()-cpu0, procCPUTime(cfg.serverPID)-srv0

	res := &result{
		Op: cfg.op, Endpoint: cfg.endpoint, Concurrency: cfg.concurrency, Rate: cfg.rate,
		Payload: cfg.payload, DurationS: round(elapsed.Seconds(), 3), Errors: map[string]int64{},
		GenCPUPct: round(100*cpu.Seconds()/elapsed.Seconds(), 1),
	}
	if cfg.serverPID > 0 {
		res.SrvCPUPct = round(100*srv.Seconds()/elapsed.Seconds(), 1)
	}
	if needsKey(cfg.op) || cfg.op == "CreateKey" {
		res.KeySpec = cfg.keyspec
	}
	if needsKey(cfg.op) {
		res.Key = cfg.key
	}
	switch cfg.op {
	case "ceiling", "GenerateDataKey", "DescribeKey", "CreateKey":
		res.Payload = 0
	}
	var sum, maxLat time.Duration
	for _, w := range workers {
		res.OK += w.ok
		sum += w.sum
		maxLat = max(maxLat, w.max)
		for k, v := range w.errors {
			res.Errors[k] += v
			res.ErrorsTotal += v
		}
	}
	res.Requests = res.OK + res.ErrorsTotal
	res.RPS = round(float64(res.OK)/elapsed.Seconds(), 1)
	for _, b := range bodies {
		res.BodyBytes += len(b)
	}
	res.BodyBytes /= len(bodies)
	if res.OK > 0 {
		q := g.hist.quantiles(maxLat, 0.50, 0.99, 0.999)
		res.P50Ms, res.P99Ms, res.P999Ms = ms(q[0]), ms(q[1]), ms(q[2])
		res.MaxMs = ms(maxLat)
		res.MeanMs = ms(sum / time.Duration(res.OK))
	}
	return res, nil
}

// transportError names a transport failure by kind, so that errors group.
func transportError(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return fmt.Sprintf("%T", err)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPUTime is the user and system CPU time of process pid so far, from
// /proc/PID/stat; 0 if pid is 0 or it cannot be read.
func procCPUTime(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may
	// hold anything: state is field 3, utime and stime are 14 and 15.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const clockTicks = 100 // USER_HZ, which Linux fixes at 100 on amd64 and arm64
	return time.Duration(utime+stime) * time.Second / clockTicks
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

func round(x float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(x*p+0.5)) / p
}

func report(cfg *config, res *result) {
	if cfg.json {
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
		return
	}
	if res.Unsupported != "" {
		fmt.Printf("%s: n/a (%s)\n", res.Op, res.Unsupported)
		return
	}
	rate := "max"
	if res.Rate > 0 {
		rate = fmt.Sprintf("%.0f/s", res.Rate)
	}
	fmt.Printf("op %s  endpoint %s", res.Op, res.Endpoint)
	if res.KeySpec != "" {
		fmt.Printf("  keyspec %s", res.KeySpec)
	}
	fmt.Println()
	fmt.Printf("concurrency %d  rate %s  body %d B  duration %.2fs  generator CPU %.0f%%",
		res.Concurrency, rate, res.BodyBytes, res.DurationS, res.GenCPUPct)
	if cfg.serverPID > 0 {
		fmt.Printf("  server CPU %.0f%%", res.SrvCPUPct)
	}
	fmt.Println()
	fmt.Printf("requests %d  ok %d  %.1f req/s\n", res.Requests, res.OK, res.RPS)
	fmt.Printf("latency ms  p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f\n",
		res.P50Ms, res.P99Ms, res.P999Ms, res.MaxMs, res.MeanMs)
	if res.ErrorsTotal == 0 {
		fmt.Println("errors 0")
		return
	}
	fmt.Printf("errors %d\n", res.ErrorsTotal)
	keys := make([]string, 0, len(res.Errors))
	for k := range res.Errors {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Printf("  %-50s %d\n", k, res.Errors[k])
	}
}
