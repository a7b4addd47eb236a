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
		ErrorMessage: strings.Repeat("m", 10000), RequestParameters: jsontext.Value(`{"x":"` + strings.Repeat("p", 70000) + `"}`)}
	ClipEvent(e)
	if len(e.UserAgent) > MaxUserAgent || len(e.EventName) > MaxEventName || len(e.ErrorMessage) > MaxErrorMessage ||
		len(e.RequestParameters) > MaxRequestParameters || !e.RequestParameters.IsValid() {
		t.Fatalf("ClipEvent left %d, %d, %d, %d bytes", len(e.UserAgent), len(e.EventName), len(e.ErrorMessage), len(e.RequestParameters))
	}
}

// TestAppendJSONMatchesMarshal holds the hand-written encoder to the
// reflective one: the same Event must give the same JSON value.
func TestAppendJSONMatchesMarshal(t *testing.T) {
	full := &Event{
		EventVersion: "1.11",
		UserIdentity: UserIdentity{Type: "IAMUser", PrincipalID: "AIDA1", ARN: "arn:aws:iam::111122223333:user/a", AccountID: "111122223333", AccessKeyID: "AKID"},
		EventTime:    time.Date(2026, 11, 23, 17, 0, 0, 123456789, time.UTC),
		EventSource:  "kms.amazonaws.com", EventName: "Encrypt", AWSRegion: "us-east-1", SourceIPAddress: "127.0.0.1",
		UserAgent: "agent \"quoted\" \\ back\nline\ttab\x01ctl <html> & é 日本",
		ErrorCode: "NotFoundException", ErrorMessage: "Key 'x' does not exist",
		RequestParameters: Parameters(&fakeRequest{KeyId: new("k"), EncryptionContext: map[string]string{"b": "2", "a": "1"}}),
		RequestID:         "r", EventID: "e", ReadOnly: true,
		Resources: []Resource{{AccountID: "1", Type: "AWS::KMS::Key", ARN: "arn:1"}, {AccountID: "2", Type: "AWS::KMS::Key", ARN: "arn:2"}},
		EventType: "AwsApiCall", ManagementEvent: true, RecipientAccountID: "111122223333", EventCategory: "Management",
	}
	for _, e := range []*Event{full, {EventTime: time.Unix(0, 0).UTC()}} {
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
