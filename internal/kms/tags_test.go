package kms

import (
	"context"
	"testing"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// TestReservedTagPrefixAnyCase: "aws:" is reserved whatever its case, in
// TagResource, CreateKey and ReplicateKey, with AWS's words for "aws:".
func TestReservedTagPrefixAnyCase(t *testing.T) {
	ctx := context.Background()
	s, db := newTestService(t, t.TempDir())
	defer db.Close()
	call := devCall
	k := createKey(t, s, call, &kmsapi.CreateKeyRequest{})
	mrk := createKey(t, s, call, &kmsapi.CreateKeyRequest{MultiRegion: new(true)})
	tags := func(key string) []kmsapi.Tag {
		return []kmsapi.Tag{{TagKey: new("ok"), TagValue: new("1")}, {TagKey: new(key), TagValue: new("v")}}
	}
	for _, key := range []string{"aws:x", "AWS:x", "Aws:x", "aWs:", "AWS:"} {
		err := s.TagResource(ctx, &call, &kmsapi.TagResourceRequest{KeyId: new(k), Tags: tags(key)})
		wantCode(t, err, kmsapi.TagException, "Tags beginning with aws: are reserved")
		_, err = s.CreateKey(ctx, &call, &kmsapi.CreateKeyRequest{Tags: tags(key)})
		wantCode(t, err, kmsapi.TagException, "Tags beginning with aws: are reserved")
		_, err = s.ReplicateKey(ctx, &call, &kmsapi.ReplicateKeyRequest{KeyId: new(mrk), ReplicaRegion: new("eu-west-1"), Tags: tags(key)})
		wantCode(t, err, kmsapi.TagException, "Tags beginning with aws: are reserved")
	}
	// Nothing was tagged, and keys that only look alike are fine.
	for _, key := range []string{"aws", "awsx:y", "x:aws:y", "AWS-x", "ａws:x"} {
		if err := s.TagResource(ctx, &call, &kmsapi.TagResourceRequest{KeyId: new(k), Tags: tags(key)}); err != nil {
			t.Fatalf("tag %q: %v", key, err)
		}
	}
	out, err := s.ListResourceTags(ctx, &call, &kmsapi.ListResourceTagsRequest{KeyId: new(k)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tags) != 6 {
		t.Fatalf("tags = %+v", out.Tags)
	}
	for _, tg := range out.Tags {
		if reservedTagKey(tg.GetTagKey()) {
			t.Fatalf("a reserved tag was stored: %q", tg.GetTagKey())
		}
	}
}
