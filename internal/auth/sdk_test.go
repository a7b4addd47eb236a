package auth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// TestGoSDKClient runs real kms.Client calls, signed by the SDK with the
// real clock, against a handler that verifies them.
func TestGoSDKClient(t *testing.T) {
	v := testVerifier(t)
	v.Now = nil // the SDK signs with time.Now
	kr, err := NewKeyring(
		Credential{AccessKeyID: permAKID, SecretAccessKey: permSecret},
		Credential{AccessKeyID: tempAKID, SecretAccessKey: tempSecret, SessionToken: tempToken},
	)
	if err != nil {
		t.Fatal(err)
	}
	v.Keyring = kr
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if _, err := v.Verify(r, body); err != nil {
			ke := err.(*kmsapi.Error)
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"__type": string(ke.Code), "message": ke.Message})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{
			"CiphertextBlob":      "AQIDBA==",
			"KeyId":               "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
			"EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
		})
	}))
	defer srv.Close()

	client := func(region, akid, secret, token string) *kms.Client {
		return kms.New(kms.Options{
			Region:       region,
			BaseEndpoint: aws.String(srv.URL),
			HTTPClient:   srv.Client(),
			Retryer:      aws.NopRetryer{},
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: token}, nil
			}),
		})
	}
	encrypt := func(c *kms.Client) error {
		_, err := c.Encrypt(context.Background(), &kms.EncryptInput{KeyId: aws.String("alias/test"), Plaintext: []byte("hello world")})
		return err
	}
	for _, tc := range []struct {
		name                 string
		region, akid, secret string
		token                string
		code                 string
	}{
		{"static", "us-east-1", permAKID, permSecret, "", ""},
		{"session token", "eu-west-1", tempAKID, tempSecret, tempToken, ""},
		{"wrong secret", "us-east-1", permAKID, tempSecret, "", "InvalidSignatureException"},
		{"unknown key", "us-east-1", "AKIAUNKNOWNEXAMPLE00", permSecret, "", "UnrecognizedClientException"},
		{"missing token", "us-east-1", tempAKID, tempSecret, "", "UnrecognizedClientException"},
		{"unserved region", "ap-south-1", permAKID, permSecret, "", "InvalidSignatureException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := encrypt(client(tc.region, tc.akid, tc.secret, tc.token))
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
}
