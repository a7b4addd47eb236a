package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/trent-kms/trent/internal/config"
	"github.com/trent-kms/trent/internal/store"
)

// clock is a service clock that tests move forward.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func start(t *testing.T, dir string, clk *clock) *Server {
	t.Helper()
	cfg := config.DevConfig("127.0.0.1:0", dir)
	s, err := Start(cfg, Options{Now: clk.Now, SweepInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func client(s *Server) *awskms.Client {
	return awskms.New(awskms.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.URL()),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: config.DevAccessKey, SecretAccessKey: config.DevSecret}, nil
		}),
		RetryMaxAttempts: 1,
	})
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// TestKeyIsDeletedWhenItsWindowEnds drives a real server over HTTP with the
// AWS SDK while moving the service's clock: the key stays through its
// waiting period and is gone, with its alias, once the period ends, also
// after a restart.
func TestKeyIsDeletedWhenItsWindowEnds(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := &clock{now: time.Now()}
	s := start(t, dir, clk)
	c := client(s)
	created, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := created.KeyMetadata.KeyId
	keep, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/doomed"), TargetKeyId: id}); err != nil {
		t.Fatal(err)
	}
	sched, err := c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: aws.Int32(7)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sched.DeletionDate.Sub(clk.Now()), 7*24*time.Hour; got < want-time.Second || got > want+time.Second {
		t.Fatalf("deletion date %v is %v away, want 7 days", sched.DeletionDate, got)
	}

	clk.advance(7*24*time.Hour - time.Minute)
	time.Sleep(100 * time.Millisecond) // several sweeps
	if _, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: id}); err != nil {
		t.Fatalf("key gone a minute before its deletion date: %v", err)
	}

	clk.advance(2 * time.Minute)
	if _, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: id}); errorCode(err) != "NotFoundException" {
		t.Fatalf("DescribeKey after the deletion date: %v, want NotFoundException", err)
	}
	if _, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/doomed")}); errorCode(err) != "NotFoundException" {
		t.Fatalf("alias of a deleted key: %v, want NotFoundException", err)
	}
	// The sweeper (every 20ms here) removes the records for good.
	time.Sleep(200 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenBolt(filepath.Join(dir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx store.Tx) error {
		if _, err := tx.Get(store.Keys, *id); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("key record still stored: %v", err)
		}
		if _, err := tx.Get(store.Aliases, "111122223333/us-east-1/alias/doomed"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("alias record still stored: %v", err)
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	s = start(t, dir, clk)
	defer s.Close()
	c = client(s)
	list, err := c.ListKeys(ctx, &awskms.ListKeysInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Keys) != 1 || *list.Keys[0].KeyId != *keep.KeyMetadata.KeyId {
		t.Fatalf("keys after restart: %v, want only the kept key", list.Keys)
	}
	aliases, err := c.ListAliases(ctx, &awskms.ListAliasesInput{})
	if err != nil || len(aliases.Aliases) != 0 {
		t.Fatalf("aliases after deletion: %v %v", aliases.Aliases, err)
	}
}
