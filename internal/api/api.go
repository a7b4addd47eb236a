// Package api is the AWS KMS wire protocol (awsJson1_1) in front of the
// service: it authenticates each request with SigV4, routes it by its
// X-Amz-Target header, decodes and validates the JSON body against the
// model, calls internal/kms, writes the JSON answer or AWS's error, and
// records one audit event per request.
package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	json "github.com/go-json-experiment/json"
	"github.com/google/uuid"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/auth"
	"github.com/trent-kms/trent/internal/kms"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/quota"
)

// MaxBodyBytes bounds a request body. The largest legitimate KMS request
// (an attestation document of 256 KiB, base64-encoded, plus the rest) is
// well below it.
const MaxBodyBytes = 1 << 20

const (
	targetPrefix = "TrentService."
	contentType  = "application/x-amz-json-1.1"
)

var contentTypeValue = []string{contentType} // shared; net/http only reads it

// Handler serves the KMS API over HTTP.
type Handler struct {
	verifier    *auth.Verifier
	routes      map[string]route
	audit       audit.Log
	logger      *slog.Logger
	now         func() time.Time
	hostAllowed func(string) bool
	hosts       string
	quotas      *quota.Limiter
	observe     Observer
}

// Config is what a Handler needs.
type Config struct {
	Verifier *auth.Verifier
	Service  *kms.Service
	Audit    audit.Log    // nil: audit.Discard (tests only)
	Logger   *slog.Logger // nil: slog.Default()
	Now      func() time.Time
	// Hosts, if set, are the only Host header values answered (dev mode:
	// loopback names only, against DNS rebinding); others get
	// AccessDeniedException.
	Hosts []string
	// Quotas, if set, are the request-rate quotas (ops.go); Observe, if
	// set, sees every answered request (metrics).
	Quotas  *quota.Limiter
	Observe Observer
}

// New returns a Handler.
func New(cfg Config) *Handler {
	h := &Handler{
		verifier: cfg.Verifier,
		routes:   routes(cfg.Service),
		audit:    cfg.Audit,
		logger:   cfg.Logger,
		now:      cfg.Now,
		quotas:   cfg.Quotas,
		observe:  cfg.Observe,
	}
	if len(cfg.Hosts) > 0 {
		allowed := make(map[string]bool, len(cfg.Hosts))
		for _, host := range cfg.Hosts {
			allowed[strings.ToLower(host)] = true
		}
		h.hostAllowed = func(host string) bool { return allowed[strings.ToLower(host)] }
		h.hosts = strings.Join(cfg.Hosts, ", ")
	}
	if h.audit == nil {
		h.audit = audit.Discard
	}
	if h.logger == nil {
		h.logger = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h
}

// exchange is one request and its answer, as far as it got.
type exchange struct {
	op       string
	identity *auth.Identity
	call     kms.Call
	quota    keyQuota // call.Quota, for a cryptographic operation (ops.go)
	params   any      // the request, redacted, for the audit record
	resp     any      // the response shape, for the audit record (see trail.go); it may hold secrets
	err      *kmsapi.Error
}

// ServeHTTP answers one request. Its audit record is written before the
// answer: a request whose record cannot be written is answered
// KMSInternalException, whatever it did, and while the audit log is not
// writable no request is served at all.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := uuid.NewString()
	start := h.now()
	began := time.Now()
	x := &exchange{op: strings.TrimPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)}
	// Both IDs are known before the call: GetKeyLastUsage reports them.
	x.call.RequestID, x.call.EventID = requestID, uuid.NewString()
	var out []byte
	var err error
	if h.audit.Healthy() != nil {
		err = errInternal // the audit log logs its outage itself, once
	} else {
		out, err = h.serve(r, x)
	}
	if err != nil {
		x.err = asKMSError(err)
		if x.err.Code == kmsapi.KMSInternalException && !errors.As(err, new(*kmsapi.Error)) {
			h.logger.Error("internal error", "op", x.op, "requestId", requestID, "err", err)
		}
	}
	if rerr := h.record(r, x, requestID, start); rerr != nil && x.err == nil {
		clear(out) // it may hold plaintext or a data key
		x.err = errInternal
	}
	// Assigned directly: Header.Set would canonicalise the names and copy
	// the value on every request.
	h2 := w.Header()
	h2["X-Amzn-Requestid"] = []string{requestID}
	h2["Content-Type"] = contentTypeValue
	if x.err != nil {
		writeError(w, x.err)
	} else {
		w.WriteHeader(http.StatusOK)
		w.Write(out)
	}
	if h.observe != nil {
		var code kmsapi.ErrorCode
		if x.err != nil {
			code = x.err.Code
		}
		h.observe(h.observed(x.op), code, time.Since(began))
	}
}

var errInternal = kmsapi.Errorf(kmsapi.KMSInternalException, "An internal error occurred. Try again later.")

// serve does the work of one request and returns the response body. The
// signature's headers are checked before the body is read, so a caller
// without credentials never makes trent hold a body.
func (h *Handler) serve(r *http.Request, x *exchange) ([]byte, error) {
	if h.hostAllowed != nil && !h.hostAllowed(r.Host) {
		return nil, kmsapi.Errorf(kmsapi.AccessDeniedException,
			"trent in dev mode answers only requests for %s (against DNS rebinding), not for '%s'.", h.hosts, audit.Clip(r.Host, 256))
	}
	signed, err := h.verifier.Preauthenticate(r)
	if err != nil {
		return nil, err
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	id, err := signed.Verify(r, body)
	if err != nil {
		return nil, err
	}
	x.identity = id
	x.call = kms.Call{
		RequestID:       x.call.RequestID,
		EventID:         x.call.EventID,
		Account:         id.Principal.Account,
		ARN:             id.Principal.ARN,
		Region:          id.Region,
		Principal:       id.Principal.ForPolicy(),
		Policies:        id.Principal.Policies,
		SourceIP:        remoteIP(r),
		SecureTransport: r.TLS != nil,
	}
	// One X-Amz-Target, naming an operation: a repeated header (whose
	// values a signature covers joined) names none.
	targets := r.Header["X-Amz-Target"]
	if r.Method != http.MethodPost || len(targets) != 1 || !strings.HasPrefix(targets[0], targetPrefix) {
		return nil, kmsapi.Errorf(kmsapi.UnknownOperationException, "")
	}
	rt, ok := h.routes[x.op]
	if !ok {
		return nil, kmsapi.Errorf(kmsapi.UnknownOperationException, "")
	}
	if err := h.admit(x, body); err != nil {
		return nil, err
	}
	return rt(r.Context(), x, body)
}

// smallBody is the largest body read in one allocation of its announced
// length; larger ones grow with what actually arrives, so a slow sender
// never makes trent hold more than it has sent.
const smallBody = 64 << 10

// readBody reads a request body of at most MaxBodyBytes.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, errBodyTooLarge
	}
	if r.ContentLength >= 0 && r.ContentLength <= smallBody {
		body := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, kmsapi.Errorf(kmsapi.SerializationException, "")
		}
		return body, nil
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, MaxBodyBytes+1)); err != nil {
		return nil, kmsapi.Errorf(kmsapi.SerializationException, "")
	}
	if buf.Len() > MaxBodyBytes {
		return nil, errBodyTooLarge
	}
	return buf.Bytes(), nil
}

var errBodyTooLarge = kmsapi.Errorf(kmsapi.SerializationException, "The request body is larger than %d bytes.", MaxBodyBytes)

func asKMSError(err error) *kmsapi.Error {
	var kerr *kmsapi.Error
	if errors.As(err, &kerr) {
		return kerr
	}
	return kmsapi.Errorf(kmsapi.KMSInternalException, "An internal error occurred. Try again later.")
}

// writeError writes AWS's error body: {"__type": code, "message": text},
// without the message when there is none, as AWS does for example for
// InvalidCiphertextException.
func writeError(w http.ResponseWriter, e *kmsapi.Error) {
	body := struct {
		Type    kmsapi.ErrorCode `json:"__type"`
		Message string           `json:"message,omitempty"`
	}{e.Code, e.Message}
	b, _ := json.Marshal(body)
	w.WriteHeader(e.HTTPStatus())
	w.Write(b)
}

// readOnlyOps are the operations CloudTrail marks readOnly: they read keys
// but change nothing.
func readOnly(op string) bool {
	switch op {
	case "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
		"GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateRandom", "GenerateMac",
		"VerifyMac", "Sign", "Verify", "DeriveSharedSecret", "Encapsulate", "Decapsulate":
		return true
	}
	return strings.HasPrefix(op, "Describe") || strings.HasPrefix(op, "List") || strings.HasPrefix(op, "Get")
}

// record writes the request's audit record, and returns the error if it
// could not be written.
func (h *Handler) record(r *http.Request, x *exchange, requestID string, at time.Time) error {
	e := &audit.Event{
		EventVersion:    "1.11",
		EventTime:       at.UTC(),
		EventSource:     "kms.amazonaws.com",
		EventName:       x.op,
		AWSRegion:       x.call.Region,
		SourceIPAddress: remoteIP(r),
		UserAgent:       r.UserAgent(),
		RequestID:       requestID,
		EventID:         x.call.EventID,
		ReadOnly:        readOnly(x.op),
		EventType:       "AwsApiCall",
		ManagementEvent: true,
		EventCategory:   "Management",
		TLSDetails:      tlsDetails(r),
	}
	if id := x.identity; id != nil {
		e.UserIdentity = audit.UserIdentity{
			Type:        principalType(id.Principal.ARN),
			PrincipalID: id.Principal.UserID,
			ARN:         id.Principal.ARN,
			AccountID:   id.Principal.Account,
			AccessKeyID: id.AccessKeyID,
		}
		if e.UserIdentity.Type == "IAMUser" {
			e.UserIdentity.UserName = id.Principal.Username
		}
		if role := id.Principal.RoleARN; role != "" {
			roleID, _, _ := strings.Cut(id.Principal.UserID, ":") // "AROA…:<session>"
			e.UserIdentity.SessionContext = &audit.SessionContext{
				SessionIssuer: audit.SessionIssuer{Type: "Role", PrincipalID: roleID, ARN: role,
					AccountID: id.Principal.Account, UserName: role[strings.LastIndexByte(role, '/')+1:]},
				Attributes: audit.SessionAttributes{MFAAuthenticated: "false"},
			}
		}
		e.RecipientAccountID = id.Principal.Account
		// The alias operations list the alias first, with the type
		// CloudTrail gives it there (AWS::KMS::Key), then the key.
		if a, ok := x.params.(interface{ GetAliasName() string }); ok && strings.HasPrefix(a.GetAliasName(), "alias/") {
			arn := "arn:" + kms.Partition + ":kms:" + x.call.Region + ":" + id.Principal.Account + ":" + a.GetAliasName()
			e.Resources = append(e.Resources, audit.Resource{AccountID: id.Principal.Account, Type: "AWS::KMS::Key", ARN: arn})
		}
	}
	if x.call.KeyARN != "" {
		account := arnAccount(x.call.KeyARN)
		e.Resources = append(e.Resources, audit.Resource{AccountID: account, Type: "AWS::KMS::Key", ARN: x.call.KeyARN})
		e.RecipientAccountID = account
		if other := x.call.OtherKeyARN; other != "" && other != x.call.KeyARN {
			e.Resources = append(e.Resources, audit.Resource{AccountID: arnAccount(other), Type: "AWS::KMS::Key", ARN: other})
		}
	}
	if x.err != nil {
		e.ErrorCode = string(x.err.Code)
		e.ErrorMessage = x.err.Message
	}
	e.RequestParameters, e.ResponseElements, e.AdditionalEventData = cloudTrail(x)
	return h.audit.Record(e)
}

// arnAccount is the account field of an ARN (arn:partition:service:region:account:resource).
func arnAccount(arn string) string {
	for range 4 {
		i := strings.IndexByte(arn, ':')
		if i < 0 {
			return ""
		}
		arn = arn[i+1:]
	}
	account, _, _ := strings.Cut(arn, ":")
	return account
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// route decodes a request body for one operation, calls the service and
// encodes its answer. It keeps the redacted request and the response shape
// in x for the audit record.
type route func(ctx context.Context, x *exchange, body []byte) ([]byte, error)

// request is what every generated request shape offers.
type request[I any] interface {
	*I
	Validate() error
	Redacted() *I
}

// operation makes the route of an operation the service implements.
func operation[I any, O any, P request[I]](fn func(context.Context, *kms.Call, *I) (*O, error)) route {
	return func(ctx context.Context, x *exchange, body []byte) ([]byte, error) {
		in, err := decodeRequest[I, P](body, &x.params)
		if err != nil {
			return nil, err
		}
		out, err := fn(ctx, &x.call, in)
		if err != nil {
			return nil, err
		}
		x.resp = out
		return json.Marshal(out)
	}
}

// decodeRequest decodes and validates the body of a request, storing the
// redacted request in *params for the audit record as soon as it is known.
func decodeRequest[I any, P request[I]](body []byte, params *any) (*I, error) {
	in := new(I)
	if err := decode(body, in); err != nil {
		return nil, err
	}
	*params = P(in).Redacted()
	if err := P(in).Validate(); err != nil {
		return nil, err
	}
	return in, nil
}

// withoutOutput makes the route of an operation whose answer has no members.
func withoutOutput[I any, P request[I]](fn func(context.Context, *kms.Call, *I) error) route {
	return operation[I, struct{}, P](func(ctx context.Context, call *kms.Call, in *I) (*struct{}, error) {
		if err := fn(ctx, call, in); err != nil {
			return nil, err
		}
		return &struct{}{}, nil
	})
}

// principalType is CloudTrail's userIdentity.type for a principal ARN.
func principalType(arn string) string {
	switch {
	case strings.HasSuffix(arn, ":root"):
		return "Root"
	case strings.Contains(arn, ":assumed-role/"):
		return "AssumedRole"
	default:
		return "IAMUser"
	}
}
