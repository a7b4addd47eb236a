package envelope

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"slices"
	"sync"
)

// DefaultMaxFrameLength bounds the frame length (and the length of a legacy
// non-framed body) a Decryptor accepts unless told otherwise. A reader holds
// a whole frame in memory until its tag verifies.
const DefaultMaxFrameLength = 64 << 20

// DecryptConfig says how to read a message.
type DecryptConfig struct {
	// Keyring or Materials decrypts the data key; Materials wins if both are set.
	Keyring   Keyring
	Materials MaterialsManager
	// Context is the encryption context the caller expects. Each pair must
	// be in the message with the same value, or have been authenticated but
	// not stored (a required key at encryption); otherwise decryption fails.
	Context map[string]string
	// CommitmentPolicy: by default only committing suites are read.
	CommitmentPolicy CommitmentPolicy
	// MaxEncryptedDataKeys, if positive, refuses a message with more
	// encrypted data keys before any is decrypted.
	MaxEncryptedDataKeys int
	// MaxHeaderLength bounds the header; 0 means DefaultMaxHeaderLength.
	MaxHeaderLength int
	// MaxFrameLength bounds the frame length; 0 means DefaultMaxFrameLength.
	MaxFrameLength int
	// RefuseSigned fails right after the header if the message is signed:
	// for a caller that will not handle plaintext released before the
	// signature is verified.
	RefuseSigned bool
	// Concurrency is how many frames are decrypted at once; 0 means GOMAXPROCS.
	Concurrency int
}

// Decryptor reads the plaintext of one message from an io.Reader.
//
// It never returns plaintext that has not been authenticated: each frame is
// returned only after its AES-GCM tag verifies. With a signed suite, the
// plaintext of the regular frames is returned as they verify, before the
// signature at the end of the message is checked; the final frame is held
// back until the signature verifies and the message is known to end there.
// Read returns io.EOF only once the whole message has been verified; any
// other error means the plaintext already returned must be discarded.
type Decryptor struct {
	header   *Header
	context  map[string]string
	ordered  chan *decBatch
	cancel   context.CancelFunc
	cur      *decBatch
	curFrame int
	curOff   int
	err      error
	free     chan []byte
	finished chan struct{}
}

type frameRef struct{ start, end int } // plaintext of one frame in a batch buffer

type decBatch struct {
	buf    []byte
	frames []decFrame
	final  bool
	err    error
	done   chan struct{}
	// For the batch with the final frame: closed once the footer and the
	// end of the message have been checked.
	tailDone chan struct{}
	tailErr  error
	pt       []frameRef
}

type decFrame struct {
	seq     uint32
	final   bool
	ctStart int // ciphertext and tag in buf
	ctEnd   int
	length  uint64 // plaintext length
	single  bool   // a non-framed body
}

// NewDecryptor reads and authenticates the message header from r, getting
// the data key through the keyring, and returns a Decryptor for the body.
// Close it when done, whether or not it was read to the end.
func NewDecryptor(ctx context.Context, r io.Reader, cfg DecryptConfig) (*Decryptor, error) {
	cmm, err := materialsOf(cfg.Materials, cfg.Keyring)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(r, 256<<10)
	h, err := ParseHeader(br, HeaderLimits{MaxEncryptedDataKeys: cfg.MaxEncryptedDataKeys, MaxHeaderLength: cfg.MaxHeaderLength})
	if err != nil {
		return nil, err
	}
	if !cfg.CommitmentPolicy.allowsDecrypt(h.Suite) {
		return nil, fmt.Errorf("%w: suite %s does not commit to its key and the commitment policy requires it", ErrPolicy, h.Suite)
	}
	if cfg.RefuseSigned && h.Suite.Signed() {
		return nil, fmt.Errorf("%w: the message is signed (suite %s) and signed messages are refused", ErrPolicy, h.Suite)
	}
	maxFrame := cfg.MaxFrameLength
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrameLength
	}
	if int64(h.FrameLength) > int64(maxFrame) {
		return nil, fmt.Errorf("%w: frame length %d is more than the limit of %d", ErrPolicy, h.FrameLength, maxFrame)
	}
	mat, err := cmm.DecryptionMaterials(ctx, &DecryptionRequest{
		Suite: h.Suite, EncryptedDataKeys: h.EncryptedDataKeys, Context: h.Context,
		ReproducedContext: cfg.Context, CommitmentPolicy: cfg.CommitmentPolicy,
	})
	if err != nil {
		return nil, err
	}
	if mat.Suite != h.Suite {
		return nil, errors.New("envelope: decryption materials for another suite")
	}
	for k, v := range cfg.Context {
		if mv, ok := mat.Context[k]; !ok || mv != v {
			return nil, fmt.Errorf("%w: encryption context pair %q is not in the message", ErrPolicy, k)
		}
	}
	key, commit, err := deriveKey(h.Suite, mat.DataKey, h.MessageID)
	if err != nil {
		return nil, err
	}
	if h.Suite.Committing && !commitmentMatches(commit, h.SuiteData) {
		return nil, fmt.Errorf("%w: the data key does not match the key commitment", ErrAuthentication)
	}
	authOnly := map[string]string{}
	for _, k := range mat.RequiredContextKeys {
		if _, stored := h.Context[k]; stored {
			continue
		}
		v, ok := mat.Context[k]
		if !ok {
			return nil, fmt.Errorf("envelope: required key %q not in the decryption materials", k)
		}
		authOnly[k] = v
	}
	authOnlyBytes, err := serializeContext(authOnly)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	var iv [ivLen]byte
	if h.Version == 1 {
		copy(iv[:], h.HeaderIV)
	}
	aad := append(slices.Clip(h.body), authOnlyBytes...)
	if _, err := aead.Open(nil, iv[:], h.AuthTag, aad); err != nil {
		return nil, fmt.Errorf("%w: header tag does not verify (wrong data key, altered header or a missing encryption context pair)", ErrAuthentication)
	}

	var signer hash.Hash
	if h.Suite.Signed() {
		if mat.VerificationKey == nil {
			return nil, errors.New("envelope: signed suite without a verification key")
		}
		signer = h.Suite.SigHash.New()
		signer.Write(h.Bytes())
	}

	workers := cfg.Concurrency
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	frameBytes := int(h.FrameLength) + 4 + ivLen + tagLen
	if h.ContentType == ContentNonFramed {
		frameBytes = maxFrame + ivLen + 8 + tagLen
	}
	batchCap := max(frameBytes+8, min(batchTarget+batchTarget/8, frameBytes*max(1, batchTarget/frameBytes)))
	inflight := max(2, min(2*workers+1, (32<<20)/batchCap))

	pctx, cancel := context.WithCancel(context.Background())
	d := &Decryptor{
		header: h, context: mat.Context, cancel: cancel,
		ordered:  make(chan *decBatch, inflight),
		free:     make(chan []byte, inflight+2),
		finished: make(chan struct{}),
	}
	jobs := make(chan *decBatch, inflight)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := newGCM(key)
			var aadBuf []byte
			for b := range jobs {
				if err != nil {
					b.err = err
				} else {
					aadBuf = openBatch(a, h.MessageID, b, aadBuf)
				}
				close(b.done)
			}
		}()
	}
	p := &parser{
		br: br, h: h, d: d, jobs: jobs, ctx: pctx, signer: signer, pub: mat.VerificationKey,
		batchCap: batchCap, maxFrame: maxFrame,
	}
	go func() {
		p.run()
		close(jobs)
		wg.Wait()
		close(d.finished)
	}()
	return d, nil
}

// openBatch decrypts the frames of a batch in place.
func openBatch(a interface {
	Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
}, messageID []byte, b *decBatch, aad []byte) []byte {
	var iv [ivLen]byte
	b.pt = b.pt[:0]
	for _, f := range b.frames {
		content := aadFrame
		switch {
		case f.single:
			content = aadSingleBlock
		case f.final:
			content = aadFinalFrame
		}
		aad = bodyAAD(aad, messageID, content, f.seq, f.length)
		ct := b.buf[f.ctStart:f.ctEnd]
		pt, err := a.Open(ct[:0], frameIV(&iv, f.seq), ct, aad)
		if err != nil {
			b.err = fmt.Errorf("%w: frame %d does not verify", ErrAuthentication, f.seq)
			b.pt = b.pt[:0]
			return aad
		}
		b.pt = append(b.pt, frameRef{f.ctStart, f.ctStart + len(pt)})
	}
	return aad
}

// Header returns the authenticated header.
func (d *Decryptor) Header() *Header { return d.header }

// Context returns the message's encryption context: the pairs stored in it,
// those only authenticated (supplied by the caller), and for a signed suite
// the public key. Like the plaintext, it is signed data only once Read has
// returned io.EOF.
func (d *Decryptor) Context() map[string]string { return copyContext(d.context) }

// Read returns plaintext that has been authenticated; see Decryptor.
func (d *Decryptor) Read(p []byte) (int, error) {
	for {
		if d.cur != nil {
			for d.curFrame < len(d.cur.pt) {
				f := d.cur.pt[d.curFrame]
				if d.curOff < f.end-f.start {
					n := copy(p, d.cur.buf[f.start+d.curOff:f.end])
					d.curOff += n
					return n, nil
				}
				d.curFrame++
				d.curOff = 0
			}
			select {
			case d.free <- d.cur.buf:
			default:
			}
			d.cur = nil
		}
		if d.err != nil {
			return 0, d.err
		}
		b, ok := <-d.ordered
		if !ok {
			d.err = io.EOF
			continue
		}
		<-b.done
		if b.err == nil && b.tailDone != nil {
			<-b.tailDone
			b.err = b.tailErr
		}
		if b.err != nil {
			d.err = b.err
			d.cancel()
			continue
		}
		d.cur, d.curFrame, d.curOff = b, 0, 0
		if b.final {
			// Nothing follows; the next read ends the message.
			d.err = io.EOF
		}
	}
}

// WriteTo writes all the plaintext to w; it returns nil only if the whole
// message verified.
func (d *Decryptor) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for {
		if d.cur == nil && d.err == nil {
			var zero [0]byte
			if _, err := d.Read(zero[:]); err != nil && err != io.EOF {
				return n, err
			}
		}
		if d.cur != nil {
			for ; d.curFrame < len(d.cur.pt); d.curFrame++ {
				f := d.cur.pt[d.curFrame]
				m, err := w.Write(d.cur.buf[f.start+d.curOff : f.end])
				n += int64(m)
				if err != nil {
					d.curOff += m
					return n, err
				}
				d.curOff = 0
			}
			select {
			case d.free <- d.cur.buf:
			default:
			}
			d.cur = nil
			continue
		}
		if d.err == io.EOF {
			return n, nil
		}
		return n, d.err
	}
}

// Close stops the background work. It does not close the source reader; a
// read of the source already under way finishes first.
func (d *Decryptor) Close() error {
	d.cancel()
	go func() {
		for range d.ordered {
		}
	}()
	return nil
}

// parser reads frames from the source in order and hands them to the workers.
type parser struct {
	br       *bufio.Reader
	h        *Header
	d        *Decryptor
	jobs     chan *decBatch
	ctx      context.Context
	signer   hash.Hash
	pub      *ecdsa.PublicKey
	batchCap int
	maxFrame int
	cur      *decBatch
}

func (p *parser) newBatch() *decBatch {
	var buf []byte
	select {
	case buf = <-p.d.free:
		buf = buf[:0]
	default:
		buf = make([]byte, 0, p.batchCap)
	}
	return &decBatch{buf: buf, done: make(chan struct{})}
}

// send passes a batch to the reader and the workers.
func (p *parser) send(b *decBatch) bool {
	select {
	case p.d.ordered <- b:
	case <-p.ctx.Done():
		return false
	}
	p.jobs <- b
	return true
}

func (p *parser) fail(err error) {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = errMalformed("message ends inside the body or footer")
	}
	b := &decBatch{err: err, done: make(chan struct{})}
	close(b.done)
	select {
	case p.d.ordered <- b:
	case <-p.ctx.Done():
	}
}

// read appends n bytes of the source to b.buf and the signature hash.
func (p *parser) read(b *decBatch, n int) ([]byte, error) {
	start := len(b.buf)
	if cap(b.buf)-start < n {
		nb := make([]byte, start, start+n)
		copy(nb, b.buf)
		b.buf = nb
	}
	b.buf = b.buf[:start+n]
	if _, err := io.ReadFull(p.br, b.buf[start:]); err != nil {
		return nil, err
	}
	if p.signer != nil {
		p.signer.Write(b.buf[start:])
	}
	return b.buf[start:], nil
}

func (p *parser) run() {
	defer close(p.d.ordered)
	if p.h.ContentType == ContentNonFramed {
		p.runNonFramed()
		return
	}
	fl := int(p.h.FrameLength)
	regular := 4 + ivLen + fl + tagLen
	var iv [ivLen]byte
	b := p.newBatch()
	for seq := uint64(1); ; seq++ {
		if seq > maxFrames {
			p.fail(errMalformed("more than 2^32-1 frames"))
			return
		}
		if len(b.buf) > 0 && len(b.buf)+regular > p.batchCap {
			if !p.send(b) {
				return
			}
			b = p.newBatch()
		}
		start := len(b.buf)
		first, err := p.read(b, 4)
		if err != nil {
			p.fail(err)
			return
		}
		if binary.BigEndian.Uint32(first) != 0xFFFFFFFF {
			if binary.BigEndian.Uint32(first) != uint32(seq) {
				p.fail(errMalformed(fmt.Sprintf("frame %d where frame %d was expected", binary.BigEndian.Uint32(first), seq)))
				return
			}
			fiv, err := p.read(b, ivLen)
			if err != nil {
				p.fail(err)
				return
			}
			if string(fiv) != string(frameIV(&iv, uint32(seq))) {
				p.fail(errMalformed(fmt.Sprintf("frame %d has an IV that is not its sequence number", seq)))
				return
			}
			if _, err := p.read(b, fl+tagLen); err != nil {
				p.fail(err)
				return
			}
			b.frames = append(b.frames, decFrame{seq: uint32(seq), ctStart: start + 4 + ivLen, ctEnd: len(b.buf), length: uint64(fl)})
			continue
		}
		// The final frame goes in a batch of its own, so that the regular
		// frames before it are not held back with it.
		if len(b.frames) > 0 {
			rest := append([]byte(nil), b.buf[start:]...)
			b.buf = b.buf[:start]
			if !p.send(b) {
				return
			}
			b = p.newBatch()
			b.buf = append(b.buf, rest...)
			start = 0
		}
		hdr, err := p.read(b, 4+ivLen+4)
		if err != nil {
			p.fail(err)
			return
		}
		if binary.BigEndian.Uint32(hdr) != uint32(seq) {
			p.fail(errMalformed(fmt.Sprintf("final frame %d where frame %d was expected", binary.BigEndian.Uint32(hdr), seq)))
			return
		}
		if string(hdr[4:4+ivLen]) != string(frameIV(&iv, uint32(seq))) {
			p.fail(errMalformed(fmt.Sprintf("frame %d has an IV that is not its sequence number", seq)))
			return
		}
		n := binary.BigEndian.Uint32(hdr[4+ivLen:])
		if n > p.h.FrameLength {
			p.fail(errMalformed(fmt.Sprintf("final frame of %d bytes, longer than the frame length %d", n, p.h.FrameLength)))
			return
		}
		if _, err := p.read(b, int(n)+tagLen); err != nil {
			p.fail(err)
			return
		}
		b.frames = append(b.frames, decFrame{seq: uint32(seq), final: true, ctStart: start + 4 + 4 + ivLen + 4, ctEnd: len(b.buf), length: uint64(n)})
		p.finish(b)
		return
	}
}

func (p *parser) runNonFramed() {
	b := p.newBatch()
	hdr, err := p.read(b, ivLen+8)
	if err != nil {
		p.fail(err)
		return
	}
	var iv [ivLen]byte
	if string(hdr[:ivLen]) != string(frameIV(&iv, 1)) {
		p.fail(errMalformed("non-framed body with an IV other than 1"))
		return
	}
	n := binary.BigEndian.Uint64(hdr[ivLen:])
	if n > 1<<36-32 || n > uint64(p.maxFrame) {
		p.fail(fmt.Errorf("%w: non-framed body of %d bytes, more than the limit of %d", ErrPolicy, n, p.maxFrame))
		return
	}
	if _, err := p.read(b, int(n)+tagLen); err != nil {
		p.fail(err)
		return
	}
	b.frames = append(b.frames, decFrame{seq: 1, final: true, single: true, ctStart: ivLen + 8, ctEnd: len(b.buf), length: n})
	p.finish(b)
}

// finish sends the last batch, then checks the footer and the end of input.
func (p *parser) finish(b *decBatch) {
	b.final = true
	b.tailDone = make(chan struct{})
	if !p.send(b) {
		return
	}
	b.tailErr = p.checkTail()
	close(b.tailDone)
}

func (p *parser) checkTail() error {
	if p.signer != nil {
		digest := p.signer.Sum(nil)
		p.signer = nil
		var l [2]byte
		if _, err := io.ReadFull(p.br, l[:]); err != nil {
			return errMalformed("message ends before its signature")
		}
		sig := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(p.br, sig); err != nil {
			return errMalformed("message ends inside its signature")
		}
		if !ecdsa.VerifyASN1(p.pub, digest, sig) {
			return fmt.Errorf("%w: the signature does not verify", ErrAuthentication)
		}
	}
	var one [1]byte
	if n, _ := io.ReadFull(p.br, one[:]); n != 0 {
		return errMalformed("bytes after the end of the message")
	}
	return nil
}

// Decrypt decrypts a whole message in memory.
func Decrypt(ctx context.Context, message []byte, cfg DecryptConfig) ([]byte, *Header, error) {
	d, err := NewDecryptor(ctx, bytesReader(message), cfg)
	if err != nil {
		return nil, nil, err
	}
	defer d.Close()
	out, err := io.ReadAll(d)
	if err != nil {
		return nil, nil, err
	}
	return out, d.header, nil
}

func bytesReader(b []byte) io.Reader { return &sliceReader{b: b} }

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
