// Package testclock is a clock that tests set and move by hand, for code
// that takes its time from a func() time.Time (the service, the quota
// limiter, the scheduler). It is safe for concurrent use: the code under
// test reads it from its own goroutines while the test moves it.
package testclock

import (
	"sync"
	"time"
)

// Clock is a settable clock. Pass its Now method where a clock is asked for.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock that reads t until it is moved.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t, backwards too.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
