package envelope

import (
	"container/list"
	"context"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"sync"
	"time"
)

// CacheConfig bounds how long and how much one cached data key is used.
type CacheConfig struct {
	// MaxAge is how long a data key is used after KMS made or decrypted it. Required.
	MaxAge time.Duration
	// MaxMessages is the most messages one data key encrypts; 0 means 2^32.
	MaxMessages uint64
	// MaxBytes is the most plaintext bytes one data key encrypts; 0 means 2^63-1.
	MaxBytes uint64
	// Capacity is the most entries kept; 0 means 1000. The oldest go first.
	Capacity int
	// PartitionID separates caches sharing entries; empty means a random one.
	PartitionID string
}

// CachingMaterials is the specification's caching CMM: it reuses encryption
// and decryption materials from an underlying MaterialsManager, so that a
// producer of many messages does not call KMS for each. Each encryption
// data key is used for at most MaxMessages messages and MaxBytes bytes of
// plaintext, and no entry outlives MaxAge.
//
// An encryption is served from the cache only when its plaintext length is
// known in advance (EncryptConfig.MaxPlaintextLength, which Encrypt sets):
// a stream of unknown length could exceed the byte limit, so it gets fresh
// materials. The identity-KDF legacy suites are never cached.
type CachingMaterials struct {
	underlying MaterialsManager
	cfg        CacheConfig
	partition  [64]byte
	now        func() time.Time

	mu      sync.Mutex
	entries map[[64]byte]*list.Element
	order   *list.List // of *cacheEntry, oldest first
}

type cacheEntry struct {
	id       [64]byte
	expires  time.Time
	enc      *EncryptionMaterials
	dec      *DecryptionMaterials
	messages uint64
	bytes    uint64
}

// NewCachingMaterials returns a caching CMM over underlying (for example
// NewDefaultMaterials(keyring)).
func NewCachingMaterials(underlying MaterialsManager, cfg CacheConfig) (*CachingMaterials, error) {
	if cfg.MaxAge <= 0 {
		return nil, errors.New("envelope: the data key cache needs a positive MaxAge")
	}
	if cfg.MaxMessages == 0 {
		cfg.MaxMessages = 1 << 32
	}
	if cfg.MaxBytes == 0 || cfg.MaxBytes > 1<<63-1 {
		cfg.MaxBytes = 1<<63 - 1
	}
	if cfg.Capacity <= 0 {
		cfg.Capacity = 1000
	}
	if cfg.PartitionID == "" {
		var r [16]byte
		rand.Read(r[:])
		cfg.PartitionID = hex.EncodeToString(r[:])
	}
	return &CachingMaterials{
		underlying: underlying, cfg: cfg, partition: sha512.Sum512([]byte(cfg.PartitionID)), now: time.Now,
		entries: map[[64]byte]*list.Element{}, order: list.New(),
	}, nil
}

// EncryptionMaterials implements MaterialsManager.
func (c *CachingMaterials) EncryptionMaterials(ctx context.Context, req *EncryptionRequest) (*EncryptionMaterials, error) {
	if (req.Suite != nil && req.Suite.KDF == nil) || req.MaxPlaintextLength < 0 || uint64(req.MaxPlaintextLength) > c.cfg.MaxBytes {
		return c.underlying.EncryptionMaterials(ctx, req)
	}
	ec, err := serializeContext(req.Context)
	if err != nil {
		return nil, err
	}
	ech := sha512.Sum512(ec)
	h := sha512.New()
	h.Write(c.partition[:])
	if req.Suite == nil {
		h.Write([]byte{0})
	} else {
		h.Write([]byte{1})
		h.Write(binary.BigEndian.AppendUint16(nil, req.Suite.ID))
	}
	h.Write(ech[:])
	for _, k := range slices.Sorted(slices.Values(req.RequiredContextKeys)) {
		h.Write([]byte{2}) // required keys change the header: keep them apart
		h.Write(appendShort(nil, []byte(k)))
	}
	var id [64]byte
	h.Sum(id[:0])

	n := uint64(req.MaxPlaintextLength)
	c.mu.Lock()
	if e := c.lookup(id); e != nil && e.enc != nil {
		if e.messages+1 <= c.cfg.MaxMessages && e.bytes+n <= c.cfg.MaxBytes {
			e.messages++
			e.bytes += n
			m := *e.enc
			c.mu.Unlock()
			return &m, nil
		}
		c.remove(id)
	}
	c.mu.Unlock()

	m, err := c.underlying.EncryptionMaterials(ctx, req)
	if err != nil {
		return nil, err
	}
	if m.Suite.KDF != nil && 1 <= c.cfg.MaxMessages && n <= c.cfg.MaxBytes {
		stored := *m
		c.mu.Lock()
		c.insert(&cacheEntry{id: id, expires: c.now().Add(c.cfg.MaxAge), enc: &stored, messages: 1, bytes: n})
		c.mu.Unlock()
	}
	return m, nil
}

// DecryptionMaterials implements MaterialsManager.
func (c *CachingMaterials) DecryptionMaterials(ctx context.Context, req *DecryptionRequest) (*DecryptionMaterials, error) {
	if req.Suite.KDF == nil {
		return c.underlying.DecryptionMaterials(ctx, req)
	}
	h := sha512.New()
	h.Write(c.partition[:])
	h.Write(binary.BigEndian.AppendUint16(nil, req.Suite.ID))
	var hashes [][64]byte
	for _, k := range req.EncryptedDataKeys {
		var b []byte
		b = appendShort(b, []byte(k.ProviderID))
		b = appendShort(b, k.ProviderInfo)
		b = appendShort(b, k.Ciphertext)
		hashes = append(hashes, sha512.Sum512(b))
	}
	slices.SortFunc(hashes, func(a, b [64]byte) int { return bytesCompare(a[:], b[:]) })
	for _, x := range hashes {
		h.Write(x[:])
	}
	h.Write(make([]byte, 64))
	ec, err := serializeContext(req.Context)
	if err != nil {
		return nil, err
	}
	ech := sha512.Sum512(ec)
	h.Write(ech[:])
	// The reproduced context changes the materials (pairs only
	// authenticated), so it is part of the entry's identity too.
	rec, err := serializeContext(req.ReproducedContext)
	if err != nil {
		return nil, err
	}
	rech := sha512.Sum512(rec)
	h.Write(rech[:])
	h.Write([]byte{byte(req.CommitmentPolicy)})
	var id [64]byte
	h.Sum(id[:0])

	c.mu.Lock()
	if e := c.lookup(id); e != nil && e.dec != nil {
		m := *e.dec
		c.mu.Unlock()
		return &m, nil
	}
	c.mu.Unlock()
	m, err := c.underlying.DecryptionMaterials(ctx, req)
	if err != nil {
		return nil, err
	}
	stored := *m
	c.mu.Lock()
	c.insert(&cacheEntry{id: id, expires: c.now().Add(c.cfg.MaxAge), dec: &stored})
	c.mu.Unlock()
	return m, nil
}

func bytesCompare(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// lookup returns a live entry, dropping an expired one. c.mu is held.
func (c *CachingMaterials) lookup(id [64]byte) *cacheEntry {
	el, ok := c.entries[id]
	if !ok {
		return nil
	}
	e := el.Value.(*cacheEntry)
	if !c.now().Before(e.expires) {
		c.remove(id)
		return nil
	}
	return e
}

func (c *CachingMaterials) remove(id [64]byte) {
	if el, ok := c.entries[id]; ok {
		c.order.Remove(el)
		delete(c.entries, id)
	}
}

func (c *CachingMaterials) insert(e *cacheEntry) {
	c.remove(e.id)
	for c.order.Len() >= c.cfg.Capacity {
		oldest := c.order.Front()
		c.remove(oldest.Value.(*cacheEntry).id)
	}
	c.entries[e.id] = c.order.PushBack(e)
}

// Len returns the number of entries cached.
func (c *CachingMaterials) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
