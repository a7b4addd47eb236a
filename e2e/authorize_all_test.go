package e2e

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// routedOperations is the set of operations trent routes: the names of
// the model's operations (kmsapi.Operations) and the keys of the route
// table in internal/api/routes.go, read from its source (the table is
// unexported). The two must agree; the test fails if they do not.
func routedOperations(t *testing.T) []string {
	t.Helper()
	var model []string
	for _, op := range kmsapi.Operations {
		model = append(model, op.Name)
	}
	path := filepath.Join("..", "internal", "api", "routes.go")
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatalf("reading the route table: %v", err)
	}
	var routed []string
	found := false
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "routes" || fn.Body == nil {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if _, ok := lit.Type.(*ast.MapType); !ok {
				return true
			}
			found = true
			for _, e := range lit.Elts {
				kv, ok := e.(*ast.KeyValueExpr)
				if !ok {
					t.Fatalf("%s: a route table entry that is not key: value", path)
				}
				b, ok := kv.Key.(*ast.BasicLit)
				if !ok || b.Kind != token.STRING {
					t.Fatalf("%s: a route whose name is not a string literal", path)
				}
				name, err := strconv.Unquote(b.Value)
				if err != nil {
					t.Fatal(err)
				}
				routed = append(routed, name)
			}
			return false
		})
	}
	if !found || len(routed) == 0 {
		t.Fatalf("%s: no route table found in func routes", path)
	}
	slices.Sort(model)
	slices.Sort(routed)
	if !slices.Equal(model, routed) {
		t.Errorf("the route table and the model disagree:\n routes %v\n model  %v", routed, model)
	}
	all := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(model), routed...))))
	for _, op := range []string{"Encapsulate", "Decapsulate"} {
		if !slices.Contains(all, op) {
			t.Errorf("%s is not routed", op)
		}
	}
	return all
}

// authzCase is one request that the user without permissions sends and
// that must be denied with exactly deniedMsg(noperm, action, resource, why).
type authzCase struct {
	name     string // for messages; default op
	op       string
	body     string
	action   string // default "kms:" + op
	resource string // the ARN in the message: a key ARN, an alias ARN or "*"
	why      string // default noIdentity(action)
	// rootCode is the account root user's answer to the same request: ""
	// is success (200), otherwise the error code it must get.
	rootCode string
}

func jsonBody(t *testing.T, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m) // []byte members become base64, as awsJson1_1 wants
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// authzFixture is what the cases act on: keys of every kind, aliases,
// grants and the ciphertexts, signatures and MACs that the requests carry,
// all made by the account's root user.
type authzFixture struct {
	sym, sym2, symFrom, disable, schedule, cancel               *types.KeyMetadata
	rsaEnc, rsaSign, eccSign, eccAgree, hmac, kem               *types.KeyMetadata
	extParams, extImport, extImported, mrkReplicate, mrkPrimary *types.KeyMetadata

	symBlob, symFromBlob, rsaBlob, rsaSig, eccSig, mac, kemCiphertext, peerPublic []byte
	importToken, wrappedMaterial                                                  []byte
	grantRetire, grantRetireToken, grantRetireTokenID, grantRevoke                string
}

const (
	authzAliasSym    = "alias/authz-sym"
	authzAliasUpdate = "alias/authz-update"
	authzAliasDelete = "alias/authz-delete"
	authzAliasNew    = "alias/authz-new"
	authzReplica     = "us-west-2"
	authzStoreID     = "cks-1234567890abcdef0"
)

var authzContext = map[string]string{"purpose": "authz"}

func aliasARNOf(name string) string { return "arn:aws:kms:" + region + ":" + acctA + ":" + name }

func makeAuthzFixture(t *testing.T, s *server) *authzFixture {
	t.Helper()
	root := s.as(rootA)
	f := &authzFixture{}
	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("fixture, %s: %v", what, err)
		}
	}
	sym := func() *types.KeyMetadata { return createKeyAs(t, root, "") }
	f.sym, f.sym2, f.symFrom, f.disable, f.schedule, f.cancel = sym(), sym(), sym(), sym(), sym(), sym()
	_, err := root.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: f.cancel.KeyId, PendingWindowInDays: aws.Int32(7)})
	check("ScheduleKeyDeletion", err)
	f.rsaEnc = createAsymmetricKey(t, root, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	f.rsaSign = createAsymmetricKey(t, root, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify)
	f.eccSign = createAsymmetricKey(t, root, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	f.eccAgree = createAsymmetricKey(t, root, types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement)
	f.hmac = createAsymmetricKey(t, root, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	f.kem = createAsymmetricKey(t, root, types.KeySpecMlKem768, types.KeyUsageTypeEncapsulateDecapsulate)
	external := func() *types.KeyMetadata {
		out, err := root.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
		check("CreateKey EXTERNAL", err)
		return out.KeyMetadata
	}
	f.extParams, f.extImport, f.extImported = external(), external(), external()
	multiRegion := func() *types.KeyMetadata {
		out, err := root.CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)})
		check("CreateKey multi-Region", err)
		return out.KeyMetadata
	}
	f.mrkReplicate, f.mrkPrimary = multiRegion(), multiRegion()

	for name, target := range map[string]*string{authzAliasSym: f.sym.KeyId, authzAliasUpdate: f.sym.KeyId, authzAliasDelete: f.sym.KeyId} {
		_, err := root.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(name), TargetKeyId: target})
		check("CreateAlias "+name, err)
	}

	grant := func() (id, token string) {
		out, err := root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: f.sym.KeyId,
			GranteePrincipal: aws.String(arnOf(acctA, "user/keyuser")), RetiringPrincipal: aws.String(arnOf(acctA, "user/admin")),
			Operations: []types.GrantOperation{types.GrantOperationEncrypt, types.GrantOperationDecrypt}})
		check("CreateGrant", err)
		return *out.GrantId, *out.GrantToken
	}
	f.grantRetire, _ = grant()
	f.grantRetireTokenID, f.grantRetireToken = grant()
	f.grantRevoke, _ = grant()

	enc, err := root.Encrypt(ctx, &kms.EncryptInput{KeyId: f.sym.KeyId, Plaintext: []byte("authz"), EncryptionContext: authzContext})
	check("Encrypt", err)
	f.symBlob = enc.CiphertextBlob
	// noperm may re-encrypt from symFrom (a grant), to nowhere.
	_, err = root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: f.symFrom.KeyId, GranteePrincipal: aws.String(arnOf(acctA, "user/noperm")),
		Operations: []types.GrantOperation{types.GrantOperationReEncryptFrom}})
	check("CreateGrant ReEncryptFrom", err)
	enc, err = root.Encrypt(ctx, &kms.EncryptInput{KeyId: f.symFrom.KeyId, Plaintext: []byte("authz")})
	check("Encrypt", err)
	f.symFromBlob = enc.CiphertextBlob
	enc, err = root.Encrypt(ctx, &kms.EncryptInput{KeyId: f.rsaEnc.KeyId, Plaintext: []byte("authz"),
		EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	check("Encrypt RSA", err)
	f.rsaBlob = enc.CiphertextBlob
	sig, err := root.Sign(ctx, &kms.SignInput{KeyId: f.rsaSign.KeyId, Message: []byte("authz"), MessageType: types.MessageTypeRaw,
		SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})
	check("Sign RSA", err)
	f.rsaSig = sig.Signature
	sig, err = root.Sign(ctx, &kms.SignInput{KeyId: f.eccSign.KeyId, Message: []byte("authz"), MessageType: types.MessageTypeRaw,
		SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	check("Sign ECC", err)
	f.eccSig = sig.Signature
	mac, err := root.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: f.hmac.KeyId, Message: []byte("authz"), MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	check("GenerateMac", err)
	f.mac = mac.Mac
	encap, err := root.Encapsulate(ctx, &kms.EncapsulateInput{KeyId: f.kem.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
	check("Encapsulate", err)
	f.kemCiphertext = encap.SharedSecretCiphertextBlob
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	check("a peer key", err)
	f.peerPublic, err = x509.MarshalPKIXPublicKey(peer.PublicKey())
	check("a peer key", err)

	// Import: parameters (and wrapped material) for extImport, material
	// in extImported.
	wrap := func(keyID *string) (token, wrapped []byte) {
		p, err := root.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: keyID,
			WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
		check("GetParametersForImport", err)
		pub, err := x509.ParsePKIXPublicKey(p.PublicKey)
		check("the wrapping key", err)
		material := make([]byte, 32)
		rand.Read(material)
		wrapped, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub.(*rsa.PublicKey), material, nil)
		check("wrapping", err)
		return p.ImportToken, wrapped
	}
	f.importToken, f.wrappedMaterial = wrap(f.extImport.KeyId)
	token, wrapped := wrap(f.extImported.KeyId)
	_, err = root.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: f.extImported.KeyId, ImportToken: token,
		EncryptedKeyMaterial: wrapped, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	check("ImportKeyMaterial", err)

	// A replica of mrkPrimary, for UpdatePrimaryRegion; it is made in the
	// background, and the root user's UpdatePrimaryRegion needs it usable.
	_, err = root.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: f.mrkPrimary.KeyId, ReplicaRegion: aws.String(authzReplica)})
	check("ReplicateKey", err)
	west := kms.New(kms.Options{Region: authzReplica, BaseEndpoint: aws.String(s.URL), RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: rootA.id, SecretAccessKey: rootA.secret}, nil
		})})
	waitFor(t, func() bool {
		out, err := west.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: f.mrkPrimary.KeyId})
		return err == nil && out.KeyMetadata.KeyState == types.KeyStateEnabled
	}, "the replica of the multi-Region key to be Enabled")
	return f
}

// authzCases is one request (or more) for every operation, each valid and
// each meant to be denied to a user without permissions.
func authzCases(t *testing.T, f *authzFixture) []authzCase {
	b := func(m map[string]any) string { return jsonBody(t, m) }
	sym, symARN := *f.sym.KeyId, *f.sym.Arn
	keyCase := func(op string, k *types.KeyMetadata, extra map[string]any) authzCase {
		m := map[string]any{"KeyId": *k.KeyId}
		for n, v := range extra {
			m[n] = v
		}
		return authzCase{op: op, body: b(m), resource: *k.Arn}
	}
	account := func(op string, body map[string]any, rootCode string) authzCase {
		return authzCase{op: op, body: b(body), resource: "*", rootCode: rootCode}
	}
	alias := func(op, name string, body map[string]any) authzCase {
		return authzCase{op: op, body: b(body), resource: aliasARNOf(name)}
	}
	named := func(name string, c authzCase) authzCase { c.name = name; return c }
	msg := []byte("authz")
	return []authzCase{
		// Symmetric encryption.
		keyCase("Encrypt", f.sym, map[string]any{"Plaintext": msg, "EncryptionContext": authzContext}),
		named("Encrypt by alias ARN", authzCase{op: "Encrypt", resource: symARN,
			body: b(map[string]any{"KeyId": aliasARNOf(authzAliasSym), "Plaintext": msg})}),
		named("Encrypt RSA", keyCase("Encrypt", f.rsaEnc, map[string]any{"Plaintext": msg, "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"})),
		// The ciphertext names the key: no KeyId.
		{op: "Decrypt", resource: symARN, body: b(map[string]any{"CiphertextBlob": f.symBlob, "EncryptionContext": authzContext})},
		named("Decrypt naming the key", keyCase("Decrypt", f.sym, map[string]any{"CiphertextBlob": f.symBlob, "EncryptionContext": authzContext})),
		// A dry run that skips the ciphertext still asks the permission.
		named("Decrypt dry run ignoring the ciphertext", authzCase{op: "Decrypt", resource: symARN, rootCode: "DryRunOperationException",
			body: b(map[string]any{"CiphertextBlob": f.symBlob, "KeyId": sym, "DryRun": true, "DryRunModifiers": []string{"IGNORE_CIPHERTEXT"}})}),
		// Another principal's grant token gives the caller nothing.
		named("Encrypt with keyuser's grant token", keyCase("Encrypt", f.sym, map[string]any{"Plaintext": msg, "GrantTokens": []string{f.grantRetireToken}})),
		named("Decrypt RSA", keyCase("Decrypt", f.rsaEnc, map[string]any{"CiphertextBlob": f.rsaBlob, "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"})),
		// ReEncrypt asks kms:ReEncryptFrom on the source first.
		{op: "ReEncrypt", action: "kms:ReEncryptFrom", resource: symARN, body: b(map[string]any{"CiphertextBlob": f.symBlob,
			"SourceEncryptionContext": authzContext, "DestinationKeyId": *f.sym2.KeyId})},
		// With kms:ReEncryptFrom given by a grant, kms:ReEncryptTo on the
		// destination is the one denied.
		named("ReEncrypt to a key not allowed", authzCase{op: "ReEncrypt", action: "kms:ReEncryptTo", resource: *f.sym2.Arn,
			body: b(map[string]any{"CiphertextBlob": f.symFromBlob, "DestinationKeyId": *f.sym2.KeyId})}),
		keyCase("GenerateDataKey", f.sym, map[string]any{"KeySpec": "AES_256"}),
		keyCase("GenerateDataKeyWithoutPlaintext", f.sym, map[string]any{"NumberOfBytes": 32}),
		keyCase("GenerateDataKeyPair", f.sym, map[string]any{"KeyPairSpec": "ECC_NIST_P256"}),
		keyCase("GenerateDataKeyPairWithoutPlaintext", f.sym, map[string]any{"KeyPairSpec": "ECC_NIST_P256"}),
		// Asymmetric keys, HMAC, ML-KEM.
		keyCase("Sign", f.rsaSign, map[string]any{"Message": msg, "MessageType": "RAW", "SigningAlgorithm": "RSASSA_PSS_SHA_256"}),
		named("Sign ECC", keyCase("Sign", f.eccSign, map[string]any{"Message": msg, "MessageType": "RAW", "SigningAlgorithm": "ECDSA_SHA_256"})),
		keyCase("Verify", f.rsaSign, map[string]any{"Message": msg, "MessageType": "RAW", "SigningAlgorithm": "RSASSA_PSS_SHA_256", "Signature": f.rsaSig}),
		named("Verify ECC", keyCase("Verify", f.eccSign, map[string]any{"Message": msg, "MessageType": "RAW", "SigningAlgorithm": "ECDSA_SHA_256", "Signature": f.eccSig})),
		keyCase("GetPublicKey", f.rsaSign, nil),
		named("GetPublicKey RSA encryption", keyCase("GetPublicKey", f.rsaEnc, nil)),
		named("GetPublicKey ECC key agreement", keyCase("GetPublicKey", f.eccAgree, nil)),
		named("GetPublicKey ML-KEM", keyCase("GetPublicKey", f.kem, nil)),
		keyCase("DeriveSharedSecret", f.eccAgree, map[string]any{"KeyAgreementAlgorithm": "ECDH", "PublicKey": f.peerPublic}),
		keyCase("GenerateMac", f.hmac, map[string]any{"Message": msg, "MacAlgorithm": "HMAC_SHA_256"}),
		keyCase("VerifyMac", f.hmac, map[string]any{"Message": msg, "MacAlgorithm": "HMAC_SHA_256", "Mac": f.mac}),
		keyCase("Encapsulate", f.kem, map[string]any{"EncapsulationAlgorithm": "ML_KEM"}),
		keyCase("Decapsulate", f.kem, map[string]any{"EncapsulationAlgorithm": "ML_KEM", "SharedSecretCiphertextBlob": f.kemCiphertext}),
		// Key management.
		named("DescribeKey by alias name", authzCase{op: "DescribeKey", resource: symARN, body: b(map[string]any{"KeyId": authzAliasSym})}),
		keyCase("DescribeKey", f.rsaSign, nil),
		keyCase("EnableKey", f.sym, nil),
		keyCase("DisableKey", f.disable, nil),
		keyCase("ScheduleKeyDeletion", f.schedule, map[string]any{"PendingWindowInDays": 7}),
		keyCase("CancelKeyDeletion", f.cancel, nil), // a key pending deletion
		keyCase("UpdateKeyDescription", f.sym, map[string]any{"Description": "changed"}),
		keyCase("GetKeyPolicy", f.sym, map[string]any{"PolicyName": "default"}),
		keyCase("PutKeyPolicy", f.sym, map[string]any{"PolicyName": "default", "Policy": keyPolicy(rootStatement)}),
		keyCase("ListKeyPolicies", f.sym, nil),
		keyCase("EnableKeyRotation", f.sym, nil),
		keyCase("DisableKeyRotation", f.sym, nil),
		keyCase("GetKeyRotationStatus", f.sym, nil),
		keyCase("ListKeyRotations", f.sym, nil),
		keyCase("RotateKeyOnDemand", f.sym2, nil),
		keyCase("GetKeyLastUsage", f.sym, nil),
		keyCase("TagResource", f.sym, map[string]any{"Tags": []any{map[string]any{"TagKey": "team", "TagValue": "authz"}}}),
		keyCase("UntagResource", f.sym, map[string]any{"TagKeys": []string{"team"}}),
		keyCase("ListResourceTags", f.sym, nil),
		// Imported key material (EXTERNAL keys).
		keyCase("GetParametersForImport", f.extParams, map[string]any{"WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
		keyCase("ImportKeyMaterial", f.extImport, map[string]any{"ImportToken": f.importToken, "EncryptedKeyMaterial": f.wrappedMaterial,
			"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}),
		keyCase("DeleteImportedKeyMaterial", f.extImported, nil),
		// Multi-Region keys: the permission on the primary comes first.
		keyCase("ReplicateKey", f.mrkReplicate, map[string]any{"ReplicaRegion": authzReplica}),
		keyCase("UpdatePrimaryRegion", f.mrkPrimary, map[string]any{"PrimaryRegion": authzReplica}),
		// Grants.
		keyCase("CreateGrant", f.sym, map[string]any{"GranteePrincipal": arnOf(acctA, "user/keyuser"), "Operations": []string{"Encrypt"}}),
		keyCase("ListGrants", f.sym, nil),
		named("ListGrants of a service principal", keyCase("ListGrants", f.sym, map[string]any{"GranteeServicePrincipal": "s3.amazonaws.com"})),
		keyCase("RevokeGrant", f.sym, map[string]any{"GrantId": f.grantRevoke}),
		keyCase("RetireGrant", f.sym, map[string]any{"GrantId": f.grantRetire}),
		named("RetireGrant by token", authzCase{op: "RetireGrant", resource: symARN, body: b(map[string]any{"GrantToken": f.grantRetireToken})}),
		account("ListRetirableGrants", map[string]any{"RetiringPrincipal": arnOf(acctA, "user/admin")}, ""),
		// Aliases: the alias half (IAM only, on the alias ARN) is asked
		// before the key half.
		alias("CreateAlias", authzAliasNew, map[string]any{"AliasName": authzAliasNew, "TargetKeyId": sym}),
		alias("UpdateAlias", authzAliasUpdate, map[string]any{"AliasName": authzAliasUpdate, "TargetKeyId": *f.sym2.KeyId}),
		alias("DeleteAlias", authzAliasDelete, map[string]any{"AliasName": authzAliasDelete}),
		account("ListAliases", map[string]any{}, ""),
		named("ListAliases by key", account("ListAliases", map[string]any{"KeyId": sym}, "")),
		// Operations on the account.
		account("CreateKey", map[string]any{}, ""),
		named("CreateKey with tags", account("CreateKey", map[string]any{"Tags": []any{map[string]any{"TagKey": "a", "TagValue": "b"}}}, "")),
		account("ListKeys", map[string]any{}, ""),
		account("GenerateRandom", map[string]any{"NumberOfBytes": 32}, ""),
		// Custom key stores: trent has none; the permission is asked first.
		account("DescribeCustomKeyStores", map[string]any{}, ""),
		account("CreateCustomKeyStore", map[string]any{"CustomKeyStoreName": "authz"}, "UnsupportedOperationException"),
		account("UpdateCustomKeyStore", map[string]any{"CustomKeyStoreId": authzStoreID, "NewCustomKeyStoreName": "authz2"}, "CustomKeyStoreNotFoundException"),
		account("DeleteCustomKeyStore", map[string]any{"CustomKeyStoreId": authzStoreID}, "CustomKeyStoreNotFoundException"),
		account("ConnectCustomKeyStore", map[string]any{"CustomKeyStoreId": authzStoreID}, "CustomKeyStoreNotFoundException"),
		account("DisconnectCustomKeyStore", map[string]any{"CustomKeyStoreId": authzStoreID}, "CustomKeyStoreNotFoundException"),
	}
}

// TestEveryOperationIsAuthorised sends a valid request for every routed
// operation as an IAM user with no IAM policy, against resources of its
// own account whose key policy is the default one (which lets in only the
// account's root user and IAM policy holders), and expects AWS's
// AccessDeniedException for exactly the permission and resource the
// operation asks. The account's root user then sends every same request
// and is not denied: the denials come from authorization, not from a
// malformed request.
func TestEveryOperationIsAuthorised(t *testing.T) {
	ops := routedOperations(t)
	s, _ := startAccessServer(t)
	f := makeAuthzFixture(t, s)
	cases := authzCases(t, f)

	covered := map[string]bool{}
	for _, c := range cases {
		if !slices.Contains(ops, c.op) {
			t.Errorf("case %q: %s is not a routed operation", c.name, c.op)
		}
		covered[c.op] = true
	}
	for _, op := range ops {
		if !covered[op] {
			t.Errorf("%s is routed but has no authorization case", op)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Every operation that takes DryRun is asked once more with it, before
	// the requests themselves: a dry run must be denied the same way, and
	// the root user's must end in DryRunOperationException.
	dryRun := map[string]bool{}
	for _, op := range kmsapi.Operations {
		if slices.Contains(op.Errors, kmsapi.DryRunOperationException) {
			dryRun[op.Name] = true
		}
	}
	var dryRuns []authzCase
	for _, c := range cases {
		if !dryRun[c.op] || strings.Contains(c.body, `"DryRun"`) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(c.body), &m); err != nil {
			t.Fatal(err)
		}
		m["DryRun"] = true
		c.name, c.body, c.rootCode = or(c.name, c.op)+" (dry run)", jsonBody(t, m), "DryRunOperationException"
		dryRuns = append(dryRuns, c)
	}
	if len(dryRuns) < 15 {
		t.Fatalf("only %d dry-run cases", len(dryRuns))
	}
	cases = append(dryRuns, cases...)

	user := arnOf(acctA, "user/noperm")
	for _, c := range cases {
		name := or(c.name, c.op)
		action := or(c.action, "kms:"+c.op)
		why := or(c.why, noIdentity(action))
		want := deniedMsg(user, action, c.resource, why)
		resp := s.do(t, signedRequest{Target: c.op, Body: c.body, AccessKey: noperm.id, Secret: noperm.secret})
		code, message := "", ""
		if resp.Status == http.StatusBadRequest {
			code, message = resp.errorBody(t)
		}
		switch {
		case code == "AccessDeniedException" && message == want:
		case resp.Status != http.StatusBadRequest:
			t.Errorf("%s as noperm: status %d %s, want 400 AccessDeniedException", name, resp.Status, resp.Body)
		default:
			t.Errorf("%s as noperm:\n got %s %q\nwant AccessDeniedException %q", name, code, message, want)
		}
	}

	// The same requests by the account's root user, which the default key
	// policy allows: none is denied, and each gets its normal answer.
	for _, c := range cases {
		name := or(c.name, c.op)
		resp := s.do(t, signedRequest{Target: c.op, Body: c.body, AccessKey: rootA.id, Secret: rootA.secret})
		if resp.Status == http.StatusOK {
			if c.rootCode != "" {
				t.Errorf("%s as root: 200 %s, want %s", name, resp.Body, c.rootCode)
			}
			continue
		}
		code, message := resp.errorBody(t)
		if code == "AccessDeniedException" || code != c.rootCode {
			t.Errorf("%s as root: %d %s %q, want %s", name, resp.Status, code, message, or(c.rootCode, "success"))
		}
	}

	// At the default log level (info) a denial leaves no explanation in
	// the log.
	if strings.Contains(s.stderr.String(), "access denied") {
		t.Errorf("denials were logged at level info:\n%s", s.stderr)
	}
}

// TestDenialReasonInDebugLog: with log_level debug, every denial leaves in
// trent's log the decision's explanation (the statement or the missing
// policy that decided it), which the client's message never carries.
func TestDenialReasonInDebugLog(t *testing.T) {
	cfg := accessConfig()
	cfg["log_level"] = "debug"
	s := startServerWithConfig(t, t.TempDir(), cfg)
	root := s.as(rootA)
	plain := createKeyAs(t, root, "")
	denyStmt := `{"Sid":"NoEncryptForNoperm","Effect":"Deny","Principal":{"AWS":"` + arnOf(acctA, "user/noperm") + `"},"Action":"kms:Encrypt","Resource":"*"}`
	guarded := createKeyAs(t, root, keyPolicy(rootStatement, denyStmt))
	g, err := root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: plain.KeyId, GranteePrincipal: aws.String(arnOf(acctA, "user/keyuser")),
		Operations: []types.GrantOperation{types.GrantOperationEncrypt}})
	if err != nil {
		t.Fatal(err)
	}
	user := arnOf(acctA, "user/noperm")
	for _, tc := range []struct {
		name, op, body string
		message        string // the client's
		explain        string // the log's
		secret         []string
	}{{
		name: "default key policy, no IAM policy", op: "Encrypt",
		body:    jsonBody(t, map[string]any{"KeyId": *plain.KeyId, "Plaintext": []byte("x")}),
		message: deniedMsg(user, "kms:Encrypt", *plain.Arn, noIdentity("kms:Encrypt")),
		explain: "denied: " + user + " kms:Encrypt on " + *plain.Arn + `: the key policy lets the caller's IAM policies decide, key policy statement 0 (Sid "Enable IAM User Permissions"), and no identity policy allows`,
		secret:  []string{"Enable IAM User Permissions", "statement", "lets the caller"},
	}, {
		name: "explicit deny in the key policy", op: "Encrypt",
		body:    jsonBody(t, map[string]any{"KeyId": *guarded.KeyId, "Plaintext": []byte("x")}),
		message: deniedMsg(user, "kms:Encrypt", *guarded.Arn, "with an explicit deny in a resource-based policy"),
		explain: "denied: " + user + " kms:Encrypt on " + *guarded.Arn + `: the key policy denies explicitly, key policy statement 1 (Sid "NoEncryptForNoperm")`,
		secret:  []string{"NoEncryptForNoperm", "statement 1"},
	}, {
		name: "IAM-only permission", op: "ListKeys", body: `{}`,
		message: deniedMsg(user, "kms:ListKeys", "*", noIdentity("kms:ListKeys")),
		explain: "denied: " + user + " kms:ListKeys on *: no identity policy allows",
		secret:  []string{"no identity policy allows"},
	}, {
		name: "RetireGrant (decided apart)", op: "RetireGrant",
		body:    jsonBody(t, map[string]any{"KeyId": *plain.KeyId, "GrantId": *g.GrantId}),
		message: deniedMsg(user, "kms:RetireGrant", *plain.Arn, noIdentity("kms:RetireGrant")),
		explain: "denied: " + user + " kms:RetireGrant on " + *plain.Arn + ": no identity policy allows",
		secret:  []string{"no identity policy allows"},
	}} {
		resp := s.do(t, signedRequest{Target: tc.op, Body: tc.body, AccessKey: noperm.id, Secret: noperm.secret})
		code, message := "", ""
		if resp.Status == http.StatusBadRequest {
			code, message = resp.errorBody(t)
		}
		if code != "AccessDeniedException" || message != tc.message {
			t.Errorf("%s: %d %s\nwant AccessDeniedException %q", tc.name, resp.Status, resp.Body, tc.message)
			continue
		}
		for _, w := range append(tc.secret, tc.explain) {
			if strings.Contains(message, w) || strings.Contains(string(resp.Body), w) {
				t.Errorf("%s: the client's answer %s carries the explanation (%q)", tc.name, resp.Body, w)
			}
		}
		// The log line is written before the answer, but reaches the
		// test's buffer through a pipe: wait for it.
		var lines []string
		found := func() bool {
			lines = lines[:0]
			for _, line := range strings.Split(s.stderr.String(), "\n") {
				var rec struct {
					Level, Msg, Explain string
				}
				if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "access denied" {
					continue
				}
				lines = append(lines, line)
				if rec.Level == "DEBUG" && rec.Explain == tc.explain {
					return true
				}
			}
			return false
		}
		deadline := 0
		for !found() && deadline < 250 {
			deadline++
			time.Sleep(20 * time.Millisecond)
		}
		if !found() {
			t.Errorf("%s: no debug line explaining the denial %q; the denial lines are:\n%s\nall of stderr:\n%s",
				tc.name, tc.explain, strings.Join(lines, "\n"), s.stderr)
		}
	}
}
