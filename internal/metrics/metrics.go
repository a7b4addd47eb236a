// Package metrics is a small Prometheus instrumentation library: counters,
// gauges computed at scrape time and histograms, with labels, written in
// the Prometheus text exposition format (version 0.0.4), which every
// Prometheus-compatible scraper reads.
//
// It is written here rather than imported (github.com/prometheus/client_golang)
// because trent needs a dozen series of three kinds, and the text format is
// small and stable, while the client library would bring its protobuf,
// procfs and model dependencies into a security-sensitive binary. What it
// leaves out: summaries, exemplars, the protobuf and OpenMetrics formats.
//
// Label values must never carry secrets or caller-chosen text: a series
// per distinct value is kept forever. Vecs bound their series (MaxSeries);
// values beyond it are counted under the label value "other".
package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MaxSeries bounds the series of one Vec.
const MaxSeries = 2048

// ContentType is the text exposition format's media type.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Registry holds metric families and writes them.
type Registry struct {
	mu       sync.Mutex
	families []family
	names    map[string]bool
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry { return &Registry{names: map[string]bool{}} }

type family interface {
	name() string
	write(w *bufio.Writer)
}

func (r *Registry) register(f family) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names[f.name()] {
		panic("metrics: " + f.name() + " registered twice")
	}
	r.names[f.name()] = true
	r.families = append(r.families, f)
}

// WriteTo writes every family in the text format, in registration order.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	fams := slices.Clone(r.families)
	r.mu.Unlock()
	cw := &countingWriter{w: w}
	bw := bufio.NewWriter(cw)
	for _, f := range fams {
		f.write(bw)
	}
	err := bw.Flush()
	return cw.n, err
}

// ServeHTTP serves the registry (GET /metrics).
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Content-Type", ContentType)
	r.WriteTo(w)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// desc is what every family has.
type desc struct {
	n, help, typ string
	labels       []string
}

func (d *desc) name() string { return d.n }

func (d *desc) header(w *bufio.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", d.n, escapeHelp(d.help), d.n, d.typ)
}

// series is one set of label values.
type series[T any] struct {
	values []string
	m      *T
}

// vec is the labelled series of a family.
type vec[T any] struct {
	desc
	mk     func() *T
	mu     sync.RWMutex
	series map[string]*series[T]
}

func newVec[T any](d desc, mk func() *T) *vec[T] {
	return &vec[T]{desc: d, mk: mk, series: map[string]*series[T]{}}
}

func (v *vec[T]) with(values []string) *T {
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("metrics: %s takes %d label values, got %d", v.n, len(v.labels), len(values)))
	}
	key := strings.Join(values, "\xff")
	v.mu.RLock()
	s := v.series[key]
	v.mu.RUnlock()
	if s != nil {
		return s.m
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if s := v.series[key]; s != nil {
		return s.m
	}
	if len(v.series) >= MaxSeries {
		values = slices.Repeat([]string{"other"}, len(values))
		key = strings.Join(values, "\xff")
		if s := v.series[key]; s != nil {
			return s.m
		}
	}
	s = &series[T]{values: slices.Clone(values), m: v.mk()}
	v.series[key] = s
	return s.m
}

// sorted returns the series in label order, for a stable output.
func (v *vec[T]) sorted() []*series[T] {
	v.mu.RLock()
	out := make([]*series[T], 0, len(v.series))
	for _, s := range v.series {
		out = append(out, s)
	}
	v.mu.RUnlock()
	slices.SortFunc(out, func(a, b *series[T]) int { return slices.Compare(a.values, b.values) })
	return out
}

// Counter is a monotonically increasing count.
type Counter struct{ v atomic.Uint64 }

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Value is the count.
func (c *Counter) Value() uint64 { return c.v.Load() }

// CounterVec is a family of counters with labels.
type CounterVec struct{ v *vec[Counter] }

// NewCounterVec registers a counter family. A family without labels has
// one series, With().
func (r *Registry) NewCounterVec(name, help string, labels ...string) *CounterVec {
	c := &CounterVec{newVec(desc{name, help, "counter", labels}, func() *Counter { return new(Counter) })}
	r.register(c)
	return c
}

// With is the counter of the given label values, made on first use.
func (c *CounterVec) With(values ...string) *Counter { return c.v.with(values) }

func (c *CounterVec) name() string { return c.v.n }

func (c *CounterVec) write(w *bufio.Writer) {
	c.v.header(w)
	for _, s := range c.v.sorted() {
		writeSample(w, c.v.n, "", c.v.labels, s.values, "", "", float64(s.m.Value()))
	}
}

// GaugeFunc is a gauge (or counter) whose value is read at scrape time.
type GaugeFunc struct {
	desc
	fn func() float64
}

// NewGaugeFunc registers a gauge computed by fn at each scrape; typ is
// "gauge", or "counter" for a count kept elsewhere.
func (r *Registry) NewGaugeFunc(name, help, typ string, fn func() float64) {
	r.register(&GaugeFunc{desc{name, help, typ, nil}, fn})
}

func (g *GaugeFunc) write(w *bufio.Writer) {
	v := g.fn()
	if math.IsNaN(v) {
		return // nothing known (yet): no sample
	}
	g.header(w)
	writeSample(w, g.n, "", nil, nil, "", "", v)
}

// LabeledFunc is a gauge or counter family whose series are read at
// scrape time.
type LabeledFunc struct {
	desc
	fn func(emit func(value float64, labelValues ...string))
}

// NewLabeledFunc registers a family whose samples fn emits at each scrape.
func (r *Registry) NewLabeledFunc(name, help, typ string, labels []string, fn func(emit func(float64, ...string))) {
	r.register(&LabeledFunc{desc{name, help, typ, labels}, fn})
}

func (g *LabeledFunc) write(w *bufio.Writer) {
	g.header(w)
	g.fn(func(v float64, values ...string) {
		if len(values) == len(g.labels) {
			writeSample(w, g.n, "", g.labels, values, "", "", v)
		}
	})
}

// DefaultBuckets are latency buckets in seconds, from 100µs (a cached
// symmetric operation) to 10s (a stalled store).
var DefaultBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Histogram counts observations in buckets.
type Histogram struct {
	upper  []float64
	counts []atomic.Uint64 // per bucket (not cumulative); the last is +Inf
	sumNs  atomic.Uint64   // sum of durations, in nanoseconds
	sum    atomic.Uint64   // float64 bits: sum of plain observations
	count  atomic.Uint64
}

func newHistogram(upper []float64) *Histogram {
	return &Histogram{upper: upper, counts: make([]atomic.Uint64, len(upper)+1)}
}

// ObserveDuration records a duration (in seconds in the output).
func (h *Histogram) ObserveDuration(d time.Duration) {
	h.bucket(d.Seconds()).Add(1)
	h.sumNs.Add(uint64(max(d, 0)))
	h.count.Add(1)
}

// Observe records a plain value.
func (h *Histogram) Observe(v float64) {
	h.bucket(v).Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			break
		}
	}
	h.count.Add(1)
}

func (h *Histogram) bucket(v float64) *atomic.Uint64 {
	i, _ := slices.BinarySearch(h.upper, v) // first bucket with upper >= v
	return &h.counts[i]
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 { return h.count.Load() }

// HistogramVec is a family of histograms with labels.
type HistogramVec struct {
	v *vec[Histogram]
}

// NewHistogramVec registers a histogram family with the given bucket upper
// bounds (ascending; nil means DefaultBuckets).
func (r *Registry) NewHistogramVec(name, help string, buckets []float64, labels ...string) *HistogramVec {
	if buckets == nil {
		buckets = DefaultBuckets
	}
	if !slices.IsSorted(buckets) {
		panic("metrics: buckets of " + name + " are not ascending")
	}
	h := &HistogramVec{newVec(desc{name, help, "histogram", labels}, func() *Histogram { return newHistogram(buckets) })}
	r.register(h)
	return h
}

// With is the histogram of the given label values, made on first use.
func (h *HistogramVec) With(values ...string) *Histogram { return h.v.with(values) }

func (h *HistogramVec) name() string { return h.v.n }

func (h *HistogramVec) write(w *bufio.Writer) {
	h.v.header(w)
	for _, s := range h.v.sorted() {
		m := s.m
		var cum uint64
		for i := range m.counts {
			cum += m.counts[i].Load()
			le := "+Inf"
			if i < len(m.upper) {
				le = formatFloat(m.upper[i])
			}
			writeSample(w, h.v.n, "_bucket", h.v.labels, s.values, "le", le, float64(cum))
		}
		sum := math.Float64frombits(m.sum.Load()) + float64(m.sumNs.Load())/1e9
		writeSample(w, h.v.n, "_sum", h.v.labels, s.values, "", "", sum)
		writeSample(w, h.v.n, "_count", h.v.labels, s.values, "", "", float64(cum))
	}
}

func writeSample(w *bufio.Writer, name, suffix string, labels, values []string, extraName, extraValue string, v float64) {
	w.WriteString(name)
	w.WriteString(suffix)
	if len(labels) > 0 || extraName != "" {
		w.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(l)
			w.WriteString(`="`)
			w.WriteString(escapeLabel(values[i]))
			w.WriteByte('"')
		}
		if extraName != "" {
			if len(labels) > 0 {
				w.WriteByte(',')
			}
			w.WriteString(extraName)
			w.WriteString(`="`)
			w.WriteString(extraValue)
			w.WriteByte('"')
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(formatFloat(v))
	w.WriteByte('\n')
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
