package envelope

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/envelope/internal/trenttest"
)

func startTrent(t testing.TB) *kms.Client {
	_, c := trenttest.Start(t)
	return c
}

func createKey(t testing.TB, c *kms.Client) string { return trenttest.CreateKey(t, c) }
