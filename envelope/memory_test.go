package envelope

import (
	"context"
	"crypto/rand"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// pattern is a stream of n bytes that repeats a random block, so that the
// sink can check every byte without keeping a copy.
type pattern struct {
	block []byte
	off   int64
	n     int64
}

func newPattern(n int64) *pattern {
	b := make([]byte, 1<<20+7) // not a multiple of the frame length
	rand.Read(b)
	return &pattern{block: b, n: n}
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	i := 0
	for i < len(b) {
		i += copy(b[i:], p.block[(p.off+int64(i))%int64(len(p.block)):])
	}
	p.off += int64(i)
	return i, nil
}

// checker is a sink that compares what it is given with the pattern.
type checker struct {
	p   *pattern
	off int64
	bad bool
}

func (c *checker) Write(b []byte) (int, error) {
	bl := int64(len(c.p.block))
	for i := 0; i < len(b); {
		start := (c.off + int64(i)) % bl
		n := min(len(b)-i, int(bl-start))
		if string(b[i:i+n]) != string(c.p.block[start:start+int64(n)]) {
			c.bad = true
		}
		i += n
	}
	c.off += int64(len(b))
	return len(b), nil
}

// TestStreamMemory encrypts a large stream and decrypts it at the same time,
// through a pipe, with the default (signed) suite, and checks that the heap
// stays under 64 MiB whatever the size. The size is 5 GiB: 18 to 28 s on
// the project's 2-core machine while it was shared (load average 2 to 4). Under -race
// (make test) it is 1 GiB, 8 s: the race detector does not slow the
// assembly crypto much, but 5 GiB there would approach a minute; the heap
// does not grow past the first few frames either way. ENVELOPE_STREAM_BYTES
// sets another size; -short skips the test.
func TestStreamMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("long: skipped under -short and -race")
	}
	size := int64(5 << 30)
	if raceEnabled {
		size = 1 << 30
	}
	if s := os.Getenv("ENVELOPE_STREAM_BYTES"); s != "" {
		size, _ = strconv.ParseInt(s, 10, 64)
	}
	ctx := context.Background()
	kr := newStaticKeyring()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()

	start := time.Now()
	src := newPattern(size)
	pr, pw := io.Pipe()
	encErr := make(chan error, 1)
	go func() {
		e, err := NewEncryptor(ctx, pw, EncryptConfig{Keyring: kr})
		if err == nil {
			_, err = e.ReadFrom(src)
			if cerr := e.Close(); err == nil {
				err = cerr
			}
		}
		pw.CloseWithError(err)
		encErr <- err
	}()
	d, err := NewDecryptor(ctx, pr, DecryptConfig{Keyring: kr})
	if err != nil {
		t.Fatal(err)
	}
	sink := &checker{p: newPatternSame(src)}
	n, err := d.WriteTo(sink)
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-encErr; err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-sampled
	elapsed := time.Since(start)
	if n != size || sink.bad {
		t.Fatalf("decrypted %d bytes of %d, mismatch %v", n, size, sink.bad)
	}
	heap := peak.Load()
	t.Logf("%d MiB encrypted and decrypted in %v (%.0f MiB/s each way); peak heap in use %.1f MiB (%.1f MiB before)",
		size>>20, elapsed.Round(time.Millisecond), float64(size)/(1<<20)/elapsed.Seconds(), float64(heap)/(1<<20), float64(base.HeapInuse)/(1<<20))
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmHWM:") {
				t.Logf("process peak resident memory (whole test binary, every test run so far): %s", strings.TrimSpace(line[6:]))
			}
		}
	}
	if heap > 64<<20 {
		t.Fatalf("peak heap in use %d bytes, more than 64 MiB", heap)
	}
}

func newPatternSame(p *pattern) *pattern { return &pattern{block: p.block, n: p.n} }
