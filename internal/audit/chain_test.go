package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trent-kms/trent/internal/rootkey"
)

type logEnv struct {
	dir  string
	path string
	root *rootkey.File
	logs *bytes.Buffer
}

func newLogEnv(t testing.TB) *logEnv {
	dir := t.TempDir()
	root, err := rootkey.LoadOrCreateFile(filepath.Join(dir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	return &logEnv{dir: dir, path: filepath.Join(dir, "audit.jsonl"), root: root, logs: new(bytes.Buffer)}
}

func (e *logEnv) open(t *testing.T, opts Options) *File {
	t.Helper()
	opts.RootKey = e.root
	opts.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	l, err := OpenFile(e.path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (e *logEnv) unwrapper() Unwrapper {
	return func(id string, wrapped, aad []byte) ([]byte, error) {
		if id != e.root.ID() {
			return nil, fmt.Errorf("unknown root key %s", id)
		}
		return e.root.Unwrap(wrapped, aad)
	}
}

func event(i int) *Event {
	return &Event{EventVersion: "1.11", EventName: "Encrypt", EventTime: time.Unix(int64(i), 0).UTC(),
		RequestID: fmt.Sprint("request-", i), EventSource: "kms.amazonaws.com"}
}

// writeLog writes n records from many goroutines and closes the log.
func writeLog(t *testing.T, e *logEnv, n int) {
	t.Helper()
	l := e.open(t, Options{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Record(event(i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func (e *logEnv) verify(t *testing.T, files ...string) *Report {
	t.Helper()
	if len(files) == 0 {
		files = []string{e.path}
	}
	r, err := Verify(files, e.unwrapper())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestFileChainsEveryRecord(t *testing.T) {
	e := newLogEnv(t)
	writeLog(t, e, 200)
	r := e.verify(t)
	if r.Problem != nil {
		t.Fatalf("a log trent wrote does not verify: %v", r.Problem)
	}
	if r.Records != 200 || r.Segments != 1 || r.Checkpoints < 1 || r.Unauthenticated != 0 || r.FirstSeq != 1 || r.Authenticated != r.LastSeq {
		t.Fatalf("report: %+v", r)
	}
	// A second process appends: the chain goes on across restarts.
	writeLog(t, e, 10)
	r = e.verify(t)
	if r.Problem != nil || r.Records != 210 || r.Segments != 2 {
		t.Fatalf("after a restart: %+v %v", r, r.Problem)
	}
}

// TestConcurrentRecordsAllLand: records from many goroutines at once are
// all written, each once.
func TestConcurrentRecordsAllLand(t *testing.T) {
	e := newLogEnv(t)
	l := e.open(t, Options{})
	defer l.Close()
	const n = 400
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := l.Record(event(i)); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	data, _ := os.ReadFile(e.path)
	if got := bytes.Count(data, []byte(`"eventName":"Encrypt"`)); got != n {
		t.Fatalf("%d records in the file, want %d", got, n)
	}
}

// lines returns the file's lines.
func lines(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
}

func writeLines(t *testing.T, path string, ls [][]byte) {
	t.Helper()
	if err := os.WriteFile(path, append(bytes.Join(ls, []byte("\n")), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
}

// rechain recomputes every "prev" after line from, as someone who edits
// the log and knows the format (but not the key) would.
func rechain(t *testing.T, ls [][]byte, from int) {
	t.Helper()
	for i := max(from, 1); i < len(ls); i++ {
		c, ok := parseChain(ls[i])
		if !ok {
			t.Fatalf("line %d has no chain", i)
		}
		prev := sha256Hex(ls[i-1])
		ls[i] = bytes.Replace(ls[i], []byte(`"prev":"`+c.Prev+`"`), []byte(`"prev":"`+prev+`"`), 1)
	}
}

func renumber(t *testing.T, ls [][]byte) {
	t.Helper()
	for i := range ls {
		c, _ := parseChain(ls[i])
		ls[i] = bytes.Replace(ls[i], []byte(fmt.Sprintf(`"seq":%d,`, c.Seq)), []byte(fmt.Sprintf(`"seq":%d,`, i+1)), 1)
	}
}

// TestVerifyNamesTampering: every way of editing the log is reported, at
// the first line that shows it.
func TestVerifyNamesTampering(t *testing.T) {
	e := newLogEnv(t)
	writeLog(t, e, 30)
	orig := lines(t, e.path)
	if r := e.verify(t); r.Problem != nil {
		t.Fatal(r.Problem)
	}
	// Line indexes: 0 is the segment header, then records, the last a checkpoint.
	for _, tc := range []struct {
		name     string
		edit     func([][]byte) [][]byte
		wantLine int
		wantWhat string
	}{
		{"changed", func(ls [][]byte) [][]byte {
			ls[5] = bytes.Replace(ls[5], []byte(`"eventName":"Encrypt"`), []byte(`"eventName":"Decrypt"`), 1)
			return ls
		}, 7, "does not follow the line before it"},
		{"removed", func(ls [][]byte) [][]byte { return append(ls[:5:5], ls[6:]...) }, 6, "a record before it is missing"},
		{"reordered", func(ls [][]byte) [][]byte { ls[5], ls[6] = ls[6], ls[5]; return ls }, 6, "out of order"},
		{"inserted", func(ls [][]byte) [][]byte {
			return append(ls[:5:5], append([][]byte{bytes.Clone(ls[3])}, ls[5:]...)...)
		}, 6, "repeated or reordered"},
		{"unchained record inserted", func(ls [][]byte) [][]byte {
			return append(ls[:5:5], append([][]byte{[]byte(`{"eventName":"Decrypt"}`)}, ls[5:]...)...)
		}, 6, "without a chain position"},
		{"not JSON", func(ls [][]byte) [][]byte { ls[4] = ls[4][:20]; return ls }, 5, "not a JSON record"},
		{"changed and rechained", func(ls [][]byte) [][]byte {
			ls[5] = bytes.Replace(ls[5], []byte(`"eventName":"Encrypt"`), []byte(`"eventName":"Decrypt"`), 1)
			rechain(t, ls, 6)
			return ls
		}, len(orig), "checkpoint does not authenticate"},
		{"removed, renumbered and rechained", func(ls [][]byte) [][]byte {
			ls = append(ls[:5:5], ls[6:]...)
			renumber(t, ls)
			rechain(t, ls, 1)
			return ls
		}, len(orig) - 1, "checkpoint does not authenticate"},
		{"segment key replaced", func(ls [][]byte) [][]byte {
			other := newLogEnv(t)
			writeLog(t, other, 1)
			ls[0] = lines(t, other.path)[0]
			return ls
		}, 1, "does not unwrap under root key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls := make([][]byte, len(orig))
			for i := range orig {
				ls[i] = bytes.Clone(orig[i])
			}
			writeLines(t, e.path, tc.edit(ls))
			r := e.verify(t)
			if r.Problem == nil {
				t.Fatalf("tampering not reported: %+v", r)
			}
			if r.Problem.Line != tc.wantLine || !strings.Contains(r.Problem.What, tc.wantWhat) {
				t.Fatalf("reported %v; want line %d, %q", r.Problem, tc.wantLine, tc.wantWhat)
			}
		})
	}
	// Cutting the last checkpoint off cannot be proven, but is reported as
	// records nothing vouches for.
	writeLines(t, e.path, orig[:len(orig)-1])
	if r := e.verify(t); r.Problem != nil || r.Unauthenticated == 0 {
		t.Fatalf("without its last checkpoint: %+v %v", r, r.Problem)
	}
	// Verifying with another root key fails at the first segment.
	writeLines(t, e.path, orig)
	other := newLogEnv(t)
	if r, _ := Verify([]string{e.path}, other.unwrapper()); r.Problem == nil || r.Problem.Line != 1 {
		t.Fatalf("verified with another root key: %+v", r)
	}
}

// TestFailingSinkFailsRecords: while the log cannot be written, Record
// fails and Healthy says so; the outage is logged once, and the log
// recovers (and still verifies) when the sink does.
func TestFailingSinkFailsRecords(t *testing.T) {
	e := newLogEnv(t)
	l := e.open(t, Options{})
	if err := l.Record(event(1)); err != nil {
		t.Fatal(err)
	}
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full here")
	}
	good := l.w
	l.w = full // the disk is full
	for i := range 5 {
		if err := l.Record(event(i)); err == nil {
			t.Fatal("Record succeeded on a full disk")
		}
	}
	if l.Healthy() == nil {
		t.Fatal("Healthy() is nil while writes fail")
	}
	if n := strings.Count(e.logs.String(), "AUDIT LOG NOT WRITABLE"); n != 1 {
		t.Fatalf("the outage was logged %d times, want once:\n%s", n, e.logs)
	}
	l.w = good
	full.Close()
	if err := l.Record(event(99)); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if l.Healthy() != nil || !strings.Contains(e.logs.String(), "writable again") {
		t.Fatalf("recovery not reported: %v\n%s", l.Healthy(), e.logs)
	}
	l.Close()
	if r := e.verify(t); r.Problem != nil || r.Records != 2 {
		t.Fatalf("after an outage: %+v %v", r, r.Problem)
	}
}

// TestPartialLastLineIsCut: a crash in the middle of a write leaves part of
// a line; the next start cuts it off and the chain goes on.
func TestPartialLastLineIsCut(t *testing.T) {
	e := newLogEnv(t)
	writeLog(t, e, 3)
	f, _ := os.OpenFile(e.path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"eventVersion":"1.11","eventName":"Enc`)
	f.Close()
	writeLog(t, e, 3)
	if r := e.verify(t); r.Problem != nil || r.Records != 6 {
		t.Fatalf("%+v %v", r, r.Problem)
	}
	if !strings.Contains(e.logs.String(), "partial record") {
		t.Fatal("cutting the partial record was not logged")
	}
}

func TestRotationAndReopen(t *testing.T) {
	e := newLogEnv(t)
	l := e.open(t, Options{MaxSize: 4096, Keep: 3})
	for i := range 100 {
		if err := l.Record(event(i)); err != nil {
			t.Fatal(err)
		}
	}
	// logrotate's way: rename, then SIGHUP.
	if err := os.Rename(e.path, e.path+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := l.Record(event(i)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	for _, p := range []string{e.path, e.path + ".1", e.path + ".3"} {
		if st, err := os.Stat(p); err != nil || st.Size() > 4096+2048 {
			t.Fatalf("%s: %v %v", p, st, err)
		}
	}
	if _, err := os.Stat(e.path + ".4"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("more rotated files kept than asked")
	}
	// The newest files verify as one chain; the oldest were dropped.
	r := e.verify(t, e.path+".3", e.path+".2", e.path+".1", e.path+".moved", e.path)
	if r.Problem != nil || r.FirstSeq <= 1 || r.Unauthenticated != 0 {
		t.Fatalf("rotated files: %+v %v", r, r.Problem)
	}
	// Out of order, they do not.
	if r := e.verify(t, e.path+".1", e.path+".2"); r.Problem == nil {
		t.Fatal("files given out of order verified")
	}
}

func TestRecordAfterClose(t *testing.T) {
	e := newLogEnv(t)
	l := e.open(t, Options{})
	l.Close()
	if err := l.Record(event(1)); err == nil {
		t.Fatal("Record after Close succeeded")
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
