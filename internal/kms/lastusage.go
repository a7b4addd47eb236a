package kms

import (
	"context"
	"errors"
	"time"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/lastuse"
	"github.com/trent-kms/trent/internal/store"
)

// Last usage (internal/lastuse): every successful cryptographic operation
// notes its key's use in memory; a background flusher writes the latest
// use of each key to the store every few seconds.

// used notes a successful operation on k by call.
func (s *Service) used(call *Call, k *Key, op kmsapi.KeyLastUsageTrackingOperation) {
	s.usage.Note(lastuse.Key{Region: k.Region, ID: k.ID},
		lastuse.Use{Operation: op, Time: s.now(), RequestID: call.RequestID, EventID: call.EventID})
}

// flushUsage writes the uses noted since the last flush to the store.
func (s *Service) flushUsage() error {
	return s.usage.Flush(s.store, func(tx store.Tx, k lastuse.Key) (bool, error) {
		_, err := getKey(tx, k.Region, k.ID)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	})
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
	var use *lastuse.Use
	err := s.store.View(func(tx store.Tx) (err error) {
		k, err = s.lookupKey(tx, call, in.GetKeyId(), keyIDOnly, "kms:GetKeyLastUsage")
		if err != nil {
			return err
		}
		use, err = s.usage.Last(tx, lastuse.Key{Region: k.Region, ID: k.ID})
		return err
	})
	if err != nil {
		return nil, s.internalError(ctx, "GetKeyLastUsage", err)
	}
	start := s.usage.Start()
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
