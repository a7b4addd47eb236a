package kms

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	json "github.com/go-json-experiment/json"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/store"
)

// Last usage. Every successful cryptographic operation notes its key's use
// in memory (a map write under a mutex: no store write on the data path);
// a background flusher writes the latest use of each key to
// store.LastUsage every few seconds, keeping whichever use is later when
// several processes share the store. GetKeyLastUsage reads the store and
// what this process has not written yet.

// keyUse is one use of a key, as GetKeyLastUsage reports it.
type keyUse struct {
	Operation kmsapi.KeyLastUsageTrackingOperation `json:"operation"`
	Time      time.Time                            `json:"time"`
	RequestID string                               `json:"requestId,omitempty"`
	EventID   string                               `json:"eventId,omitempty"`
}

type usageTracker struct {
	mu      sync.Mutex
	pending map[cacheKey]keyUse
	// trackingStart is when this store began tracking use: keys created
	// before it may have been used earlier, unrecorded.
	trackingStart time.Time
}

func newUsageTracker() *usageTracker {
	return &usageTracker{pending: make(map[cacheKey]keyUse)}
}

// trackingStartKey is the record in store.Meta of when tracking began.
const trackingStartKey = "last usage tracking start"

// loadTrackingStart reads when the store began tracking use, recording now
// if it had not.
func (u *usageTracker) loadTrackingStart(st store.Store, now time.Time) error {
	return st.Update(func(tx store.Tx) error {
		v, err := tx.Get(store.Meta, trackingStartKey)
		if err == nil {
			return json.Unmarshal(v, &u.trackingStart)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		u.trackingStart = now.UTC()
		v, err = json.Marshal(u.trackingStart)
		if err != nil {
			return err
		}
		return tx.Put(store.Meta, trackingStartKey, v)
	})
}

// note records a use, keeping the later one.
func (u *usageTracker) note(name cacheKey, use keyUse) {
	u.mu.Lock()
	if old, ok := u.pending[name]; !ok || !use.Time.Before(old.Time) {
		u.pending[name] = use
	}
	u.mu.Unlock()
}

func (u *usageTracker) pendingUse(name cacheKey) (keyUse, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	use, ok := u.pending[name]
	return use, ok
}

// used notes a successful operation on k by call.
func (s *Service) used(call *Call, k *Key, op kmsapi.KeyLastUsageTrackingOperation) {
	s.usage.note(cacheKey{k.Region, k.ID}, keyUse{Operation: op, Time: s.now(), RequestID: call.RequestID, EventID: call.EventID})
}

// flushUsage writes the uses noted since the last flush to the store.
func (s *Service) flushUsage() error {
	u := s.usage
	u.mu.Lock()
	batch := u.pending
	u.pending = make(map[cacheKey]keyUse, len(batch))
	u.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := s.store.Update(func(tx store.Tx) error {
		for name, use := range batch {
			if _, err := getKey(tx, name.region, name.id); errors.Is(err, store.ErrNotFound) {
				continue // deleted since
			} else if err != nil {
				return err
			}
			if stored, err := storedUse(tx, name); err != nil {
				return err
			} else if stored != nil && stored.Time.After(use.Time) {
				continue // another process saw a later use
			}
			v, err := json.Marshal(use)
			if err != nil {
				return err
			}
			if err := tx.Put(store.LastUsage, keyStoreKey(name.region, name.id), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for name, use := range batch { // try again next time
			u.note(name, use)
		}
		return fmt.Errorf("writing the last use of keys: %w", err)
	}
	return nil
}

func storedUse(tx store.Tx, name cacheKey) (*keyUse, error) {
	v, err := tx.Get(store.LastUsage, keyStoreKey(name.region, name.id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	use := new(keyUse)
	if err := json.Unmarshal(v, use); err != nil {
		return nil, err
	}
	return use, nil
}

// runUsageFlusher flushes every interval until stop is closed.
func (s *Service) runUsageFlusher(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if err := s.flushUsage(); err != nil {
				s.logger.Error("last usage", "err", err)
			}
		}
	}
}

func (s *Service) GetKeyLastUsage(ctx context.Context, call *Call, in *kmsapi.GetKeyLastUsageRequest) (*kmsapi.GetKeyLastUsageResponse, error) {
	var k *Key
	var use *keyUse
	err := s.store.View(func(tx store.Tx) (err error) {
		k, err = s.lookupKey(tx, call, in.GetKeyId(), keyIDOnly, "kms:GetKeyLastUsage")
		if err != nil {
			return err
		}
		use, err = storedUse(tx, cacheKey{k.Region, k.ID})
		return err
	})
	if err != nil {
		return nil, s.internalError(ctx, "GetKeyLastUsage", err)
	}
	if p, ok := s.usage.pendingUse(cacheKey{k.Region, k.ID}); ok && (use == nil || p.Time.After(use.Time)) {
		use = &p
	}
	start := s.usage.trackingStart
	if k.CreationDate.After(start) {
		start = k.CreationDate
	}
	out := &kmsapi.GetKeyLastUsageResponse{
		KeyId:             new(k.ID),
		KeyCreationDate:   new(kmsapi.Time{Time: k.CreationDate}),
		TrackingStartDate: new(kmsapi.Time{Time: start}),
	}
	if use != nil {
		out.KeyLastUsage = &kmsapi.KeyLastUsageData{
			Operation: new(use.Operation),
			Timestamp: new(kmsapi.Time{Time: use.Time}),
		}
		if use.RequestID != "" {
			out.KeyLastUsage.KmsRequestId = new(use.RequestID)
		}
		if use.EventID != "" {
			out.KeyLastUsage.CloudTrailEventId = new(use.EventID)
		}
	}
	return out, nil
}
