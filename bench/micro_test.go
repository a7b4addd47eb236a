package bench

// Micro-benchmarks of the in-process hot paths of a data-plane request, in
// the order a request meets them, then the raw crypto rates of Go's own
// implementations that Sign, Verify and GenerateMac are measured against.
//
//	go test -run='^$' -bench=. -benchmem ./bench/          (make bench-micro)
//	go test -run='^$' -bench=. -benchmem -benchtime=1x ./bench/   (make bench-smoke)
//
// Everything goes through exported APIs only, built the way
// internal/server assembles a real server.

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"

	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/trent-kms/trent/internal/api"
	"github.com/trent-kms/trent/internal/audit"
	"github.com/trent-kms/trent/internal/auth"
	"github.com/trent-kms/trent/internal/ciphertext"
	"github.com/trent-kms/trent/internal/kms"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/policy"
	"github.com/trent-kms/trent/internal/rootkey"
	"github.com/trent-kms/trent/internal/server"
)

// The dev-mode identity (internal/config): account 111122223333, access
// key "test", its root user.
const (
	account   = "111122223333"
	accessKey = "test"
	secretKey = "test"
	region    = "us-east-1"
	principal = "arn:aws:iam::" + account + ":root"
	keyID     = "1234abcd-12ab-34cd-56ef-1234567890ab"
)

var (
	plaintext1KB = randomBytes(1024)
	encCtx       = map[string]string{"purpose": "bench", "request": "17"}
	call         = kms.Call{Account: account, ARN: principal, Region: region,
		Principal: policy.Principal{ARN: principal, Account: account, Type: policy.TypeAccount, UserID: account}}
)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// encryptBody is a realistic Encrypt request: 1 KiB, a key ID, a context.
func encryptBody(tb testing.TB, key string) []byte {
	return mustJSON(tb, map[string]any{"KeyId": key, "Plaintext": plaintext1KB, "EncryptionContext": encCtx})
}

func newVerifier(tb testing.TB) *auth.Verifier {
	tb.Helper()
	keyring, err := auth.NewKeyring(auth.Credential{
		AccessKeyID:     accessKey,
		SecretAccessKey: secretKey,
		Principal:       auth.Principal{Account: account, ARN: principal, UserID: account, Type: policy.TypeAccount},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return &auth.Verifier{Keyring: keyring, Service: "kms"}
}

// signedRequest returns a request for op signed the way the Go SDK signs
// (same headers, same signer), as a net/http server hands it to a handler:
// written to the wire and read back.
func signedRequest(tb testing.TB, op string, body []byte) *http.Request {
	tb.Helper()
	r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:4599/", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "TrentService."+op)
	r.Header.Set("User-Agent", "aws-sdk-go-v2/1.48.0 ua/2.1 os/linux lang/go#1.26.8 md/GOOS#linux md/GOARCH#amd64 api/kms#1.62.5 m/E")
	r.Header.Set("Amz-Sdk-Invocation-Id", "6a1e4b9c-3f0d-4c8e-9a57-0d2f3b1c7e42")
	r.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), "kms", region, time.Now()); err != nil {
		tb.Fatal(err)
	}
	var wire bytes.Buffer
	if err := r.Write(&wire); err != nil {
		tb.Fatal(err)
	}
	sr, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		tb.Fatal(err)
	}
	sr.RemoteAddr = "127.0.0.1:50123"
	return sr
}

// BenchmarkDecodeEncrypt decodes and validates a 1 KiB Encrypt body, as the
// API front end does for every request.
func BenchmarkDecodeEncrypt(b *testing.B) {
	body := encryptBody(b, keyID)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var in kmsapi.EncryptRequest
		if err := json.Unmarshal(body, &in); err != nil {
			b.Fatal(err)
		}
		if err := in.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifySigV4 verifies the signature of a Go-SDK-signed Encrypt.
func BenchmarkVerifySigV4(b *testing.B) {
	v := newVerifier(b)
	body := encryptBody(b, keyID)
	r := signedRequest(b, "Encrypt", body)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthorize is the authorisation decision every key operation
// takes (kms.PolicyAuthorizer, the service's default): the root user under
// the default key policy, and an IAM user whose identity policy allows
// Encrypt under a key policy with a condition on the encryption context.
func BenchmarkAuthorize(b *testing.B) {
	key := &kms.Key{ID: keyID, Account: account, Region: region}
	defaultPolicy, err := policy.Parse(policy.DefaultKeyPolicy(account), policy.KeyPolicy)
	if err != nil {
		b.Fatal(err)
	}
	keyPolicy, err := policy.Parse(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+account+`:root"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringNotEquals":{"kms:EncryptionContext:purpose":"bench"}}}]}`, policy.KeyPolicy)
	if err != nil {
		b.Fatal(err)
	}
	iam, err := policy.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"arn:aws:kms:`+region+`:`+account+`:key/*"}]}`, policy.IdentityPolicy)
	if err != nil {
		b.Fatal(err)
	}
	alice := call
	alice.ARN = "arn:aws:iam::" + account + ":user/alice"
	alice.Principal = policy.Principal{ARN: alice.ARN, Account: account, Type: policy.TypeUser, Username: "alice", UserID: "AIDAEXAMPLE"}
	alice.Policies = []*policy.Policy{iam}
	alice.Cond = kms.Conditions{TakesContext: true, EncryptionContext: encCtx}
	var authz kms.Authorizer = kms.PolicyAuthorizer{}
	for _, tc := range []struct {
		name   string
		call   *kms.Call
		policy *policy.Policy
	}{{"RootDefaultPolicy", &call, defaultPolicy}, {"UserIAMPolicyAndCondition", &alice, keyPolicy}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a := &kms.Access{Call: tc.call, Action: "kms:Decrypt", Resource: key.ARN(), Key: key, KeyPolicy: tc.policy, Context: kms.NewRequestContext(tc.call, key)}
				if err := authz.Authorize(a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func sealed(tb testing.TB) (material *ciphertext.Key, blob []byte) {
	material, err := ciphertext.NewKey(randomBytes(ciphertext.MaterialSize))
	if err != nil {
		tb.Fatal(err)
	}
	blob, err = ciphertext.Seal(material, ciphertext.Header{KeyID: keyID}, plaintext1KB, encCtx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return material, blob
}

// BenchmarkSeal1KB seals 1 KiB with an encryption context (key derivation,
// AES-256-GCM).
func BenchmarkSeal1KB(b *testing.B) {
	material, _ := sealed(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(plaintext1KB)))
	for b.Loop() {
		if _, err := ciphertext.Seal(material, ciphertext.Header{KeyID: keyID}, plaintext1KB, encCtx, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen1KB opens a 1 KiB blob.
func BenchmarkOpen1KB(b *testing.B) {
	material, blob := sealed(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(plaintext1KB)))
	for b.Loop() {
		if _, err := ciphertext.Open(material, blob, encCtx); err != nil {
			b.Fatal(err)
		}
	}
}

// encryptEvent is the audit record of a successful Encrypt, as
// internal/api builds it.
func encryptEvent(params jsontext.Value) *audit.Event {
	arn := "arn:aws:kms:" + region + ":" + account + ":key/" + keyID
	return &audit.Event{
		EventVersion:       "1.11",
		UserIdentity:       audit.UserIdentity{Type: "Root", PrincipalID: account, ARN: principal, AccountID: account, AccessKeyID: accessKey},
		EventTime:          time.Now().UTC(),
		EventSource:        "kms.amazonaws.com",
		EventName:          "Encrypt",
		AWSRegion:          region,
		SourceIPAddress:    "127.0.0.1",
		UserAgent:          "aws-sdk-go-v2/1.48.0 ua/2.1 os/linux lang/go#1.26.8 md/GOOS#linux md/GOARCH#amd64 api/kms#1.62.5 m/E",
		RequestParameters:  params,
		RequestID:          "6f0a3c1e-2b4d-4e8f-9a1b-3c5d7e9f0a2b",
		EventID:            "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
		ReadOnly:           true,
		Resources:          []audit.Resource{{AccountID: account, Type: "AWS::KMS::Key", ARN: arn}},
		EventType:          "AwsApiCall",
		ManagementEvent:    true,
		RecipientAccountID: account,
		EventCategory:      "Management",
	}
}

// newAuditFile opens the audit log trent serves with, in a temporary
// directory: chained, checkpointed, one write(2) per batch.
func newAuditFile(b *testing.B) *audit.File {
	b.Helper()
	dir := b.TempDir()
	root, err := rootkey.LoadOrCreateFile(filepath.Join(dir, "root.key"))
	if err != nil {
		b.Fatal(err)
	}
	w, err := audit.OpenFile(filepath.Join(dir, "audit.jsonl"), audit.Options{RootKey: root})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close() })
	return w
}

// BenchmarkAuditRecord writes the audit line of an Encrypt to a real audit
// file: Record alone, with the redacted request turned into
// requestParameters first (as the front end does per request), and from
// many goroutines at once (records then share writes).
func BenchmarkAuditRecord(b *testing.B) {
	var in kmsapi.EncryptRequest
	if err := json.Unmarshal(encryptBody(b, keyID), &in); err != nil {
		b.Fatal(err)
	}
	w := newAuditFile(b)
	b.Run("Record", func(b *testing.B) {
		e := encryptEvent(audit.Parameters(in.Redacted()))
		b.ReportAllocs()
		for b.Loop() {
			if err := w.Record(e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("WithParameters", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := w.Record(encryptEvent(audit.Parameters(in.Redacted()))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := w.Record(encryptEvent(audit.Parameters(in.Redacted()))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// handlerEnv is a whole trent in-process: a kms.Service over a bbolt store
// in a temporary directory and a root key file, behind the API handler with
// SigV4 verification, the authorisation step and an audit writer.
type handlerEnv struct {
	handler *api.Handler
	service *kms.Service
	keyID   string
}

func newHandlerEnv(b *testing.B) *handlerEnv {
	b.Helper()
	dir := b.TempDir()
	root, err := rootkey.LoadOrCreateFile(filepath.Join(dir, "root.key"))
	if err != nil {
		b.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	db, err := server.OpenStore(filepath.Join(dir, "trent.db"), root, logger)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	service, err := kms.New(kms.Config{Store: db, RootKey: root, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { service.Close() })
	out, err := service.CreateKey(context.Background(), &call, &kmsapi.CreateKeyRequest{})
	if err != nil {
		b.Fatal(err)
	}
	h := api.New(api.Config{
		Verifier: newVerifier(b),
		Service:  service,
		Audit:    newAuditFile(b),
		Logger:   logger,
	})
	return &handlerEnv{handler: h, service: service, keyID: *out.KeyMetadata.KeyId}
}

// serve runs r through the handler b.N times and checks every answer.
// The request body and the response writer are reused, so that the
// allocations reported are the handler's own.
func (env *handlerEnv) serve(b *testing.B, r *http.Request, body []byte) {
	b.Helper()
	rb := &reusableBody{}
	r.Body = rb
	w := &reusableWriter{header: http.Header{}}
	once := func() {
		rb.Reset(body)
		w.reset()
		env.handler.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatalf("HTTP %d: %s", w.status, w.body.Bytes())
		}
	}
	once()
	b.ReportAllocs()
	for b.Loop() {
		once()
	}
}

// BenchmarkEncryptHandler is a whole Encrypt (1 KiB) in-process: read the
// body, verify SigV4, route, decode, validate, authorise, unwrap the key
// material, seal, encode the answer, write the audit record.
func BenchmarkEncryptHandler(b *testing.B) {
	env := newHandlerEnv(b)
	body := encryptBody(b, env.keyID)
	env.serve(b, signedRequest(b, "Encrypt", body), body)
}

// BenchmarkDecryptHandler is a whole Decrypt of a 1 KiB ciphertext in-process.
func BenchmarkDecryptHandler(b *testing.B) {
	env := newHandlerEnv(b)
	out, err := env.service.Encrypt(context.Background(), &call,
		&kmsapi.EncryptRequest{KeyId: &env.keyID, Plaintext: plaintext1KB, EncryptionContext: encCtx})
	if err != nil {
		b.Fatal(err)
	}
	body := mustJSON(b, map[string]any{"CiphertextBlob": out.CiphertextBlob, "EncryptionContext": encCtx})
	env.serve(b, signedRequest(b, "Decrypt", body), body)
}

// reusableBody is a request body that can be rewound.
type reusableBody struct{ bytes.Reader }

func (*reusableBody) Close() error { return nil }

// reusableWriter is a minimal http.ResponseWriter that can be reset, unlike
// httptest.ResponseRecorder, whose own allocations would blur the handler's.
type reusableWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *reusableWriter) reset() {
	clear(w.header)
	w.status = 0
	w.body.Reset()
}

func (w *reusableWriter) Header() http.Header { return w.header }

func (w *reusableWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *reusableWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

// The raw rates of Go's own implementations on a 1 KiB message (hashing
// included, as KMS's RAW message type does): the yardstick for trent's
// Sign, Verify and GenerateMac.

var rawKeys = sync.OnceValues(func() (*ecdsa.PrivateKey, ed25519.PrivateKey) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return ec, ed
})

var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func BenchmarkRawSign(b *testing.B) {
	msg := plaintext1KB
	b.Run("ECDSA_P256", func(b *testing.B) {
		k, _ := rawKeys()
		b.ReportAllocs()
		for b.Loop() {
			d := sha256.Sum256(msg)
			if _, err := ecdsa.SignASN1(rand.Reader, k, d[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Ed25519", func(b *testing.B) {
		_, k := rawKeys()
		b.ReportAllocs()
		for b.Loop() {
			ed25519.Sign(k, msg)
		}
	})
	b.Run("RSA2048_PSS", func(b *testing.B) {
		k := rsaKey()
		b.ReportAllocs()
		for b.Loop() {
			d := sha256.Sum256(msg)
			if _, err := rsa.SignPSS(rand.Reader, k, crypto.SHA256, d[:], nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("HMAC_SHA256", func(b *testing.B) {
		key := randomBytes(32)
		b.ReportAllocs()
		for b.Loop() {
			m := hmac.New(sha256.New, key)
			m.Write(msg)
			m.Sum(nil)
		}
	})
}

func BenchmarkRawVerify(b *testing.B) {
	msg := plaintext1KB
	d := sha256.Sum256(msg)
	b.Run("ECDSA_P256", func(b *testing.B) {
		k, _ := rawKeys()
		sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			d := sha256.Sum256(msg)
			if !ecdsa.VerifyASN1(&k.PublicKey, d[:], sig) {
				b.Fatal("bad signature")
			}
		}
	})
	b.Run("Ed25519", func(b *testing.B) {
		_, k := rawKeys()
		sig := ed25519.Sign(k, msg)
		pub := k.Public().(ed25519.PublicKey)
		b.ReportAllocs()
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("bad signature")
			}
		}
	})
	b.Run("RSA2048_PSS", func(b *testing.B) {
		k := rsaKey()
		sig, err := rsa.SignPSS(rand.Reader, k, crypto.SHA256, d[:], nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			d := sha256.Sum256(msg)
			if err := rsa.VerifyPSS(&k.PublicKey, crypto.SHA256, d[:], sig, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
