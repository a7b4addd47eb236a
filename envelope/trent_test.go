package envelope

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/config"
	"github.com/trent-kms/trent/internal/server"
)

// startTrent runs a dev-mode trent in the test process and returns a KMS
// client for it. It is the package's only use of trent's internals.
func startTrent(t testing.TB) *kms.Client {
	t.Helper()
	srv, err := server.Start(config.DevConfig("127.0.0.1:0", t.TempDir()), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return kms.New(kms.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL()),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		}),
		RetryMaxAttempts: 1,
	})
}

// createKey makes a symmetric key and returns its ARN.
func createKey(t testing.TB, c *kms.Client) string {
	t.Helper()
	out, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}
