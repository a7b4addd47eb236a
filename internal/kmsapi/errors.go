package kmsapi

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// ErrorCode is the name of an AWS KMS error as it appears in the "__type"
// member of an error response, for example "NotFoundException".
type ErrorCode string

// Errors that AWS KMS returns but that its model does not declare. The
// modeled ones are generated into errors_gen.go together with their HTTP
// status.
const (
	ValidationException                 ErrorCode = "ValidationException"
	SerializationException              ErrorCode = "SerializationException"
	AccessDeniedException               ErrorCode = "AccessDeniedException"
	UnknownOperationException           ErrorCode = "UnknownOperationException"
	ThrottlingException                 ErrorCode = "ThrottlingException"
	MissingAuthenticationTokenException ErrorCode = "MissingAuthenticationTokenException"
	IncompleteSignatureException        ErrorCode = "IncompleteSignatureException"
	UnrecognizedClientException         ErrorCode = "UnrecognizedClientException"
	InvalidSignatureException           ErrorCode = "InvalidSignatureException"
	ExpiredTokenException               ErrorCode = "ExpiredTokenException"
	NotAuthorizedException              ErrorCode = "NotAuthorizedException"
)

// Error is an error as AWS KMS reports it: a code and a human-readable
// message. Messages must never carry key material, plaintext or secrets.
type Error struct {
	Code    ErrorCode
	Message string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// HTTPStatus is the status code AWS KMS answers this error with: 400 for
// every client fault, whatever status the model tags it with, and 500 or 503
// for the server faults (KMSInternalException, KeyUnavailableException,
// DependencyTimeoutException). See httpStatus in gen/main.go.
func (e *Error) HTTPStatus() int {
	if s, ok := modeledErrorStatus[e.Code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	if len(args) == 0 {
		return &Error{Code: code, Message: format}
	}
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// validation collects the constraint violations of a request, in the order
// the generated Validate methods find them, into one ValidationException.
// Nothing is allocated until a violation is reported: validation runs on
// every request.
type validation struct {
	count int
	text  []byte
}

// fieldPath locates a structure nested in a request, as AWS prints it
// ("recipient", "tags.1.member"); nil is the request itself. Callers keep it
// on the stack, and it is rendered only when a violation is reported.
type fieldPath struct {
	parent *fieldPath
	member string // member name with its first letter lowercased
	index  int    // 1-based position in a list, 0 for a structure member
}

func (p *fieldPath) appendTo(b []byte) []byte {
	if p.parent != nil {
		b = append(p.parent.appendTo(b), '.')
	}
	b = append(b, p.member...)
	if p.index > 0 {
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(p.index), 10)
		b = append(b, ".member"...)
	}
	return b
}

// null reports a required member that is missing.
func (v *validation) null(at *fieldPath, member string) {
	v.add(at, member, "null", "Member must not be null")
}

// invalid reports a member whose value breaks constraint.
func (v *validation) invalid(at *fieldPath, member, value, constraint string) {
	v.add(at, member, "'"+value+"'", constraint)
}

// invalidHidden reports a member whose value must not be shown (sensitive).
func (v *validation) invalidHidden(at *fieldPath, member, constraint string) {
	v.add(at, member, "", constraint)
}

func (v *validation) add(at *fieldPath, member, value, constraint string) {
	if v.count > 0 {
		v.text = append(v.text, "; "...)
	}
	v.count++
	v.text = append(v.text, "Value "...)
	if value != "" {
		v.text = append(v.text, value...)
		v.text = append(v.text, ' ')
	}
	v.text = append(v.text, "at '"...)
	if at != nil {
		v.text = append(at.appendTo(v.text), '.')
	}
	v.text = append(v.text, member...)
	v.text = append(v.text, "' failed to satisfy constraint: "...)
	v.text = append(v.text, constraint...)
}

// err returns the ValidationException, or nil if nothing was reported.
func (v *validation) err() error {
	switch v.count {
	case 0:
		return nil
	case 1:
		return &Error{Code: ValidationException, Message: "1 validation error detected: " + string(v.text)}
	}
	return &Error{Code: ValidationException, Message: strconv.Itoa(v.count) + " validation errors detected: " + string(v.text)}
}

// The renderings below copy what AWS's Java front end prints for a value.

// blobValue is how Java prints the ByteBuffer of a blob: never its content.
func blobValue(b []byte) string {
	n := strconv.Itoa(len(b))
	return "java.nio.HeapByteBuffer[pos=0 lim=" + n + " cap=" + n + "]"
}

func listValue[T ~string](list []T) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, e := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(e))
	}
	b.WriteByte(']')
	return b.String()
}

// mapValue prints a map as Java does, with keys sorted to be deterministic.
func mapValue(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k + "=" + m[k])
	}
	b.WriteByte('}')
	return b.String()
}
