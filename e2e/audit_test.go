package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// auditEvent is the part of a CloudTrail-shaped record the test reads.
type auditEvent struct {
	EventVersion string `json:"eventVersion"`
	UserIdentity struct {
		Type        string `json:"type"`
		ARN         string `json:"arn"`
		AccountID   string `json:"accountId"`
		AccessKeyID string `json:"accessKeyId"`
	} `json:"userIdentity"`
	EventSource       string         `json:"eventSource"`
	EventName         string         `json:"eventName"`
	AWSRegion         string         `json:"awsRegion"`
	SourceIPAddress   string         `json:"sourceIPAddress"`
	ErrorCode         string         `json:"errorCode"`
	RequestParameters map[string]any `json:"requestParameters"`
	RequestID         string         `json:"requestID"`
	EventID           string         `json:"eventID"`
	EventType         string         `json:"eventType"`
	ReadOnly          bool           `json:"readOnly"`
	Resources         []struct {
		Type, ARN string
	} `json:"resources"`
}

func TestEveryCallIsAudited(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	c := s.client()
	k := createKey(t, c, "audited")
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("p"), EncryptionContext: map[string]string{"Dept": "IT"}})
	if err != nil {
		t.Fatal(err)
	}
	c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}) // wrong context: fails
	s.do(t, signedRequest{Target: "ListKeys", Body: `{}`, Unsigned: true})
	c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/absent")})
	s.stop()

	f, err := os.Open(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var events []auditEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line %q is not JSON: %v", sc.Text(), err)
		}
		if e.EventType == "AwsApiCall" { // not the chain's segment headers and checkpoints
			events = append(events, e)
		}
	}
	want := []struct{ name, errorCode string }{
		{"CreateKey", ""}, {"Encrypt", ""}, {"Decrypt", "InvalidCiphertextException"},
		{"ListKeys", "MissingAuthenticationTokenException"}, {"DescribeKey", "NotFoundException"},
	}
	if len(events) != len(want) {
		t.Fatalf("%d audit records, want %d: %+v", len(events), len(want), events)
	}
	for i, w := range want {
		e := events[i]
		if e.EventName != w.name || e.ErrorCode != w.errorCode || e.EventSource != "kms.amazonaws.com" ||
			e.RequestID == "" || e.EventID == "" || e.EventVersion == "" || e.SourceIPAddress != "127.0.0.1" {
			t.Errorf("record %d = %+v, want %s with error %q", i, e, w.name, w.errorCode)
		}
		if w.errorCode != "MissingAuthenticationTokenException" &&
			(e.UserIdentity.ARN != "arn:aws:iam::111122223333:root" || e.UserIdentity.AccessKeyID != accessKey || e.AWSRegion != region) {
			t.Errorf("record %d identity = %+v region %q", i, e.UserIdentity, e.AWSRegion)
		}
	}
	encrypt := events[1]
	if encrypt.RequestParameters["keyId"] != *k.KeyId || !encrypt.ReadOnly ||
		len(encrypt.Resources) != 1 || encrypt.Resources[0].ARN != *k.Arn || encrypt.Resources[0].Type != "AWS::KMS::Key" {
		t.Errorf("Encrypt record = %+v", encrypt)
	}
	if _, ok := encrypt.RequestParameters["plaintext"]; ok {
		t.Error("the Encrypt record holds the plaintext member")
	}
	if ec, _ := encrypt.RequestParameters["encryptionContext"].(map[string]any); ec["Dept"] != "IT" {
		t.Errorf("the Encrypt record lost the encryption context: %v", encrypt.RequestParameters)
	}
	if events[0].ReadOnly {
		t.Error("CreateKey recorded as read-only")
	}
}

// readRecords returns the API call records of an audit log, in order, as
// decoded JSON objects.
func readRecords(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var records []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("audit line %q is not JSON: %v", sc.Text(), err)
		}
		if r["eventType"] == "AwsApiCall" {
			records = append(records, r)
		}
	}
	return records
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// match compares a record's value with an expected one written as AWS's
// example shows it. Objects must have exactly the expected members. Where
// AWS's value cannot be the same (an ID, a date), the expected value says
// what it must look like: "<hex64>" (a key material ID), "<date>"
// (CloudTrail's "Jan 2, 2006, 3:04:05 PM").
func match(t *testing.T, at string, got, want any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s = %v, want an object %v", at, got, want)
			return
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				t.Errorf("%s has %q (%v), which AWS's record does not", at, k, g[k])
			}
		}
		for k, v := range w {
			if _, ok := g[k]; !ok {
				t.Errorf("%s lacks %q", at, k)
				continue
			}
			match(t, at+"."+k, g[k], v)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s = %v, want %v", at, got, want)
			return
		}
		for i := range w {
			match(t, fmt.Sprintf("%s[%d]", at, i), g[i], w[i])
		}
	case string:
		s, _ := got.(string)
		switch w {
		case "<hex64>":
			if !hex64.MatchString(s) {
				t.Errorf("%s = %v, want 64 hex digits", at, got)
			}
		case "<date>":
			if _, err := time.Parse("Jan 2, 2006, 3:04:05 PM", s); err != nil {
				t.Errorf("%s = %v, want a date as CloudTrail writes it: %v", at, got, err)
			}
		default:
			if s != w {
				t.Errorf("%s = %v, want %q", at, got, w)
			}
		}
	default:
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", at, got, want)
		}
	}
}

// TestAuditRecordsLikeCloudTrail makes the calls of AWS's CloudTrail
// examples for KMS ("AWS KMS log entries" in the KMS Developer Guide) and
// compares each record with its example, field by field, where the values
// can be the same: requestParameters, responseElements,
// additionalEventData, resources and the constant fields. IDs and dates
// are compared by form.
func TestAuditRecordsLikeCloudTrail(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	c := s.client()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	created, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("")})
	if err != nil {
		t.Fatal(err)
	}
	k := created.KeyMetadata
	other := createKey(t, c, "destination")
	keyID, keyARN, otherARN := *k.KeyId, *k.Arn, *other.Arn
	ec := map[string]string{"Department": "Engineering", "Project": "Alpha"}

	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyARN), Plaintext: []byte("p"),
		EncryptionContext: map[string]string{"Department": "Engineering"}, EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault})
	must(enc, err)
	enc2, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("p"), EncryptionContext: ec})
	must(enc2, err)
	must(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc2.CiphertextBlob, KeyId: aws.String(keyARN), EncryptionContext: ec}))
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc2.CiphertextBlob}) // no context: refused
	wantAPIError(t, err, "InvalidCiphertextException", "")
	must(c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc2.CiphertextBlob, SourceEncryptionContext: ec,
		SourceEncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault, DestinationKeyId: other.KeyId,
		DestinationEncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault, DestinationEncryptionContext: map[string]string{"Level": "3A"}}))
	must(c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(keyID), KeySpec: types.DataKeySpecAes256, EncryptionContext: ec}))
	must(c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: aws.String(keyID), KeySpec: types.DataKeySpecAes256,
		EncryptionContext: map[string]string{"Project": "Alpha"}}))
	must(c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: aws.String(keyID), KeyPairSpec: types.DataKeyPairSpecRsa2048,
		EncryptionContext: map[string]string{"Project": "Alpha"}}))
	must(c.GenerateDataKeyPairWithoutPlaintext(ctx, &kms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: aws.String(keyID),
		KeyPairSpec: types.DataKeyPairSpecEccNistP256, EncryptionContext: map[string]string{"Index": "5"}}))
	grantee := "arn:aws:iam::" + account + ":root"
	grant, err := c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(keyARN), GranteePrincipal: aws.String(grantee),
		Operations:  []types.GrantOperation{types.GrantOperationEncrypt, types.GrantOperationRetireGrant},
		Constraints: &types.GrantConstraints{EncryptionContextSubset: map[string]string{"ContextKey1": "Value1"}}})
	must(grant, err)
	must(c.RetireGrant(ctx, &kms.RetireGrantInput{KeyId: aws.String(keyID), GrantId: grant.GrantId}))
	grant2, err := c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(keyID), GranteePrincipal: aws.String(grantee),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	must(grant2, err)
	must(c.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: aws.String(keyID), GrantId: grant2.GrantId}))
	must(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/ExampleAlias"), TargetKeyId: aws.String(keyID)}))
	must(c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/ExampleAlias"), TargetKeyId: other.KeyId}))
	must(c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/ExampleAlias")}))
	must(c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)}))
	must(c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(keyID), PolicyName: aws.String("default")}))
	must(c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(keyARN), Tags: []types.Tag{{TagKey: aws.String("Department"), TagValue: aws.String("IT")}}}))
	must(c.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: aws.String(keyID), Description: aws.String("New key description")}))
	must(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(keyID)}))
	must(c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(keyID)}))
	must(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(keyID), PendingWindowInDays: aws.Int32(20)}))
	must(c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(keyID)}))
	kem := createKeyWith(t, c, types.KeySpecMlKem768, types.KeyUsageTypeEncapsulateDecapsulate)
	encap, err := c.Encapsulate(ctx, &kms.EncapsulateInput{KeyId: kem.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
	must(encap, err)
	must(c.Decapsulate(ctx, &kms.DecapsulateInput{KeyId: kem.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem,
		SharedSecretCiphertextBlob: encap.SharedSecretCiphertextBlob}))
	signer := createKeyWith(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	sig, err := c.Sign(ctx, &kms.SignInput{KeyId: signer.KeyId, Message: []byte("m"), MessageType: types.MessageTypeRaw,
		SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	must(sig, err)
	must(c.Verify(ctx, &kms.VerifyInput{KeyId: signer.KeyId, Message: []byte("m"), MessageType: types.MessageTypeRaw,
		SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256, Signature: sig.Signature}))
	must(c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: signer.KeyId}))
	hmacKey := createKeyWith(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	mac, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: hmacKey.KeyId, Message: []byte("m"), MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	must(mac, err)
	must(c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: hmacKey.KeyId, Message: []byte("m"), MacAlgorithm: types.MacAlgorithmSpecHmacSha256, Mac: mac.Mac}))
	rotated := createKey(t, c, "rotated")
	must(c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: rotated.KeyId}))
	must(c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: rotated.KeyId}))
	onDemand, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: rotated.KeyId})
	must(onDemand, err)
	must(c.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: rotated.KeyId}))
	must(c.UntagResource(ctx, &kms.UntagResourceInput{KeyId: aws.String(keyARN), TagKeys: []string{"Department"}}))
	primary, err := c.CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)})
	must(primary, err)
	replica, err := c.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: primary.KeyMetadata.KeyId, ReplicaRegion: aws.String("eu-west-1")})
	must(replica, err)
	s.stop()

	records := readRecords(t, filepath.Join(dir, "audit.jsonl"))
	next := map[string]int{} // how many records of each name were taken
	take := func(name string) map[string]any {
		t.Helper()
		n := next[name]
		next[name]++
		for _, r := range records {
			if r["eventName"] == name {
				if n == 0 {
					return r
				}
				n--
			}
		}
		t.Fatalf("no record %d of %s", next[name], name)
		return nil
	}
	key := func(arn string) []any {
		return []any{map[string]any{"accountId": account, "type": "AWS::KMS::Key", "ARN": arn}}
	}
	withKeyID := map[string]any{"keyId": keyARN}
	aliasARN := "arn:aws:kms:" + region + ":" + account + ":alias/ExampleAlias"
	keyMaterial := map[string]any{"keyMaterialId": "<hex64>"}
	const absent = "<absent>"
	for _, tc := range []struct {
		name                             string
		readOnly                         bool
		params, elements, additionalData any // nil: null; absent: no member
		resources                        []any
	}{
		{name: "CreateKey", params: map[string]any{"description": ""}, elements: map[string]any{"keyMetadata": map[string]any{
			"AWSAccountId": account, "keyId": keyID, "arn": keyARN, "creationDate": "<date>", "enabled": true, "description": "",
			"keyUsage": "ENCRYPT_DECRYPT", "keyState": "Enabled", "origin": "AWS_KMS", "keyManager": "CUSTOMER",
			"keySpec": "SYMMETRIC_DEFAULT", "customerMasterKeySpec": "SYMMETRIC_DEFAULT", "encryptionAlgorithms": []any{"SYMMETRIC_DEFAULT"},
			// Members of KeyMetadata newer than AWS's example.
			"multiRegion": false, "currentKeyMaterialId": "<hex64>",
		}}, additionalData: absent, resources: key(keyARN)},
		{name: "Encrypt", readOnly: true, params: map[string]any{"encryptionContext": map[string]any{"Department": "Engineering"},
			"keyId": keyARN, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}, additionalData: keyMaterial, resources: key(keyARN)},
		{name: "Encrypt", readOnly: true, params: map[string]any{"keyId": keyID, "encryptionContext": map[string]any{"Department": "Engineering", "Project": "Alpha"}},
			additionalData: keyMaterial, resources: key(keyARN)},
		{name: "Decrypt", readOnly: true, params: map[string]any{"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "keyId": keyARN,
			"encryptionContext": map[string]any{"Department": "Engineering", "Project": "Alpha"}}, additionalData: keyMaterial, resources: key(keyARN)},
		{name: "Decrypt", readOnly: true, params: map[string]any{"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}, additionalData: absent, resources: key(keyARN)},
		{name: "ReEncrypt", readOnly: true, params: map[string]any{"sourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
			"sourceEncryptionContext": map[string]any{"Project": "Alpha", "Department": "Engineering"}, "destinationKeyId": *other.KeyId,
			"destinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "destinationEncryptionContext": map[string]any{"Level": "3A"}},
			additionalData: map[string]any{"destinationKeyMaterialId": "<hex64>", "sourceKeyMaterialId": "<hex64>"},
			resources:      append(key(keyARN), key(otherARN)...)},
		{name: "GenerateDataKey", readOnly: true, params: map[string]any{"keyId": keyID, "keySpec": "AES_256",
			"encryptionContext": map[string]any{"Department": "Engineering", "Project": "Alpha"}}, additionalData: keyMaterial, resources: key(keyARN)},
		{name: "GenerateDataKeyWithoutPlaintext", readOnly: true, params: map[string]any{"keyId": keyID, "keySpec": "AES_256",
			"encryptionContext": map[string]any{"Project": "Alpha"}}, additionalData: keyMaterial, resources: key(keyARN)},
		{name: "GenerateDataKeyPair", readOnly: true, params: map[string]any{"keyPairSpec": "RSA_2048",
			"encryptionContext": map[string]any{"Project": "Alpha"}, "keyId": keyID}, additionalData: keyMaterial, resources: key(keyARN)},
		{name: "GenerateDataKeyPairWithoutPlaintext", readOnly: true, params: map[string]any{"keyPairSpec": "ECC_NIST_P256",
			"encryptionContext": map[string]any{"Index": "5"}, "keyId": keyID}, additionalData: keyMaterial, resources: key(keyARN)},
		{name: "CreateGrant", params: map[string]any{"keyId": keyARN, "constraints": map[string]any{"encryptionContextSubset": map[string]any{"ContextKey1": "Value1"}},
			"operations": []any{"Encrypt", "RetireGrant"}, "granteePrincipal": grantee},
			elements: map[string]any{"grantId": *grant.GrantId, "keyId": keyARN}, additionalData: absent, resources: key(keyARN)},
		{name: "RetireGrant", params: map[string]any{"keyId": keyID, "grantId": *grant.GrantId},
			additionalData: map[string]any{"grantId": *grant.GrantId}, resources: key(keyARN)},
		{name: "RevokeGrant", params: map[string]any{"keyId": keyID, "grantId": *grant2.GrantId}, additionalData: absent, resources: key(keyARN)},
		// The alias operations list the alias, then the key.
		{name: "CreateAlias", params: map[string]any{"aliasName": "alias/ExampleAlias", "targetKeyId": keyID}, elements: withKeyID,
			additionalData: absent, resources: append(key(aliasARN), key(keyARN)...)},
		{name: "UpdateAlias", params: map[string]any{"aliasName": "alias/ExampleAlias", "targetKeyId": *other.KeyId},
			elements: map[string]any{"keyId": otherARN}, additionalData: absent, resources: append(key(aliasARN), key(otherARN)...)},
		{name: "DeleteAlias", params: map[string]any{"aliasName": "alias/ExampleAlias"}, elements: map[string]any{"keyId": otherARN},
			additionalData: absent, resources: append(key(aliasARN), key(otherARN)...)},
		{name: "DescribeKey", readOnly: true, params: map[string]any{"keyId": keyID}, additionalData: absent, resources: key(keyARN)},
		{name: "GetKeyPolicy", readOnly: true, params: map[string]any{"keyId": keyID, "policyName": "default"}, additionalData: absent, resources: key(keyARN)},
		{name: "TagResource", params: map[string]any{"keyId": keyARN, "tags": []any{map[string]any{"tagKey": "Department", "tagValue": "IT"}}},
			additionalData: absent, resources: key(keyARN)},
		{name: "UpdateKeyDescription", params: map[string]any{"keyId": keyID, "description": "New key description"}, additionalData: absent, resources: key(keyARN)},
		{name: "DisableKey", params: map[string]any{"keyId": keyID}, elements: withKeyID, additionalData: absent, resources: key(keyARN)},
		{name: "EnableKey", params: map[string]any{"keyId": keyID}, elements: withKeyID, additionalData: absent, resources: key(keyARN)},
		{name: "ScheduleKeyDeletion", params: map[string]any{"pendingWindowInDays": float64(20), "keyId": keyID},
			elements: map[string]any{"keyId": keyARN, "keyState": "PendingDeletion", "deletionDate": "<date>"}, additionalData: absent, resources: key(keyARN)},
		{name: "CancelKeyDeletion", params: map[string]any{"keyId": keyID}, elements: withKeyID, additionalData: absent, resources: key(keyARN)},
		{name: "Decapsulate", readOnly: true, params: map[string]any{"keyId": *kem.KeyId, "encapsulationAlgorithm": "ML_KEM"},
			additionalData: absent, resources: key(*kem.Arn)},
		{name: "Sign", readOnly: true, params: map[string]any{"keyId": *signer.KeyId, "messageType": "RAW", "signingAlgorithm": "ECDSA_SHA_256"},
			additionalData: absent, resources: key(*signer.Arn)},
		{name: "Verify", readOnly: true, params: map[string]any{"keyId": *signer.KeyId, "messageType": "RAW", "signingAlgorithm": "ECDSA_SHA_256"},
			additionalData: absent, resources: key(*signer.Arn)},
		{name: "GetPublicKey", readOnly: true, params: map[string]any{"keyId": *signer.KeyId}, additionalData: absent, resources: key(*signer.Arn)},
		{name: "GenerateMac", readOnly: true, params: map[string]any{"keyId": *hmacKey.KeyId, "macAlgorithm": "HMAC_SHA_256"},
			additionalData: absent, resources: key(*hmacKey.Arn)},
		{name: "VerifyMac", readOnly: true, params: map[string]any{"keyId": *hmacKey.KeyId, "macAlgorithm": "HMAC_SHA_256"},
			additionalData: absent, resources: key(*hmacKey.Arn)},
		{name: "EnableKeyRotation", params: map[string]any{"keyId": *rotated.KeyId}, additionalData: absent, resources: key(*rotated.Arn)},
		{name: "GetKeyRotationStatus", readOnly: true, params: map[string]any{"keyId": *rotated.KeyId}, additionalData: absent, resources: key(*rotated.Arn)},
		{name: "RotateKeyOnDemand", params: map[string]any{"keyId": *rotated.KeyId}, elements: map[string]any{"keyId": *onDemand.KeyId},
			additionalData: absent, resources: key(*rotated.Arn)},
		{name: "DisableKeyRotation", params: map[string]any{"keyId": *rotated.KeyId}, additionalData: absent, resources: key(*rotated.Arn)},
		{name: "UntagResource", params: map[string]any{"keyId": keyARN, "tagKeys": []any{"Department"}}, additionalData: absent, resources: key(keyARN)},
		{name: "ReplicateKey", params: map[string]any{"keyId": *primary.KeyMetadata.KeyId, "replicaRegion": "eu-west-1"},
			elements: map[string]any{"replicaKeyMetadata": map[string]any{
				"AWSAccountId": account, "keyId": *primary.KeyMetadata.KeyId, "arn": *replica.ReplicaKeyMetadata.Arn, "creationDate": "<date>",
				"enabled": false, "description": "", "keyUsage": "ENCRYPT_DECRYPT", "keyState": "Creating", "origin": "AWS_KMS",
				"keyManager": "CUSTOMER", "keySpec": "SYMMETRIC_DEFAULT", "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
				"encryptionAlgorithms": []any{"SYMMETRIC_DEFAULT"}, "multiRegion": true,
				"multiRegionConfiguration": map[string]any{"multiRegionKeyType": "REPLICA",
					"primaryKey":  map[string]any{"arn": *primary.KeyMetadata.Arn, "region": region},
					"replicaKeys": []any{map[string]any{"arn": *replica.ReplicaKeyMetadata.Arn, "region": "eu-west-1"}}},
			}}, additionalData: absent, resources: append(key(*primary.KeyMetadata.Arn), key(*replica.ReplicaKeyMetadata.Arn)...)},
	} {
		r := take(tc.name)
		at := fmt.Sprintf("%s#%d", tc.name, next[tc.name])
		for field, want := range map[string]any{
			"eventVersion": "1.11", "eventSource": "kms.amazonaws.com", "awsRegion": region, "eventType": "AwsApiCall",
			"managementEvent": true, "eventCategory": "Management", "recipientAccountId": account, "readOnly": tc.readOnly,
			"requestParameters": tc.params, "responseElements": tc.elements,
		} {
			match(t, at+"."+field, r[field], want)
		}
		if tc.additionalData == absent {
			if v, ok := r["additionalEventData"]; ok {
				t.Errorf("%s.additionalEventData = %v; AWS's record has none", at, v)
			}
		} else {
			match(t, at+".additionalEventData", r["additionalEventData"], tc.additionalData)
		}
		if tc.resources != nil {
			match(t, at+".resources", r["resources"], tc.resources)
		}
		wantError := tc.name == "Decrypt" && next["Decrypt"] == 2
		if _, ok := r["errorCode"]; ok != wantError {
			t.Errorf("%s errorCode = %v", at, r["errorCode"])
		}
	}
}

func createKeyWith(t *testing.T, c *kms.Client, spec types.KeySpec, usage types.KeyUsageType) *types.KeyMetadata {
	t.Helper()
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage})
	if err != nil {
		t.Fatalf("CreateKey %s: %v", spec, err)
	}
	return out.KeyMetadata
}
