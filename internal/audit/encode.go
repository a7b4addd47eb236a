package audit

import (
	"strconv"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// Audit records are written for every request, so they are encoded by hand
// rather than by reflection; TestAppendJSONMatchesMarshal holds this
// encoder to json.Marshal's output for the same Event.

// AppendJSON appends e as one JSON object.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"eventVersion":`...)
	b = appendString(b, e.EventVersion)
	b = append(b, `,"userIdentity":{`...)
	first := true
	for _, f := range [...]struct{ name, value string }{
		{"type", e.UserIdentity.Type}, {"principalId", e.UserIdentity.PrincipalID}, {"arn", e.UserIdentity.ARN},
		{"accountId", e.UserIdentity.AccountID}, {"accessKeyId", e.UserIdentity.AccessKeyID},
		{"userName", e.UserIdentity.UserName}, {"invokedBy", e.UserIdentity.InvokedBy},
	} {
		if f.value == "" {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, f.name)
		b = append(b, ':')
		b = appendString(b, f.value)
	}
	if sc := e.UserIdentity.SessionContext; sc != nil {
		if !first {
			b = append(b, ',')
		}
		i := &sc.SessionIssuer
		b = append(b, `"sessionContext":{"sessionIssuer":{"type":`...)
		b = appendString(b, i.Type)
		b = append(b, `,"principalId":`...)
		b = appendString(b, i.PrincipalID)
		b = append(b, `,"arn":`...)
		b = appendString(b, i.ARN)
		b = append(b, `,"accountId":`...)
		b = appendString(b, i.AccountID)
		b = append(b, `,"userName":`...)
		b = appendString(b, i.UserName)
		b = append(b, `},"attributes":{"mfaAuthenticated":`...)
		b = appendString(b, sc.Attributes.MFAAuthenticated)
		b = append(b, `}}`...)
	}
	b = append(b, `},"eventTime":"`...)
	b = e.EventTime.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","eventSource":`...)
	b = appendString(b, e.EventSource)
	b = append(b, `,"eventName":`...)
	b = appendString(b, e.EventName)
	b = append(b, `,"awsRegion":`...)
	b = appendString(b, e.AWSRegion)
	b = append(b, `,"sourceIPAddress":`...)
	b = appendString(b, e.SourceIPAddress)
	if e.UserAgent != "" {
		b = append(b, `,"userAgent":`...)
		b = appendString(b, e.UserAgent)
	}
	if e.ErrorCode != "" {
		b = append(b, `,"errorCode":`...)
		b = appendString(b, e.ErrorCode)
	}
	if e.ErrorMessage != "" {
		b = append(b, `,"errorMessage":`...)
		b = appendString(b, e.ErrorMessage)
	}
	b = append(b, `,"requestParameters":`...)
	b = appendRaw(b, e.RequestParameters)
	b = append(b, `,"responseElements":`...)
	b = appendRaw(b, e.ResponseElements)
	if len(e.AdditionalEventData) > 0 {
		b = append(b, `,"additionalEventData":`...)
		b = append(b, e.AdditionalEventData...)
	}
	if e.RequestID != "" {
		b = append(b, `,"requestID":`...)
		b = appendString(b, e.RequestID)
	}
	b = append(b, `,"eventID":`...)
	b = appendString(b, e.EventID)
	b = append(b, `,"readOnly":`...)
	b = strconv.AppendBool(b, e.ReadOnly)
	if len(e.Resources) > 0 {
		b = append(b, `,"resources":[`...)
		for i, r := range e.Resources {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"accountId":`...)
			b = appendString(b, r.AccountID)
			b = append(b, `,"type":`...)
			b = appendString(b, r.Type)
			b = append(b, `,"ARN":`...)
			b = appendString(b, r.ARN)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"eventType":`...)
	b = appendString(b, e.EventType)
	b = append(b, `,"managementEvent":`...)
	b = strconv.AppendBool(b, e.ManagementEvent)
	b = append(b, `,"recipientAccountId":`...)
	b = appendString(b, e.RecipientAccountID)
	if len(e.ServiceEventDetails) > 0 {
		b = append(b, `,"serviceEventDetails":`...)
		b = append(b, e.ServiceEventDetails...)
	}
	b = append(b, `,"eventCategory":`...)
	b = appendString(b, e.EventCategory)
	if t := e.TLSDetails; t != nil {
		b = append(b, `,"tlsDetails":{"tlsVersion":`...)
		b = appendString(b, t.TLSVersion)
		b = append(b, `,"cipherSuite":`...)
		b = appendString(b, t.CipherSuite)
		b = append(b, `,"clientProvidedHostHeader":`...)
		b = appendString(b, t.ClientProvidedHostHeader)
		if t.KeyExchange != "" {
			b = append(b, `,"keyExchange":`...)
			b = appendString(b, t.KeyExchange)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendRaw(b, raw []byte) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// appendString appends s as a JSON string. Invalid UTF-8 (a user agent can
// hold anything) becomes U+FFFD, so every line stays valid JSON; the error
// that reports it is not needed.
func appendString(b []byte, s string) []byte {
	b, _ = jsontext.AppendQuote(b, s)
	return b
}
