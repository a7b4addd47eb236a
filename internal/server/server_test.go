package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/trent-kms/trent/internal/config"
	"github.com/trent-kms/trent/internal/rootkey"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/testclock"
)

func start(t *testing.T, dir string, clk *testclock.Clock) *Server {
	t.Helper()
	cfg := config.DevConfig("127.0.0.1:0", dir)
	s, err := Start(cfg, Options{Now: clk.Now, ScheduleInterval: 20 * time.Millisecond,
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
	clk := testclock.New(time.Now())
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

	clk.Advance(7*24*time.Hour - time.Minute)
	time.Sleep(100 * time.Millisecond) // several sweeps
	if _, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: id}); err != nil {
		t.Fatalf("key gone a minute before its deletion date: %v", err)
	}

	clk.Advance(2 * time.Minute)
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
	root, err := rootkey.OpenFile(filepath.Join(dir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := OpenStore(filepath.Join(dir, "trent.db"), root, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx store.Tx) error {
		if _, err := tx.Get(store.Keys, "us-east-1/"+*id); !errors.Is(err, store.ErrNotFound) {
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
	// Only AWS's predefined aliases (alias/aws/..., no target) are left.
	aliases, err := c.ListAliases(ctx, &awskms.ListAliasesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range aliases.Aliases {
		if a.TargetKeyId != nil {
			t.Fatalf("alias after deletion: %s -> %s", aws.ToString(a.AliasName), aws.ToString(a.TargetKeyId))
		}
	}
}

// wrappedMaterials returns, for each key, the wrapped material as the store
// file holds it: the base64 text of the key record's JSON, and its bytes.
func wrappedMaterials(t *testing.T, dir string, ids ...string) [][]byte {
	t.Helper()
	root, err := rootkey.OpenFile(filepath.Join(dir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := OpenStore(filepath.Join(dir, "trent.db"), root, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out [][]byte
	err = db.View(func(tx store.Tx) error {
		for _, id := range ids {
			v, err := tx.Get(store.Keys, "us-east-1/"+id)
			if err != nil {
				return err
			}
			var rec struct {
				Materials []struct {
					Wrapped string `json:"wrapped"`
				} `json:"materials"`
			}
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			for _, m := range rec.Materials {
				raw, err := base64.StdEncoding.DecodeString(m.Wrapped)
				if err != nil {
					return err
				}
				out = append(out, []byte(m.Wrapped), raw)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// filesHolding returns the files under dir that contain any of needles.
func filesHolding(t *testing.T, dir string, needles [][]byte) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(data, n) {
				found = append(found, path)
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestDeletedKeyIsDestroyed: once a key's deletion completes, no file in
// the data directory holds its wrapped material any more, in any of the
// versions its record went through, so not even the root key can bring it
// back.
func TestDeletedKeyIsDestroyed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := testclock.New(time.Now())
	s := start(t, dir, clk)
	c := client(s)
	var doomed []string
	for _, in := range []*awskms.CreateKeyInput{
		{},
		{KeySpec: "RSA_2048", KeyUsage: "SIGN_VERIFY"},
		{KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC"},
	} {
		out, err := c.CreateKey(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		doomed = append(doomed, *out.KeyMetadata.KeyId)
	}
	kept, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	// Several versions of each record: bbolt copies pages on every write.
	for _, id := range doomed {
		if _, err := c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
	}
	blob, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: kept.KeyMetadata.KeyId, Plaintext: []byte("still here")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	gone := wrappedMaterials(t, dir, doomed...)
	keptMaterial := wrappedMaterials(t, dir, *kept.KeyMetadata.KeyId)
	if found := filesHolding(t, dir, gone); len(found) == 0 {
		t.Fatal("the wrapped material is in no file before deletion: the scan is not looking at the right bytes")
	}

	s = start(t, dir, clk)
	c = client(s)
	for _, id := range doomed {
		if _, err := c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(7*24*time.Hour + time.Minute)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.RunScheduledWork(ctx)
		if err != nil {
			t.Fatal(err)
		}
		list, err := c.ListKeys(ctx, &awskms.ListKeysInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Keys) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if found := filesHolding(t, dir, gone); len(found) != 0 {
		t.Fatalf("the wrapped material of deleted keys is still in %v", found)
	}
	if found := filesHolding(t, dir, keptMaterial); len(found) == 0 {
		t.Fatal("the kept key's material is gone too")
	}
	s = start(t, dir, clk)
	defer s.Close()
	out, err := client(s).Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob.CiphertextBlob})
	if err != nil || string(out.Plaintext) != "still here" {
		t.Fatalf("the kept key after the scrub: %q, %v", out.Plaintext, err)
	}
}
