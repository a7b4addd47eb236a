package audit

import (
	"bytes"
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

func TestWriterWritesOneLinePerEvent(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, name := range []string{"Encrypt", "Decrypt"} {
		err := w.Record(&Event{EventName: name, EventTime: time.Unix(0, 0), EventSource: "kms.amazonaws.com"})
		if err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2: %q", len(lines), buf.String())
	}
	var e map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &e); err != nil {
		t.Fatal(err)
	}
	if e["eventName"] != "Decrypt" || e["eventSource"] != "kms.amazonaws.com" {
		t.Fatalf("second record = %v", e)
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
