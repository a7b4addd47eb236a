package audit

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	json "github.com/go-json-experiment/json"
)

func unmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// Unwrapper unwraps a segment key: rootKeyID is the root key the segment
// header names. The verifier gets it from trent's configuration.
type Unwrapper func(rootKeyID string, wrapped, aad []byte) ([]byte, error)

// Report is what Verify found.
type Report struct {
	Lines       int    // lines read
	Records     int    // audit events among them
	Segments    int    // segment headers
	Checkpoints int    // checkpoints, all verified if Problem is nil
	FirstSeq    uint64 // the chain position of the first chained line
	LastSeq     uint64
	// Authenticated is the chain position of the last verified checkpoint:
	// every line up to it is as trent wrote it.
	Authenticated uint64
	// Unauthenticated counts the lines after the last checkpoint: chained,
	// but a checkpoint has not vouched for them yet.
	Unauthenticated int
	// Unchained counts lines written before the log was chained (an older
	// trent): nothing vouches for them.
	Unchained int
	// Problem is the first line that is not as trent wrote it, if any.
	Problem *Problem
}

// Problem locates the first sign of tampering or damage.
type Problem struct {
	File string
	Line int    // 1-based, in File
	Seq  uint64 // the chain position the line claims, if it has one
	What string
}

func (p *Problem) Error() string {
	if p.Seq > 0 {
		return fmt.Sprintf("%s:%d (record %d): %s", p.File, p.Line, p.Seq, p.What)
	}
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.What)
}

// Verify reads the given files in order (oldest first, as rotation names
// them: path.2, path.1, path) and checks that they form one unbroken,
// authenticated chain. It stops at the first problem. An error is returned
// only for a file that cannot be read.
func Verify(files []string, unwrap Unwrapper) (*Report, error) {
	v := &verifier{unwrap: unwrap, r: &Report{}}
	for _, name := range files {
		if err := v.file(name); err != nil {
			return v.r, err
		}
		if v.r.Problem != nil {
			break
		}
	}
	if v.r.Problem == nil && v.r.Records > 0 && v.r.Segments == 0 && v.r.Unchained == 0 {
		v.fail("", 0, 0, "no segment header: the records cannot be authenticated")
	}
	return v.r, nil
}

type verifier struct {
	unwrap  Unwrapper
	r       *Report
	prev    []byte // hash of the previous line; nil before the first
	seq     uint64
	chained bool
	segID   string
	segKey  []byte
	segs    map[string]bool
}

func (v *verifier) fail(file string, line int, seq uint64, format string, args ...any) {
	if v.r.Problem == nil {
		v.r.Problem = &Problem{File: file, Line: line, Seq: seq, What: fmt.Sprintf(format, args...)}
	}
}

func (v *verifier) file(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	n := 0
	for sc.Scan() {
		n++
		v.line(name, n, sc.Bytes())
		if v.r.Problem != nil {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			v.fail(name, n+1, 0, "a line longer than 1 MiB: not written by trent")
			return nil
		}
		return err
	}
	return nil
}

type verifiedLine struct {
	EventType  string `json:"eventType"`
	Chain      *chain `json:"chain"`
	Checkpoint *struct {
		Segment string `json:"segment"`
		MAC     string `json:"mac"`
	} `json:"checkpoint"`
	Segment *struct {
		ID         string `json:"id"`
		RootKey    string `json:"rootKey"`
		WrappedKey string `json:"wrappedKey"`
	} `json:"segment"`
}

func (v *verifier) line(file string, n int, line []byte) {
	v.r.Lines++
	hash := sha256.Sum256(line)
	defer func() { v.prev = hash[:] }()
	var l verifiedLine
	if err := json.Unmarshal(line, &l); err != nil {
		v.fail(file, n, 0, "not a JSON record: the line was damaged or changed")
		return
	}
	if l.Chain == nil {
		if v.chained {
			v.fail(file, n, 0, "a record without a chain position among chained records: inserted")
			return
		}
		v.r.Unchained++
		v.r.Records++
		return
	}
	c := *l.Chain
	switch {
	case !v.chained:
		// The first chained line: what came before it in the chain is not
		// in the files given, unless unchained lines of an older trent
		// precede it, which it names.
		v.r.FirstSeq = c.Seq
		if v.prev != nil && c.Prev != hex.EncodeToString(v.prev) {
			v.fail(file, n, c.Seq, "does not follow the line before it: that line, or this one, was changed, removed, inserted or reordered")
			return
		}
	case c.Seq != v.seq+1:
		v.fail(file, n, c.Seq, "follows record %d: %s", v.seq, gap(v.seq, c.Seq))
		return
	case c.Prev != hex.EncodeToString(v.prev):
		v.fail(file, n, c.Seq, "does not follow the line before it: that line, or this one, was changed, removed, inserted or reordered")
		return
	}
	v.chained = true
	v.seq = c.Seq
	v.r.LastSeq = c.Seq
	switch l.EventType {
	case segmentEvent:
		v.segment(file, n, c, &l)
	case checkpointEvent:
		v.checkpoint(file, n, c, &l)
	default:
		v.r.Records++
		v.r.Unauthenticated++
	}
}

func gap(last, seq uint64) string {
	switch {
	case seq <= last:
		return "records were repeated or reordered"
	case seq == last+2:
		return "a record before it is missing or out of order"
	default:
		return fmt.Sprintf("%d records before it are missing or out of order", seq-last-1)
	}
}

func (v *verifier) segment(file string, n int, c chain, l *verifiedLine) {
	v.r.Segments++
	v.r.Unauthenticated++
	s := l.Segment
	if s == nil || s.ID == "" {
		v.fail(file, n, c.Seq, "a segment header without a segment")
		return
	}
	if v.segs == nil {
		v.segs = map[string]bool{}
	}
	if v.segs[s.ID] {
		v.fail(file, n, c.Seq, "segment %s starts a second time: copied", s.ID)
		return
	}
	v.segs[s.ID] = true
	wrapped, err := base64.StdEncoding.DecodeString(s.WrappedKey)
	if err != nil {
		v.fail(file, n, c.Seq, "segment %s: its key is not base64", s.ID)
		return
	}
	key, err := v.unwrap(s.RootKey, wrapped, []byte(segmentKeyAAD+s.ID))
	if err != nil {
		v.fail(file, n, c.Seq, "segment %s: its key does not unwrap under root key %s (%v): forged, or written by another trent", s.ID, s.RootKey, err)
		return
	}
	v.segID, v.segKey = s.ID, key
}

func (v *verifier) checkpoint(file string, n int, c chain, l *verifiedLine) {
	v.r.Checkpoints++
	cp := l.Checkpoint
	if cp == nil || v.segKey == nil || cp.Segment != v.segID {
		v.fail(file, n, c.Seq, "a checkpoint outside its segment: records were removed or the checkpoint was copied")
		return
	}
	mac, err := hex.DecodeString(cp.MAC)
	var prev [sha256.Size]byte
	copy(prev[:], v.prev)
	if err != nil || !hmac.Equal(mac, checkpointMAC(v.segKey, v.segID, c.Seq, prev)) {
		v.fail(file, n, c.Seq, "the checkpoint does not authenticate the records before it: some record after record %d was changed, inserted, removed or reordered", v.r.Authenticated)
		return
	}
	v.r.Authenticated = c.Seq
	v.r.Unauthenticated = 0
}

// Summary is a one-paragraph account of a report for people.
func (r *Report) Summary() string {
	var b bytes.Buffer
	if r.Problem != nil {
		fmt.Fprintf(&b, "BROKEN at %s\n", r.Problem.Error())
	} else {
		fmt.Fprintf(&b, "OK: %d records, %d segments, %d checkpoints, chain positions %d to %d.\n",
			r.Records, r.Segments, r.Checkpoints, r.FirstSeq, r.LastSeq)
	}
	if r.Authenticated > 0 {
		fmt.Fprintf(&b, "Every line up to record %d is authenticated by a checkpoint.\n", r.Authenticated)
	}
	if r.Problem == nil && r.Unauthenticated > 0 {
		fmt.Fprintf(&b, "The last %d lines come after the last checkpoint: chained, not yet authenticated (trent writes a checkpoint every second while it logs, and when it stops).\n", r.Unauthenticated)
	}
	if r.FirstSeq > 1 {
		fmt.Fprintf(&b, "The files start at record %d: the records before it are not in them.\n", r.FirstSeq)
	}
	if r.Unchained > 0 {
		fmt.Fprintf(&b, "%d records were written before the log was chained; nothing vouches for them.\n", r.Unchained)
	}
	return b.String()
}
