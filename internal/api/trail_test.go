package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/auth"
	"github.com/trent-kms/trent/internal/ciphertext"
	"github.com/trent-kms/trent/internal/kms"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/rootkey"
	"github.com/trent-kms/trent/internal/store/bolt"
	"github.com/trent-kms/trent/internal/store/sealed"
)

const (
	blobMarker  = "BLOB-MARKER-0123456789"
	tokenMarker = "GRANT-TOKEN-MARKER-0123456789"
)

// fill sets every member of the shape v points to, recursively: blobs to
// blobMarker, grant tokens to tokenMarker, other strings to their member
// name, so that a trail that copied a secret member would show it.
func fill(t *testing.T, v reflect.Value, name string) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fill(t, v.Elem(), name)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[kmsapi.Time]() {
			v.Set(reflect.ValueOf(kmsapi.Time{Time: time.Date(2021, 4, 12, 18, 58, 30, 0, time.UTC)}))
			return
		}
		for i := range v.NumField() {
			fill(t, v.Field(i), v.Type().Field(i).Name)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte(blobMarker))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(t, v.Index(0), name)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		v.SetMapIndex(reflect.ValueOf("k").Convert(v.Type().Key()), reflect.ValueOf("v").Convert(v.Type().Elem()))
	case reflect.String:
		if strings.Contains(name, "GrantToken") {
			v.SetString(tokenMarker)
		} else {
			v.SetString(name)
		}
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int32, reflect.Int64:
		v.SetInt(7)
	default:
		t.Fatalf("fill: %s of kind %s", name, v.Kind())
	}
}

// secretForms are the ways a secret could show in a JSON line.
func secretForms(secret []byte) []string {
	return []string{string(secret), base64.StdEncoding.EncodeToString(secret), base64.RawStdEncoding.EncodeToString(secret),
		base64.URLEncoding.EncodeToString(secret), hex.EncodeToString(secret)}
}

// TestTrailsHoldNoSecrets runs every entry of the table on a response with
// every member set and checks that no blob and no grant token reaches the
// record.
func TestTrailsHoldNoSecrets(t *testing.T) {
	for op, tr := range trails {
		x := &exchange{op: op, call: kms.Call{KeyARN: "arn:aws:kms:us-east-1:111122223333:key/k", GrantID: "g"}, resp: &struct{}{}}
		if tr.out != nil {
			resp := reflect.New(tr.out.Elem())
			fill(t, resp, "")
			x.resp = resp.Interface()
		}
		_, el, add := cloudTrail(x)
		line := string(el) + string(add)
		for _, secret := range []string{blobMarker, tokenMarker} {
			for _, form := range secretForms([]byte(secret)) {
				if strings.Contains(line, form) {
					t.Errorf("%s records %q: %s", op, form, line)
				}
			}
		}
		if el == nil && add == nil && op != "Encrypt" { // Encrypt names its material through the Call, empty here
			t.Errorf("%s records nothing of a full answer", op)
		}
	}
}

// TestTrails checks what each entry records against AWS's CloudTrail
// examples for KMS.
func TestTrails(t *testing.T) {
	const arn = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	mid := strings.Repeat("ab", 32)
	var m ciphertext.MaterialID
	copy(m[:], bytes.Repeat([]byte{0xab}, 32))
	key, err := ciphertext.NewKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	blob, err := ciphertext.Seal(key, ciphertext.Header{KeyID: "1234abcd-12ab-34cd-56ef-1234567890ab", MaterialID: m}, []byte("p"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	deletion := kmsapi.NewTime(time.Date(2021, 4, 12, 18, 58, 30, 0, time.UTC))
	sym := kmsapi.EncryptionAlgorithmSpecSymmetricDefault
	for _, tc := range []struct {
		op                   string
		resp                 any
		params               any
		err                  *kmsapi.Error
		elements, additional string
		wantParams           string // "" to skip
		encryptedWith        *ciphertext.MaterialID
	}{
		{op: "CreateKey", resp: &kmsapi.CreateKeyResponse{KeyMetadata: &kmsapi.KeyMetadata{
			AWSAccountId: new("111122223333"), KeyId: new("1234abcd-12ab-34cd-56ef-1234567890ab"), Arn: new(arn),
			CreationDate: kmsapi.NewTime(time.Date(2020, 6, 30, 2, 34, 7, 0, time.UTC)), Enabled: new(true), Description: new(""),
			KeyState: new(kmsapi.KeyStateEnabled), EncryptionAlgorithms: []kmsapi.EncryptionAlgorithmSpec{sym}}},
			elements: `{"keyMetadata":{"AWSAccountId":"111122223333","keyId":"1234abcd-12ab-34cd-56ef-1234567890ab","arn":"` + arn +
				`","creationDate":"Jun 30, 2020, 2:34:07 AM","enabled":true,"description":"","keyState":"Enabled","encryptionAlgorithms":["SYMMETRIC_DEFAULT"]}}`},
		{op: "ScheduleKeyDeletion", resp: &kmsapi.ScheduleKeyDeletionResponse{KeyId: new(arn), KeyState: new(kmsapi.KeyStatePendingDeletion),
			DeletionDate: deletion, PendingWindowInDays: new(int32(20))},
			elements: `{"keyId":"` + arn + `","keyState":"PendingDeletion","deletionDate":"Apr 12, 2021, 6:58:30 PM"}`},
		{op: "CancelKeyDeletion", resp: &kmsapi.CancelKeyDeletionResponse{KeyId: new(arn)}, elements: `{"keyId":"` + arn + `"}`},
		{op: "CreateGrant", resp: &kmsapi.CreateGrantResponse{GrantId: new("f020fe75"), GrantToken: new(tokenMarker)},
			elements: `{"grantId":"f020fe75","keyId":"` + arn + `"}`},
		{op: "EnableKey", resp: &struct{}{}, elements: `{"keyId":"` + arn + `"}`},
		{op: "DisableKey", resp: &struct{}{}, elements: `{"keyId":"` + arn + `"}`},
		{op: "CreateAlias", resp: &struct{}{}, elements: `{"keyId":"` + arn + `"}`},
		{op: "UpdateAlias", resp: &struct{}{}, elements: `{"keyId":"` + arn + `"}`},
		{op: "DeleteAlias", resp: &struct{}{}, elements: `{"keyId":"` + arn + `"}`},
		{op: "PutKeyPolicy", resp: &struct{}{}},
		{op: "TagResource", resp: &struct{}{}},
		{op: "UpdateKeyDescription", resp: &struct{}{}},
		{op: "RevokeGrant", resp: &struct{}{}},
		{op: "DescribeKey", resp: &kmsapi.DescribeKeyResponse{KeyMetadata: &kmsapi.KeyMetadata{KeyId: new("k")}}},
		{op: "GetKeyPolicy", resp: &kmsapi.GetKeyPolicyResponse{Policy: new("{}")}},
		{op: "Sign", resp: &kmsapi.SignResponse{KeyId: new(arn), Signature: []byte(blobMarker)}},
		{op: "GenerateRandom", resp: &kmsapi.GenerateRandomResponse{Plaintext: []byte(blobMarker)}},
		// The service names the material a symmetric Encrypt used; an RSA
		// one has none.
		{op: "Encrypt", resp: &kmsapi.EncryptResponse{KeyId: new(arn), CiphertextBlob: blob, EncryptionAlgorithm: &sym},
			encryptedWith: &m, additional: `{"keyMaterialId":"` + mid + `"}`},
		{op: "Encrypt", resp: &kmsapi.EncryptResponse{KeyId: new(arn), CiphertextBlob: blob,
			EncryptionAlgorithm: new(kmsapi.EncryptionAlgorithmSpecRsaesOaepSha256)}},
		{op: "Decrypt", resp: &kmsapi.DecryptResponse{KeyId: new(arn), Plaintext: []byte(blobMarker), EncryptionAlgorithm: &sym, KeyMaterialId: &mid},
			params:     &kmsapi.DecryptRequest{EncryptionContext: map[string]string{"Department": "Engineering"}},
			additional: `{"keyMaterialId":"` + mid + `"}`, wantParams: `{"encryptionContext":{"Department":"Engineering"},"encryptionAlgorithm":"SYMMETRIC_DEFAULT"}`},
		{op: "Decrypt", params: &kmsapi.DecryptRequest{}, err: kmsapi.Errorf(kmsapi.InvalidCiphertextException, ""),
			wantParams: `{"encryptionAlgorithm":"SYMMETRIC_DEFAULT"}`},
		{op: "GenerateDataKey", resp: &kmsapi.GenerateDataKeyResponse{Plaintext: []byte(blobMarker), KeyMaterialId: &mid},
			additional: `{"keyMaterialId":"` + mid + `"}`},
		{op: "GenerateDataKeyWithoutPlaintext", resp: &kmsapi.GenerateDataKeyWithoutPlaintextResponse{KeyMaterialId: &mid},
			additional: `{"keyMaterialId":"` + mid + `"}`},
		{op: "GenerateDataKeyPair", resp: &kmsapi.GenerateDataKeyPairResponse{PrivateKeyPlaintext: []byte(blobMarker), KeyMaterialId: &mid},
			additional: `{"keyMaterialId":"` + mid + `"}`},
		{op: "GenerateDataKeyPairWithoutPlaintext", resp: &kmsapi.GenerateDataKeyPairWithoutPlaintextResponse{KeyMaterialId: &mid},
			additional: `{"keyMaterialId":"` + mid + `"}`},
		{op: "ReEncrypt", resp: &kmsapi.ReEncryptResponse{SourceKeyMaterialId: new("s"), DestinationKeyMaterialId: new("d")},
			additional: `{"destinationKeyMaterialId":"d","sourceKeyMaterialId":"s"}`},
		// By token: the token is not recorded, the grant ID is (the
		// service names it in Call.GrantID).
		{op: "RetireGrant", resp: &struct{}{}, params: (&kmsapi.RetireGrantRequest{GrantToken: new(tokenMarker)}).Redacted(),
			additional: `{"grantId":"g1"}`, wantParams: "null"},
		{op: "CreateKey", err: kmsapi.Errorf(kmsapi.LimitExceededException, "x")}, // refused: nothing of an answer
	} {
		x := &exchange{op: tc.op, resp: tc.resp, params: tc.params, err: tc.err, call: kms.Call{KeyARN: arn, EncryptedWith: tc.encryptedWith}}
		if tc.op == "RetireGrant" {
			x.call.GrantID = "g1"
		}
		params, el, add := cloudTrail(x)
		if got := string(el); got != tc.elements {
			t.Errorf("%s responseElements\n got %s\nwant %s", tc.op, got, tc.elements)
		}
		if got := string(add); got != tc.additional {
			t.Errorf("%s additionalEventData\n got %s\nwant %s", tc.op, got, tc.additional)
		}
		if tc.wantParams != "" {
			if got := string(params); got != tc.wantParams && !(got == "" && tc.wantParams == "null") {
				t.Errorf("%s requestParameters\n got %s\nwant %s", tc.op, got, tc.wantParams)
			}
		}
	}
}

// captureLog keeps every record written, as its JSON line.
type captureLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *captureLog) Record(e *audit.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(e.AppendJSON(nil)))
	return nil
}

func (l *captureLog) Healthy() error { return nil }

// TestRecordsHoldNoSecrets runs calls whose requests and answers carry
// secrets (plaintexts, data keys, private keys, ciphertexts, signatures,
// MACs, shared secrets, grant tokens) through a whole in-process trent and
// checks that none of them, in any usual encoding, is in an audit record.
func TestRecordsHoldNoSecrets(t *testing.T) {
	dir := t.TempDir()
	root, err := rootkey.LoadOrCreateFile(filepath.Join(dir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := bolt.Open(filepath.Join(dir, "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	db, _, err := sealed.Open(raw, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	service, err := kms.New(kms.Config{Store: db, RootKey: root, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { service.Close() })
	keyring, err := auth.NewKeyring(auth.Credential{AccessKeyID: "test", SecretAccessKey: "test",
		Principal: auth.Principal{Account: "111122223333", ARN: "arn:aws:iam::111122223333:root", UserID: "111122223333", Type: policy.TypeAccount}})
	if err != nil {
		t.Fatal(err)
	}
	log := &captureLog{}
	srv := httptest.NewServer(New(Config{Verifier: &auth.Verifier{Keyring: keyring, Service: "kms"}, Service: service, Audit: log, Logger: logger}))
	t.Cleanup(srv.Close)
	c := sdk.New(sdk.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		})})
	ctx := context.Background()

	var secrets [][]byte
	keep := func(b ...[]byte) {
		for _, s := range b {
			if len(s) > 0 {
				secrets = append(secrets, s)
			}
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	newKey := func(spec types.KeySpec, usage types.KeyUsageType) *string {
		t.Helper()
		in := &sdk.CreateKeyInput{KeySpec: spec}
		if usage != "" {
			in.KeyUsage = usage
		}
		out, err := c.CreateKey(ctx, in)
		must(err)
		return out.KeyMetadata.KeyId
	}
	ec := map[string]string{"Purpose": "audit test"}
	sym, sym2 := newKey("", ""), newKey("", "")
	plaintext := []byte("attack at dawn: the plaintext of this test")
	keep(plaintext)

	enc, err := c.Encrypt(ctx, &sdk.EncryptInput{KeyId: sym, Plaintext: plaintext, EncryptionContext: ec})
	must(err)
	keep(enc.CiphertextBlob)
	dec, err := c.Decrypt(ctx, &sdk.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	must(err)
	keep(dec.Plaintext)
	_, err = c.Decrypt(ctx, &sdk.DecryptInput{CiphertextBlob: enc.CiphertextBlob}) // wrong context: refused
	if err == nil {
		t.Fatal("Decrypt without the context succeeded")
	}
	re, err := c.ReEncrypt(ctx, &sdk.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ec, DestinationKeyId: sym2})
	must(err)
	keep(re.CiphertextBlob)
	dk, err := c.GenerateDataKey(ctx, &sdk.GenerateDataKeyInput{KeyId: sym, KeySpec: types.DataKeySpecAes256})
	must(err)
	keep(dk.Plaintext, dk.CiphertextBlob)
	dkw, err := c.GenerateDataKeyWithoutPlaintext(ctx, &sdk.GenerateDataKeyWithoutPlaintextInput{KeyId: sym, NumberOfBytes: aws.Int32(32)})
	must(err)
	keep(dkw.CiphertextBlob)
	pair, err := c.GenerateDataKeyPair(ctx, &sdk.GenerateDataKeyPairInput{KeyId: sym, KeyPairSpec: types.DataKeyPairSpecEccNistP256})
	must(err)
	keep(pair.PrivateKeyPlaintext, pair.PrivateKeyCiphertextBlob, pair.PublicKey)
	pairw, err := c.GenerateDataKeyPairWithoutPlaintext(ctx, &sdk.GenerateDataKeyPairWithoutPlaintextInput{KeyId: sym, KeyPairSpec: types.DataKeyPairSpecEccNistP256})
	must(err)
	keep(pairw.PrivateKeyCiphertextBlob, pairw.PublicKey)
	rnd, err := c.GenerateRandom(ctx, &sdk.GenerateRandomInput{NumberOfBytes: aws.Int32(32)})
	must(err)
	keep(rnd.Plaintext)

	hmacKey := newKey(types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	message := []byte("a message to authenticate, long enough")
	keep(message)
	mac, err := c.GenerateMac(ctx, &sdk.GenerateMacInput{KeyId: hmacKey, Message: message, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	must(err)
	keep(mac.Mac)
	_, err = c.VerifyMac(ctx, &sdk.VerifyMacInput{KeyId: hmacKey, Message: message, Mac: mac.Mac, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	must(err)

	signKey := newKey(types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	sig, err := c.Sign(ctx, &sdk.SignInput{KeyId: signKey, Message: message, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	must(err)
	keep(sig.Signature)
	_, err = c.Verify(ctx, &sdk.VerifyInput{KeyId: signKey, Message: message, Signature: sig.Signature, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	must(err)

	kemKey := newKey(types.KeySpecMlKem768, types.KeyUsageTypeEncapsulateDecapsulate)
	encap, err := c.Encapsulate(ctx, &sdk.EncapsulateInput{KeyId: kemKey, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
	must(err)
	keep(encap.SharedSecret, encap.SharedSecretCiphertextBlob)
	decap, err := c.Decapsulate(ctx, &sdk.DecapsulateInput{KeyId: kemKey, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem,
		SharedSecretCiphertextBlob: encap.SharedSecretCiphertextBlob})
	must(err)
	keep(decap.SharedSecret)

	grant, err := c.CreateGrant(ctx, &sdk.CreateGrantInput{KeyId: sym, GranteePrincipal: aws.String("arn:aws:iam::111122223333:user/bob"),
		Operations: []types.GrantOperation{types.GrantOperationEncrypt, types.GrantOperationRetireGrant}})
	must(err)
	token := aws.ToString(grant.GrantToken)
	keep([]byte(token))
	_, err = c.Encrypt(ctx, &sdk.EncryptInput{KeyId: sym, Plaintext: plaintext, GrantTokens: []string{token}})
	must(err)
	_, err = c.RetireGrant(ctx, &sdk.RetireGrantInput{GrantToken: &token})
	must(err)

	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.lines) < 20 {
		t.Fatalf("%d records", len(log.lines))
	}
	for _, line := range log.lines {
		for _, s := range secrets {
			for _, form := range secretForms(s) {
				if strings.Contains(line, form) {
					t.Errorf("a record holds a secret (%.20q...): %s", form, line)
				}
			}
		}
	}
	// And the records say what CloudTrail's do, where it is deterministic.
	for _, want := range []string{
		`"eventName":"Encrypt",` + `"awsRegion":"us-east-1"`,
		`"requestParameters":{"keyId":"` + *sym + `","encryptionContext":{"Purpose":"audit test"}},"responseElements":null,"additionalEventData":{"keyMaterialId":"`,
		`"responseElements":{"grantId":"` + aws.ToString(grant.GrantId) + `","keyId":"arn:aws:kms:us-east-1:111122223333:key/` + *sym + `"}`,
		`"eventName":"RetireGrant","awsRegion":"us-east-1",`,
	} {
		found := false
		for _, line := range log.lines {
			found = found || strings.Contains(line, want)
		}
		if !found {
			t.Errorf("no record holds %s", want)
		}
	}
}

// TestAdditionalDataByHand: the hand-written encoding of a key material ID
// is what audit.Parameters writes.
func TestAdditionalDataByHand(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	got, want := additionalData(keyMaterialData{&id}), audit.Parameters(keyMaterialData{&id})
	if string(got) != string(want) {
		t.Fatalf("by hand %s, by reflection %s", got, want)
	}
	var mid ciphertext.MaterialID
	copy(mid[:], []byte("0123456789abcdef0123456789abcdef"))
	hexID := mid.String()
	if got, want := additionalData(encryptedWith{&mid}), audit.Parameters(keyMaterialData{&hexID}); string(got) != string(want) {
		t.Fatalf("Encrypt's by hand %s, by reflection %s", got, want)
	}
	if additionalData(encryptedWith{}) != nil || additionalData(keyMaterialData{}) != nil || audit.Parameters(keyMaterialData{}) != nil {
		t.Fatal("an absent key material ID is recorded")
	}
}
