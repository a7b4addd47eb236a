package kms

import (
	"context"
	"slices"
	"strings"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/store"
)

// checkTags applies AWS's rules to the tags of one request, which need no
// key: no key beginning with "aws:" in any case ("AWS:x" and "Aws:x" are
// refused with the same words as "aws:x"), no key twice.
func checkTags(add []kmsapi.Tag) error {
	seen := make(map[string]bool, len(add))
	for _, t := range add {
		key := t.GetTagKey()
		if reservedTagKey(key) {
			return kmsapi.Errorf(kmsapi.TagException, "Tags beginning with aws: are reserved")
		}
		if seen[key] {
			return kmsapi.Errorf(kmsapi.TagException, "Duplicate tag keys")
		}
		seen[key] = true
	}
	return nil
}

// reservedTagKey reports whether a tag key has AWS's reserved prefix,
// whatever its case.
func reservedTagKey(key string) bool {
	return len(key) >= len("aws:") && strings.EqualFold(key[:len("aws:")], "aws:")
}

// mergeTags adds or replaces the given tags in have, applying AWS's rules:
// those of checkTags, and at most 50 per key.
func mergeTags(have []Tag, add []kmsapi.Tag) ([]Tag, error) {
	if err := checkTags(add); err != nil {
		return nil, err
	}
	out := slices.Clone(have)
	for _, t := range add {
		i := slices.IndexFunc(out, func(x Tag) bool { return x.Key == t.GetTagKey() })
		if i >= 0 {
			out[i].Value = t.GetTagValue()
		} else {
			out = append(out, Tag{Key: t.GetTagKey(), Value: t.GetTagValue()})
		}
	}
	if len(out) > maxTagsPerKey {
		return nil, kmsapi.Errorf(kmsapi.TagException, "Too many tags")
	}
	k := Key{Tags: out}
	k.sortTags()
	return k.Tags, nil
}

// setRequestTags records the tags of a request as aws:RequestTag/<key> and
// aws:TagKeys.
func setRequestTags(c *Conditions, tags []kmsapi.Tag) {
	if len(tags) == 0 {
		return
	}
	keys := make([]string, len(tags))
	for i, t := range tags {
		keys[i] = t.GetTagKey()
		c.Set("aws:RequestTag/"+t.GetTagKey(), t.GetTagValue())
	}
	c.Set("aws:TagKeys", keys...)
}

func (s *Service) TagResource(ctx context.Context, call *Call, in *kmsapi.TagResourceRequest) error {
	// The request's own rules first, as CreateKey and ReplicateKey check
	// them: before the key is looked up (docs/compatibility.md, "Which
	// error wins").
	if err := checkTags(in.Tags); err != nil {
		return err
	}
	setRequestTags(&call.Cond, in.Tags)
	_, err := s.changeKey(ctx, call, "TagResource", in.GetKeyId(), func(k *Key) error {
		if err := checkNotPendingDeletion(k); err != nil {
			return err
		}
		tags, err := mergeTags(k.Tags, in.Tags)
		k.Tags = tags
		return err
	})
	return err
}

func (s *Service) UntagResource(ctx context.Context, call *Call, in *kmsapi.UntagResourceRequest) error {
	if len(in.TagKeys) > 0 {
		call.Cond.Set("aws:TagKeys", in.TagKeys...)
	}
	_, err := s.changeKey(ctx, call, "UntagResource", in.GetKeyId(), func(k *Key) error {
		if err := checkNotPendingDeletion(k); err != nil {
			return err
		}
		k.Tags = slices.DeleteFunc(k.Tags, func(t Tag) bool { return slices.Contains(in.TagKeys, t.Key) })
		return nil
	})
	return err
}

func (s *Service) ListResourceTags(ctx context.Context, call *Call, in *kmsapi.ListResourceTagsRequest) (*kmsapi.ListResourceTagsResponse, error) {
	k, err := s.viewKey(ctx, call, "ListResourceTags", in.GetKeyId())
	if err != nil {
		return nil, err
	}
	// Tags are sorted by key, so the marker is the last key returned.
	after, err := decodeMarker(in.Marker, "")
	if err != nil {
		return nil, err
	}
	limit := limitOr(in.Limit, 50)
	out := &kmsapi.ListResourceTagsResponse{Tags: []kmsapi.Tag{}, Truncated: new(false)}
	for _, t := range k.Tags {
		if after != "" && t.Key <= after {
			continue
		}
		if len(out.Tags) == limit {
			out.Truncated = new(true)
			out.NextMarker = encodeMarker(out.Tags[len(out.Tags)-1].GetTagKey())
			break
		}
		out.Tags = append(out.Tags, kmsapi.Tag{TagKey: new(t.Key), TagValue: new(t.Value)})
	}
	return out, nil
}

// viewKey reads the key id names (key ID or key ARN) in a read-only transaction.
func (s *Service) viewKey(ctx context.Context, call *Call, op, id string) (*Key, error) {
	var k *Key
	err := s.store.View(func(tx store.Tx) (err error) {
		k, err = s.lookupKey(tx, call, id, keyIDOnly, "kms:"+op)
		return err
	})
	if err != nil {
		return nil, s.internalError(ctx, op, err)
	}
	return k, nil
}
