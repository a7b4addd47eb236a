package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 2047, 2048, 2049, 4095, 4096, 1e6, 1e9, maxValue} {
		i := bucket(v)
		if i < prev || i >= numBuckets {
			t.Fatalf("bucket(%d) = %d after %d", v, i, prev)
		}
		if up := upper(i); up < v || float64(up-v) > float64(v)/1024 {
			t.Fatalf("upper(bucket(%d)) = %d", v, up)
		}
		prev = i
	}
	if bucket(maxValue+1) != numBuckets-1 {
		t.Fatal("values past the range do not land in the last bucket")
	}
}

// The histogram's quantiles agree with an exact sort to within 0.1 %.
func TestQuantiles(t *testing.T) {
	var h histogram
	r := rand.New(rand.NewPCG(1, 2))
	lat := make([]time.Duration, 100_000)
	for i := range lat {
		lat[i] = time.Duration(r.ExpFloat64() * float64(300*time.Microsecond))
		h.record(lat[i])
	}
	slices.Sort(lat)
	qs := []float64{0.5, 0.99, 0.999, 1}
	got := h.quantiles(lat[len(lat)-1], qs...)
	for j, q := range qs {
		want := lat[rank(q, uint64(len(lat)))-1]
		if got[j] < want || float64(got[j]-want) > float64(want)/1024 {
			t.Errorf("q%v = %v, exact %v", q, got[j], want)
		}
	}
}
