package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// Tests of the wire protocol itself, with hand-made (but correctly or
// deliberately incorrectly signed) requests.

func TestProtocolErrors(t *testing.T) {
	s := startServer(t, t.TempDir())
	key := createKey(t, s.client(), "protocol")
	keyID := *key.KeyId
	for _, tc := range []struct {
		name        string
		req         signedRequest
		status      int
		code, msg   string
		wantNoField bool // the body must have no message member
	}{
		{name: "malformed JSON", req: signedRequest{Target: "DescribeKey", Body: `{"KeyId": `},
			status: 400, code: "SerializationException", wantNoField: true},
		{name: "body is not an object", req: signedRequest{Target: "DescribeKey", Body: `[1,2]`},
			status: 400, code: "SerializationException"},
		{name: "number for a string", req: signedRequest{Target: "DescribeKey", Body: `{"KeyId": 5}`},
			status: 400, code: "SerializationException", msg: "NUMBER_VALUE cannot be converted to String"},
		{name: "string for an integer", req: signedRequest{Target: "ListKeys", Body: `{"Limit": "5"}`},
			status: 400, code: "SerializationException", msg: "STRING_VALUE cannot be converted to Integer"},
		{name: "invalid base64 blob", req: signedRequest{Target: "Decrypt", Body: `{"CiphertextBlob": "!!!"}`},
			status: 400, code: "SerializationException"},
		{name: "missing required member", req: signedRequest{Target: "DescribeKey", Body: `{}`},
			status: 400, code: "ValidationException",
			msg: "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"},
		{name: "empty body is an empty request", req: signedRequest{Target: "DescribeKey", Body: ``},
			status: 400, code: "ValidationException",
			msg: "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"},
		{name: "two violations", req: signedRequest{Target: "Encrypt", Body: `{"KeyId": ""}`},
			status: 400, code: "ValidationException",
			msg: "2 validation errors detected: Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1; Value null at 'plaintext' failed to satisfy constraint: Member must not be null"},
		{name: "bad enum", req: signedRequest{Target: "CreateKey", Body: `{"KeyUsage": "RANDOM"}`},
			status: 400, code: "ValidationException"},
		{name: "unknown members are ignored", req: signedRequest{Target: "DescribeKey", Body: `{"KeyId": "alias/none", "Bogus": {"x": [1]}}`},
			status: 400, code: "NotFoundException", msg: "Alias arn:aws:kms:us-east-1:111122223333:alias/none is not found."},
		{name: "member names are case-sensitive", req: signedRequest{Target: "DescribeKey", Body: `{"keyid": "alias/x"}`},
			status: 400, code: "ValidationException",
			msg: "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"},
		{name: "member given twice", req: signedRequest{Target: "DescribeKey", Body: `{"KeyId": "alias/a", "KeyId": "alias/b"}`},
			status: 400, code: "SerializationException"},
		{name: "body over 1 MiB", req: signedRequest{Target: "DescribeKey", Body: `{"KeyId":"` + strings.Repeat("a", 1<<20) + `"}`},
			status: 400, code: "SerializationException", msg: "The request body is larger than 1048576 bytes."},
		{name: "unknown operation", req: signedRequest{Target: "StealKeys", Body: `{}`},
			status: 400, code: "UnknownOperationException", wantNoField: true},
		{name: "wrong target prefix", req: signedRequest{RawTarget: "Kinesis_20131202.ListStreams", Body: `{}`},
			status: 400, code: "UnknownOperationException"},
		{name: "no custom key store here", req: signedRequest{Target: "ConnectCustomKeyStore", Body: `{"CustomKeyStoreId": "cks-1234567890abcdef0"}`},
			status: 400, code: "CustomKeyStoreNotFoundException", msg: "Custom key stores are not supported by this server."},
		{name: "custom key store operations validate first", req: signedRequest{Target: "ConnectCustomKeyStore", Body: `{}`},
			status: 400, code: "ValidationException"},
		{name: "missing authentication", req: signedRequest{Target: "ListKeys", Body: `{}`, Unsigned: true},
			status: 400, code: "MissingAuthenticationTokenException", msg: "Missing Authentication Token"},
		{name: "wrong secret", req: signedRequest{Target: "ListKeys", Body: `{}`, Secret: "not-the-secret"},
			status: 400, code: "InvalidSignatureException",
			msg: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."},
		{name: "unknown access key", req: signedRequest{Target: "ListKeys", Body: `{}`, AccessKey: "AKIDUNKNOWN"},
			status: 400, code: "UnrecognizedClientException", msg: "The security token included in the request is invalid."},
		{name: "expired X-Amz-Date", req: signedRequest{Target: "ListKeys", Body: `{}`, SigningAt: time.Now().Add(-10 * time.Minute)},
			status: 400, code: "InvalidSignatureException"},
		{name: "X-Amz-Date in the future", req: signedRequest{Target: "ListKeys", Body: `{}`, SigningAt: time.Now().Add(10 * time.Minute)},
			status: 400, code: "InvalidSignatureException"},
		{name: "ciphertext for an unknown key", req: signedRequest{Target: "Decrypt", Body: `{"CiphertextBlob": "` + foreignBlob() + `"}`},
			status: 400, code: "AccessDeniedException",
			msg: "User: arn:aws:iam::111122223333:root is not authorized to perform: kms:Decrypt on the resource associated with this ciphertext because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access"},
		{name: "garbage ciphertext", req: signedRequest{Target: "Decrypt", Body: `{"CiphertextBlob": "` + base64.StdEncoding.EncodeToString([]byte("not a blob at all")) + `"}`},
			status: 400, code: "InvalidCiphertextException", wantNoField: true},
		{name: "unknown member on a write operation", req: signedRequest{Target: "EnableKey", Body: `{"KeyId": "` + keyID + `", "Extra": 1}`},
			status: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := s.do(t, tc.req)
			if resp.Status != tc.status {
				t.Fatalf("status %d, want %d; body %s", resp.Status, tc.status, resp.Body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
				t.Fatalf("Content-Type %q", ct)
			}
			if resp.Header.Get("x-amzn-RequestId") == "" {
				t.Fatal("no x-amzn-RequestId header")
			}
			if tc.status == 200 {
				return
			}
			code, msg := resp.errorBody(t)
			if code != tc.code {
				t.Fatalf("__type %q, want %q (message %q)", code, tc.code, msg)
			}
			if tc.msg != "" && msg != tc.msg {
				t.Fatalf("message\n got %q\nwant %q", msg, tc.msg)
			}
			if tc.wantNoField {
				var m map[string]any
				json.Unmarshal(resp.Body, &m)
				if _, ok := m["message"]; ok {
					t.Fatalf("body %s has a message member; AWS sends none", resp.Body)
				}
			}
		})
	}
}

// TestClientFaultsAre400 checks the HTTP status of the errors the model tags
// 404, 409 and 412: AWS KMS answers every client fault with 400 (captured
// responses), and so does trent.
func TestClientFaultsAre400(t *testing.T) {
	s := startServer(t, t.TempDir())
	c := s.client()
	enabled := *createKey(t, c, "enabled").KeyId
	disabled := *createKey(t, c, "disabled").KeyId
	pending := *createKey(t, c, "pending").KeyId
	for _, req := range []signedRequest{
		{Target: "DisableKey", Body: `{"KeyId": "` + disabled + `"}`},
		{Target: "ScheduleKeyDeletion", Body: `{"KeyId": "` + pending + `", "PendingWindowInDays": 7}`},
		{Target: "CreateAlias", Body: `{"AliasName": "alias/taken", "TargetKeyId": "` + enabled + `"}`},
	} {
		if resp := s.do(t, req); resp.Status != 200 {
			t.Fatalf("%s: %d %s", req.Target, resp.Status, resp.Body)
		}
	}
	for _, tc := range []struct {
		req   signedRequest
		code  string
		model int // the model's httpError, which AWS does not send
	}{
		{signedRequest{Target: "DescribeKey", Body: `{"KeyId": "alias/none"}`}, "NotFoundException", 404},
		{signedRequest{Target: "Encrypt", Body: `{"KeyId": "` + disabled + `", "Plaintext": "cA=="}`}, "DisabledException", 409},
		{signedRequest{Target: "Encrypt", Body: `{"KeyId": "` + pending + `", "Plaintext": "cA=="}`}, "KMSInvalidStateException", 409},
		{signedRequest{Target: "CreateAlias", Body: `{"AliasName": "alias/taken", "TargetKeyId": "` + enabled + `"}`}, "AlreadyExistsException", 409},
		{signedRequest{Target: "Encrypt", Body: `{"KeyId": "` + enabled + `", "Plaintext": "cA==", "DryRun": true}`}, "DryRunOperationException", 412},
	} {
		resp := s.do(t, tc.req)
		code, msg := resp.errorBody(t)
		if resp.Status != 400 || code != tc.code {
			t.Errorf("%s: %d %s %q, want 400 %s (the model says %d)", tc.req.Target, resp.Status, code, msg, tc.code, tc.model)
		}
	}
}

// TestStringLengthsCountUTF16 checks that string limits count UTF-16 code
// units, as AWS does: an emoji outside the Basic Multilingual Plane is 2.
func TestStringLengthsCountUTF16(t *testing.T) {
	s := startServer(t, t.TempDir())
	c := s.client()
	const emoji = "\U0001F600"
	e := func(n int) string { return strings.Repeat(emoji, n) }
	tooLong := func(member string, max int) string {
		return "' at '" + member + "' failed to satisfy constraint: Member must have length less than or equal to " + strconv.Itoa(max)
	}

	// Description: 8192 units is 4096 emoji.
	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(e(4096))})
	if err != nil {
		t.Fatalf("CreateKey with a description of 8192 units: %v", err)
	}
	if got := aws.ToString(k.KeyMetadata.Description); got != e(4096) {
		t.Fatalf("description came back as %d bytes", len(got))
	}
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(e(4097))})
	wantAPIError(t, err, "ValidationException", "1 validation error detected: Value '"+e(4097)+tooLong("description", 8192))
	_, err = c.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: k.KeyMetadata.KeyId, Description: aws.String(strings.Repeat("a", 8191) + emoji)})
	wantAPIError(t, err, "ValidationException", "1 validation error detected: Value '"+strings.Repeat("a", 8191)+emoji+tooLong("description", 8192))

	// TagKey: 128 units is 64 emoji; TagValue: 256 units.
	if _, err := c.TagResource(ctx, &kms.TagResourceInput{KeyId: k.KeyMetadata.KeyId,
		Tags: []types.Tag{{TagKey: aws.String(e(64)), TagValue: aws.String(e(128))}}}); err != nil {
		t.Fatalf("TagResource with a 128-unit key and a 256-unit value: %v", err)
	}
	_, err = c.TagResource(ctx, &kms.TagResourceInput{KeyId: k.KeyMetadata.KeyId,
		Tags: []types.Tag{{TagKey: aws.String(e(65)), TagValue: aws.String("")}}})
	wantAPIError(t, err, "ValidationException", "1 validation error detected: Value '"+e(65)+tooLong("tags.1.member.tagKey", 128))

	// AliasName: 256 units, then a pattern no emoji matches. The length
	// is checked first, so the message shows how it was counted.
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/" + e(125)), TargetKeyId: k.KeyMetadata.KeyId})
	wantAPIError(t, err, "ValidationException", "1 validation error detected: Value 'alias/"+e(125)+
		"' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$")
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/" + e(126)), TargetKeyId: k.KeyMetadata.KeyId})
	wantAPIError(t, err, "ValidationException", "1 validation error detected: Value 'alias/"+e(126)+tooLong("aliasName", 256))

	// The same through JSON escapes: a surrogate pair is one character of
	// 2 units, so 64 pairs fit a tag key and 65 do not.
	escaped := func(n int) string { return strings.Repeat(`\ud83d\ude00`, n) }
	for n, want := range map[int]int{64: 200, 65: 400} {
		resp := s.do(t, signedRequest{Target: "TagResource", Body: `{"KeyId": "` + *k.KeyMetadata.KeyId +
			`", "Tags": [{"TagKey": "` + escaped(n) + `", "TagValue": "v"}]}`})
		if resp.Status != want {
			t.Errorf("tag key of %d escaped surrogate pairs: %d %s, want %d", n, resp.Status, resp.Body, want)
		}
	}
}

// foreignBlob is a well-formed ciphertext blob naming a key that does not exist.
func foreignBlob() string {
	id := "0b3a5c4e-1111-4222-8333-944455556666"
	b := []byte{1, byte(len(id))}
	b = append(b, id...)
	b = append(b, make([]byte, 32+16+12+1+16)...)
	return base64.StdEncoding.EncodeToString(b)
}

func TestEveryOperationRoutes(t *testing.T) {
	s := startServer(t, t.TempDir())
	ops := []string{
		"CancelKeyDeletion", "ConnectCustomKeyStore", "CreateAlias", "CreateCustomKeyStore", "CreateGrant", "CreateKey",
		"Decapsulate", "Decrypt", "DeleteAlias", "DeleteCustomKeyStore", "DeleteImportedKeyMaterial", "DeriveSharedSecret",
		"DescribeCustomKeyStores", "DescribeKey", "DisableKey", "DisableKeyRotation", "DisconnectCustomKeyStore",
		"EnableKey", "EnableKeyRotation", "Encapsulate", "Encrypt", "GenerateDataKey", "GenerateDataKeyPair",
		"GenerateDataKeyPairWithoutPlaintext", "GenerateDataKeyWithoutPlaintext", "GenerateMac", "GenerateRandom",
		"GetKeyLastUsage", "GetKeyPolicy", "GetKeyRotationStatus", "GetParametersForImport", "GetPublicKey",
		"ImportKeyMaterial", "ListAliases", "ListGrants", "ListKeyPolicies", "ListKeyRotations", "ListKeys",
		"ListResourceTags", "ListRetirableGrants", "PutKeyPolicy", "ReEncrypt", "ReplicateKey", "RetireGrant",
		"RevokeGrant", "RotateKeyOnDemand", "ScheduleKeyDeletion", "Sign", "TagResource", "UntagResource",
		"UpdateAlias", "UpdateCustomKeyStore", "UpdateKeyDescription", "UpdatePrimaryRegion", "Verify", "VerifyMac",
	}
	if len(ops) != 56 {
		t.Fatalf("%d operations listed, want 56", len(ops))
	}
	for _, op := range ops {
		resp := s.do(t, signedRequest{Target: op, Body: `{}`})
		if resp.Status == http.StatusNotFound && strings.Contains(string(resp.Body), "<") || resp.Status >= 500 {
			t.Errorf("%s: status %d body %s", op, resp.Status, resp.Body)
			continue
		}
		if resp.Status != 200 {
			code, _ := resp.errorBody(t)
			if code == "UnknownOperationException" || code == "" {
				t.Errorf("%s is not routed: %s", op, resp.Body)
			}
		}
	}
}
