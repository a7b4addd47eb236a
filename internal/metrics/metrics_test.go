package metrics

import (
	"math"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// sampleLine is the grammar of a sample line of the text format, as far as
// this package writes them.
var sampleLine = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? (\+Inf|-Inf|NaN|-?[0-9.eE+-]+)$`)

func TestExposition(t *testing.T) {
	r := NewRegistry()
	reqs := r.NewCounterVec("trent_requests_total", "Requests by operation and error code.", "operation", "code")
	reqs.With("Encrypt", "OK").Add(3)
	reqs.With("Decrypt", `Weird"code\`+"\n").Inc()
	lat := r.NewHistogramVec("trent_request_duration_seconds", "Latency.", []float64{0.001, 0.01, 0.1}, "operation")
	h := lat.With("Encrypt")
	h.ObserveDuration(500 * time.Microsecond)
	h.ObserveDuration(5 * time.Millisecond)
	h.ObserveDuration(time.Second)
	r.NewHistogramVec("batch_size", "Sizes.", []float64{1, 10}).With().Observe(3)
	r.NewGaugeFunc("up_since", "Start.", "gauge", func() float64 { return 1.5e9 })
	r.NewGaugeFunc("unknown_yet", "Not known.", "gauge", func() float64 { return math.NaN() })
	r.NewLabeledFunc("jobs_total", "Jobs.", "counter", []string{"job"}, func(emit func(float64, ...string)) {
		emit(2, "sweep")
	})

	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := rec.Body.String()
	if ct := rec.Header().Get("Content-Type"); ct != ContentType {
		t.Fatalf("content type %q", ct)
	}
	for _, want := range []string{
		"# HELP trent_requests_total Requests by operation and error code.\n# TYPE trent_requests_total counter\n",
		`trent_requests_total{operation="Decrypt",code="Weird\"code\\\n"} 1` + "\n",
		`trent_requests_total{operation="Encrypt",code="OK"} 3` + "\n",
		"# TYPE trent_request_duration_seconds histogram\n",
		`trent_request_duration_seconds_bucket{operation="Encrypt",le="0.001"} 1` + "\n",
		`trent_request_duration_seconds_bucket{operation="Encrypt",le="0.01"} 2` + "\n",
		`trent_request_duration_seconds_bucket{operation="Encrypt",le="0.1"} 2` + "\n",
		`trent_request_duration_seconds_bucket{operation="Encrypt",le="+Inf"} 3` + "\n",
		`trent_request_duration_seconds_sum{operation="Encrypt"} 1.0055` + "\n",
		`trent_request_duration_seconds_count{operation="Encrypt"} 3` + "\n",
		"up_since 1.5e+09\n",
		"batch_size_bucket{le=\"1\"} 0\nbatch_size_bucket{le=\"10\"} 1\nbatch_size_bucket{le=\"+Inf\"} 1\nbatch_size_sum 3\nbatch_size_count 1\n",
		`jobs_total{job="sweep"} 2` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "unknown_yet") {
		t.Errorf("a NaN gauge was written:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
			continue
		}
		if !sampleLine.MatchString(line) {
			t.Errorf("not a sample line: %q", line)
		}
	}
}

func TestSeriesAreBounded(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec("c", "h", "l")
	for i := range MaxSeries + 100 {
		c.With(strings.Repeat("x", i%50) + string(rune('a'+i%26)) + time.Duration(i).String()).Inc()
	}
	if n := len(c.v.series); n > MaxSeries+1 {
		t.Fatalf("%d series", n)
	}
	if c.With("other").Value() == 0 {
		t.Fatal(`values beyond the bound are not counted as "other"`)
	}
}

func TestConcurrentUse(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec("c", "h", "op")
	h := r.NewHistogramVec("h", "h", nil, "op")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 1000 {
				op := []string{"a", "b", "c"}[(i+j)%3]
				c.With(op).Inc()
				h.With(op).ObserveDuration(time.Duration(j) * time.Microsecond)
				h.With(op).Observe(0.5)
			}
			r.WriteTo(new(strings.Builder))
		}()
	}
	wg.Wait()
	total := c.With("a").Value() + c.With("b").Value() + c.With("c").Value()
	if total != 8000 || h.With("a").Count()+h.With("b").Count()+h.With("c").Count() != 16000 {
		t.Fatalf("counted %d", total)
	}
}
