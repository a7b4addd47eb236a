// Package trenttest starts a dev-mode trent inside a test process for the
// envelope tests. It is the envelope code's only use of trent's internals.
package trenttest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/config"
	"github.com/trent-kms/trent/internal/server"
)

// Dev-mode credentials, region and account.
const (
	AccessKey = "test"
	SecretKey = "test"
	Region    = "us-east-1"
	Account   = "111122223333"
)

// Start runs a dev-mode trent on a free loopback port until the test ends
// and returns its endpoint URL and an AWS SDK KMS client for it.
func Start(t testing.TB) (url string, client *kms.Client) {
	t.Helper()
	srv, err := server.Start(config.DevConfig("127.0.0.1:0", t.TempDir()), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.URL(), kms.New(kms.Options{
		Region:       Region,
		BaseEndpoint: aws.String(srv.URL()),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: AccessKey, SecretAccessKey: SecretKey}, nil
		}),
		RetryMaxAttempts: 1,
	})
}

// CreateKey makes a symmetric encryption key and returns its ARN.
func CreateKey(t testing.TB, c *kms.Client) string {
	t.Helper()
	out, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}
