// Package audit writes one record per API call, in the shape of an AWS
// CloudTrail event, as JSON lines, and makes the log tamper-evident.
//
// Records name who called, what, on which key, and how it ended. They never
// contain plaintext, key material, ciphertext blobs, grant tokens or
// credentials: callers pass request parameters through kmsapi's Redacted
// methods first, responseElements hold only the few members of an answer
// that CloudTrail records, Parameters drops every blob wherever it is, and
// every field a caller controls is clipped to a documented size (Clip).
//
// File is the log trent serves with: records are written before the answer
// they describe leaves (Record returns only once the record is written), so
// a log that cannot be written stops the service rather than letting calls
// go unrecorded. See chain.go for the tamper evidence and Verify for its
// check.
package audit

import (
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// Event is one CloudTrail-style record. Field names and nesting follow
// CloudTrail's event format so existing tooling can read the log.
type Event struct {
	EventVersion      string         `json:"eventVersion"`
	UserIdentity      UserIdentity   `json:"userIdentity"`
	EventTime         time.Time      `json:"eventTime"`
	EventSource       string         `json:"eventSource"`
	EventName         string         `json:"eventName"`
	AWSRegion         string         `json:"awsRegion"`
	SourceIPAddress   string         `json:"sourceIPAddress"`
	UserAgent         string         `json:"userAgent,omitempty"`
	ErrorCode         string         `json:"errorCode,omitempty"`
	ErrorMessage      string         `json:"errorMessage,omitempty"`
	RequestParameters jsontext.Value `json:"requestParameters"` // from Parameters; nil is null
	// ResponseElements and AdditionalEventData are what CloudTrail records
	// of the answer: a few members of it, or for most operations nothing
	// (responseElements null, no additionalEventData). Built with Parameters.
	ResponseElements    jsontext.Value `json:"responseElements"`             // nil is null
	AdditionalEventData jsontext.Value `json:"additionalEventData,omitzero"` // nil is left out
	RequestID           string         `json:"requestID,omitempty"`          // none for a service event
	EventID             string         `json:"eventID"`
	ReadOnly            bool           `json:"readOnly"`
	Resources           []Resource     `json:"resources,omitempty"`
	EventType           string         `json:"eventType"`
	ManagementEvent     bool           `json:"managementEvent"`
	RecipientAccountID  string         `json:"recipientAccountId"`
	// ServiceEventDetails are the details of a service event (KMS acting on
	// its own: RotateKey, DeleteKey, ...); nil is left out.
	ServiceEventDetails jsontext.Value `json:"serviceEventDetails,omitzero"`
	EventCategory       string         `json:"eventCategory"`
	// TLSDetails describes the TLS connection the request came over; nil
	// (left out) for a request over plain HTTP.
	TLSDetails *TLSDetails `json:"tlsDetails,omitempty"`
}

// TLSDetails is CloudTrail's tlsDetails: the protocol version ("TLSv1.3"),
// the cipher suite as CloudTrail names it (IANA names for TLS 1.3,
// OpenSSL's for TLS 1.2), the Host header the client sent, and the key
// exchange group ("X25519MLKEM768"), which CloudTrail records since it
// offers post-quantum TLS.
type TLSDetails struct {
	TLSVersion               string `json:"tlsVersion"`
	CipherSuite              string `json:"cipherSuite"`
	ClientProvidedHostHeader string `json:"clientProvidedHostHeader"`
	KeyExchange              string `json:"keyExchange,omitempty"`
}

// UserIdentity says who made the call. Unauthenticated calls have an
// empty Type and no ARN.
type UserIdentity struct {
	Type        string `json:"type,omitempty"`
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn,omitempty"`
	AccountID   string `json:"accountId,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	UserName    string `json:"userName,omitempty"`  // IAM users only
	InvokedBy   string `json:"invokedBy,omitempty"` // "AWS Internal" for a service event
	// SessionContext is set for a role session: the role it is of.
	SessionContext *SessionContext `json:"sessionContext,omitempty"`
}

// SessionContext is CloudTrail's userIdentity.sessionContext of a role
// session. trent records the session's issuer and that it was not made
// with MFA; it does not know when the session's credentials were issued
// (they are in its configuration), so attributes.creationDate is left out.
type SessionContext struct {
	SessionIssuer SessionIssuer     `json:"sessionIssuer"`
	Attributes    SessionAttributes `json:"attributes"`
}

// SessionIssuer is the role a session is of.
type SessionIssuer struct {
	Type        string `json:"type"` // "Role"
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName"` // the role's name
}

// SessionAttributes are a session's attributes.
type SessionAttributes struct {
	MFAAuthenticated string `json:"mfaAuthenticated"` // "false"
}

// Resource is a KMS key the call used.
type Resource struct {
	AccountID string `json:"accountId"`
	Type      string `json:"type"`
	ARN       string `json:"ARN"`
}

// Log receives audit records. Implementations must be safe for concurrent
// use.
type Log interface {
	// Record writes e and returns once it is written, or returns why it
	// could not be: then the call it describes must fail.
	Record(e *Event) error
	// Healthy returns nil if the log can take records, or the error of its
	// last failed write: callers refuse work while it is not.
	Healthy() error
}

// Size limits on what a caller controls in a record. A longer value is cut
// (at a UTF-8 boundary) and marked with ClipMark.
const (
	MaxUserAgent         = 1024      // bytes of userAgent
	MaxEventName         = 128       // bytes of eventName (the X-Amz-Target operation, before it is known to exist)
	MaxErrorMessage      = 4096      // bytes of errorMessage
	MaxHostHeader        = 1024      // bytes of tlsDetails.clientProvidedHostHeader
	MaxRequestParameters = 64 * 1024 // bytes of requestParameters (and of responseElements, additionalEventData); larger ones are replaced by a note
	ClipMark             = "…[clipped]"
)

// Clip returns s cut to at most limit bytes, with ClipMark appended, if it
// is longer.
func Clip(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	n := limit - len(ClipMark)
	for n > 0 && n < len(s) && s[n]&0xc0 == 0x80 { // not in the middle of a UTF-8 sequence
		n--
	}
	return s[:max(n, 0)] + ClipMark
}

// ClipEvent applies the size limits to the fields of e that a caller
// controls.
func ClipEvent(e *Event) {
	e.UserAgent = Clip(e.UserAgent, MaxUserAgent)
	e.EventName = Clip(e.EventName, MaxEventName)
	e.ErrorMessage = Clip(e.ErrorMessage, MaxErrorMessage)
	if e.TLSDetails != nil {
		e.TLSDetails.ClientProvidedHostHeader = Clip(e.TLSDetails.ClientProvidedHostHeader, MaxHostHeader)
	}
	if len(e.RequestParameters) > MaxRequestParameters {
		e.RequestParameters = jsontext.Value(`{"trentClipped":"requestParameters larger than 65536 bytes are not recorded"}`)
	}
	if len(e.ResponseElements) > MaxRequestParameters {
		e.ResponseElements = jsontext.Value(`{"trentClipped":"responseElements larger than 65536 bytes are not recorded"}`)
	}
	if len(e.AdditionalEventData) > MaxRequestParameters {
		e.AdditionalEventData = jsontext.Value(`{"trentClipped":"additionalEventData larger than 65536 bytes are not recorded"}`)
	}
}

// Discard is a Log that drops every record. Only tests and benchmarks that
// measure something else use it.
var Discard Log = discard{}

type discard struct{}

func (discard) Record(*Event) error { return nil }
func (discard) Healthy() error      { return nil }
