package kmsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

func TestOperations(t *testing.T) {
	if len(Operations) != 56 {
		t.Errorf("len(Operations) = %d, want 56", len(Operations))
	}
	if !slices.IsSortedFunc(Operations, func(a, b Operation) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("Operations is not sorted by name")
	}
	for _, name := range []string{"Encapsulate", "Decapsulate", "Encrypt", "GetKeyLastUsage", "UpdatePrimaryRegion"} {
		op, ok := LookupOperation(name)
		if !ok || op.Name != name || op.Input != name+"Request" {
			t.Errorf("LookupOperation(%q) = %+v, %v", name, op, ok)
		}
	}
	if op, _ := LookupOperation("Decapsulate"); op.Output != "DecapsulateResponse" || !slices.Contains(op.Errors, InvalidCiphertextException) {
		t.Errorf("Decapsulate = %+v", op)
	}
	if op, _ := LookupOperation("CreateAlias"); op.Output != "" {
		t.Errorf("CreateAlias has output %q, want none", op.Output)
	}
	for _, name := range []string{"", "encrypt", "Nope", "ZZZ"} {
		if op, ok := LookupOperation(name); ok || op != nil {
			t.Errorf("LookupOperation(%q) = %+v, %v; want nil, false", name, op, ok)
		}
	}
}

// TestHTTPStatus holds the statuses to what AWS KMS sends, not to the
// model's httpError: every client fault is 400 (captured AWS responses for
// NotFoundException, DisabledException, KMSInvalidStateException,
// DryRunOperationException, ... are 400 although the model says 404, 409,
// 412), server faults are 500 or 503.
func TestHTTPStatus(t *testing.T) {
	if len(modeledErrorStatus) != 48 {
		t.Errorf("%d modeled errors, want 48", len(modeledErrorStatus))
	}
	server := map[ErrorCode]int{
		KMSInternalException:       500,
		KeyUnavailableException:    500,
		DependencyTimeoutException: 503,
	}
	for code := range modeledErrorStatus {
		want := 400
		if s, ok := server[code]; ok {
			want = s
		}
		if got := Errorf(code, "x").HTTPStatus(); got != want {
			t.Errorf("%s: status %d, want %d", code, got, want)
		}
	}
	for _, code := range []ErrorCode{NotFoundException, AlreadyExistsException, ConflictException, DisabledException,
		KMSInvalidStateException, DryRunOperationException, ValidationException, AccessDeniedException,
		ThrottlingException, UnrecognizedClientException, ErrorCode("SomethingUnmodeledException")} {
		if got := Errorf(code, "x").HTTPStatus(); got != 400 {
			t.Errorf("%s: status %d, want 400", code, got)
		}
	}
}

func TestValidate(t *testing.T) {
	longKeyID := strings.Repeat("a", 2049)
	tests := []struct {
		name string
		req  interface{ Validate() error }
		want string // "" for a valid request
	}{
		{"valid encrypt", &EncryptRequest{KeyId: ptr("alias/k"), Plaintext: []byte("x")}, ""},
		{"missing key id", &EncryptRequest{Plaintext: []byte("x")},
			"1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"},
		{"empty key id", &EncryptRequest{KeyId: ptr(""), Plaintext: []byte("x")},
			"1 validation error detected: Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"long key id", &EncryptRequest{KeyId: &longKeyID, Plaintext: []byte("x")},
			"1 validation error detected: Value '" + longKeyID + "' at 'keyId' failed to satisfy constraint: Member must have length less than or equal to 2048"},
		{"key id counts characters", &EncryptRequest{KeyId: ptr(strings.Repeat("é", 2048)), Plaintext: []byte("x")}, ""},
		{"long plaintext is not shown", &EncryptRequest{KeyId: ptr("k"), Plaintext: make([]byte, 4097)},
			"1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096"},
		{"bad enum", &EncryptRequest{KeyId: ptr("k"), Plaintext: []byte("x"), EncryptionAlgorithm: ptr(EncryptionAlgorithmSpec("AES"))},
			"1 validation error detected: Value 'AES' at 'encryptionAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]"},
		{"two violations", &EncryptRequest{},
			"2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
				"Value null at 'plaintext' failed to satisfy constraint: Member must not be null"},
		{"pattern", &CreateAliasRequest{AliasName: ptr("alias/bad name!"), TargetKeyId: ptr("k")},
			"1 validation error detected: Value 'alias/bad name!' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"},
		{"pattern matches whole value", &CreateKeyRequest{Tags: nil, XksKeyId: ptr("ok-id_1.2")}, ""},
		{"limit too small", &ListKeysRequest{Limit: ptr[int32](0)},
			"1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"limit too large", &ListKeysRequest{Limit: ptr[int32](1001)},
			"1 validation error detected: Value '1001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000"},
		{"limit ok", &ListKeysRequest{Limit: ptr[int32](1000)}, ""},
		{"nested in list", &CreateKeyRequest{Tags: []Tag{{TagKey: ptr("a"), TagValue: ptr("")}, {TagKey: ptr(""), TagValue: ptr("b")}, {TagKey: ptr("c")}}},
			"2 validation errors detected: Value '' at 'tags.2.member.tagKey' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
				"Value null at 'tags.3.member.tagValue' failed to satisfy constraint: Member must not be null"},
		{"nested structure", &DecryptRequest{CiphertextBlob: []byte{1}, Recipient: &RecipientInfo{AttestationDocument: []byte{}}},
			"1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=0 cap=0]' at 'recipient.attestationDocument' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"list element", &DecryptRequest{CiphertextBlob: []byte{1}, GrantTokens: []string{"t", ""}},
			"1 validation error detected: Value '[t, ]' at 'grantTokens' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 8192, Member must have length greater than or equal to 1]"},
		{"list length", &DecryptRequest{CiphertextBlob: []byte{1}, GrantTokens: make([]string, 11)},
			"1 validation error detected: Value '[, , , , , , , , , , ]' at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10"},
		{"list of enums", &CreateGrantRequest{KeyId: ptr("k"), Operations: []GrantOperation{GrantOperationEncapsulate, "Nope"}},
			"1 validation error detected: Value '[Encapsulate, Nope]' at 'operations' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: " +
				"[Decrypt, Encrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext, ReEncryptFrom, ReEncryptTo, Sign, Verify, GetPublicKey, CreateGrant, RetireGrant, DescribeKey, " +
				"GenerateDataKeyPair, GenerateDataKeyPairWithoutPlaintext, GenerateMac, VerifyMac, DeriveSharedSecret, Encapsulate, Decapsulate]]"},
		{"sensitive string", &CreateCustomKeyStoreRequest{CustomKeyStoreName: ptr("s"), KeyStorePassword: ptr("short")},
			"1 validation error detected: Value at 'keyStorePassword' failed to satisfy constraint: Member must have length greater than or equal to 7"},
		{"sensitive nested pattern", &UpdateCustomKeyStoreRequest{CustomKeyStoreId: ptr("c"), XksProxyAuthenticationCredential: &XksProxyAuthenticationCredentialType{
			AccessKeyId: ptr("lowercase-is-not-base32"), RawSecretAccessKey: ptr(strings.Repeat("A", 43))}},
			"1 validation error detected: Value at 'xksProxyAuthenticationCredential.accessKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[A-Z2-7]+$"},
		{"decapsulate", &DecapsulateRequest{},
			"3 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
				"Value null at 'sharedSecretCiphertextBlob' failed to satisfy constraint: Member must not be null; " +
				"Value null at 'encapsulationAlgorithm' failed to satisfy constraint: Member must not be null"},
		{"encapsulate", &EncapsulateRequest{KeyId: ptr("k"), EncapsulationAlgorithm: ptr(EncapsulationAlgorithmSpecMlKem)}, ""},
		{"no constraints", &ListAliasesRequest{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Validate() = %v, want an *Error", err)
			}
			if e.Code != ValidationException || e.HTTPStatus() != 400 {
				t.Errorf("code %s, status %d", e.Code, e.HTTPStatus())
			}
			if e.Message != tt.want {
				t.Errorf("message\n got: %s\nwant: %s", e.Message, tt.want)
			}
		})
	}
}

func TestUTF16Len(t *testing.T) {
	for s, want := range map[string]int{
		"":                 0,
		"abc":              3,
		"é":                1, // U+00E9, 2 bytes of UTF-8
		"日本":               2, // 3 bytes each
		"\U0001F600":       2, // 😀, outside the BMP: a surrogate pair
		"a\U0001F600b":     4,
		"\uFFFF":           1, // the last BMP character
		"\U00010000":       2, // the first one after it
		"\xff\xfe":         2, // invalid UTF-8: a U+FFFD each
		"\U0010FFFF\u0000": 3,
	} {
		if got := UTF16Len(s); got != want {
			t.Errorf("UTF16Len(%q) = %d, want %d", s, got, want)
		}
	}
}

// TestValidateCountsUTF16 checks every kind of string length constraint
// against astral-plane characters, which AWS (Java) counts as 2 units.
func TestValidateCountsUTF16(t *testing.T) {
	const emoji = "\U0001F600" // 2 UTF-16 units, 1 code point, 4 bytes
	e := func(n int) string { return strings.Repeat(emoji, n) }
	tooLong := func(member string, value string, max int) string {
		return "1 validation error detected: Value '" + value + "' at '" + member +
			"' failed to satisfy constraint: Member must have length less than or equal to " + strconv.Itoa(max)
	}
	tag := func(k, v string) []Tag { return []Tag{{TagKey: &k, TagValue: &v}} }
	tests := []struct {
		name string
		req  interface{ Validate() error }
		want string
	}{
		// Description: at most 8192 units.
		{"description 4096 emoji", &CreateKeyRequest{Description: ptr(e(4096))}, ""},
		{"description 4097 emoji", &CreateKeyRequest{Description: ptr(e(4097))}, tooLong("description", e(4097), 8192)},
		{"description 8191 + emoji", &CreateKeyRequest{Description: ptr(strings.Repeat("a", 8191) + emoji)},
			tooLong("description", strings.Repeat("a", 8191)+emoji, 8192)},
		{"description 8192 BMP", &CreateKeyRequest{Description: ptr(strings.Repeat("日", 8192))}, ""},
		// TagKey 1..128, TagValue 0..256, nested in a list.
		{"tag key 64 emoji", &CreateKeyRequest{Tags: tag(e(64), e(128))}, ""},
		{"tag key 65 emoji", &CreateKeyRequest{Tags: tag(e(65), "")}, tooLong("tags.1.member.tagKey", e(65), 128)},
		{"tag value 129 emoji", &TagResourceRequest{KeyId: ptr("k"), Tags: tag("k", e(129))}, tooLong("tags.1.member.tagValue", e(129), 256)},
		// AliasName 1..256 and a pattern no emoji matches: the length is
		// checked first, so the message tells which way it was counted.
		{"alias 256 units", &CreateAliasRequest{AliasName: ptr("alias/" + e(125)), TargetKeyId: ptr("k")},
			"1 validation error detected: Value 'alias/" + e(125) + "' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"},
		{"alias 258 units", &CreateAliasRequest{AliasName: ptr("alias/" + e(126)), TargetKeyId: ptr("k")}, tooLong("aliasName", "alias/"+e(126), 256)},
		// KeyId 1..2048.
		{"key id 1024 emoji", &DescribeKeyRequest{KeyId: ptr(e(1024))}, ""},
		{"key id 1025 emoji", &DescribeKeyRequest{KeyId: ptr(e(1025))}, tooLong("keyId", e(1025), 2048)},
		// Elements of a list of strings: grant tokens 1..8192 each.
		{"grant token 4096 emoji", &DecryptRequest{CiphertextBlob: []byte{1}, GrantTokens: []string{e(4096)}}, ""},
		{"grant token 4097 emoji", &DecryptRequest{CiphertextBlob: []byte{1}, GrantTokens: []string{e(4097)}},
			"1 validation error detected: Value '[" + e(4097) + "]' at 'grantTokens' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 8192, Member must have length greater than or equal to 1]"},
		// Sensitive strings are counted the same way, and not shown.
		{"sensitive 7 units", &CreateCustomKeyStoreRequest{CustomKeyStoreName: ptr("s"), KeyStorePassword: ptr("a" + e(3))}, ""},
		{"sensitive 6 units", &CreateCustomKeyStoreRequest{CustomKeyStoreName: ptr("s"), KeyStorePassword: ptr(e(3))},
			"1 validation error detected: Value at 'keyStorePassword' failed to satisfy constraint: Member must have length greater than or equal to 7"},
		// Blobs stay bytes: 1024 emoji are 4096 bytes of plaintext, 1025 are too many.
		{"plaintext 4096 bytes", &EncryptRequest{KeyId: ptr("k"), Plaintext: []byte(e(1024))}, ""},
		{"plaintext 4100 bytes", &EncryptRequest{KeyId: ptr("k"), Plaintext: []byte(e(1025))},
			"1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var kerr *Error
			if !errors.As(err, &kerr) || kerr.Code != ValidationException {
				t.Fatalf("Validate() = %v, want a ValidationException", err)
			}
			if kerr.Message != tt.want {
				t.Errorf("message\n got: %.300s\nwant: %.300s", kerr.Message, tt.want)
			}
		})
	}
}

func TestValidateDoesNotAllocate(t *testing.T) {
	req := &CreateKeyRequest{
		Description: ptr("d"),
		KeySpec:     ptr(KeySpecMlKem768),
		Tags:        []Tag{{TagKey: ptr("a"), TagValue: ptr("b")}, {TagKey: ptr("c"), TagValue: ptr("")}},
	}
	enc := &EncryptRequest{KeyId: ptr("alias/k"), Plaintext: []byte("x"), GrantTokens: []string{"t"}}
	if n := testing.AllocsPerRun(100, func() {
		if req.Validate() != nil || enc.Validate() != nil {
			t.Fatal("valid request rejected")
		}
	}); n != 0 {
		t.Errorf("Validate allocates %v times per valid request", n)
	}
}

func TestUnknownMembersAreIgnored(t *testing.T) {
	var req EncryptRequest
	err := json.Unmarshal([]byte(`{"KeyId":"k","Plaintext":"aGk=","Unknown":{"a":[1]},"DryRun":true}`), &req)
	if err != nil {
		t.Fatal(err)
	}
	if req.GetKeyId() != "k" || string(req.Plaintext) != "hi" || !req.GetDryRun() {
		t.Errorf("decoded %+v", req)
	}
}

func TestJSONEncoding(t *testing.T) {
	resp := DescribeKeyResponse{KeyMetadata: &KeyMetadata{
		KeyId:                   ptr("k"),
		CreationDate:            NewTime(time.UnixMilli(1700000000123)),
		KeySpec:                 ptr(KeySpecMlKem1024),
		EncapsulationAlgorithms: []EncapsulationAlgorithmSpec{EncapsulationAlgorithmSpecMlKem},
	}}
	got, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"KeyMetadata":{"KeyId":"k","CreationDate":1700000000.123,"KeySpec":"ML_KEM_1024","EncapsulationAlgorithms":["ML_KEM"]}}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	got, _ = json.Marshal(EncryptResponse{CiphertextBlob: []byte{0xfb, 0xff}})
	if string(got) != `{"CiphertextBlob":"+/8="}` {
		t.Errorf("blob: %s", got)
	}
}

func TestTimeJSON(t *testing.T) {
	for in, want := range map[string]time.Time{
		`1700000000`:       time.Unix(1700000000, 0),
		`1700000000.5`:     time.Unix(1700000000, 5e8),
		`1700000000.123`:   time.UnixMilli(1700000000123),
		`1.421516513393E9`: time.UnixMilli(1421516513393),
		`0`:                time.Unix(0, 0),
		`-1.5`:             time.UnixMilli(-1500),
	} {
		var got Time
		if err := json.Unmarshal([]byte(in), &got); err != nil || !got.Equal(want) {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{`"2023-11-14T22:13:20Z"`, `true`, `1e300`, `{}`} {
		var got Time
		if err := json.Unmarshal([]byte(in), &got); err == nil {
			t.Errorf("Unmarshal(%s) succeeded: %v", in, got)
		}
	}
	for in, want := range map[time.Time]string{
		time.Unix(1700000000, 0):                                     `1700000000`,
		time.Unix(1700000000, 999_999):                               `1700000000`,
		time.UnixMilli(1700000000123):                                `1700000000.123`,
		time.UnixMilli(1700000000120):                                `1700000000.12`,
		time.UnixMilli(1700000000005):                                `1700000000.005`,
		time.Unix(1700000000, 5e8):                                   `1700000000.5`,
		time.UnixMilli(-1500):                                        `-1.5`,
		time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)): `1893549845`,
	} {
		got, err := json.Marshal(Time{in})
		if err != nil || string(got) != want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", in, got, err, want)
		}
	}
	var req ImportKeyMaterialRequest
	if err := json.Unmarshal([]byte(`{"ValidTo":1700000000.25}`), &req); err != nil || req.GetValidTo().UnixMilli() != 1700000000250 {
		t.Errorf("ValidTo = %v, %v", req.GetValidTo(), err)
	}
	if out, _ := json.Marshal(&req); string(out) != `{"ValidTo":1700000000.25}` {
		t.Errorf("round trip: %s", out)
	}
}

func TestRedacted(t *testing.T) {
	enc := &EncryptRequest{KeyId: ptr("k"), Plaintext: []byte("secret"), EncryptionContext: map[string]string{"a": "b"}}
	r := enc.Redacted()
	if r.Plaintext != nil || r.GetKeyId() != "k" || r.EncryptionContext["a"] != "b" {
		t.Errorf("Redacted() = %+v", r)
	}
	if string(enc.Plaintext) != "secret" {
		t.Error("Redacted changed the original")
	}

	store := &UpdateCustomKeyStoreRequest{
		CustomKeyStoreId: ptr("c"),
		KeyStorePassword: ptr("password"),
		XksProxyAuthenticationCredential: &XksProxyAuthenticationCredentialType{
			AccessKeyId: ptr("AKID"), RawSecretAccessKey: ptr("secret"),
		},
	}
	rs := store.Redacted()
	if rs.KeyStorePassword != nil || rs.XksProxyAuthenticationCredential == nil ||
		rs.XksProxyAuthenticationCredential.AccessKeyId != nil || rs.XksProxyAuthenticationCredential.RawSecretAccessKey != nil {
		t.Errorf("Redacted() = %+v", rs)
	}
	if store.XksProxyAuthenticationCredential.GetRawSecretAccessKey() != "secret" {
		t.Error("Redacted changed the original's nested structure")
	}

	dec := (&DecryptRequest{CiphertextBlob: []byte{1}, Recipient: &RecipientInfo{
		KeyEncryptionAlgorithm: ptr(KeyEncryptionMechanismRsaesOaepSha256), AttestationDocument: []byte{2},
	}}).Redacted()
	if dec.CiphertextBlob != nil || dec.Recipient.AttestationDocument != nil || dec.Recipient.GetKeyEncryptionAlgorithm() != KeyEncryptionMechanismRsaesOaepSha256 {
		t.Errorf("Redacted() = %+v %+v", dec, dec.Recipient)
	}
	// Grant tokens stay out of logs, as CloudTrail leaves them out.
	enc.GrantTokens = []string{"token"}
	if r := enc.Redacted(); r.GrantTokens != nil || len(enc.GrantTokens) != 1 {
		t.Errorf("Redacted() kept the grant tokens: %+v", r)
	}
	retire := (&RetireGrantRequest{GrantToken: ptr("token"), GrantId: ptr("g")}).Redacted()
	if retire.GrantToken != nil || retire.GetGrantId() != "g" {
		t.Errorf("Redacted() = %+v", retire)
	}
	if (*EncryptRequest)(nil).Redacted() != nil {
		t.Error("nil.Redacted() != nil")
	}
}

func TestGetters(t *testing.T) {
	var resp *DescribeKeyResponse
	if resp.GetKeyMetadata().GetKeyId() != "" || !resp.GetKeyMetadata().GetCreationDate().IsZero() ||
		resp.GetKeyMetadata().GetEnabled() || resp.GetKeyMetadata().GetKeySpec() != "" ||
		resp.GetKeyMetadata().GetPendingDeletionWindowInDays() != 0 || resp.GetKeyMetadata().GetEncryptionAlgorithms() != nil {
		t.Error("getters on nil are not zero")
	}
}

func TestEnums(t *testing.T) {
	specs := KeySpec("").Values()
	if specs[0] != KeySpecRsa2048 || !slices.Contains(specs, KeySpecMlKem768) || len(specs) != 20 {
		t.Errorf("KeySpec values: %v", specs)
	}
	if KeySpecSymmetricDefault != "SYMMETRIC_DEFAULT" || KeySpecMlDsa44 != "ML_DSA_44" ||
		EncryptionAlgorithmSpecRsaesOaepSha1 != "RSAES_OAEP_SHA_1" || GrantOperationReEncryptFrom != "ReEncryptFrom" {
		t.Error("unexpected constant values")
	}
	if !slices.Contains(KeyUsageType("").Values(), KeyUsageTypeEncapsulateDecapsulate) ||
		!slices.Contains(DataKeyPairSpec("").Values(), DataKeyPairSpecMlKem512) ||
		!slices.Contains(KeyLastUsageTrackingOperation("").Values(), KeyLastUsageTrackingOperationDecapsulate) {
		t.Error("ML-KEM enum values missing")
	}
}

// TestGeneratedCodeIsCurrent regenerates the package with the command of
// doc.go's go:generate line and compares the result with the files here.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	const model = "../../../shared/reference/kms-api/botocore/service-2.json"
	if _, err := os.Stat(model); err != nil {
		t.Skipf("the KMS model is not at %s (it lives outside the repository): %v", model, err)
	}
	if testing.Short() {
		t.Skip("runs the generator; skipped in -short mode")
	}
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, line := range strings.Split(string(doc), "\n") {
		if rest, ok := strings.CutPrefix(line, "//go:generate go "); ok {
			args = strings.Fields(rest)
		}
	}
	out := t.TempDir()
	i := slices.Index(args, "-out")
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("no -out in the go:generate line of doc.go: %q", args)
	}
	args[i+1] = out
	cmd := exec.Command("go", args...)
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, output)
	}

	generated, _ := filepath.Glob(filepath.Join(out, "*.go"))
	committed, _ := filepath.Glob("*_gen.go")
	if len(generated) != len(committed) {
		t.Errorf("generator writes %d files, the package has %d *_gen.go files", len(generated), len(committed))
	}
	for _, path := range generated {
		name := filepath.Base(path)
		want, _ := os.ReadFile(path)
		got, err := os.ReadFile(name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is out of date: run go generate ./internal/kmsapi", name)
		}
	}
}
