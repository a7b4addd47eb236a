package envelope

import (
	"bytes"
	"context"
	"testing"
	"time"
)

func TestCachingMaterialsBounds(t *testing.T) {
	ctx := context.Background()
	c := startTrent(t)
	key := createKey(t, c)
	cc := &countingClient{KMSClient: c}
	kr := &KMSKeyring{Client: cc, Generator: key}
	cache, err := NewCachingMaterials(NewDefaultMaterials(kr), CacheConfig{MaxAge: time.Minute, MaxMessages: 10, MaxBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	cache.now = func() time.Time { return clock }
	ec := map[string]string{"stream": "a"}
	enc := func(n int) []byte {
		msg, _, err := Encrypt(ctx, make([]byte, n), EncryptConfig{Materials: cache, Context: ec})
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	// Messages: 10 messages of 10 bytes share one data key; the 11th gets a new one.
	var msgs [][]byte
	for range 10 {
		msgs = append(msgs, enc(10))
	}
	if got := cc.generate.Load(); got != 1 {
		t.Fatalf("10 messages: %d GenerateDataKey calls, want 1", got)
	}
	enc(10)
	if got := cc.generate.Load(); got != 2 {
		t.Fatalf("11th message: %d calls, want 2", got)
	}
	// Bytes: the key in use has 10 bytes counted; 990 more fit, then one more byte does not.
	enc(990)
	if got := cc.generate.Load(); got != 2 {
		t.Fatalf("up to the byte limit: %d calls, want 2", got)
	}
	enc(1)
	if got := cc.generate.Load(); got != 3 {
		t.Fatalf("past the byte limit: %d calls, want 3", got)
	}
	// Age.
	clock = clock.Add(2 * time.Minute)
	enc(1)
	if got := cc.generate.Load(); got != 4 {
		t.Fatalf("after MaxAge: %d calls, want 4", got)
	}
	// A message larger than the byte limit bypasses the cache.
	enc(2000)
	enc(2000)
	if got := cc.generate.Load(); got != 6 {
		t.Fatalf("over-limit messages: %d calls, want 6", got)
	}
	// Another context is another entry.
	if _, _, err := Encrypt(ctx, []byte("x"), EncryptConfig{Materials: cache, Context: map[string]string{"stream": "b"}}); err != nil {
		t.Fatal(err)
	}
	if got := cc.generate.Load(); got != 7 {
		t.Fatalf("other context: %d calls, want 7", got)
	}
	// Decryption materials are cached too: ten messages under one data key, one Decrypt call.
	for _, m := range msgs {
		got, _, err := Decrypt(ctx, m, DecryptConfig{Materials: cache})
		if err != nil || !bytes.Equal(got, make([]byte, 10)) {
			t.Fatal(err)
		}
	}
	if got := cc.decrypt.Load(); got != 1 {
		t.Fatalf("decrypting 10 messages with one data key: %d Decrypt calls, want 1", got)
	}
	// A stream of unknown length is not served from the cache.
	before := cc.generate.Load()
	var out bytes.Buffer
	for range 2 {
		e, err := NewEncryptor(ctx, &out, EncryptConfig{Materials: cache, Context: ec})
		if err != nil {
			t.Fatal(err)
		}
		e.Close()
	}
	if got := cc.generate.Load() - before; got != 2 {
		t.Fatalf("streams of unknown length: %d calls, want 2", got)
	}
}
