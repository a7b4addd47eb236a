package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// auditEvent is the part of a CloudTrail-shaped record the test reads.
type auditEvent struct {
	EventVersion string `json:"eventVersion"`
	UserIdentity struct {
		Type        string `json:"type"`
		ARN         string `json:"arn"`
		AccountID   string `json:"accountId"`
		AccessKeyID string `json:"accessKeyId"`
	} `json:"userIdentity"`
	EventSource       string         `json:"eventSource"`
	EventName         string         `json:"eventName"`
	AWSRegion         string         `json:"awsRegion"`
	SourceIPAddress   string         `json:"sourceIPAddress"`
	ErrorCode         string         `json:"errorCode"`
	RequestParameters map[string]any `json:"requestParameters"`
	RequestID         string         `json:"requestID"`
	EventID           string         `json:"eventID"`
	EventType         string         `json:"eventType"`
	ReadOnly          bool           `json:"readOnly"`
	Resources         []struct {
		Type, ARN string
	} `json:"resources"`
}

func TestEveryCallIsAudited(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	c := s.client()
	k := createKey(t, c, "audited")
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("p"), EncryptionContext: map[string]string{"Dept": "IT"}})
	if err != nil {
		t.Fatal(err)
	}
	c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}) // wrong context: fails
	s.do(t, signedRequest{Target: "ListKeys", Body: `{}`, Unsigned: true})
	c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/absent")})
	s.stop()

	f, err := os.Open(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var events []auditEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line %q is not JSON: %v", sc.Text(), err)
		}
		if e.EventType == "AwsApiCall" { // not the chain's segment headers and checkpoints
			events = append(events, e)
		}
	}
	want := []struct{ name, errorCode string }{
		{"CreateKey", ""}, {"Encrypt", ""}, {"Decrypt", "InvalidCiphertextException"},
		{"ListKeys", "MissingAuthenticationTokenException"}, {"DescribeKey", "NotFoundException"},
	}
	if len(events) != len(want) {
		t.Fatalf("%d audit records, want %d: %+v", len(events), len(want), events)
	}
	for i, w := range want {
		e := events[i]
		if e.EventName != w.name || e.ErrorCode != w.errorCode || e.EventSource != "kms.amazonaws.com" ||
			e.RequestID == "" || e.EventID == "" || e.EventVersion == "" || e.SourceIPAddress != "127.0.0.1" {
			t.Errorf("record %d = %+v, want %s with error %q", i, e, w.name, w.errorCode)
		}
		if w.errorCode != "MissingAuthenticationTokenException" &&
			(e.UserIdentity.ARN != "arn:aws:iam::111122223333:root" || e.UserIdentity.AccessKeyID != accessKey || e.AWSRegion != region) {
			t.Errorf("record %d identity = %+v region %q", i, e.UserIdentity, e.AWSRegion)
		}
	}
	encrypt := events[1]
	if encrypt.RequestParameters["keyId"] != *k.KeyId || !encrypt.ReadOnly ||
		len(encrypt.Resources) != 1 || encrypt.Resources[0].ARN != *k.Arn || encrypt.Resources[0].Type != "AWS::KMS::Key" {
		t.Errorf("Encrypt record = %+v", encrypt)
	}
	if _, ok := encrypt.RequestParameters["plaintext"]; ok {
		t.Error("the Encrypt record holds the plaintext member")
	}
	if ec, _ := encrypt.RequestParameters["encryptionContext"].(map[string]any); ec["Dept"] != "IT" {
		t.Errorf("the Encrypt record lost the encryption context: %v", encrypt.RequestParameters)
	}
	if events[0].ReadOnly {
		t.Error("CreateKey recorded as read-only")
	}
}
