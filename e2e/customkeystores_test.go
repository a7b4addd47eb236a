package e2e

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestCustomKeyStores: trent has no custom key stores (its root of trust
// can be an HSM instead). Tools that list them get an empty list; naming
// one finds none; creating one is refused; and a caller without the
// permission is told so first, as AWS does.
func TestCustomKeyStores(t *testing.T) {
	s, _ := startAccessServer(t)
	root := s.as(rootA)
	const id = "cks-1234567890abcdef0"

	out, err := root.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.CustomKeyStores) != 0 || out.Truncated {
		t.Fatalf("DescribeCustomKeyStores: %d stores, truncated %v; want none", len(out.CustomKeyStores), out.Truncated)
	}
	_, err = root.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
	wantAPIError(t, err, "CustomKeyStoreNotFoundException", "Custom key stores are not supported by this server.")
	_, err = root.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	wantAPIError(t, err, "CustomKeyStoreNotFoundException", "Custom key stores are not supported by this server.")
	_, err = root.DeleteCustomKeyStore(ctx, &kms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	wantAPIError(t, err, "CustomKeyStoreNotFoundException", "Custom key stores are not supported by this server.")
	_, err = root.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("hsm"), CloudHsmClusterId: aws.String("cluster-234567abcdefg")})
	wantAPIError(t, err, "UnsupportedOperationException", "Custom key stores are not supported by this server. Its root of trust can be an HSM instead (root_key.pkcs11).")

	_, err = s.as(noperm).DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
	wantDenied(t, err, deniedMsg(arnOf(acctA, "user/noperm"), "kms:DescribeCustomKeyStores", "*", noIdentity("kms:DescribeCustomKeyStores")))
	_, err = s.as(noperm).DisconnectCustomKeyStore(ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	wantDenied(t, err, deniedMsg(arnOf(acctA, "user/noperm"), "kms:DisconnectCustomKeyStore", "*", noIdentity("kms:DisconnectCustomKeyStore")))
	// An identity policy allowing kms:* reaches the "none here" answer.
	_, err = s.as(denied).UpdateCustomKeyStore(ctx, &kms.UpdateCustomKeyStoreInput{CustomKeyStoreId: aws.String(id), NewCustomKeyStoreName: aws.String("x")})
	wantAPIError(t, err, "CustomKeyStoreNotFoundException", "Custom key stores are not supported by this server.")

	// The AWS CLI, as a script listing an account's custom key stores runs it.
	var listed struct{ CustomKeyStores []any }
	stdout, _, err := s.runAWS(t, rootA, "kms", "describe-custom-key-stores")
	if err != nil {
		t.Fatalf("aws kms describe-custom-key-stores: %v", err)
	}
	if err := json.Unmarshal([]byte(stdout), &listed); err != nil || listed.CustomKeyStores == nil || len(listed.CustomKeyStores) != 0 {
		t.Fatalf("aws kms describe-custom-key-stores printed %q (%v), want an empty CustomKeyStores list", stdout, err)
	}
}
