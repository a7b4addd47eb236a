package kms

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/trent-kms/trent/internal/rootkey"
	"github.com/trent-kms/trent/internal/store"
	"github.com/trent-kms/trent/internal/store/sealed"
)

// MigrateLegacy rewrites a store written by trent before its records were
// sealed (sealed.Legacy) into the current format, in one transaction:
//
//   - every record is sealed (store/sealed);
//   - keys are stored by region and ID, no longer by ID alone, and the
//     deletion schedule names the region too;
//   - every key's material is unwrapped with its old binding (key ID and
//     material ID) and wrapped again bound to all the key's attributes
//     (materialAAD), so that no material wrapped the old way remains;
//   - the per-key alias index is built.
//
// The migration trusts the old store: run the upgrade on a data directory
// nobody has tampered with. It returns how many keys and aliases it moved.
//
// Each material is unwrapped by the root key of ring that its record
// names (the ring's primary if it names none) and wrapped by the primary.
func MigrateLegacy(st *sealed.Store, ring *rootkey.Ring) (keys, aliases int, err error) {
	err = st.Migrate(func(legacy, tx store.Tx) error {
		keys, aliases = 0, 0 // the store may run this more than once
		old := map[store.Table][]record{}
		for _, t := range store.Tables {
			if t == store.Meta {
				continue
			}
			err := legacy.Scan(t, "", "", func(k string, v []byte) (bool, error) {
				old[t] = append(old[t], record{k, bytes.Clone(v)})
				return true, nil
			})
			if err != nil {
				return err
			}
		}
		// Read everything first, then delete, then write: a backend need
		// not allow writes in the middle of a scan.
		for t, recs := range old {
			for _, r := range recs {
				if err := legacy.Delete(t, r.key); err != nil {
					return err
				}
			}
		}
		for _, r := range old[store.Keys] {
			k, err := decodeKey(r.value)
			if err != nil {
				return fmt.Errorf("legacy key %s: %w", r.key, err)
			}
			if k.ID != r.key {
				return fmt.Errorf("legacy key record %s holds key %s", r.key, k.ID)
			}
			for i := range k.Materials {
				m := &k.Materials[i]
				rootID := m.RootKey
				if rootID == "" {
					rootID = ring.PrimaryID()
				}
				secret, err := ring.Unwrap(rootID, m.Wrapped, materialAADv1(k.ID, m.ID))
				if err != nil {
					return fmt.Errorf("legacy key %s: material %s does not unwrap: %w", k.ID, m.ID, err)
				}
				m.RootKey, m.Wrapped, err = ring.Wrap(secret, materialAAD(k, m.ID))
				clear(secret)
				if err != nil {
					return err
				}
			}
			if err := putKey(tx, k); err != nil {
				return err
			}
			keys++
		}
		for _, r := range old[store.Aliases] {
			parts := strings.SplitN(r.key, "/", 3) // account/region/alias/name
			if len(parts) != 3 {
				return fmt.Errorf("legacy alias entry %q is malformed", r.key)
			}
			a, err := decodeAlias(r.value)
			if err != nil {
				return fmt.Errorf("legacy alias %s: %w", r.key, err)
			}
			if err := putAlias(tx, parts[0], parts[1], a, ""); err != nil {
				return err
			}
			aliases++
		}
		return nil
	})
	return keys, aliases, err
}

type record struct {
	key   string
	value []byte
}
