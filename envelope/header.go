package envelope

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Content types of the message body.
const (
	ContentNonFramed byte = 0x01
	ContentFramed    byte = 0x02
)

const typeCustomerAED = 0x80 // the one message type of version 1

// EncryptedDataKey is one copy of a message's data key, encrypted by a key
// provider (for AWS KMS: provider "aws-kms", info the key ARN).
type EncryptedDataKey struct {
	ProviderID   string
	ProviderInfo []byte
	Ciphertext   []byte
}

// Header is a message header. A Header from NewDecryptor has been
// authenticated; one from ParseHeader has not.
type Header struct {
	Version   byte // 1 or 2
	Suite     *AlgorithmSuite
	MessageID []byte
	// Context is the encryption context stored in the message. Pairs under
	// required keys were authenticated but not stored, and are not here.
	Context           map[string]string
	EncryptedDataKeys []EncryptedDataKey
	ContentType       byte
	FrameLength       uint32
	SuiteData         []byte // version 2: the commitment key
	HeaderIV          []byte // version 1: the header authentication IV
	AuthTag           []byte

	body []byte // the serialized header body, as read or written
}

// Errors the decoder returns. Every failure to decrypt wraps one of them or
// an error from the key provider.
var (
	// ErrMalformed: the input is not a well-formed message.
	ErrMalformed = errors.New("envelope: malformed message")
	// ErrAuthentication: a tag, the commitment or the signature did not verify.
	ErrAuthentication = errors.New("envelope: message authentication failed")
	// ErrPolicy: the message is well formed but refused by the configuration
	// (suite, commitment policy, limits, encryption context).
	ErrPolicy = errors.New("envelope: message refused")
)

func errMalformed(what string) error { return fmt.Errorf("%w: %s", ErrMalformed, what) }

// serializeHeaderBody writes the header body for the given fields.
func (h *Header) serializeBody() ([]byte, error) {
	ec, err := serializeContext(h.Context)
	if err != nil {
		return nil, err
	}
	if len(ec) > 0xFFFF {
		return nil, errors.New("envelope: serialized encryption context longer than 65535 bytes")
	}
	if len(h.EncryptedDataKeys) == 0 || len(h.EncryptedDataKeys) > 0xFFFF {
		return nil, fmt.Errorf("envelope: %d encrypted data keys: need 1 to 65535", len(h.EncryptedDataKeys))
	}
	var b bytes.Buffer
	b.WriteByte(h.Version)
	if h.Version == 1 {
		b.WriteByte(typeCustomerAED)
	}
	b.Write(binary.BigEndian.AppendUint16(nil, h.Suite.ID))
	b.Write(h.MessageID)
	b.Write(binary.BigEndian.AppendUint16(nil, uint16(len(ec))))
	b.Write(ec)
	b.Write(binary.BigEndian.AppendUint16(nil, uint16(len(h.EncryptedDataKeys))))
	for _, k := range h.EncryptedDataKeys {
		if len(k.ProviderID) > 0xFFFF || len(k.ProviderInfo) > 0xFFFF || len(k.Ciphertext) > 0xFFFF {
			return nil, errors.New("envelope: encrypted data key field longer than 65535 bytes")
		}
		b.Write(appendShort(nil, []byte(k.ProviderID)))
		b.Write(appendShort(nil, k.ProviderInfo))
		b.Write(appendShort(nil, k.Ciphertext))
	}
	b.WriteByte(h.ContentType)
	if h.Version == 1 {
		b.Write([]byte{0, 0, 0, 0, ivLen})
	}
	b.Write(binary.BigEndian.AppendUint32(nil, h.FrameLength))
	if h.Version == 2 {
		b.Write(h.SuiteData)
	}
	return b.Bytes(), nil
}

// Bytes returns the serialized header: body and authentication.
func (h *Header) Bytes() []byte {
	out := append([]byte(nil), h.body...)
	out = append(out, h.HeaderIV...)
	return append(out, h.AuthTag...)
}

// HeaderLimits bound what ParseHeader accepts.
type HeaderLimits struct {
	// MaxEncryptedDataKeys refuses a header with more encrypted data keys, as
	// soon as their count is read. 0 means no limit but the format's.
	MaxEncryptedDataKeys int
	// MaxHeaderLength refuses a longer header. 0 means DefaultMaxHeaderLength.
	MaxHeaderLength int
}

// DefaultMaxHeaderLength bounds a header's size (and so the memory a hostile
// header can take) unless HeaderLimits says otherwise.
const DefaultMaxHeaderLength = 4 << 20

// headerReader reads fields from r, keeping a copy of every byte read.
type headerReader struct {
	r   io.Reader
	raw []byte
	max int
	err error
}

func (hr *headerReader) take(n int) []byte {
	if hr.err != nil {
		return nil
	}
	if len(hr.raw)+n > hr.max {
		hr.err = fmt.Errorf("%w: header longer than %d bytes", ErrPolicy, hr.max)
		return nil
	}
	start := len(hr.raw)
	hr.raw = append(hr.raw, make([]byte, n)...)
	if _, err := io.ReadFull(hr.r, hr.raw[start:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = errMalformed("message ends inside the header")
		}
		hr.err = err
		return nil
	}
	return hr.raw[start : start+n : start+n]
}

func (hr *headerReader) u8() byte {
	b := hr.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (hr *headerReader) u16() int {
	b := hr.take(2)
	if b == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(b))
}

func (hr *headerReader) u32() uint32 {
	b := hr.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (hr *headerReader) short() []byte { return hr.take(hr.u16()) }

func (hr *headerReader) fail(err error) {
	if hr.err == nil {
		hr.err = err
	}
}

// ParseHeader reads a message header from r and checks its structure. It
// does not authenticate it: that needs the data key (see NewDecryptor).
// It reads exactly the header's bytes from r.
func ParseHeader(r io.Reader, limits HeaderLimits) (*Header, error) {
	max := limits.MaxHeaderLength
	if max <= 0 {
		max = DefaultMaxHeaderLength
	}
	hr := &headerReader{r: r, max: max}
	h := &Header{}
	h.Version = hr.u8()
	if hr.err != nil {
		return nil, hr.err
	}
	switch h.Version {
	case 1:
		if t := hr.u8(); hr.err == nil && t != typeCustomerAED {
			return nil, errMalformed(fmt.Sprintf("message type 0x%02X", t))
		}
	case 2:
	case 'A':
		return nil, errMalformed("version 0x41: this looks like a Base64-encoded message; decode it first")
	default:
		return nil, errMalformed(fmt.Sprintf("unknown message format version 0x%02X", h.Version))
	}
	id := hr.u16()
	if hr.err != nil {
		return nil, hr.err
	}
	suite, ok := SuiteByID(uint16(id))
	if !ok {
		return nil, errMalformed(fmt.Sprintf("unknown algorithm suite 0x%04X", id))
	}
	if suite.MessageVersion != h.Version {
		return nil, errMalformed(fmt.Sprintf("suite 0x%04X in a version %d message", id, h.Version))
	}
	h.Suite = suite
	h.MessageID = hr.take(suite.messageIDLen())
	ec := hr.short()
	if hr.err != nil {
		return nil, hr.err
	}
	var err error
	if h.Context, err = parseContext(ec); err != nil {
		return nil, err
	}
	n := hr.u16()
	if hr.err != nil {
		return nil, hr.err
	}
	if n == 0 {
		return nil, errMalformed("no encrypted data keys")
	}
	if limits.MaxEncryptedDataKeys > 0 && n > limits.MaxEncryptedDataKeys {
		return nil, fmt.Errorf("%w: %d encrypted data keys, more than the limit of %d", ErrPolicy, n, limits.MaxEncryptedDataKeys)
	}
	h.EncryptedDataKeys = make([]EncryptedDataKey, 0, min(n, 64))
	for i := 0; i < n && hr.err == nil; i++ {
		var k EncryptedDataKey
		k.ProviderID = string(hr.short())
		k.ProviderInfo = hr.short()
		k.Ciphertext = hr.short()
		h.EncryptedDataKeys = append(h.EncryptedDataKeys, k)
	}
	h.ContentType = hr.u8()
	if hr.err == nil && h.ContentType != ContentFramed && h.ContentType != ContentNonFramed {
		return nil, errMalformed(fmt.Sprintf("content type 0x%02X", h.ContentType))
	}
	if h.Version == 1 {
		if res := hr.take(4); hr.err == nil && !bytes.Equal(res, []byte{0, 0, 0, 0}) {
			return nil, errMalformed("reserved bytes not zero")
		}
		if l := hr.u8(); hr.err == nil && l != ivLen {
			return nil, errMalformed(fmt.Sprintf("IV length %d", l))
		}
	}
	h.FrameLength = hr.u32()
	if hr.err == nil {
		if h.ContentType == ContentFramed && h.FrameLength == 0 {
			return nil, errMalformed("framed content with frame length 0")
		}
		if h.ContentType == ContentNonFramed && h.FrameLength != 0 {
			return nil, errMalformed("non-framed content with a frame length")
		}
	}
	if h.Version == 2 {
		h.SuiteData = hr.take(suiteDataLen)
	}
	bodyLen := len(hr.raw)
	if h.Version == 1 {
		h.HeaderIV = hr.take(ivLen)
	}
	h.AuthTag = hr.take(tagLen)
	if hr.err != nil {
		return nil, hr.err
	}
	h.body = hr.raw[:bodyLen:bodyLen]
	return h, nil
}
