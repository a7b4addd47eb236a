package kms

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	json "github.com/go-json-experiment/json"

	"github.com/trent-kms/trent/internal/keycache"
	"github.com/trent-kms/trent/internal/rootkey"
	"github.com/trent-kms/trent/internal/store"
)

// The root key ring.
//
// The service wraps with the ring's primary root key and unwraps each
// blob with the root key whose ID is stored next to it (Material.RootKey,
// importParameters.RootKey). Changing the root key is a rotation: the new
// key becomes the primary and the old one stays in the ring, unwrapping
// what it wrapped, until RewrapRootKeys has moved all of it to the new one.
//
// The store keeps a register of the root keys that may wrap something in
// it (store.Meta, rootKeysKey), so that trent can refuse at start, without
// reading every key, a ring that lacks one of them (PrepareRootKeys).
// Its invariant: every root key that wraps key material or an import
// wrapping key in the store is in the register. A process adds its
// primary before it wraps anything with it; a rewrap that has moved
// everything from a previous key of its ring drops that key. A store
// without a register (written before the ring existed) gets one built
// from a full scan, once.
//
// What the register cannot see is a process that still wraps with a key
// that another process's rewrap has moved away from (a node of a shared
// store not yet switched to the new root key): the rewrap drops the key
// from the register once it has found nothing left under it, and the
// other process goes on wrapping with it. So a rewrap reads every key, not
// only those the register points to; trent runs one at every start while
// its ring has previous keys, and the last node to switch to the new root
// key finds what the others wrapped meanwhile (docs/configuration.md,
// "Rotating the root key").

// rootKeysKey is the register's record in store.Meta (sealed, like every
// record but the store secret).
const rootKeysKey = "root-keys"

// rootKeysRecord is the register: the IDs of the root keys that may wrap
// something in the store, sorted.
type rootKeysRecord struct {
	Version int      `json:"version"`
	IDs     []string `json:"ids"`
}

// useRootKeys sets the service's ring from its Config: ring, or a ring of
// root alone. Both may be given if root is the ring's primary.
func (s *Service) useRootKeys(root rootkey.Wrapper, ring *rootkey.Ring) error {
	if ring == nil {
		r, err := rootkey.NewRing(root)
		if err != nil {
			return err
		}
		ring = r
	} else if root != nil && root != ring.Primary() {
		return errors.New("kms: Config.RootKey must be the primary of Config.RootKeys")
	}
	s.ring, s.root = ring, ring.Primary()
	return nil
}

// rootKeyUnavailable reports an unwrap that failed for want of the root
// key rather than because the blob does not authenticate: its root key is
// not in the ring (a configuration problem), or its token could not be
// reached (an outage; rootkey.PKCS11 returns exactly rootkey.ErrUnwrap
// only for a blob that does not authenticate). Neither is tampering.
func rootKeyUnavailable(err error) bool {
	return err != nil && err != rootkey.ErrUnwrap
}

func readRootKeys(tx store.Tx) (ids []string, found bool, err error) {
	v, err := tx.Get(store.Meta, rootKeysKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var r rootKeysRecord
	if err := json.Unmarshal(v, &r); err != nil || r.Version != 1 {
		return nil, false, fmt.Errorf("the store's register of root keys is malformed (%v)", err)
	}
	return r.IDs, true, nil
}

func writeRootKeys(tx store.Tx, ids map[string]bool) error {
	v, err := json.Marshal(rootKeysRecord{Version: 1, IDs: slices.Sorted(maps.Keys(ids))})
	if err != nil {
		return err
	}
	return tx.Put(store.Meta, rootKeysKey, v)
}

// RootKeysInUse returns the store's register of root keys: the IDs of the
// root keys that may wrap key material or import wrapping keys in it. A
// store without a register gives found false.
func RootKeysInUse(st store.Store) (ids []string, found bool, err error) {
	err = st.View(func(tx store.Tx) (err error) {
		ids, found, err = readRootKeys(tx)
		return err
	})
	return ids, found, err
}

// PrepareRootKeys is run at start, before anything is wrapped: it refuses
// a ring that lacks a root key the store's register names (with
// rootkey.ErrUnknownRootKey, naming it), then registers the ring's primary.
// A store without a register gets one, from a scan of every key and import
// wrapping key. It returns the registered root keys other than the
// primary: those a rewrap has to move from (a previous key of the ring
// that wraps nothing is not among them).
func PrepareRootKeys(st store.Store, ring *rootkey.Ring, logger *slog.Logger) (stale []string, err error) {
	if logger == nil {
		logger = slog.Default()
	}
	ids, found, err := RootKeysInUse(st)
	if err != nil {
		return nil, err
	}
	if !found {
		inUse, err := scanRootKeys(st)
		if err != nil {
			return nil, fmt.Errorf("listing the root keys the store uses: %w", err)
		}
		ids = slices.Sorted(maps.Keys(inUse))
		logger.Info("built the store's register of root keys from a scan of every key", "root_keys", strings.Join(ids, ","))
	}
	if err := ring.Check(ids); err != nil {
		return nil, err
	}
	err = st.Update(func(tx store.Tx) error {
		cur, _, err := readRootKeys(tx)
		if err != nil {
			return err
		}
		set := map[string]bool{ring.PrimaryID(): true}
		for _, id := range append(cur, ids...) {
			set[id] = true
		}
		if len(set) == len(cur) && slices.Contains(cur, ring.PrimaryID()) {
			return nil // nothing new: no write
		}
		return writeRootKeys(tx, set)
	})
	if err != nil {
		return nil, fmt.Errorf("registering root key %s: %w", ring.PrimaryID(), err)
	}
	for _, id := range ids {
		if id != ring.PrimaryID() {
			stale = append(stale, id)
		}
	}
	return stale, nil
}

// scanRootKeys reads the root key ID of every wrapped key material and
// import wrapping key, in one read transaction.
func scanRootKeys(st store.Store) (map[string]bool, error) {
	ids := map[string]bool{}
	err := st.View(func(tx store.Tx) error {
		clear(ids)
		err := tx.Scan(store.Keys, "", "", func(name string, v []byte) (bool, error) {
			k, err := decodeKey(v)
			if err != nil {
				return false, fmt.Errorf("key record %s: %w", name, err)
			}
			for i := range k.Materials {
				if m := &k.Materials[i]; m.present() {
					ids[m.RootKey] = true
				}
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		return tx.Scan(store.ImportParams, "", "", func(name string, v []byte) (bool, error) {
			var p importParameters
			if err := json.Unmarshal(v, &p); err != nil {
				return false, fmt.Errorf("import parameters %s: %w", name, err)
			}
			ids[p.RootKey] = true
			return true, nil
		})
	})
	return ids, err
}

// RewrapReport says what a rewrap did.
type RewrapReport struct {
	// StoreSecret: the store secret was rewrapped (set by the caller that
	// did it; RewrapRootKeys leaves it alone).
	StoreSecret bool
	// Keys is how many key records were rewritten (a multi-Region key
	// counts once per Region); Materials how many materials they held
	// that were rewrapped; ImportParams how many import wrapping keys.
	Keys, Materials, ImportParams int
	// Failed counts what could not be rewrapped (each is logged).
	Failed int
	// Remaining maps each root key other than the primary to how much is
	// still wrapped by it after the rewrap, as far as the rewrap saw: zero
	// everywhere, or empty, means the previous root keys can be removed
	// from the ring.
	Remaining map[string]int
}

// Done reports whether nothing is left wrapped by a root key other than
// the primary.
func (r *RewrapReport) Done() bool {
	for _, n := range r.Remaining {
		if n > 0 {
			return false
		}
	}
	return r.Failed == 0
}

// RewrapOptions shape RewrapRootKeys.
type RewrapOptions struct {
	// BatchSize is how many key records one transaction rewrites; 0
	// means 64.
	BatchSize int
	// Evict, if set, is called for each key record rewritten, after the
	// commit: the key cache of the process that holds one.
	Evict func(region, id string)
	// Logger receives what could not be rewrapped and a line per batch at
	// debug level; nil means slog.Default().
	Logger *slog.Logger

	// betweenReadAndWrite, for tests, runs after a batch of keys was read
	// and rewrapped and before it is written: other writers' moment.
	betweenReadAndWrite func(batch []*Key)
}

// RewrapRootKeys moves to the ring's primary every key material (every
// key, every Region, every version) and every import wrapping key that a
// previous root key of the ring wraps, while other writers go on: it reads
// a batch of key records, rewraps their material outside any transaction
// (each new blob is unwrapped again and compared before it is used:
// rootkey.Ring.Rewrap), then, in one write transaction per batch, reads
// each key again and replaces only the material that is still exactly what
// was read; a key changed meanwhile keeps its change, and what it still has
// under an old root key is taken up by another pass. The key cache is
// evicted after each commit. A blob that cannot be rewrapped (unknown root
// key, failure to unwrap) is logged, counted, and left as it is.
//
// At the end, each previous root key of the ring under which nothing was
// left is dropped from the store's register of root keys, and a backend
// that can erase replaced records from its files (bbolt: store.Scrubber)
// does. The store secret is not this function's: see
// sealed.Store.RewrapSecret.
func RewrapRootKeys(ctx context.Context, st store.Store, ring *rootkey.Ring, opts RewrapOptions) (*RewrapReport, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 64
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	rw := &rewrapper{st: st, ring: ring, opts: opts, report: &RewrapReport{Remaining: map[string]int{}}}
	// A pass leaves what changed under it while it ran (skipped); a few
	// more passes take that up.
	for pass := 0; ; pass++ {
		rw.skipped = 0
		clear(rw.report.Remaining)
		rw.report.Failed = 0
		if err := rw.keys(ctx); err != nil {
			return rw.report, err
		}
		if err := rw.importParams(ctx); err != nil {
			return rw.report, err
		}
		if rw.skipped == 0 || pass == 3 {
			break
		}
	}
	for id, n := range rw.report.Remaining {
		if n == 0 {
			delete(rw.report.Remaining, id)
		}
	}
	err := st.Update(func(tx store.Tx) error {
		cur, _, err := readRootKeys(tx)
		if err != nil {
			return err
		}
		set := map[string]bool{ring.PrimaryID(): true}
		for _, id := range cur {
			set[id] = true
		}
		for _, id := range ring.Previous() {
			if rw.report.Remaining[id] == 0 {
				delete(set, id)
			}
		}
		for id := range rw.report.Remaining {
			set[id] = true // including keys the ring lacks: the next start says so
		}
		return writeRootKeys(tx, set)
	})
	if err != nil {
		return rw.report, fmt.Errorf("updating the store's register of root keys: %w", err)
	}
	// The old blobs (and the store secret's old wrapping, which the caller
	// replaced first) linger where the backend keeps replaced records: a
	// bbolt store's free pages are overwritten now, so that a copy of the
	// data directory made afterwards holds nothing the old root key opens.
	if err := scrubStore(st); err != nil {
		return rw.report, fmt.Errorf("erasing the replaced records: %w", err)
	}
	return rw.report, nil
}

// scrubStore asks the store's backend, found through wrappers, to erase
// replaced and deleted records from its files, if it can (store.Scrubber).
func scrubStore(st store.Store) error {
	for {
		if sc, ok := st.(store.Scrubber); ok {
			return sc.Scrub()
		}
		r, ok := st.(interface{ Raw() store.Store })
		if !ok {
			return nil
		}
		st = r.Raw()
	}
}

// RewrapRootKeys is RewrapRootKeys on the service's store and ring,
// evicting its key cache as it goes.
func (s *Service) RewrapRootKeys(ctx context.Context) (*RewrapReport, error) {
	return RewrapRootKeys(ctx, s.store, s.ring, RewrapOptions{Evict: s.cache.Evict, Logger: s.logger})
}

type rewrapper struct {
	st     store.Store
	ring   *rootkey.Ring
	opts   RewrapOptions
	report *RewrapReport
	// skipped counts blobs still under an old root key that a pass left
	// because they changed between its read and its write.
	skipped int
}

// stale reports whether a blob under root key id is to be moved.
func (rw *rewrapper) stale(id string) bool { return id != rw.ring.PrimaryID() }

// fail notes a blob that could not be rewrapped.
func (rw *rewrapper) fail(what, rootID string, err error) {
	rw.opts.Logger.Error("root key rewrap: could not rewrap; it stays wrapped by its old root key", "what", what, "root_key", rootID, "err", err)
	rw.report.Failed++
	rw.report.Remaining[rootID]++
}

// rewrapped is a material's new wrapping, with what it replaces.
type rewrapped struct {
	material   int // index in Key.Materials as read
	oldRoot    string
	oldWrapped []byte
	aad        []byte
	newRoot    string
	newWrapped []byte
}

// keys rewraps the key records in batches.
func (rw *rewrapper) keys(ctx context.Context) error {
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var batch []*Key
		var last string
		more := false
		err := rw.st.View(func(tx store.Tx) error {
			batch, last, more = batch[:0], "", false
			scanned := 0
			return tx.Scan(store.Keys, "", after, func(name string, v []byte) (bool, error) {
				last = name
				scanned++
				k, err := decodeKey(v)
				if err != nil {
					return false, fmt.Errorf("key record %s: %w", name, err)
				}
				for i := range k.Materials {
					if m := &k.Materials[i]; m.present() && rw.stale(m.RootKey) {
						batch = append(batch, k)
						break
					}
				}
				if len(batch) >= rw.opts.BatchSize || scanned >= 16*rw.opts.BatchSize {
					more = true
					return false, nil
				}
				return true, nil
			})
		})
		if err != nil {
			return fmt.Errorf("root key rewrap: reading keys: %w", err)
		}
		if err := rw.keyBatch(batch); err != nil {
			return err
		}
		if !more {
			return nil
		}
		after = last
	}
}

// keyBatch rewraps the stale material of a batch of keys and writes it in
// one transaction.
func (rw *rewrapper) keyBatch(batch []*Key) error {
	plans := make([][]rewrapped, len(batch))
	for i, k := range batch {
		for j := range k.Materials {
			m := &k.Materials[j]
			if !m.present() || !rw.stale(m.RootKey) {
				continue
			}
			aad := materialAAD(k, m.ID)
			newID, blob, err := rw.ring.Rewrap(m.RootKey, m.Wrapped, aad)
			if err != nil {
				rw.fail(fmt.Sprintf("material %s of key %s", m.ID, k.ARN()), m.RootKey, err)
				continue
			}
			plans[i] = append(plans[i], rewrapped{material: j, oldRoot: m.RootKey, oldWrapped: m.Wrapped, aad: aad, newRoot: newID, newWrapped: blob})
		}
	}
	if rw.opts.betweenReadAndWrite != nil {
		rw.opts.betweenReadAndWrite(batch)
	}
	var touched []keycache.Name
	var keys, materials, skipped int
	remaining := map[string]int{}
	err := rw.st.Update(func(tx store.Tx) error {
		// The store may run this more than once: start afresh each time.
		touched, keys, materials, skipped = touched[:0], 0, 0, 0
		clear(remaining)
		for i, read := range batch {
			if len(plans[i]) == 0 {
				continue
			}
			k, err := getKey(tx, read.Region, read.ID)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted meanwhile: nothing left to rewrap
			}
			if err != nil {
				return err
			}
			changed := 0
			for _, p := range plans[i] {
				m := k.material(read.Materials[p.material].ID)
				switch {
				case m == nil || !m.present() || !rw.stale(m.RootKey):
					// Deleted or rewrapped meanwhile.
				case m.RootKey == p.oldRoot && bytes.Equal(m.Wrapped, p.oldWrapped) && bytes.Equal(materialAAD(k, m.ID), p.aad):
					m.RootKey, m.Wrapped = p.newRoot, p.newWrapped
					changed++
				default:
					skipped++ // changed meanwhile, still under an old key
					remaining[m.RootKey]++
				}
			}
			if changed == 0 {
				continue
			}
			if err := putKey(tx, k); err != nil {
				return err
			}
			touched = append(touched, keycache.Name{Region: k.Region, ID: k.ID})
			keys++
			materials += changed
		}
		return nil
	})
	for _, c := range touched {
		if rw.opts.Evict != nil {
			rw.opts.Evict(c.Region, c.ID) // after the commit: see keycache
		}
	}
	if err != nil {
		return fmt.Errorf("root key rewrap: writing keys: %w", err)
	}
	rw.report.Keys += keys
	rw.report.Materials += materials
	rw.skipped += skipped
	for id, n := range remaining {
		rw.report.Remaining[id] += n
	}
	if keys > 0 {
		rw.opts.Logger.Debug("root key rewrap: batch committed", "keys", keys, "materials", materials)
	}
	return nil
}

// importParams rewraps the import wrapping keys, in batches like keys.
func (rw *rewrapper) importParams(ctx context.Context) error {
	type item struct {
		name  string
		raw   []byte // the record as read
		p     importParameters
		owner *Key
	}
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var batch []item
		var last string
		more := false
		err := rw.st.View(func(tx store.Tx) error {
			batch, last, more = batch[:0], "", false
			scanned := 0
			return tx.Scan(store.ImportParams, "", after, func(name string, v []byte) (bool, error) {
				last = name
				scanned++
				var p importParameters
				if err := json.Unmarshal(v, &p); err != nil {
					return false, fmt.Errorf("import parameters %s: %w", name, err)
				}
				if rw.stale(p.RootKey) {
					parts := strings.Split(name, "/") // region/key ID/token ID
					if len(parts) != 3 {
						return false, fmt.Errorf("import parameters record %q is misnamed", name)
					}
					k, err := getKey(tx, parts[0], parts[1])
					if errors.Is(err, store.ErrNotFound) {
						return true, nil // its key is gone; the record goes with it
					}
					if err != nil {
						return false, err
					}
					batch = append(batch, item{name: name, raw: bytes.Clone(v), p: p, owner: k})
				}
				if len(batch) >= rw.opts.BatchSize || scanned >= 16*rw.opts.BatchSize {
					more = true
					return false, nil
				}
				return true, nil
			})
		})
		if err != nil {
			return fmt.Errorf("root key rewrap: reading import parameters: %w", err)
		}
		next := make([][]byte, len(batch))
		for i, it := range batch {
			tokenID, err := hexTokenID(it.name)
			if err != nil {
				return err
			}
			newID, blob, err := rw.ring.Rewrap(it.p.RootKey, it.p.Wrapped, importParamsAAD(it.owner, tokenID))
			if err != nil {
				rw.fail("import parameters "+it.name+" of key "+it.owner.ARN(), it.p.RootKey, err)
				continue
			}
			p := it.p
			p.RootKey, p.Wrapped = newID, blob
			if next[i], err = json.Marshal(p); err != nil {
				return err
			}
		}
		var moved, skipped int
		remaining := map[string]int{}
		err = rw.st.Update(func(tx store.Tx) error {
			moved, skipped = 0, 0
			clear(remaining)
			for i, it := range batch {
				if next[i] == nil {
					continue
				}
				v, err := tx.Get(store.ImportParams, it.name)
				if errors.Is(err, store.ErrNotFound) {
					continue // pruned or used up meanwhile
				}
				if err != nil {
					return err
				}
				if !bytes.Equal(v, it.raw) {
					var p importParameters
					if json.Unmarshal(v, &p) == nil && rw.stale(p.RootKey) {
						skipped++
						remaining[p.RootKey]++
					}
					continue
				}
				if err := tx.Put(store.ImportParams, it.name, next[i]); err != nil {
					return err
				}
				moved++
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("root key rewrap: writing import parameters: %w", err)
		}
		rw.report.ImportParams += moved
		rw.skipped += skipped
		for id, n := range remaining {
			rw.report.Remaining[id] += n
		}
		if !more {
			return nil
		}
		after = last
	}
}

// hexTokenID is the token ID at the end of an import parameters record's
// name.
func hexTokenID(name string) ([]byte, error) {
	i := strings.LastIndexByte(name, '/')
	id, err := hex.DecodeString(name[i+1:])
	if err != nil || len(id) != importTokenIDSize {
		return nil, fmt.Errorf("import parameters record %q is misnamed", name)
	}
	return id, nil
}
