package envelope

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"sync"
)

// DefaultFrameLength is the frame length trent writes unless told
// otherwise: 1 MiB. The format allows up to 2^32-1 bytes; the official SDKs
// default to 4 KiB. A large frame costs 32 bytes of overhead per MiB and
// lets AES-GCM run in long stretches; a reader holds a frame in memory
// until its tag verifies, so frames are kept to a size every reader can hold.
const DefaultFrameLength = 1 << 20

// batchTarget is how much plaintext a worker handles at once: many small
// frames, or one large one.
const batchTarget = 1 << 20

// maxFrames is the most frames a message may have.
const maxFrames = 1<<32 - 1

// EncryptConfig says how to write a message.
type EncryptConfig struct {
	// Keyring or Materials provides the data key; Materials wins if both are set.
	Keyring   Keyring
	Materials MaterialsManager
	// Suite is the algorithm suite: SuiteCommitKeyECDSAP384 (the default) or SuiteCommitKey.
	Suite *AlgorithmSuite
	// Context is the encryption context: non-secret pairs bound to the message.
	Context map[string]string
	// RequiredContextKeys name pairs of Context to authenticate but not
	// store in the message: a reader must supply them.
	RequiredContextKeys []string
	// FrameLength is the plaintext length of each frame; 0 means DefaultFrameLength.
	FrameLength int
	// MaxPlaintextLength, if positive, is a bound the plaintext must not
	// exceed (a data-key cache counts it against its byte limit).
	MaxPlaintextLength int64
	// MaxEncryptedDataKeys, if positive, refuses materials with more encrypted data keys.
	MaxEncryptedDataKeys int
	// Concurrency is how many frames are encrypted at once; 0 means GOMAXPROCS.
	Concurrency int
}

// materialsOf is the materials manager of a configuration: Materials if
// set, else the default one over Keyring.
func materialsOf(mm MaterialsManager, kr Keyring) (MaterialsManager, error) {
	switch {
	case mm != nil:
		return mm, nil
	case kr != nil:
		return NewDefaultMaterials(kr), nil
	}
	return nil, errors.New("envelope: no keyring and no materials manager")
}

// Encryptor writes one message to an io.Writer. Write the plaintext, then
// Close: Close writes the final frame and the footer. The memory it uses
// does not grow with the plaintext. An Encryptor is not safe for
// concurrent use.
type Encryptor struct {
	w        io.Writer
	header   *Header
	key      []byte
	frameLen int
	batchLen int
	bound    int64
	total    int64
	nextSeq  uint64
	cur      []byte
	closed   bool

	signer     hash.Hash
	signingKey *ecdsa.PrivateKey

	jobs    chan *encBatch
	ordered chan *encBatch
	ptFree  chan []byte
	outFree chan []byte
	workers sync.WaitGroup
	written chan struct{}

	mu  sync.Mutex
	err error
}

type encBatch struct {
	seq   uint32
	pt    []byte
	final bool
	out   []byte
	done  chan struct{}
}

// NewEncryptor gets encryption materials (calling KMS through the keyring),
// writes the message header to w and returns an Encryptor for the body.
func NewEncryptor(ctx context.Context, w io.Writer, cfg EncryptConfig) (*Encryptor, error) {
	cmm, err := materialsOf(cfg.Materials, cfg.Keyring)
	if err != nil {
		return nil, err
	}
	if err := checkCallerContext(cfg.Context); err != nil {
		return nil, err
	}
	frameLen := cfg.FrameLength
	if frameLen == 0 {
		frameLen = DefaultFrameLength
	}
	if frameLen < 1 || int64(frameLen) > 1<<32-1 || frameLen > 1<<30 {
		return nil, fmt.Errorf("envelope: frame length %d: must be between 1 and 2^30", frameLen)
	}
	suite := cfg.Suite
	if suite == nil {
		suite = DefaultSuite
	}
	if !suite.Committing {
		return nil, fmt.Errorf("envelope: suite %s does not commit to its key; only committing suites are written", suite)
	}
	bound := int64(-1)
	if cfg.MaxPlaintextLength > 0 {
		bound = cfg.MaxPlaintextLength
	}
	mat, err := cmm.EncryptionMaterials(ctx, &EncryptionRequest{
		Context: cfg.Context, Suite: suite, RequiredContextKeys: cfg.RequiredContextKeys, MaxPlaintextLength: bound,
	})
	if err != nil {
		return nil, err
	}
	if mat.Suite != suite {
		return nil, fmt.Errorf("envelope: materials for suite %s, not %s", mat.Suite, suite)
	}
	if cfg.MaxEncryptedDataKeys > 0 && len(mat.EncryptedDataKeys) > cfg.MaxEncryptedDataKeys {
		return nil, fmt.Errorf("envelope: %d encrypted data keys, more than the limit of %d", len(mat.EncryptedDataKeys), cfg.MaxEncryptedDataKeys)
	}
	if suite.Signed() != (mat.SigningKey != nil) {
		return nil, errors.New("envelope: materials with a signing key for an unsigned suite, or none for a signed one")
	}

	messageID := make([]byte, suite.messageIDLen())
	if _, err := rand.Read(messageID); err != nil {
		return nil, err
	}
	key, commit, err := deriveKey(suite, mat.DataKey, messageID)
	if err != nil {
		return nil, err
	}
	stored, authOnly := splitContext(mat.Context, mat.RequiredContextKeys)
	h := &Header{
		Version: suite.MessageVersion, Suite: suite, MessageID: messageID, Context: stored,
		EncryptedDataKeys: mat.EncryptedDataKeys, ContentType: ContentFramed, FrameLength: uint32(frameLen),
		SuiteData: commit,
	}
	if h.body, err = h.serializeBody(); err != nil {
		return nil, err
	}
	authOnlyBytes, err := serializeContext(authOnly)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	h.AuthTag = headerAuthTag(aead, h.body, authOnlyBytes)

	e := &Encryptor{w: w, header: h, key: key, frameLen: frameLen, bound: bound, nextSeq: 1}
	e.batchLen = frameLen * max(1, batchTarget/frameLen)
	if suite.Signed() {
		e.signer = suite.SigHash.New()
		e.signingKey = mat.SigningKey
	}
	hb := h.Bytes()
	if e.signer != nil {
		e.signer.Write(hb)
	}
	if _, err := w.Write(hb); err != nil {
		return nil, err
	}

	workers := cfg.Concurrency
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	inflight := 2*workers + 1
	e.jobs = make(chan *encBatch, inflight)
	e.ordered = make(chan *encBatch, inflight)
	e.ptFree = make(chan []byte, inflight+2)
	e.outFree = make(chan []byte, inflight+2)
	e.written = make(chan struct{})
	for range workers {
		e.workers.Add(1)
		go e.work()
	}
	go e.writeOut()
	return e, nil
}

// Header returns the header written.
func (e *Encryptor) Header() *Header { return e.header }

func (e *Encryptor) setErr(err error) {
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
}

func (e *Encryptor) getErr() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// Write encrypts p. Frames are written to the underlying writer as they
// fill, in the background; an error writing them is returned by a later
// Write or by Close.
func (e *Encryptor) Write(p []byte) (int, error) {
	if e.closed {
		return 0, errors.New("envelope: write to a closed Encryptor")
	}
	if err := e.getErr(); err != nil {
		return 0, err
	}
	if e.bound >= 0 && e.total+int64(len(p)) > e.bound {
		err := fmt.Errorf("envelope: plaintext longer than the declared bound of %d bytes", e.bound)
		e.setErr(err)
		return 0, err
	}
	n := 0
	for len(p) > 0 {
		if e.cur == nil {
			e.cur = e.getPT()
		}
		if len(e.cur) == e.batchLen {
			// A full batch goes out only once more plaintext shows it is not the last.
			if err := e.dispatch(false); err != nil {
				return n, err
			}
			e.cur = e.getPT()
		}
		c := copy(e.cur[len(e.cur):e.batchLen], p)
		e.cur = e.cur[:len(e.cur)+c]
		p = p[c:]
		n += c
		e.total += int64(c)
	}
	return n, nil
}

// ReadFrom encrypts everything r has, reading straight into the frame
// buffers. If r fails, the Encryptor fails too: Close then returns the error
// and does not finish the message.
func (e *Encryptor) ReadFrom(r io.Reader) (int64, error) {
	if e.closed {
		return 0, errors.New("envelope: write to a closed Encryptor")
	}
	var n int64
	for {
		if err := e.getErr(); err != nil {
			return n, err
		}
		if e.cur == nil {
			e.cur = e.getPT()
		}
		if len(e.cur) == e.batchLen {
			// Is there more? Read one byte ahead before sending the batch as non-final.
			var one [1]byte
			m, err := io.ReadFull(r, one[:])
			if m == 0 {
				if err == io.EOF {
					return n, nil
				}
				e.setErr(err)
				return n, err
			}
			if err := e.dispatch(false); err != nil {
				return n, err
			}
			e.cur = append(e.getPT(), one[0])
			n++
			e.total++
		}
		m, err := r.Read(e.cur[len(e.cur):e.batchLen])
		e.cur = e.cur[:len(e.cur)+m]
		n += int64(m)
		e.total += int64(m)
		if e.bound >= 0 && e.total > e.bound {
			err := fmt.Errorf("envelope: plaintext longer than the declared bound of %d bytes", e.bound)
			e.setErr(err)
			return n, err
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			// The plaintext is incomplete: Close must not end the message as if it were whole.
			e.setErr(err)
			return n, err
		}
	}
}

func (e *Encryptor) getPT() []byte {
	select {
	case b := <-e.ptFree:
		return b[:0]
	default:
		return make([]byte, 0, e.batchLen)
	}
}

func (e *Encryptor) getOut(n int) []byte {
	select {
	case b := <-e.outFree:
		if cap(b) >= n {
			return b[:0]
		}
	default:
	}
	return make([]byte, 0, n)
}

// dispatch sends the current batch to the workers.
func (e *Encryptor) dispatch(final bool) error {
	frames := uint64((len(e.cur) + e.frameLen - 1) / e.frameLen)
	if frames == 0 {
		frames = 1
	}
	if e.nextSeq+frames-1 > maxFrames {
		err := errors.New("envelope: message would need more than 2^32-1 frames; use a larger frame length")
		e.setErr(err)
		return err
	}
	b := &encBatch{seq: uint32(e.nextSeq), pt: e.cur, final: final, done: make(chan struct{})}
	e.nextSeq += frames
	e.cur = nil
	e.ordered <- b
	e.jobs <- b
	return nil
}

func (e *Encryptor) work() {
	defer e.workers.Done()
	aead, err := newGCM(e.key)
	if err != nil {
		e.setErr(err)
	}
	var aad []byte
	for b := range e.jobs {
		if aead != nil {
			aad = e.seal(aead, b, aad)
		}
		select {
		case e.ptFree <- b.pt:
		default:
		}
		b.pt = nil
		close(b.done)
	}
}

// seal encrypts the frames of one batch into b.out.
func (e *Encryptor) seal(aead cipher.AEAD, b *encBatch, aad []byte) []byte {
	fl := e.frameLen
	nFrames := max(1, (len(b.pt)+fl-1)/fl)
	out := e.getOut(nFrames*(fl+4+ivLen+tagLen) + 8)
	var iv [ivLen]byte
	seq := b.seq
	pt := b.pt
	for i := 0; i < nFrames; i++ {
		last := i == nFrames-1
		chunk := pt[:min(fl, len(pt))]
		pt = pt[len(chunk):]
		if last && b.final {
			out = binary.BigEndian.AppendUint32(out, 0xFFFFFFFF)
			out = binary.BigEndian.AppendUint32(out, seq)
			out = append(out, frameIV(&iv, seq)...)
			out = binary.BigEndian.AppendUint32(out, uint32(len(chunk)))
			aad = bodyAAD(aad, e.header.MessageID, aadFinalFrame, seq, uint64(len(chunk)))
		} else {
			out = binary.BigEndian.AppendUint32(out, seq)
			out = append(out, frameIV(&iv, seq)...)
			aad = bodyAAD(aad, e.header.MessageID, aadFrame, seq, uint64(len(chunk)))
		}
		out = aead.Seal(out, iv[:], chunk, aad)
		seq++
	}
	b.out = out
	return aad
}

// writeOut writes sealed batches in order, feeding the signature hash.
func (e *Encryptor) writeOut() {
	defer close(e.written)
	for b := range e.ordered {
		<-b.done
		if e.getErr() == nil {
			if e.signer != nil {
				e.signer.Write(b.out)
			}
			if _, err := e.w.Write(b.out); err != nil {
				e.setErr(err)
			}
		}
		select {
		case e.outFree <- b.out:
		default:
		}
		b.out = nil
	}
}

// Close writes the final frame and, for a signed suite, the footer. It does
// not close the underlying writer. The message is complete only if Close
// returns nil.
func (e *Encryptor) Close() error {
	if e.closed {
		return e.getErr()
	}
	e.closed = true
	var err error
	if e.getErr() == nil {
		if e.cur == nil {
			e.cur = e.getPT()
		}
		err = e.dispatch(true)
	}
	close(e.jobs)
	close(e.ordered)
	e.workers.Wait()
	<-e.written
	if err != nil {
		return err
	}
	if err := e.getErr(); err != nil {
		return err
	}
	if e.signer != nil {
		sig, err := ecdsa.SignASN1(rand.Reader, e.signingKey, e.signer.Sum(nil))
		if err != nil {
			return err
		}
		var footer bytes.Buffer
		footer.Write(appendShort(nil, sig))
		if _, err := e.w.Write(footer.Bytes()); err != nil {
			e.setErr(err)
			return err
		}
	}
	return nil
}

// Encrypt encrypts plaintext into one message in memory.
func Encrypt(ctx context.Context, plaintext []byte, cfg EncryptConfig) ([]byte, *Header, error) {
	if cfg.MaxPlaintextLength <= 0 {
		cfg.MaxPlaintextLength = int64(len(plaintext))
		if cfg.MaxPlaintextLength == 0 {
			cfg.MaxPlaintextLength = -1
		}
	}
	var out bytes.Buffer
	e, err := NewEncryptor(ctx, &out, cfg)
	if err != nil {
		return nil, nil, err
	}
	if _, err := e.Write(plaintext); err != nil {
		e.Close()
		return nil, nil, err
	}
	if err := e.Close(); err != nil {
		return nil, nil, err
	}
	return out.Bytes(), e.header, nil
}
