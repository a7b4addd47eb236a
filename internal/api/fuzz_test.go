package api

import (
	"errors"
	"reflect"
	"testing"

	json "github.com/go-json-experiment/json"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/kmsapi"
)

// decoders exercise decodeRequest for a spread of request shapes: blobs,
// maps, nested lists of structures, enums, integers, booleans.
var decoders = []func(body []byte) (any, error){
	fuzzDecoder[kmsapi.EncryptRequest],
	fuzzDecoder[kmsapi.DecryptRequest],
	fuzzDecoder[kmsapi.ReEncryptRequest],
	fuzzDecoder[kmsapi.CreateKeyRequest],
	fuzzDecoder[kmsapi.ListKeysRequest],
	fuzzDecoder[kmsapi.CreateAliasRequest],
	fuzzDecoder[kmsapi.TagResourceRequest],
	fuzzDecoder[kmsapi.GenerateDataKeyRequest],
	fuzzDecoder[kmsapi.ScheduleKeyDeletionRequest],
	fuzzDecoder[kmsapi.CreateGrantRequest],
	fuzzDecoder[kmsapi.SignRequest],
	fuzzDecoder[kmsapi.PutKeyPolicyRequest],
}

func fuzzDecoder[I any, P request[I]](body []byte) (any, error) {
	var params any
	in, err := decodeRequest[I, P](body, &params)
	// The audit record is built for every request, valid or not.
	if _, jerr := json.Marshal(audit.Parameters(params)); jerr != nil {
		panic("audit parameters do not marshal: " + jerr.Error())
	}
	if err != nil {
		return nil, err
	}
	return in, nil
}

// FuzzDecodeRequest feeds arbitrary bodies to the request decoder. It must
// never panic, must fail only with SerializationException or
// ValidationException, and a request it accepts must survive a round trip
// through its JSON encoding unchanged.
func FuzzDecodeRequest(f *testing.F) {
	for i, body := range []string{
		`{"KeyId":"alias/x","Plaintext":"aGVsbG8=","EncryptionContext":{"a":"b"}}`,
		`{"CiphertextBlob":"AQ==","KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","DryRun":true,"DryRunModifiers":["IGNORE_CIPHERTEXT"]}`,
		`{"CiphertextBlob":"AQ==","DestinationKeyId":"k","GrantTokens":["t"]}`,
		`{"Description":"d","KeySpec":"SYMMETRIC_DEFAULT","Tags":[{"TagKey":"a","TagValue":"b"}],"MultiRegion":false}`,
		`{"Limit":10,"Marker":"m"}`,
		`{"AliasName":"alias/a","TargetKeyId":"k"}`,
		`{"KeyId":"k","Tags":[{"TagKey":"","TagValue":"v"}]}`,
		`{"KeyId":"k","NumberOfBytes":1025}`,
		`{"KeyId":"k","PendingWindowInDays":7}`,
		`{"KeyId":"k","GranteePrincipal":"p","Operations":["Decrypt"],"Constraints":{"EncryptionContextSubset":{"a":"b"}}}`,
		`{"KeyId":"k","Message":"bWVzc2FnZQ==","SigningAlgorithm":"ECDSA_SHA_256","MessageType":"RAW"}`,
		`{"KeyId":"k","Policy":"{}","PolicyName":"default","BypassPolicyLockoutSafetyCheck":true}`,
		``, `null`, `[]`, `{"KeyId":5}`, `{"KeyId":`,
	} {
		f.Add(uint8(i), []byte(body))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		decode := decoders[int(which)%len(decoders)]
		in, err := decode(body)
		if err != nil {
			var kerr *kmsapi.Error
			if !errors.As(err, &kerr) || (kerr.Code != kmsapi.SerializationException && kerr.Code != kmsapi.ValidationException) {
				t.Fatalf("decode error %v is not a Serialization or Validation exception", err)
			}
			return
		}
		again, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("accepted request does not encode: %v", err)
		}
		in2, err := decode(again)
		if err != nil {
			t.Fatalf("re-encoded request %s is rejected: %v", again, err)
		}
		if !reflect.DeepEqual(in, in2) {
			t.Fatalf("round trip changed the request:\n%#v\n%#v", in, in2)
		}
	})
}
