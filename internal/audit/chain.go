package audit

import (
	"bytes"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/trent-kms/trent/internal/rootkey"
)

// # Tamper evidence
//
// Every line of the log carries, as its last member,
//
//	"chain":{"seq":N,"prev":"<hex SHA-256 of the previous line>"}
//
// where N counts lines from 1 across every file the log has had, and a
// line is hashed without its newline. Removing, inserting, reordering or
// changing a line breaks the chain at the next line, unless whoever did it
// also rewrote every later "prev"; that needs no key, so the chain alone
// only shows accidents. What shows tampering is the checkpoints:
//
//	{"eventVersion":"1.11","eventType":"TrentAuditCheckpoint","eventTime":…,
//	 "checkpoint":{"segment":"<segment ID>","mac":"<hex>"},"chain":{…}}
//
//	mac = HMAC-SHA256(segment key, "trent audit checkpoint v1" ‖ 0x00 ‖ segment ID ‖ 0x00 ‖ u64 seq ‖ prev)
//
// authenticate the whole chain up to them with a key only trent holds. A
// segment is what one process writes to one file: it starts with a line
//
//	{"eventVersion":"1.11","eventType":"TrentAuditSegment","eventTime":…,
//	 "segment":{"id":"<UUID>","rootKey":"<root key ID>","wrappedKey":"<base64>"},"chain":{…}}
//
// whose wrappedKey is a fresh random 256-bit segment key wrapped under the
// root key (additional data "trent audit segment v1" ‖ 0x00 ‖ ID). Only
// someone holding the root key can unwrap it (trent audit verify), and
// nobody without it can make a checkpoint that verifies. A checkpoint is
// written every CheckpointEvery (1 s) while records arrive, before a
// rotation or reopen, and at Close; the records after the last checkpoint
// are chained but not yet authenticated, and Verify says how many there
// are. Truncating the file after its last checkpoint cannot be detected.

const (
	segmentEvent    = "TrentAuditSegment"
	checkpointEvent = "TrentAuditCheckpoint"
	segmentKeyAAD   = "trent audit segment v1\x00"
	checkpointLabel = "trent audit checkpoint v1\x00"
	// checkpointRecords forces a checkpoint after this many records even
	// within CheckpointEvery.
	checkpointRecords = 10000
	// maxLine bounds a line when the end of an existing file is read back;
	// records are clipped far below it (ClipEvent).
	maxLine = 1 << 20
)

// Options configure a File.
type Options struct {
	// RootKey wraps each segment's key. Required.
	RootKey rootkey.Wrapper
	// MaxSize rotates the file when a write would take it past this many
	// bytes: path becomes path.1, path.1 becomes path.2, ... 0: never.
	MaxSize int64
	// Keep is how many rotated files to keep; 0 means 10.
	Keep int
	// Sync makes every write durable (fdatasync) before Record returns:
	// the log then survives a power loss, not only a crash of trent.
	Sync bool
	// CheckpointEvery is the longest time between a record and the
	// checkpoint that authenticates it; 0 means 1 second.
	CheckpointEvery time.Duration
	// Logger receives one line when the log stops being writable and one
	// when it recovers; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock of checkpoints and segment headers; nil: time.Now.
	Now func() time.Time
}

// File is a tamper-evident audit log in a file (or on standard output,
// for path "-"). Concurrent Records are grouped: one write(2) (and with
// Sync one fdatasync) per batch of records that arrived while the previous
// batch was being written, so the log keeps up with the service.
type File struct {
	path string
	opts Options

	mu      sync.Mutex
	cond    *sync.Cond
	pending *batch // the batch being filled
	writing bool   // a leader is writing a batch
	closed  bool
	health  atomic.Pointer[error]
	// since counts records since the last checkpoint; the ticker reads it.
	since atomic.Int64
	stats fileStats

	// Owned by the leader (the goroutine writing a batch).
	w              *os.File
	stdout         bool
	regular        bool  // w is a regular file: it can be cut and rotated
	size           int64 // of w as written by this process (for rotation)
	seq            uint64
	prev           [sha256.Size]byte
	segID          string
	segKey         []byte
	lastCheckpoint time.Time
	failing        bool
	buf            []byte

	stop chan struct{}
	done chan struct{}
}

var _ Log = (*File)(nil)

// batch is records written with one write. A record's request waits until
// its batch is done.
type batch struct {
	lines      [][]byte
	checkpoint bool // write a checkpoint even if none is due
	reopen     bool // reopen the file first (SIGHUP)
	probe      bool // while the log fails: start a new segment, to find out whether it can be written again
	close      bool // final checkpoint, then close
	done       bool
	err        error
}

// OpenFile opens (creating with mode 0600) the audit log at path, or uses
// standard output for "-". An existing file is appended to: its last line
// gives the chain's position, and a partial last line (from a crash during
// a write, so never acknowledged) is cut off. It writes the header of a new
// segment before returning.
func OpenFile(path string, opts Options) (*File, error) {
	if opts.RootKey == nil {
		return nil, errors.New("audit: a root key is required")
	}
	if opts.Keep <= 0 {
		opts.Keep = 10
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &File{path: path, opts: opts, pending: new(batch), stop: make(chan struct{}), done: make(chan struct{})}
	l.cond = sync.NewCond(&l.mu)
	if path == "-" {
		l.w, l.stdout = os.Stdout, true
	} else if err := l.openPath(); err != nil {
		return nil, err
	}
	if err := l.writeSegment(); err != nil {
		l.closeFile()
		return nil, err
	}
	l.lastCheckpoint = l.opts.Now()
	go l.tick()
	return l, nil
}

// openPath opens the file and reads the chain's position from its end.
func (l *File) openPath() error {
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("audit: opening %s: %w", l.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit: %w", err)
	}
	if !st.Mode().IsRegular() {
		// A device or pipe (a log shipper's): nothing to read back or cut.
		l.w, l.regular, l.size = f, false, 0
		return nil
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			return fmt.Errorf("audit: %s has mode %04o and cannot be made 0600: %w", l.path, perm, err)
		}
		l.opts.Logger.Warn("audit log was readable by others; its mode is now 0600", "path", l.path, "was", fmt.Sprintf("%04o", perm))
	}
	last, size, err := lastLine(f, st.Size())
	if err != nil {
		f.Close()
		return err
	}
	if size != st.Size() {
		if err := f.Truncate(size); err != nil {
			f.Close()
			return fmt.Errorf("audit: cutting a partial last record off %s: %w", l.path, err)
		}
		l.opts.Logger.Warn("audit log ended in a partial record, which was never acknowledged; it was cut off", "path", l.path, "bytes", st.Size()-size)
	}
	l.w, l.regular, l.size = f, true, size
	if last != nil {
		l.prev = sha256.Sum256(last)
		if c, ok := parseChain(last); ok {
			l.seq = c.Seq
		}
	}
	return nil
}

// lastLine returns the last complete line of f (without its newline) and
// the length of f up to and including it.
func lastLine(f *os.File, size int64) ([]byte, int64, error) {
	if size == 0 {
		return nil, 0, nil
	}
	n := min(size, maxLine+1)
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, size-n); err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, fmt.Errorf("audit: reading the end of the log: %w", err)
	}
	end := bytes.LastIndexByte(buf, '\n')
	if end < 0 {
		if n < size {
			return nil, 0, errors.New("audit: the log's last line is longer than 1 MiB: not a trent audit log?")
		}
		return nil, 0, nil // one partial line: cut all of it
	}
	start := bytes.LastIndexByte(buf[:end], '\n') + 1
	if start == 0 && n < size {
		return nil, 0, errors.New("audit: the log's last line is longer than 1 MiB: not a trent audit log?")
	}
	return buf[start:end], size - n + int64(end) + 1, nil
}

// Record writes e (after ClipEvent) as one line, and returns once it is
// written, or the reason it is not.
func (l *File) Record(e *Event) error {
	ClipEvent(e)
	return l.submitLine(e.AppendJSON(make([]byte, 0, 1024)))
}

// Healthy returns nil while the last write succeeded.
func (l *File) Healthy() error {
	if p := l.health.Load(); p != nil {
		return *p
	}
	return nil
}

// Reopen closes the file and opens path again, for log rotation by another
// program (SIGHUP): it ends the current file with a checkpoint and starts a
// new segment in the file now at path.
func (l *File) Reopen() error {
	if l.stdout {
		return nil
	}
	return l.submit(func(b *batch) { b.reopen = true })
}

// Close writes a final checkpoint and closes the file.
func (l *File) Close() error {
	close(l.stop)
	<-l.done
	err := l.submit(func(b *batch) { b.close = true })
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	return err
}

var errClosed = errors.New("audit: the log is closed")

// submitLine is submit for one record line, without a closure.
func (l *File) submitLine(line []byte) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return errClosed
	}
	l.pending.lines = append(l.pending.lines, line)
	return l.wait(l.pending)
}

// submit adds to the batch being filled and waits until that batch is
// written. The first waiter of a batch finds no leader and becomes it.
func (l *File) submit(add func(*batch)) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return errClosed
	}
	b := l.pending
	add(b)
	return l.wait(b)
}

// wait writes or waits for the batch b, which holds what the caller added;
// l.mu is held on entry and released on return.
func (l *File) wait(b *batch) error {
	defer l.mu.Unlock()
	for !b.done {
		if l.writing {
			l.cond.Wait()
			continue
		}
		// Lead: write everything pending, which includes b. First let the
		// other runnable request goroutines add their records: with few
		// CPUs (GOMAXPROCS=1) they would otherwise only get to run while
		// the leader is blocked in write(2), which on a page-cache write is
		// too short for the scheduler to hand the CPU over, and every
		// record would take a write of its own. On an idle server there is
		// nobody to wait for and this costs nothing.
		l.writing = true
		l.mu.Unlock()
		runtime.Gosched()
		l.mu.Lock()
		l.pending = new(batch)
		l.mu.Unlock()
		err := l.writeBatch(b)
		l.stats.count(len(b.lines), err)
		l.mu.Lock()
		b.err, b.done = err, true
		l.writing = false
		l.cond.Broadcast()
	}
	return b.err
}

// writeBatch writes one batch: its records, chained, and a checkpoint if
// one is due, rotating or reopening the file first if needed.
func (l *File) writeBatch(b *batch) error {
	if l.w == nil {
		return errClosed
	}
	if b.reopen {
		if err := l.reopen(); err != nil {
			return l.outcome(err)
		}
	}
	if b.probe && l.failing {
		// A real write, of a line worth having: the log resumes here.
		if err := l.writeSegment(); err != nil {
			return l.outcome(err)
		}
	}
	buf := l.buf[:0]
	seq, prev := l.seq, l.prev
	for _, line := range b.lines {
		buf = l.appendChained(buf, line, &seq, &prev)
	}
	since := l.since.Load() + int64(len(b.lines))
	now := l.opts.Now()
	if since > 0 && (b.checkpoint || b.close || since >= checkpointRecords || now.Sub(l.lastCheckpoint) >= l.opts.CheckpointEvery) {
		buf = l.appendCheckpoint(buf, now, &seq, &prev)
		since = 0
	}
	if l.opts.MaxSize > 0 && l.regular && len(b.lines) > 0 {
		if l.size > 0 && l.size+int64(len(buf)) > l.opts.MaxSize {
			if err := l.rotate(); err != nil {
				return l.outcome(err)
			}
			// The rotation wrote a checkpoint and a header: chain again.
			buf, seq, prev = buf[:0], l.seq, l.prev
			for _, line := range b.lines {
				buf = l.appendChained(buf, line, &seq, &prev)
			}
			since = int64(len(b.lines))
		}
	}
	l.buf = buf
	if err := l.write(buf); err != nil {
		return l.outcome(err)
	}
	l.seq, l.prev = seq, prev
	l.since.Store(since)
	if since == 0 {
		l.lastCheckpoint = now
	}
	if b.close {
		return l.outcome(l.closeFile())
	}
	return l.outcome(nil)
}

// write writes buf with one write call; on failure it cuts off whatever
// part of it reached the file, so the file ends on a whole record.
func (l *File) write(buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	n, err := l.w.Write(buf)
	if err == nil && n < len(buf) {
		err = io.ErrShortWrite
	}
	if err == nil && l.opts.Sync && !l.stdout {
		err = l.w.Sync()
	}
	if err != nil && n > 0 && l.regular {
		// The file is opened for appending, so the n bytes that did land
		// are its last n, whatever else changed its length meanwhile.
		st, serr := l.w.Stat()
		if serr == nil {
			serr = l.w.Truncate(st.Size() - int64(n))
		}
		if serr != nil {
			err = fmt.Errorf("%w (and cutting off the partial write failed: %v)", err, serr)
		}
	}
	if err != nil {
		return fmt.Errorf("audit: writing %s: %w", l.path, err)
	}
	l.size += int64(n)
	return nil
}

// outcome records the health of the log, logging once per outage.
func (l *File) outcome(err error) error {
	if err != nil {
		stored := err // a copy, so that err itself does not escape on the success path
		l.health.Store(&stored)
		if !l.failing {
			l.failing = true
			l.opts.Logger.Error("AUDIT LOG NOT WRITABLE: every request is refused until it is", "path", l.path, "err", err)
		}
		return err
	}
	if l.failing {
		l.failing = false
		l.opts.Logger.Warn("audit log writable again; requests are served", "path", l.path)
	}
	l.health.Store(nil)
	return nil
}

// rotate ends the current file with a checkpoint, shifts path to path.1
// (and so on, keeping Keep files), and starts a new segment in a new file.
func (l *File) rotate() error {
	if err := l.finishFile(); err != nil {
		return err
	}
	for i := l.opts.Keep; i >= 1; i-- {
		from := l.path
		if i > 1 {
			from = l.path + "." + strconv.Itoa(i-1)
		}
		to := l.path + "." + strconv.Itoa(i)
		if err := os.Rename(from, to); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("audit: rotating %s: %w", from, err)
		}
	}
	os.Remove(l.path + "." + strconv.Itoa(l.opts.Keep+1))
	return l.startFile()
}

// reopen ends the current file with a checkpoint and starts a new segment
// in whatever file is now at path.
func (l *File) reopen() error {
	if err := l.finishFile(); err != nil {
		return err
	}
	return l.startFile()
}

// finishFile writes a checkpoint if records need one, and closes the file.
func (l *File) finishFile() error {
	if l.since.Load() > 0 {
		seq, prev := l.seq, l.prev
		now := l.opts.Now()
		if err := l.write(l.appendCheckpoint(nil, now, &seq, &prev)); err != nil {
			return err
		}
		l.seq, l.prev, l.lastCheckpoint = seq, prev, now
		l.since.Store(0)
	}
	return l.closeFile()
}

// startFile opens path and writes a new segment header; the chain goes on
// from the last line written.
func (l *File) startFile() error {
	seq, prev := l.seq, l.prev
	if err := l.openPath(); err != nil {
		return err
	}
	l.seq, l.prev = seq, prev // the new file's end is not this chain's end
	return l.writeSegment()
}

// writeSegment starts a new segment: a fresh key, wrapped under the root
// key, in a header line.
func (l *File) writeSegment() error {
	id := uuid.NewString()
	key := make([]byte, 32)
	if _, err := crand.Read(key); err != nil {
		return fmt.Errorf("audit: making a segment key: %w", err)
	}
	wrapped, err := l.opts.RootKey.Wrap(key, []byte(segmentKeyAAD+id))
	if err != nil {
		return fmt.Errorf("audit: wrapping the segment key: %w", err)
	}
	line := []byte(`{"eventVersion":"1.11","eventType":"` + segmentEvent + `","eventTime":"` +
		l.opts.Now().UTC().Format(time.RFC3339Nano) + `","segment":{"id":"` + id + `","rootKey":`)
	line = appendString(line, l.opts.RootKey.ID())
	line = append(line, `,"wrappedKey":"`...)
	line = base64.StdEncoding.AppendEncode(line, wrapped)
	line = append(line, `"}}`...)
	seq, prev := l.seq, l.prev
	if err := l.write(l.appendChained(nil, line, &seq, &prev)); err != nil {
		return err
	}
	l.seq, l.prev = seq, prev
	l.segID, l.segKey = id, key
	return nil
}

func (l *File) closeFile() error {
	if l.stdout || l.w == nil {
		return nil
	}
	err := l.w.Close()
	l.w = nil
	return err
}

// tick asks for a checkpoint every CheckpointEvery while records arrive,
// so that a record is authenticated within about that time even when no
// more follow; and while the log cannot be written, it tries to, so that
// trent serves again within that time once it can.
func (l *File) tick() {
	defer close(l.done)
	t := time.NewTicker(l.opts.CheckpointEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			switch {
			case l.Healthy() != nil:
				l.submit(func(b *batch) { b.probe = true })
			case l.since.Load() > 0:
				l.submit(func(b *batch) { b.checkpoint = true })
			}
		}
	}
}

// chain is the "chain" member of a line.
type chain struct {
	Seq  uint64 `json:"seq"`
	Prev string `json:"prev"`
}

// appendChained appends line (a JSON object) with its chain member added,
// and a newline, and moves the chain on.
func (l *File) appendChained(buf, line []byte, seq *uint64, prev *[sha256.Size]byte) []byte {
	start := len(buf)
	*seq++
	buf = append(buf, line[:len(line)-1]...) // without the closing brace
	buf = append(buf, `,"chain":{"seq":`...)
	buf = strconv.AppendUint(buf, *seq, 10)
	buf = append(buf, `,"prev":"`...)
	buf = hex.AppendEncode(buf, prev[:])
	buf = append(buf, `"}}`...)
	*prev = sha256.Sum256(buf[start:])
	return append(buf, '\n')
}

func (l *File) appendCheckpoint(buf []byte, now time.Time, seq *uint64, prev *[sha256.Size]byte) []byte {
	mac := checkpointMAC(l.segKey, l.segID, *seq+1, *prev)
	line := []byte(`{"eventVersion":"1.11","eventType":"` + checkpointEvent + `","eventTime":"` +
		now.UTC().Format(time.RFC3339Nano) + `","checkpoint":{"segment":"` + l.segID + `","mac":"`)
	line = hex.AppendEncode(line, mac)
	line = append(line, `"}}`...)
	return l.appendChained(buf, line, seq, prev)
}

// checkpointMAC authenticates the chain up to the checkpoint at seq, whose
// prev is the hash of the line before it.
func checkpointMAC(key []byte, segID string, seq uint64, prev [sha256.Size]byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(checkpointLabel))
	m.Write([]byte(segID))
	m.Write([]byte{0})
	m.Write(binary.BigEndian.AppendUint64(nil, seq))
	m.Write(prev[:])
	return m.Sum(nil)
}

// parseChain reads the chain member of a line, if it has one.
func parseChain(line []byte) (chain, bool) {
	var rec struct {
		Chain *chain `json:"chain"`
	}
	if err := unmarshal(line, &rec); err != nil || rec.Chain == nil {
		return chain{}, false
	}
	return *rec.Chain, true
}

// DefaultPath is where trent writes its audit log in a data directory.
func DefaultPath(dataDir string) string { return filepath.Join(dataDir, "audit.jsonl") }
