package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

// The operations the generator drives, and how to build a pool of real,
// distinct request bodies for each.

var ops = []string{"Encrypt", "Decrypt", "GenerateDataKey", "GenerateMac", "Sign", "Verify", "DescribeKey", "CreateKey", "ceiling"}

// errUnsupported marks a server that does not implement what was asked:
// the run is "n/a", not a failure.
type errUnsupported struct{ msg string }

func (e errUnsupported) Error() string { return e.msg }

// defaultKeySpec is the key spec an operation needs when -keyspec is not given.
func defaultKeySpec(op string) string {
	switch op {
	case "GenerateMac":
		return "HMAC_256"
	case "Sign", "Verify":
		return "ECC_NIST_P256"
	default:
		return "SYMMETRIC_DEFAULT"
	}
}

// keyUsage is the KeyUsage of a key of spec made for op.
func keyUsage(op, spec string) types.KeyUsageType {
	switch {
	case strings.HasPrefix(spec, "HMAC_"):
		return types.KeyUsageTypeGenerateVerifyMac
	case op == "Sign" || op == "Verify":
		return types.KeyUsageTypeSignVerify
	default:
		return types.KeyUsageTypeEncryptDecrypt
	}
}

// signingAlgorithm is the algorithm Sign and Verify use for a key spec.
func signingAlgorithm(spec string) (string, error) {
	switch spec {
	case "ECC_NIST_P256", "ECC_SECG_P256K1":
		return "ECDSA_SHA_256", nil
	case "ECC_NIST_P384":
		return "ECDSA_SHA_384", nil
	case "ECC_NIST_P521":
		return "ECDSA_SHA_512", nil
	case "ECC_NIST_EDWARDS25519":
		return "ED25519_SHA_512", nil
	case "RSA_2048", "RSA_3072", "RSA_4096":
		return "RSASSA_PSS_SHA_256", nil
	case "SM2":
		return "SM2DSA", nil
	case "ML_DSA_44", "ML_DSA_65", "ML_DSA_87":
		return "ML_DSA_SHAKE_256", nil
	}
	return "", fmt.Errorf("no signing algorithm for key spec %s", spec)
}

// macAlgorithm is the algorithm GenerateMac uses for an HMAC key spec.
func macAlgorithm(spec string) (string, error) {
	switch spec {
	case "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512":
		return "HMAC_SHA_" + strings.TrimPrefix(spec, "HMAC_"), nil
	}
	return "", fmt.Errorf("GenerateMac needs an HMAC key spec, not %s", spec)
}

// needsKey reports whether op works on an existing key.
func needsKey(op string) bool { return op != "CreateKey" && op != "ceiling" }

// newClient is an SDK client for the setup calls (never for the load).
func newClient(cfg *config) *kms.Client {
	return kms.New(kms.Options{
		Region:       cfg.region,
		BaseEndpoint: aws.String(cfg.endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: cfg.accessKey, SecretAccessKey: cfg.secretKey}, nil
		}),
	})
}

// apiError turns an SDK error into errUnsupported when the server says it
// does not implement what was asked.
func apiError(what string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "UnsupportedOperationException" {
		return errUnsupported{fmt.Sprintf("%s: %s: %s", what, ae.ErrorCode(), ae.ErrorMessage())}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// createKey makes the key the run uses.
func createKey(ctx context.Context, c *kms.Client, op, spec string) (string, error) {
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{
		Description: aws.String("trent bench loadgen " + op),
		KeySpec:     types.KeySpec(spec),
		KeyUsage:    keyUsage(op, spec),
	})
	if err != nil {
		return "", apiError("CreateKey "+spec, err)
	}
	return *out.KeyMetadata.KeyId, nil
}

// ceilingKeyARN stands in for a key ARN in the ceiling's bodies.
const ceilingKeyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// ceilingPlaintext sizes the ceiling's request and answer to about 300 bytes each.
const ceilingPlaintext = 120

// buildBodies returns n distinct request bodies for op, calling the server
// (Encrypt for Decrypt, Sign for Verify) where a body needs a real
// ciphertext or signature.
func buildBodies(ctx context.Context, c *kms.Client, cfg *config, n int) ([][]byte, error) {
	bodies := make([][]byte, n)
	for i := range bodies {
		// Every request differs: its own random payload and its own
		// encryption context, so the server does the whole work each time.
		ec := map[string]string{"purpose": "bench", "request": strconv.Itoa(i)}
		size := cfg.payload
		if cfg.op == "ceiling" {
			size = ceilingPlaintext
		}
		msg := make([]byte, size)
		rand.Read(msg)
		var body any
		switch cfg.op {
		case "Encrypt":
			body = map[string]any{"KeyId": cfg.key, "Plaintext": msg, "EncryptionContext": ec}
		case "Decrypt":
			out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &cfg.key, Plaintext: msg, EncryptionContext: ec})
			if err != nil {
				return nil, apiError("Encrypt (to make Decrypt's ciphertexts)", err)
			}
			body = map[string]any{"CiphertextBlob": out.CiphertextBlob, "EncryptionContext": ec}
		case "GenerateDataKey":
			body = map[string]any{"KeyId": cfg.key, "KeySpec": "AES_256", "EncryptionContext": ec}
		case "GenerateMac":
			alg, err := macAlgorithm(cfg.keyspec)
			if err != nil {
				return nil, err
			}
			body = map[string]any{"KeyId": cfg.key, "Message": msg, "MacAlgorithm": alg}
		case "Sign", "Verify":
			alg, err := signingAlgorithm(cfg.keyspec)
			if err != nil {
				return nil, err
			}
			m := map[string]any{"KeyId": cfg.key, "Message": msg, "MessageType": "RAW", "SigningAlgorithm": alg}
			if cfg.op == "Verify" {
				out, err := c.Sign(ctx, &kms.SignInput{KeyId: &cfg.key, Message: msg,
					MessageType: types.MessageTypeRaw, SigningAlgorithm: types.SigningAlgorithmSpec(alg)})
				if err != nil {
					return nil, apiError("Sign (to make Verify's signatures)", err)
				}
				m["Signature"] = out.Signature
			}
			body = m
		case "DescribeKey":
			body = map[string]any{"KeyId": cfg.key}
		case "CreateKey":
			m := map[string]any{"Description": "trent bench CreateKey " + strconv.Itoa(i)}
			if cfg.keyspec != "SYMMETRIC_DEFAULT" {
				m["KeySpec"] = cfg.keyspec
				m["KeyUsage"] = string(keyUsage(cfg.op, cfg.keyspec))
			}
			body = m
		case "ceiling":
			body = map[string]any{"KeyId": ceilingKeyARN, "Plaintext": msg, "EncryptionContext": ec}
		default:
			return nil, fmt.Errorf("unknown operation %q", cfg.op)
		}
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		bodies[i] = b
	}
	return bodies, nil
}
