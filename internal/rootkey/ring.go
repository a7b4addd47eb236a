package rootkey

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// ErrUnknownRootKey: a wrapped blob names a root key that is not in the
// ring. It is a configuration problem, not a bad blob, so it is not
// ErrUnwrap.
var ErrUnknownRootKey = errors.New("rootkey: root key not configured")

// Ring is the set of root keys trent holds: one primary that wraps new
// material, and older ones kept to unwrap what they wrapped until it is
// rewrapped under the primary. Each wrapped blob is stored with the ID of
// the root key that wrapped it, and Unwrap picks the key by that ID. A
// Ring is immutable and safe for concurrent use.
type Ring struct {
	primary Wrapper
	byID    map[string]Wrapper
	ids     []string // primary first, then the others as given
}

// NewRing makes a ring from the primary root key and older ones. It
// refuses a nil key, an empty ID, and two keys with the same ID (the same
// key configured twice).
func NewRing(primary Wrapper, older ...Wrapper) (*Ring, error) {
	r := &Ring{primary: primary, byID: map[string]Wrapper{}}
	for _, w := range append([]Wrapper{primary}, older...) {
		if w == nil {
			return nil, errors.New("rootkey: ring: nil root key")
		}
		id := w.ID()
		if id == "" {
			return nil, errors.New("rootkey: ring: root key with an empty ID")
		}
		if _, dup := r.byID[id]; dup {
			return nil, fmt.Errorf("rootkey: ring: root key %s is configured twice", id)
		}
		r.byID[id] = w
		r.ids = append(r.ids, id)
	}
	return r, nil
}

// Primary returns the root key that wraps new material.
func (r *Ring) Primary() Wrapper { return r.primary }

// IDs returns the IDs of the ring's keys, the primary first.
func (r *Ring) IDs() []string { return slices.Clone(r.ids) }

// Wrap wraps under the primary and returns its ID, to be stored next to
// the blob.
func (r *Ring) Wrap(plaintext, aad []byte) (id string, wrapped []byte, err error) {
	wrapped, err = r.primary.Wrap(plaintext, aad)
	if err != nil {
		return "", nil, err
	}
	return r.ids[0], wrapped, nil
}

// Unwrap unwraps a blob with the root key whose ID was stored with it. An
// ID not in the ring gives ErrUnknownRootKey; otherwise the key's Unwrap
// decides (ErrUnwrap for a blob that does not authenticate).
func (r *Ring) Unwrap(id string, wrapped, aad []byte) ([]byte, error) {
	w, ok := r.byID[id]
	if !ok {
		return nil, r.unknown([]string{id})
	}
	return w.Unwrap(wrapped, aad)
}

// Rewrap moves a blob to the primary root key: it unwraps with key id and
// wraps again under the primary, with the same aad, then unwraps the new
// blob with the primary and checks that it gives the same bytes back, so
// that a token that misbehaves is noticed before the old blob is replaced
// (ErrRewrapMismatch). A blob already under the primary is returned as it
// is, so rewrapping is idempotent and the caller writes only when
// newID != id.
func (r *Ring) Rewrap(id string, wrapped, aad []byte) (newID string, rewrapped []byte, err error) {
	if id == r.ids[0] {
		return id, wrapped, nil
	}
	pt, err := r.Unwrap(id, wrapped, aad)
	if err != nil {
		return "", nil, err
	}
	defer clear(pt)
	newID, rewrapped, err = r.Wrap(pt, aad)
	if err != nil {
		return "", nil, err
	}
	back, err := r.primary.Unwrap(rewrapped, aad)
	defer clear(back)
	if err != nil {
		return "", nil, fmt.Errorf("%w: the new blob does not unwrap under %s: %w", ErrRewrapMismatch, newID, err)
	}
	if subtle.ConstantTimeCompare(back, pt) != 1 {
		return "", nil, fmt.Errorf("%w: the new blob unwraps under %s to other bytes", ErrRewrapMismatch, newID)
	}
	return newID, rewrapped, nil
}

// ErrRewrapMismatch: Rewrap made a blob that does not unwrap to what it
// wrapped. The old blob is still good; nothing should be written.
var ErrRewrapMismatch = errors.New("rootkey: rewrap could not be verified")

// Has reports whether the ring holds the root key with this ID.
func (r *Ring) Has(id string) bool {
	_, ok := r.byID[id]
	return ok
}

// PrimaryID is the ID of the primary root key.
func (r *Ring) PrimaryID() string { return r.ids[0] }

// Previous returns the IDs of the ring's keys other than the primary:
// those whose blobs Rewrap moves.
func (r *Ring) Previous() []string { return slices.Clone(r.ids[1:]) }

// Keys returns the ring's keys, the primary first.
func (r *Ring) Keys() []Wrapper {
	out := make([]Wrapper, len(r.ids))
	for i, id := range r.ids {
		out[i] = r.byID[id]
	}
	return out
}

// Check refuses, with one message naming them all, the root key IDs in
// use (as recorded in the store) that the ring does not hold. trent runs
// it at start so that a missing or wrong root key stops it there rather
// than failing request by request.
func (r *Ring) Check(inUse []string) error {
	var missing []string
	for _, id := range inUse {
		if _, ok := r.byID[id]; !ok && !slices.Contains(missing, id) {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return r.unknown(missing)
}

func (r *Ring) unknown(ids []string) error {
	what := "root key " + ids[0]
	if len(ids) > 1 {
		what = "root keys " + strings.Join(ids, ", ")
	}
	return fmt.Errorf("%w: key material is wrapped by %s, but the configured ring holds only %s; add the missing one to root_key.previous (a previous root key stays configured until its material has been rewrapped under the current one: see trent rootkey rewrap)",
		ErrUnknownRootKey, what, strings.Join(r.ids, ", "))
}

// Close closes every key of the ring that holds resources (PKCS#11
// sessions) and returns the first error.
func (r *Ring) Close() error {
	var first error
	for _, id := range r.ids {
		if c, ok := r.byID[id].(io.Closer); ok {
			if err := c.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}
