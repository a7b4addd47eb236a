package keyspec

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// Object identifiers for the encodings this package writes itself; the
// standard library writes those of RSA, the NIST curves and Ed25519.
var (
	oidPublicKeyECDSA = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1} // RFC 5480
	oidSecp256k1      = asn1.ObjectIdentifier{1, 3, 132, 0, 10}       // SEC 2

	// RFC 9881, section 2.
	oidMLDSA44 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 17}
	oidMLDSA65 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 18}
	oidMLDSA87 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 19}

	// draft-ietf-lamps-kyber-certificates (X509-ML-KEM-2025 module).
	oidMLKEM512  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 1}
	oidMLKEM768  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 2}
	oidMLKEM1024 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 3}
)

// subjectPublicKeyInfo is RFC 5280's SubjectPublicKeyInfo.
type subjectPublicKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// privateKeyInfo is RFC 5208's PrivateKeyInfo (RFC 5958 OneAsymmetricKey
// version 0, no attributes, no public key).
type privateKeyInfo struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
}

// ecPrivateKey is RFC 5915's ECPrivateKey. Like crypto/x509 inside PKCS #8,
// this package leaves out the curve parameters (they are in the PKCS #8
// AlgorithmIdentifier) and includes the public key.
type ecPrivateKey struct {
	Version       int
	PrivateKey    []byte
	NamedCurveOID asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	PublicKey     asn1.BitString        `asn1:"optional,explicit,tag:1"`
}

// algorithmNoParams is an AlgorithmIdentifier whose parameters are absent, as
// RFC 9881 and the ML-KEM draft require.
func algorithmNoParams(oid asn1.ObjectIdentifier) pkix.AlgorithmIdentifier {
	return pkix.AlgorithmIdentifier{Algorithm: oid}
}

// algorithmEC is id-ecPublicKey with a namedCurve parameter (RFC 5480).
func algorithmEC(curve asn1.ObjectIdentifier) (pkix.AlgorithmIdentifier, error) {
	params, err := asn1.Marshal(curve)
	if err != nil {
		return pkix.AlgorithmIdentifier{}, err
	}
	return pkix.AlgorithmIdentifier{Algorithm: oidPublicKeyECDSA, Parameters: asn1.RawValue{FullBytes: params}}, nil
}

func marshalSPKI(alg pkix.AlgorithmIdentifier, key []byte) ([]byte, error) {
	return asn1.Marshal(subjectPublicKeyInfo{
		Algorithm: alg,
		PublicKey: asn1.BitString{Bytes: key, BitLength: 8 * len(key)},
	})
}

func marshalPKCS8(alg pkix.AlgorithmIdentifier, privateKey []byte) ([]byte, error) {
	return asn1.Marshal(privateKeyInfo{Algorithm: alg, PrivateKey: privateKey})
}

// marshalECPKCS8 encodes an EC private key as PKCS #8 holding an RFC 5915
// ECPrivateKey: d is the scalar, left-padded to the curve's order length;
// point is the uncompressed public point.
func marshalECPKCS8(curve asn1.ObjectIdentifier, d, point []byte) ([]byte, error) {
	alg, err := algorithmEC(curve)
	if err != nil {
		return nil, err
	}
	inner, err := asn1.Marshal(ecPrivateKey{
		Version:    1,
		PrivateKey: d,
		PublicKey:  asn1.BitString{Bytes: point, BitLength: 8 * len(point)},
	})
	if err != nil {
		return nil, err
	}
	return marshalPKCS8(alg, inner)
}

// marshalSeedPKCS8 encodes a seed-only ML-DSA (RFC 9881) or ML-KEM
// (draft-ietf-lamps-kyber-certificates) private key: the PKCS #8 privateKey
// OCTET STRING holds the CHOICE alternative `seed [0] IMPLICIT OCTET STRING`,
// that is 0x80 ‖ len ‖ seed.
func marshalSeedPKCS8(oid asn1.ObjectIdentifier, seed []byte) ([]byte, error) {
	if len(seed) > 127 {
		return nil, fmt.Errorf("keyspec: seed of %d bytes", len(seed))
	}
	inner := make([]byte, 0, 2+len(seed))
	inner = append(inner, 0x80, byte(len(seed)))
	inner = append(inner, seed...)
	return marshalPKCS8(algorithmNoParams(oid), inner)
}
