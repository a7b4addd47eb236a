package api

import (
	"encoding/hex"
	"reflect"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/ciphertext"
	"github.com/trent-kms/trent/internal/kmsapi"
)

// What CloudTrail records of a KMS call besides who made it: the request
// (requestParameters, redacted), a few members of the answer
// (responseElements) and facts that are in neither (additionalEventData).
// The table below copies, operation by operation, what AWS's CloudTrail
// examples for KMS show (AWS KMS Developer Guide, "AWS KMS log entries").
//
// An operation that is not in the table records responseElements null and
// no additionalEventData. That is what CloudTrail does for every read
// (DescribeKey, GetKeyPolicy, List*, ...), every cryptographic operation
// whose answer holds plaintext, ciphertext, a signature or a MAC (Sign,
// Verify, GenerateMac, GenerateRandom, Decapsulate, ...) and the writes that
// return nothing (PutKeyPolicy, TagResource, UpdateKeyDescription, ...).
//
// No entry may copy a whole answer: each picks named members that are never
// secret (IDs, ARNs, states, dates, CreateKey's KeyMetadata), and
// audit.Parameters drops any blob on top of that. A grant token, a
// plaintext, a data key, a private key or a ciphertext never reaches the
// record (TestTrailsHoldNoSecrets).

// A trail makes responseElements and additionalEventData from a successful
// call: its response shape (of type out) and the exchange.
type trail struct {
	out    reflect.Type // the response shape it reads, a pointer to a struct; nil if none
	record func(x *exchange) (elements, additional any)
}

// on makes the trail of an operation whose response shape is O.
func on[O any](record func(x *exchange, out *O) (elements, additional any)) trail {
	return trail{
		out: reflect.TypeFor[*O](),
		record: func(x *exchange) (any, any) {
			out, ok := x.resp.(*O)
			if !ok || out == nil {
				return nil, nil
			}
			return record(x, out)
		},
	}
}

// The members CloudTrail records, named as it names them (audit.Parameters
// lowers the first letter).
type (
	keyIDElement      struct{ KeyId *string }
	keyMaterialData   struct{ KeyMaterialId *string }
	reEncryptMaterial struct{ DestinationKeyMaterialId, SourceKeyMaterialId *string }
	grantData         struct{ GrantId *string }
	encryptedWith     struct{ id *ciphertext.MaterialID }
)

// keyARN records the ARN of the key the call acted on in
// responseElements.keyId: CloudTrail does so since December 2022 for these
// operations, although their answers do not hold it. It reads nothing of
// the answer.
var keyARN = trail{record: func(x *exchange) (any, any) {
	if x.call.KeyARN == "" {
		return nil, nil
	}
	return keyIDElement{&x.call.KeyARN}, nil
}}

// keyMaterial records the key material the answer names in
// additionalEventData.keyMaterialId.
func keyMaterial[O any](id func(*O) *string) trail {
	return on(func(_ *exchange, out *O) (any, any) { return nil, keyMaterialData{id(out)} })
}

var trails = map[string]trail{
	"CreateKey": on(func(_ *exchange, out *kmsapi.CreateKeyResponse) (any, any) {
		return struct{ KeyMetadata *kmsapi.KeyMetadata }{out.KeyMetadata}, nil
	}),
	"CancelKeyDeletion": on(func(_ *exchange, out *kmsapi.CancelKeyDeletionResponse) (any, any) {
		return keyIDElement{out.KeyId}, nil
	}),
	// Without PendingWindowInDays, as in AWS's example.
	"ScheduleKeyDeletion": on(func(_ *exchange, out *kmsapi.ScheduleKeyDeletionResponse) (any, any) {
		return struct {
			KeyId        *string
			KeyState     *kmsapi.KeyState
			DeletionDate *kmsapi.Time
		}{out.KeyId, out.KeyState, out.DeletionDate}, nil
	}),
	// The grant ID and the key ARN; never the grant token.
	"CreateGrant": on(func(x *exchange, out *kmsapi.CreateGrantResponse) (any, any) {
		var arn *string
		if x.call.KeyARN != "" {
			arn = &x.call.KeyARN
		}
		return struct{ GrantId, KeyId *string }{out.GrantId, arn}, nil
	}),
	// RetireGrant's request may name the grant only by its token, which is
	// not recorded: the grant ID goes to additionalEventData.
	"RetireGrant": {record: func(x *exchange) (any, any) {
		id := x.call.GrantID
		if id == "" {
			if in, ok := x.params.(*kmsapi.RetireGrantRequest); ok {
				id = in.GetGrantId()
			}
		}
		if id == "" {
			return nil, nil
		}
		return nil, grantData{&id}
	}},

	"EnableKey":   keyARN,
	"DisableKey":  keyARN,
	"CreateAlias": keyARN,
	"UpdateAlias": keyARN,
	"DeleteAlias": keyARN,
	// The key ARN and, since imports name their material (2025), the
	// material imported.
	"ImportKeyMaterial": on(func(x *exchange, out *kmsapi.ImportKeyMaterialResponse) (any, any) {
		var arn *string
		if x.call.KeyARN != "" {
			arn = &x.call.KeyARN
		}
		return struct{ KeyId, KeyMaterialId *string }{arn, out.KeyMaterialId}, nil
	}),
	"RotateKeyOnDemand": on(func(_ *exchange, out *kmsapi.RotateKeyOnDemandResponse) (any, any) {
		return keyIDElement{out.KeyId}, nil
	}),
	// The replica's metadata, as AWS's example shows; not its policy or tags.
	"ReplicateKey": on(func(_ *exchange, out *kmsapi.ReplicateKeyResponse) (any, any) {
		return struct{ ReplicaKeyMetadata *kmsapi.KeyMetadata }{out.ReplicaKeyMetadata}, nil
	}),

	// Encrypt's answer does not name its key material; the service says
	// which it used.
	"Encrypt":                             {record: func(x *exchange) (any, any) { return nil, encryptedWith{x.call.EncryptedWith} }},
	"Decrypt":                             keyMaterial(func(o *kmsapi.DecryptResponse) *string { return o.KeyMaterialId }),
	"GenerateDataKey":                     keyMaterial(func(o *kmsapi.GenerateDataKeyResponse) *string { return o.KeyMaterialId }),
	"GenerateDataKeyWithoutPlaintext":     keyMaterial(func(o *kmsapi.GenerateDataKeyWithoutPlaintextResponse) *string { return o.KeyMaterialId }),
	"GenerateDataKeyPair":                 keyMaterial(func(o *kmsapi.GenerateDataKeyPairResponse) *string { return o.KeyMaterialId }),
	"GenerateDataKeyPairWithoutPlaintext": keyMaterial(func(o *kmsapi.GenerateDataKeyPairWithoutPlaintextResponse) *string { return o.KeyMaterialId }),
	"ReEncrypt": on(func(_ *exchange, out *kmsapi.ReEncryptResponse) (any, any) {
		return nil, reEncryptMaterial{out.DestinationKeyMaterialId, out.SourceKeyMaterialId}
	}),
}

// cloudTrail returns the requestParameters, responseElements and
// additionalEventData of the exchange's record. A refused call records
// only its request.
func cloudTrail(x *exchange) (params, elements, additional jsontext.Value) {
	// CloudTrail writes Decrypt's encryptionAlgorithm even when the request
	// left it out (AWS's Decrypt example says so): the one the call used.
	if in, ok := x.params.(*kmsapi.DecryptRequest); ok && in.EncryptionAlgorithm == nil {
		alg := kmsapi.EncryptionAlgorithmSpecSymmetricDefault
		if out, ok := x.resp.(*kmsapi.DecryptResponse); ok && out.EncryptionAlgorithm != nil {
			alg = *out.EncryptionAlgorithm
		}
		c := *in // params is the redacted copy, but keep it as it was
		c.EncryptionAlgorithm = &alg
		x.params = &c
	}
	params = audit.Parameters(x.params)
	if x.err != nil {
		return params, nil, nil
	}
	t, ok := trails[x.op]
	if !ok {
		return params, nil, nil
	}
	el, add := t.record(x)
	return params, audit.Parameters(el), additionalData(add)
}

// additionalData encodes additionalEventData. The data plane's common case,
// a key material ID, is written directly: it is on nearly every record.
func additionalData(add any) jsontext.Value {
	if e, ok := add.(encryptedWith); ok {
		if e.id == nil {
			return nil // an asymmetric key
		}
		b := make([]byte, 0, len(`{"keyMaterialId":""}`)+2*len(e.id))
		b = append(b, `{"keyMaterialId":"`...)
		b = hex.AppendEncode(b, e.id[:])
		return append(b, '"', '}')
	}
	if m, ok := add.(keyMaterialData); ok {
		if m.KeyMaterialId == nil {
			return nil
		}
		b := make([]byte, 0, len(`{"keyMaterialId":""}`)+len(*m.KeyMaterialId))
		b = append(b, `{"keyMaterialId":`...)
		b, _ = jsontext.AppendQuote(b, *m.KeyMaterialId)
		return append(b, '}')
	}
	return audit.Parameters(add)
}
