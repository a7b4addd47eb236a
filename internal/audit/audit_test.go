package audit

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

type tag struct {
	TagKey   *string
	TagValue *string
}

type fakeRequest struct {
	KeyId             *string
	EncryptionContext map[string]string
	Plaintext         []byte
	GrantTokens       []string
	Tags              []tag
	DryRun            *bool
}

func TestParametersCamelCaseAndDropsBlobs(t *testing.T) {
	req := &fakeRequest{
		KeyId:             new("alias/x"),
		EncryptionContext: map[string]string{"Purpose": "Test"},
		Plaintext:         []byte("secret"),
		Tags:              []tag{{TagKey: new("K"), TagValue: new("V")}},
	}
	b := Parameters(req)
	if !b.IsValid() {
		t.Fatalf("Parameters = %s is not valid JSON", b)
	}
	want := `{"keyId":"alias/x","encryptionContext":{"Purpose":"Test"},"tags":[{"tagKey":"K","tagValue":"V"}]}`
	if string(b) != want {
		t.Fatalf("Parameters = %s\nwant         %s", b, want)
	}
	if Parameters(nil) != nil || Parameters((*fakeRequest)(nil)) != nil {
		t.Fatal("nil request must give nil parameters")
	}
}

type metadata struct {
	AWSAccountId *string
	KeyId        *string
	CreationDate *stamp
	DeletionDate *stamp
	Enabled      *bool
	Nested       *struct{ Blob []byte }
	Blob         []byte
}

// stamp is a timestamp the way kmsapi.Time is one: it embeds time.Time.
type stamp struct{ time.Time }

func (stamp) MarshalJSON() ([]byte, error) { return []byte("1"), nil }

func TestParametersAsCloudTrail(t *testing.T) {
	at := time.Date(2025, 5, 21, 17, 47, 45, 123e6, time.FixedZone("x", 2*3600))
	got := Parameters(&struct{ KeyMetadata *metadata }{&metadata{
		AWSAccountId: new("111122223333"), KeyId: new("k"), CreationDate: &stamp{at},
		Enabled: new(false), Nested: &struct{ Blob []byte }{[]byte("secret")}, Blob: []byte("secret"),
	}})
	// Bean names: "AWSAccountId" keeps its capitals; timestamps as in
	// CloudTrail's KMS examples, in UTC; false is written; blobs are gone
	// at every depth.
	want := `{"keyMetadata":{"AWSAccountId":"111122223333","keyId":"k","creationDate":"May 21, 2025, 3:47:45 PM","enabled":false,"nested":{}}}`
	if string(got) != want {
		t.Errorf("Parameters = %s\nwant         %s", got, want)
	}
	if Parameters(&struct{ KeyId *string }{}) != nil || Parameters(&fakeRequest{Plaintext: []byte("x")}) != nil {
		t.Error("a shape with nothing set must be null")
	}
	if got := Parameters(time.Date(2021, 4, 12, 0, 5, 0, 0, time.UTC)); string(got) != `"Apr 12, 2021, 12:05:00 AM"` {
		t.Errorf("time.Time = %s", got)
	}
}

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int
		want  string
	}{
		{"short", 10, "short"},
		{strings.Repeat("a", 30), 20, strings.Repeat("a", 20-len(ClipMark)) + ClipMark},
		// A cut never splits a UTF-8 sequence.
		{strings.Repeat("é", 20), 21, strings.Repeat("é", 4) + ClipMark},
	} {
		got := Clip(tc.in, tc.limit)
		if got != tc.want || len(got) > tc.limit {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
		}
	}
	e := &Event{UserAgent: strings.Repeat("u", 64<<10), EventName: strings.Repeat("n", 1000),
		ErrorMessage: strings.Repeat("m", 10000), RequestParameters: jsontext.Value(`{"x":"` + strings.Repeat("p", 70000) + `"}`),
		TLSDetails: &TLSDetails{ClientProvidedHostHeader: strings.Repeat("h", 100000)}}
	e.ResponseElements = e.RequestParameters
	e.AdditionalEventData = e.RequestParameters
	ClipEvent(e)
	if len(e.ResponseElements) > MaxRequestParameters || !e.ResponseElements.IsValid() ||
		len(e.AdditionalEventData) > MaxRequestParameters || !e.AdditionalEventData.IsValid() {
		t.Fatalf("ClipEvent left %d, %d bytes of responseElements, additionalEventData", len(e.ResponseElements), len(e.AdditionalEventData))
	}
	if len(e.UserAgent) > MaxUserAgent || len(e.EventName) > MaxEventName || len(e.ErrorMessage) > MaxErrorMessage ||
		len(e.RequestParameters) > MaxRequestParameters || !e.RequestParameters.IsValid() ||
		len(e.TLSDetails.ClientProvidedHostHeader) > MaxHostHeader {
		t.Fatalf("ClipEvent left %d, %d, %d, %d, %d bytes", len(e.UserAgent), len(e.EventName), len(e.ErrorMessage), len(e.RequestParameters),
			len(e.TLSDetails.ClientProvidedHostHeader))
	}
}

// TestAppendJSONMatchesMarshal holds the hand-written encoder to the
// reflective one: the same Event must give the same JSON value.
func TestAppendJSONMatchesMarshal(t *testing.T) {
	full := &Event{
		EventVersion: "1.11",
		UserIdentity: UserIdentity{Type: "IAMUser", PrincipalID: "AIDA1", ARN: "arn:aws:iam::111122223333:user/a", AccountID: "111122223333", AccessKeyID: "AKID", UserName: "a",
			SessionContext: &SessionContext{SessionIssuer: SessionIssuer{Type: "Role", PrincipalID: "AROA1", ARN: "arn:aws:iam::111122223333:role/app", AccountID: "111122223333", UserName: "app"},
				Attributes: SessionAttributes{MFAAuthenticated: "false"}}},
		EventTime:   time.Date(2026, 11, 23, 17, 0, 0, 123456789, time.UTC),
		EventSource: "kms.amazonaws.com", EventName: "Encrypt", AWSRegion: "us-east-1", SourceIPAddress: "127.0.0.1",
		UserAgent: "agent \"quoted\" \\ back\nline\ttab\x01ctl <html> & é 日本",
		ErrorCode: "NotFoundException", ErrorMessage: "Key 'x' does not exist",
		RequestParameters:   Parameters(&fakeRequest{KeyId: new("k"), EncryptionContext: map[string]string{"b": "2", "a": "1"}}),
		ResponseElements:    Parameters(&struct{ KeyId, GrantId *string }{new("arn:k"), new("g")}),
		AdditionalEventData: Parameters(&struct{ KeyMaterialId *string }{new("00ff")}),
		RequestID:           "r", EventID: "e", ReadOnly: true,
		Resources: []Resource{{AccountID: "1", Type: "AWS::KMS::Key", ARN: "arn:1"}, {AccountID: "2", Type: "AWS::KMS::Key", ARN: "arn:2"}},
		EventType: "AwsApiCall", ManagementEvent: true, RecipientAccountID: "111122223333", EventCategory: "Management",
		TLSDetails: &TLSDetails{TLSVersion: "TLSv1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", ClientProvidedHostHeader: "kms.example:4599", KeyExchange: "X25519MLKEM768"},
	}
	service := &Event{
		EventVersion: "1.11", UserIdentity: UserIdentity{AccountID: "111122223333", InvokedBy: "AWS Internal"},
		EventTime: time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC), EventSource: "kms.amazonaws.com", EventName: "RotateKey",
		AWSRegion: "us-east-1", SourceIPAddress: "AWS Internal", UserAgent: "AWS Internal", EventID: "e",
		Resources: []Resource{{AccountID: "111122223333", Type: "AWS::KMS::Key", ARN: "arn:1"}},
		EventType: "AwsServiceEvent", ManagementEvent: true, RecipientAccountID: "111122223333",
		ServiceEventDetails: Parameters(&struct{ KeyId, RotationType *string }{new("k"), new("AUTOMATIC")}), EventCategory: "Management",
	}
	if got := string(service.AppendJSON(nil)); !strings.Contains(got, `"userIdentity":{"accountId":"111122223333","invokedBy":"AWS Internal"}`) ||
		!strings.Contains(got, `"responseElements":null,"eventID":"e"`) || // no requestID
		!strings.HasSuffix(got, `"recipientAccountId":"111122223333","serviceEventDetails":{"keyId":"k","rotationType":"AUTOMATIC"},"eventCategory":"Management"}`) {
		t.Errorf("a service event not in CloudTrail's shape: %s", got)
	}
	for _, e := range []*Event{full, service, {EventTime: time.Unix(0, 0).UTC()}} {
		if e == full && !strings.Contains(string(e.AppendJSON(nil)), `"responseElements":{"keyId":"arn:k","grantId":"g"},"additionalEventData":{"keyMaterialId":"00ff"},"requestID"`) {
			t.Errorf("responseElements and additionalEventData not in CloudTrail's place: %s", e.AppendJSON(nil))
		}
		if e == full && !strings.HasSuffix(string(e.AppendJSON(nil)), `"eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"kms.example:4599","keyExchange":"X25519MLKEM768"}}`) {
			t.Errorf("tlsDetails not in CloudTrail's place: %s", e.AppendJSON(nil))
		}
		if e != full && strings.Contains(string(e.AppendJSON(nil)), "tlsDetails") {
			t.Errorf("tlsDetails without TLS: %s", e.AppendJSON(nil))
		}
		if e != full && strings.Contains(string(e.AppendJSON(nil)), "additionalEventData") {
			t.Errorf("an empty additionalEventData is written: %s", e.AppendJSON(nil))
		}
		got := jsontext.Value(e.AppendJSON(nil))
		if !got.IsValid() {
			t.Fatalf("AppendJSON wrote invalid JSON: %s", got)
		}
		want, err := jsonv2.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("AppendJSON:\n%s\njson.Marshal:\n%s", got, want)
		}
	}
	// Invalid UTF-8 still gives a valid line.
	bad := &Event{UserAgent: "ok\xff\xfeok", EventTime: time.Unix(0, 0)}
	if line := jsontext.Value(bad.AppendJSON(nil)); !line.IsValid() || !strings.Contains(string(line), "ok\ufffd\ufffdok") {
		t.Fatalf("invalid UTF-8 encoded as %s", line)
	}
}
