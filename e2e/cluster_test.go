package e2e

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/trent-kms/trent/internal/store/postgres/pgtest"
)

// Three trent processes on one PostgreSQL database: one set of keys, key
// caches kept coherent by the database's change notifications, scheduled
// work done once, and a node killed under load costing nothing that was
// acknowledged.

// coherenceBound is how soon a change made through one node must reach the
// others' key caches: docs/deployment.md states it. Notifications arrive
// within milliseconds; the bound leaves room for a loaded CI machine, and
// is far below the cache's 10-second TTL, which is what a node without
// notifications would take.
const coherenceBound = 2 * time.Second

func startCluster(t *testing.T, n int) []*server {
	t.Helper()
	pg := pgtest.Start(t, pgtest.Options{})
	dsn := pg.NewDatabase(t)
	rootDir := t.TempDir()
	nodes := make([]*server, n)
	for i := range nodes {
		c := devConfig()
		c["root_key"] = map[string]any{"file": filepath.Join(rootDir, "root.key")}
		c["store"] = map[string]any{"postgres": map[string]any{"dsn": dsn, "max_conns": 4}}
		nodes[i] = startServerWithConfig(t, t.TempDir(), c)
	}
	return nodes
}

// within polls check until it returns nil or the bound passes, and
// returns how long it took.
func within(t *testing.T, bound time.Duration, what string, check func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := check()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > bound {
			t.Fatalf("%s: not within %s: %v", what, bound, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// TestClusterCachesStayCoherent: a key disabled, enabled, re-policed or
// rotated through one node is seen so by the other two within the bound,
// although their caches held it; an on-demand rotation asked of any node
// completes at once, and once.
func TestClusterCachesStayCoherent(t *testing.T) {
	nodes := startCluster(t, 3)
	a := nodes[0].client()
	key := createSymmetricKey(t, a, nil)
	id := aws.ToString(key.KeyId)
	blob := encryptWith(t, a, id, "shared")
	// Warm every node's cache.
	for _, n := range nodes {
		if pt, _ := decryptWith(t, n.client(), blob); pt != "shared" {
			t.Fatal("a node does not decrypt")
		}
	}
	if _, err := a.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes[1:] {
		c := n.client()
		took := within(t, coherenceBound, fmt.Sprintf("node %d refusing a key disabled on node 0", i+1), func() error {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
			if errorCode(err) == "DisabledException" {
				return nil
			}
			return fmt.Errorf("answered %v", err)
		})
		t.Logf("node %d refused the disabled key after %s", i+1, took)
	}
	if _, err := nodes[1].client().EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*server{nodes[0], nodes[2]} {
		c := n.client()
		within(t, coherenceBound, "a node using a key enabled elsewhere", func() error {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
			return err
		})
	}
	// A key policy that denies Decrypt, put through node 2.
	deny := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}]}`
	if _, err := nodes[2].client().PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id), Policy: aws.String(deny)}); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[:2] {
		c := n.client()
		within(t, coherenceBound, "a node applying a key policy changed elsewhere", func() error {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
			if errorCode(err) == "AccessDeniedException" {
				return nil
			}
			return fmt.Errorf("answered %v", err)
		})
	}
	// A rotation: new ciphertexts on every node use the new material.
	other := aws.ToString(createSymmetricKey(t, a, nil).KeyId)
	for _, n := range nodes {
		encryptWith(t, n.client(), other, "warm")
	}
	// Asked of each node in turn: the node asked does the work at once,
	// whichever node holds the scheduler's lease.
	var current string
	for i, n := range nodes {
		if _, err := n.client().RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(other)}); err != nil {
			t.Fatal(err)
		}
		within(t, 2*time.Second, fmt.Sprintf("the on-demand rotation asked of node %d completing", i), func() error {
			st, err := a.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(other)})
			if err != nil || st.OnDemandRotationStartDate != nil {
				return fmt.Errorf("still rotating (%v)", err)
			}
			return nil
		})
	}
	within(t, 10*time.Second, "the on-demand rotations completing", func() error {
		md := describeWith(t, a, other)
		st, err := a.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(other)})
		if err != nil || st.OnDemandRotationStartDate != nil {
			return fmt.Errorf("still rotating (%v)", err)
		}
		current = aws.ToString(md.CurrentKeyMaterialId)
		return nil
	})
	for i, n := range nodes {
		c := n.client()
		within(t, coherenceBound, fmt.Sprintf("node %d encrypting with the rotated material", i), func() error {
			out, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(other), KeySpec: types.DataKeySpecAes256})
			if err != nil {
				return err
			}
			if got := aws.ToString(out.KeyMaterialId); got != current {
				return fmt.Errorf("material %s, want %s", got, current)
			}
			return nil
		})
	}
	list, err := nodes[2].client().ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(other)})
	if err != nil || len(list.Rotations) != 3 {
		t.Fatalf("three rotations ran %d times across three nodes (%v)", len(list.Rotations), err)
	}
}

// TestClusterSurvivesKilledNode: three nodes create keys and encrypt under
// load; one is killed (SIGKILL) in the middle. The two others fail no
// request, and every key any node acknowledged, the killed one included,
// exists afterwards.
func TestClusterSurvivesKilledNode(t *testing.T) {
	nodes := startCluster(t, 3)
	shared := aws.ToString(createSymmetricKey(t, nodes[0].client(), nil).KeyId)
	var (
		mu        sync.Mutex
		acked     []string
		survivors atomic.Int64 // requests answered by the surviving nodes
		failures  []error
		killed    atomic.Bool
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, n := range nodes {
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := n.client()
				for j := 0; ; j++ {
					select {
					case <-stop:
						return
					default:
					}
					var err error
					if (j+w)%3 == 0 {
						var out *kms.CreateKeyOutput
						out, err = c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(fmt.Sprintf("node %d", i))})
						if err == nil {
							mu.Lock()
							acked = append(acked, aws.ToString(out.KeyMetadata.KeyId))
							mu.Unlock()
						}
					} else {
						_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(shared), Plaintext: []byte("load")})
					}
					if i == 0 {
						if err != nil && killed.Load() {
							return // the killed node's requests fail, as they must
						}
					} else {
						survivors.Add(1)
					}
					if err != nil && !(i == 0 && killed.Load()) {
						mu.Lock()
						failures = append(failures, fmt.Errorf("node %d: %w", i, err))
						mu.Unlock()
					}
				}
			}()
		}
	}
	time.Sleep(time.Second)
	killed.Store(true)
	if err := nodes[0].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-nodes[0].exited
	before := survivors.Load()
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if survivors.Load() == before {
		t.Fatal("the surviving nodes answered nothing after the kill")
	}
	for _, err := range failures {
		t.Error(err)
	}
	c := nodes[1].client()
	for _, id := range acked {
		if _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)}); err != nil {
			t.Errorf("acknowledged key %s: %v", id, err)
		}
	}
	t.Logf("%d keys acknowledged, %d requests answered by the survivors", len(acked), survivors.Load())
}
