package audit

import (
	"sync"
	"testing"
	"time"
)

func TestStatsCountRecordsAndBatches(t *testing.T) {
	e := newLogEnv(t)
	l := e.open(t, Options{})
	defer l.Close()
	before := time.Now()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Record(event(i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s := l.Stats()
	if s.Records != 50 || s.Batches == 0 || s.Batches > 50 || s.Failures != 0 || s.LastWrite.Before(before) {
		t.Fatalf("stats after 50 records: %+v", s)
	}
}
