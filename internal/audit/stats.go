package audit

import (
	"sync/atomic"
	"time"
)

// Stats are what a File has written since it opened, for monitoring.
type Stats struct {
	Records   uint64    // audit records written
	Batches   uint64    // writes (each of one batch of records, plus checkpoints)
	LastWrite time.Time // when the last successful write ended; zero before the first
	Failures  uint64    // writes that failed
}

type fileStats struct {
	records, batches, failures atomic.Uint64
	lastWrite                  atomic.Int64 // unix nanoseconds
}

// Stats returns the File's counters.
func (l *File) Stats() Stats {
	s := Stats{
		Records:  l.stats.records.Load(),
		Batches:  l.stats.batches.Load(),
		Failures: l.stats.failures.Load(),
	}
	if ns := l.stats.lastWrite.Load(); ns != 0 {
		s.LastWrite = time.Unix(0, ns)
	}
	return s
}

// count records the outcome of writing a batch of n records.
func (s *fileStats) count(n int, err error) {
	if err != nil {
		s.failures.Add(1)
		return
	}
	s.records.Add(uint64(n))
	s.batches.Add(1)
	s.lastWrite.Store(time.Now().UnixNano())
}
