package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram counts latencies in HdrHistogram-style log-linear buckets:
// exact below 2048 ns, then 1024 buckets per power of two, so every value
// is known to within 1/1024 (0.1 %), whatever the run's length. It takes
// 256 KiB however many requests it counts, and is safe for concurrent use.
type histogram struct {
	counts [numBuckets]atomic.Uint64
}

const (
	subBits    = 11 // 2^11 = 2048 exact values, then 1024 per octave
	half       = 1 << (subBits - 1)
	maxShift   = 30 // values up to 2^41 ns (about 36 minutes)
	numBuckets = 2*half + maxShift*half
	maxValue   = 1<<(subBits+maxShift) - 1
)

// bucket returns the index of the bucket holding v nanoseconds.
func bucket(v uint64) int {
	if v > maxValue {
		v = maxValue
	}
	if v < 2*half {
		return int(v)
	}
	shift := bits.Len64(v) - subBits // >= 1
	top := v >> shift                // in [half, 2*half)
	return 2*half + (shift-1)*half + int(top-half)
}

// upper returns the largest value that falls in bucket i.
func upper(i int) uint64 {
	if i < 2*half {
		return uint64(i)
	}
	shift := (i-2*half)/half + 1
	top := uint64((i-2*half)%half + half)
	return (top+1)<<shift - 1
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucket(uint64(d))].Add(1)
}

// quantiles returns, for each q in qs (ascending, in [0, 1]), the smallest
// recorded latency that at least q of all recorded latencies do not exceed,
// as the upper bound of its bucket (so never an underestimate by more than
// the bucket width, and never an overestimate past max).
func (h *histogram) quantiles(max time.Duration, qs ...float64) []time.Duration {
	var total uint64
	for i := range h.counts {
		total += h.counts[i].Load()
	}
	out := make([]time.Duration, len(qs))
	if total == 0 {
		return out
	}
	var seen uint64
	j := 0
	for i := range h.counts {
		seen += h.counts[i].Load()
		for j < len(qs) && seen >= rank(qs[j], total) {
			v := time.Duration(upper(i))
			if v > max {
				v = max
			}
			out[j] = v
			j++
		}
		if j == len(qs) {
			break
		}
	}
	return out
}

// rank is the 1-based rank of quantile q among total values.
func rank(q float64, total uint64) uint64 {
	r := uint64(math.Ceil(q * float64(total)))
	if r < 1 {
		r = 1
	}
	return r
}
