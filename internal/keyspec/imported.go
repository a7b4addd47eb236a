package keyspec

import (
	"bytes"
	"encoding/asn1"
	"fmt"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// ImportedMaterial turns key material in the form customers import it (a
// 256-bit key or an HMAC key as raw bytes; an asymmetric private key as
// unencrypted PKCS #8 DER) into the form Parse takes. The two differ only
// for ECC_SECG_P256K1, which this package keeps as a bare scalar (the
// standard library cannot encode that curve); for every other spec the
// result is a copy of material. The caller clears both when done.
func ImportedMaterial(spec kmsapi.KeySpec, material []byte) ([]byte, error) {
	if infoFor(spec).family != famSecp256k1 {
		return bytes.Clone(material), nil
	}
	var p8 struct {
		Version   int
		Algorithm struct {
			Algorithm asn1.ObjectIdentifier
			Curve     asn1.ObjectIdentifier
		}
		PrivateKey []byte
		Attributes asn1.RawValue `asn1:"optional,tag:0"`
	}
	rest, err := asn1.Unmarshal(material, &p8)
	if err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("%w: %s: not a PKCS #8 private key", ErrInvalidMaterial, spec)
	}
	defer clear(p8.PrivateKey)
	if p8.Version != 0 || !p8.Algorithm.Algorithm.Equal(oidPublicKeyECDSA) || !p8.Algorithm.Curve.Equal(oidSecp256k1) {
		return nil, fmt.Errorf("%w: %s: PKCS #8 holds another kind of key", ErrInvalidMaterial, spec)
	}
	var ec ecPrivateKey
	rest, err = asn1.Unmarshal(p8.PrivateKey, &ec)
	if err != nil || len(rest) > 0 || ec.Version != 1 || len(ec.PrivateKey) == 0 || len(ec.PrivateKey) > secp256k1ScalarSize {
		return nil, fmt.Errorf("%w: %s: malformed EC private key", ErrInvalidMaterial, spec)
	}
	defer clear(ec.PrivateKey)
	if len(ec.NamedCurveOID) > 0 && !ec.NamedCurveOID.Equal(oidSecp256k1) {
		return nil, fmt.Errorf("%w: %s: EC private key on another curve", ErrInvalidMaterial, spec)
	}
	scalar := make([]byte, secp256k1ScalarSize)
	copy(scalar[secp256k1ScalarSize-len(ec.PrivateKey):], ec.PrivateKey)
	var s secp256k1.ModNScalar
	defer s.Zero()
	if overflow := s.SetBytes((*[32]byte)(scalar)); overflow != 0 || s.IsZero() {
		clear(scalar)
		return nil, fmt.Errorf("%w: %s: private key out of range [1, n-1]", ErrInvalidMaterial, spec)
	}
	if len(ec.PublicKey.Bytes) > 0 {
		// A public key given with the private one must be its own.
		pub := secp256k1.NewPrivateKey(&s).PubKey()
		if !bytes.Equal(ec.PublicKey.Bytes, pub.SerializeUncompressed()) && !bytes.Equal(ec.PublicKey.Bytes, pub.SerializeCompressed()) {
			clear(scalar)
			return nil, fmt.Errorf("%w: %s: the public key does not belong to the private key", ErrInvalidMaterial, spec)
		}
	}
	return scalar, nil
}
