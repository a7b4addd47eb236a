package envelope

import (
	"context"
	"crypto/rand"
	"errors"
)

// staticKeyring is a test keyring: one fixed data key, "encrypted" as itself
// under provider "static". It lets the format be tested without KMS.
type staticKeyring struct{ key []byte }

func newStaticKeyring() *staticKeyring {
	k := make([]byte, 32)
	rand.Read(k)
	return &staticKeyring{key: k}
}

func (s *staticKeyring) OnEncrypt(_ context.Context, m *EncryptionMaterials) error {
	if m.DataKey == nil {
		m.DataKey = append([]byte(nil), s.key[:m.Suite.KeyLength]...)
	}
	m.EncryptedDataKeys = append(m.EncryptedDataKeys, EncryptedDataKey{ProviderID: "static", ProviderInfo: []byte("k"), Ciphertext: []byte("x")})
	return nil
}

func (s *staticKeyring) OnDecrypt(_ context.Context, m *DecryptionMaterials, keys []EncryptedDataKey) error {
	for _, k := range keys {
		if k.ProviderID == "static" {
			m.DataKey = append([]byte(nil), s.key[:m.Suite.KeyLength]...)
			return nil
		}
	}
	return errors.New("no static key")
}
