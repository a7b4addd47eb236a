package kms

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/keycache"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/store"
)

// Scheduled work. Every key that will need the scheduler records when, in
// store.Schedule ("<date>/<region>/<key ID>", kept by putKey): the end of
// its deletion window, its next automatic rotation, an on-demand rotation
// in progress, the expiry of imported material, the end of a replica's
// creation. RunScheduledWork attends to each key whose date has come, in a
// transaction of its own that reads the key afresh and does only what is
// due at that moment. A job one process has done is therefore seen as done
// by every other process sharing the store, whatever the timing.
//
// On top of that, a lease kept in the store (store.Meta) lets one process
// at a time do the work, so that several trent nodes do not all attempt
// it; the re-check is what makes each job run once even when two of them
// overlap (a node paused past the end of its lease).

// scheduleTimeLayout has a fixed width, so schedule entries sort by date.
const scheduleTimeLayout = "20060102T150405.000000000Z"

// nextAttention is when the key next needs the scheduler; zero for never.
func (k *Key) nextAttention() time.Time {
	var at time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	switch k.State {
	case kmsapi.KeyStatePendingDeletion:
		consider(k.DeletionDate)
	case kmsapi.KeyStateCreating:
		consider(k.CreationDate)
	}
	if k.rotates() {
		consider(k.OnDemandRotationStartDate)
		if k.rotatesAutomatically() {
			consider(k.NextRotationDate)
		}
	}
	for i := range k.Materials {
		if m := &k.Materials[i]; m.Import != nil && m.present() {
			consider(m.Import.ValidTo)
		}
	}
	return at
}

// rotates reports whether this copy of the key is the one that rotates:
// a single-Region key, or the primary of a multi-Region key (rotation
// reaches the replicas from there).
func (k *Key) rotates() bool { return !k.MultiRegion || k.Region == k.PrimaryRegion }

// rotatesAutomatically reports whether automatic rotation is due to run
// on this copy: it is on, and the key is enabled (a disabled key or one
// pending deletion keeps its schedule but does not rotate; when it is
// enabled again a rotation whose date has passed happens at once).
func (k *Key) rotatesAutomatically() bool {
	return k.RotationPeriodInDays > 0 && k.State == kmsapi.KeyStateEnabled && k.rotates()
}

func scheduleEntry(at time.Time, region, id string) string {
	return at.UTC().Format(scheduleTimeLayout) + "/" + region + "/" + id
}

// parseScheduleEntry is the inverse of scheduleEntry.
func parseScheduleEntry(entry string) (at time.Time, region, id string, err error) {
	date, rest, ok1 := strings.Cut(entry, "/")
	region, id, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 {
		return at, "", "", fmt.Errorf("malformed schedule entry %q", entry)
	}
	at, err = time.Parse(scheduleTimeLayout, date)
	if err != nil {
		return at, "", "", fmt.Errorf("malformed schedule entry %q: %w", entry, err)
	}
	return at, region, id, nil
}

// ServiceEvent is something the service did on its own (not for a caller):
// the scheduled work. The audit log records it, as CloudTrail records
// AWS's service events.
type ServiceEvent struct {
	Name    string // "DeleteKey", "RotateKey", "DeleteExpiredKeyMaterial"
	Time    time.Time
	Account string
	Region  string
	KeyID   string
	KeyARN  string
	// Detail holds the event's own values (a key material ID, a rotation type).
	Detail map[string]string
}

// EventLog receives the service's events. While it is not healthy, no
// scheduled work is done: nothing happens that could not be recorded.
type EventLog interface {
	Healthy() error
	RecordServiceEvent(ServiceEvent) error
}

// leaseKey is the scheduler lease's record in store.Meta.
const leaseKey = "scheduler lease"

// RunScheduledWork does every piece of scheduled work that is due, if this
// service holds (or can take) the scheduler lease, and returns how many
// keys it attended to. The server calls it periodically and whenever a
// request asks for work to be done soon (an on-demand rotation); tests
// call it after moving the clock.
func (s *Service) RunScheduledWork(ctx context.Context) (int, error) {
	return s.runScheduledWork(ctx, true)
}

// runScheduledWork is RunScheduledWork, with or without the lease. A run
// asked for by a request (kick) goes without it: the node that took the
// request does the work at once even while another node holds the lease,
// which is safe since every job re-checks in its own transaction.
func (s *Service) runScheduledWork(ctx context.Context, lease bool) (int, error) {
	if s.events != nil {
		if err := s.events.Healthy(); err != nil {
			return 0, fmt.Errorf("not doing scheduled work while the audit log is unavailable: %w", err)
		}
	}
	now := s.now()
	if lease {
		ok, err := s.lease.Take(now)
		if err != nil || !ok {
			return 0, err
		}
	}
	return s.runDueWork(ctx, now)
}

// runDueWork attends to every key whose scheduled date is not after now.
func (s *Service) runDueWork(ctx context.Context, now time.Time) (int, error) {
	type due struct{ region, id string }
	var dues []due
	err := s.store.View(func(tx store.Tx) error {
		return tx.Scan(store.Schedule, "", "", func(entry string, _ []byte) (bool, error) {
			at, region, id, err := parseScheduleEntry(entry)
			if err != nil {
				return false, err
			}
			if at.After(now) {
				return false, nil // entries are in date order: the rest are later
			}
			dues = append(dues, due{region, id})
			return true, nil
		})
	})
	if err != nil {
		return 0, err
	}
	attended, deleted := 0, 0
	for _, d := range dues {
		if err := ctx.Err(); err != nil {
			return attended, err
		}
		var w work
		err := s.store.Update(func(tx store.Tx) error {
			w = work{} // set afresh on every run: the store may run fn twice
			k, err := getKey(tx, d.region, d.id)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			if at := k.nextAttention(); at.IsZero() || at.After(now) {
				return nil // done by another process, or rescheduled
			}
			return s.attend(tx, k, now, &w)
		})
		s.cache.EvictAll(w.touched)
		if err != nil {
			return attended, fmt.Errorf("scheduled work on key %s/%s: %w", d.region, d.id, err)
		}
		if len(w.events) > 0 {
			attended++
		}
		for _, e := range w.events {
			if e.Name == "DeleteKey" {
				deleted++
			}
			s.logger.InfoContext(ctx, "scheduled work", "event", e.Name, "key", e.KeyARN)
			if s.events != nil {
				if err := s.events.RecordServiceEvent(e); err != nil {
					return attended, fmt.Errorf("recording %s of %s: %w", e.Name, e.KeyARN, err)
				}
			}
		}
	}
	if deleted > 0 {
		// The records are gone from the store; make them gone from its
		// files too, so the material cannot be recovered even with the
		// root key.
		if err := s.scrub(); err != nil {
			return attended, fmt.Errorf("erasing deleted keys from the store's files: %w", err)
		}
	}
	return attended, nil
}

// work is what attending to one key did: the events to record and the
// keys whose cached copies are stale.
type work struct {
	events  []ServiceEvent
	touched []keycache.Name
}

func (w *work) event(name string, k *Key, now time.Time, detail map[string]string) {
	w.events = append(w.events, ServiceEvent{Name: name, Time: now, Account: k.Account, Region: k.Region, KeyID: k.ID, KeyARN: k.ARN(), Detail: detail})
}

// attend does, in tx, whatever is due on k at now.
func (s *Service) attend(tx store.Tx, k *Key, now time.Time, w *work) error {
	w.touched = append(w.touched, keycache.Name{Region: k.Region, ID: k.ID})
	if k.deletionDue(now) {
		w.event("DeleteKey", k, now, nil)
		return s.deleteKeyCopy(tx, k, now, w)
	}
	if k.State == kmsapi.KeyStateCreating && !now.Before(k.CreationDate) {
		// A replica is ready once its record is written: its material was
		// wrapped for it when it was made.
		k.State = kmsapi.KeyStateEnabled
		if k.Origin == kmsapi.OriginTypeExternal && !k.hasAllMaterial() {
			k.State = kmsapi.KeyStatePendingImport
		}
	}
	expireMaterial(k, now, w)
	if err := putKey(tx, k); err != nil {
		return err
	}
	if !k.rotates() {
		return nil
	}
	switch {
	case !k.OnDemandRotationStartDate.IsZero() && !now.Before(k.OnDemandRotationStartDate):
		return s.rotate(tx, k, kmsapi.RotationTypeOnDemand, now, w)
	case k.rotatesAutomatically() && !now.Before(k.NextRotationDate):
		return s.rotate(tx, k, kmsapi.RotationTypeAutomatic, now, w)
	}
	return nil
}

// kick asks the scheduler loop to run now, lease or not (an on-demand
// rotation or a new replica is waiting); it never blocks.
func (s *Service) kick() {
	select {
	case s.kicks <- struct{}{}:
	default:
	}
}

// runScheduler runs the scheduled work at start (the server may have been
// down when something fell due), then every interval and whenever kicked,
// until stop is closed.
func (s *Service) runScheduler(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		cancel()
	}()
	lease := true
	for {
		start := time.Now()
		_, err := s.runScheduledWork(ctx, lease)
		if err != nil && ctx.Err() == nil {
			s.logger.Error("scheduled work", "err", err)
		}
		if s.workDone != nil && ctx.Err() == nil {
			s.workDone(time.Since(start), err)
		}
		select {
		case <-stop:
			return
		case <-t.C:
			lease = true
		case <-s.kicks:
			lease = false
		}
	}
}

// moveLegacySchedule moves the deletion schedule of a store written by
// trent 0.1 (store.Deletions) into store.Schedule.
func moveLegacySchedule(st store.Store) error {
	return st.Update(func(tx store.Tx) error {
		var entries []string
		err := tx.Scan(store.Deletions, "", "", func(entry string, _ []byte) (bool, error) {
			entries = append(entries, entry)
			return true, nil
		})
		if err != nil || len(entries) == 0 {
			return err
		}
		for _, entry := range entries {
			_, region, id, err := parseScheduleEntry(entry)
			if err != nil {
				return err
			}
			if err := tx.Delete(store.Deletions, entry); err != nil {
				return err
			}
			k, err := getKey(tx, region, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if err := putKey(tx, k); err != nil { // writes its schedule entry
				return err
			}
		}
		return nil
	})
}
