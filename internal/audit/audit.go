// Package audit writes one record per API call, in the shape of an AWS
// CloudTrail event, as JSON lines.
//
// Records name who called, what, on which key, and how it ended. They never
// contain plaintext, key material, ciphertext blobs or credentials: callers
// pass request parameters through kmsapi's Redacted methods first.
package audit

import (
	"io"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// Event is one CloudTrail-style record. Field names and nesting follow
// CloudTrail's event format so existing tooling can read the log.
type Event struct {
	EventVersion       string         `json:"eventVersion"`
	UserIdentity       UserIdentity   `json:"userIdentity"`
	EventTime          time.Time      `json:"eventTime"`
	EventSource        string         `json:"eventSource"`
	EventName          string         `json:"eventName"`
	AWSRegion          string         `json:"awsRegion"`
	SourceIPAddress    string         `json:"sourceIPAddress"`
	UserAgent          string         `json:"userAgent,omitempty"`
	ErrorCode          string         `json:"errorCode,omitempty"`
	ErrorMessage       string         `json:"errorMessage,omitempty"`
	RequestParameters  jsontext.Value `json:"requestParameters"` // from Parameters; nil is null
	ResponseElements   jsontext.Value `json:"responseElements"`  // nil is null
	RequestID          string         `json:"requestID"`
	EventID            string         `json:"eventID"`
	ReadOnly           bool           `json:"readOnly"`
	Resources          []Resource     `json:"resources,omitempty"`
	EventType          string         `json:"eventType"`
	ManagementEvent    bool           `json:"managementEvent"`
	RecipientAccountID string         `json:"recipientAccountId"`
	EventCategory      string         `json:"eventCategory"`
}

// UserIdentity says who made the call. Unauthenticated calls have an
// empty Type and no ARN.
type UserIdentity struct {
	Type        string `json:"type,omitempty"`
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn,omitempty"`
	AccountID   string `json:"accountId,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
}

// Resource is a KMS key the call used.
type Resource struct {
	AccountID string `json:"accountId"`
	Type      string `json:"type"`
	ARN       string `json:"ARN"`
}

// Log receives audit records. Implementations must be safe for concurrent use.
type Log interface {
	Record(e *Event) error
}

// Writer is a Log that writes each event as one JSON line to an io.Writer.
// Each record is one Write call, so a crash never leaves half a line from
// a buffer behind.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewWriter returns a Log writing JSON lines to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Record writes e as a single line.
func (l *Writer) Record(e *Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(e.AppendJSON(l.buf[:0]), '\n')
	_, err := l.w.Write(l.buf)
	return err
}

// Discard is a Log that drops every record. Only tests and benchmarks that
// measure something else use it.
var Discard Log = discard{}

type discard struct{}

func (discard) Record(*Event) error { return nil }
