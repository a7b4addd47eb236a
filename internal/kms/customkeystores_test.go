package kms

import (
	"context"
	"testing"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// TestCustomKeyStores: an account has no custom key store. Each operation
// asks its permission first, then lists none or finds none.
func TestCustomKeyStores(t *testing.T) {
	s, db := newTestService(t, t.TempDir())
	defer db.Close()
	ctx := context.Background()
	call, alice := devCall, aliceCall()
	id := new("cks-1234567890abcdef0")

	out, err := s.DescribeCustomKeyStores(ctx, &call, &kmsapi.DescribeCustomKeyStoresRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if out.CustomKeyStores == nil || len(out.CustomKeyStores) != 0 || out.Truncated == nil || *out.Truncated {
		t.Fatalf("DescribeCustomKeyStores = %+v, want an empty list, not truncated", out)
	}
	_, err = s.DescribeCustomKeyStores(ctx, &call, &kmsapi.DescribeCustomKeyStoresRequest{CustomKeyStoreId: id})
	wantCode(t, err, kmsapi.CustomKeyStoreNotFoundException, "Custom key stores are not supported by this server.")
	_, err = s.DescribeCustomKeyStores(ctx, &call, &kmsapi.DescribeCustomKeyStoresRequest{CustomKeyStoreName: new("hsm")})
	wantCode(t, err, kmsapi.CustomKeyStoreNotFoundException)
	_, err = s.DescribeCustomKeyStores(ctx, &call, &kmsapi.DescribeCustomKeyStoresRequest{Marker: new("bWFya2Vy")})
	wantCode(t, err, kmsapi.InvalidMarkerException, "Invalid marker")

	_, err = s.ConnectCustomKeyStore(ctx, &call, &kmsapi.ConnectCustomKeyStoreRequest{CustomKeyStoreId: id})
	wantCode(t, err, kmsapi.CustomKeyStoreNotFoundException)
	_, err = s.DisconnectCustomKeyStore(ctx, &call, &kmsapi.DisconnectCustomKeyStoreRequest{CustomKeyStoreId: id})
	wantCode(t, err, kmsapi.CustomKeyStoreNotFoundException)
	_, err = s.UpdateCustomKeyStore(ctx, &call, &kmsapi.UpdateCustomKeyStoreRequest{CustomKeyStoreId: id, NewCustomKeyStoreName: new("x")})
	wantCode(t, err, kmsapi.CustomKeyStoreNotFoundException)
	_, err = s.DeleteCustomKeyStore(ctx, &call, &kmsapi.DeleteCustomKeyStoreRequest{CustomKeyStoreId: id})
	wantCode(t, err, kmsapi.CustomKeyStoreNotFoundException)
	_, err = s.CreateCustomKeyStore(ctx, &call, &kmsapi.CreateCustomKeyStoreRequest{CustomKeyStoreName: new("hsm"), CloudHsmClusterId: new("cluster-234567abcdefg")})
	wantCode(t, err, kmsapi.UnsupportedOperationException, "Custom key stores are not supported by this server. Its root of trust can be an HSM instead (root_key.pkcs11).")

	// alice has no IAM policy: refused before any store is looked for.
	for _, c := range []struct {
		action string
		call   func() error
	}{
		{"kms:DescribeCustomKeyStores", func() error {
			_, err := s.DescribeCustomKeyStores(ctx, &alice, &kmsapi.DescribeCustomKeyStoresRequest{CustomKeyStoreId: id})
			return err
		}},
		{"kms:CreateCustomKeyStore", func() error {
			_, err := s.CreateCustomKeyStore(ctx, &alice, &kmsapi.CreateCustomKeyStoreRequest{CustomKeyStoreName: new("hsm")})
			return err
		}},
		{"kms:ConnectCustomKeyStore", func() error {
			_, err := s.ConnectCustomKeyStore(ctx, &alice, &kmsapi.ConnectCustomKeyStoreRequest{CustomKeyStoreId: id})
			return err
		}},
		{"kms:DisconnectCustomKeyStore", func() error {
			_, err := s.DisconnectCustomKeyStore(ctx, &alice, &kmsapi.DisconnectCustomKeyStoreRequest{CustomKeyStoreId: id})
			return err
		}},
		{"kms:UpdateCustomKeyStore", func() error {
			_, err := s.UpdateCustomKeyStore(ctx, &alice, &kmsapi.UpdateCustomKeyStoreRequest{CustomKeyStoreId: id})
			return err
		}},
		{"kms:DeleteCustomKeyStore", func() error {
			_, err := s.DeleteCustomKeyStore(ctx, &alice, &kmsapi.DeleteCustomKeyStoreRequest{CustomKeyStoreId: id})
			return err
		}},
	} {
		wantCode(t, c.call(), kmsapi.AccessDeniedException,
			"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: "+c.action+" on resource: * because no identity-based policy allows the "+c.action+" action")
	}
}
