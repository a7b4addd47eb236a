package audit

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
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
	b, err := json.Marshal(Parameters(req))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"encryptionContext":{"Purpose":"Test"},"keyId":"alias/x","tags":[{"tagKey":"K","tagValue":"V"}]}`
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
