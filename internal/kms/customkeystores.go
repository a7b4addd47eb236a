package kms

import (
	"context"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// Custom key stores (AWS CloudHSM clusters and external key stores) are AWS
// infrastructure that trent does not have: its own root of trust can be an
// HSM instead (rootkey.PKCS11). So every account has no custom key store:
// DescribeCustomKeyStores lists none, an operation on one finds it missing,
// and creating one is refused. Each operation still asks its permission
// first (IAM policies only, on resource "*", as AWS authorizes them), so
// that a caller without it is told AccessDeniedException, as on AWS.

// errNoCustomKeyStore is the answer to a request that names a custom key
// store, once the caller may make the request.
func errNoCustomKeyStore() error {
	return kmsapi.Errorf(kmsapi.CustomKeyStoreNotFoundException, "Custom key stores are not supported by this server.")
}

func (s *Service) DescribeCustomKeyStores(ctx context.Context, call *Call, in *kmsapi.DescribeCustomKeyStoresRequest) (*kmsapi.DescribeCustomKeyStoresResponse, error) {
	if err := s.authorizeAccount(call, "kms:DescribeCustomKeyStores", "*"); err != nil {
		return nil, err
	}
	if in.CustomKeyStoreId != nil || in.CustomKeyStoreName != nil {
		return nil, errNoCustomKeyStore()
	}
	// An empty list never hands out a marker, so none is valid.
	if in.Marker != nil {
		return nil, kmsapi.Errorf(kmsapi.InvalidMarkerException, "Invalid marker")
	}
	return &kmsapi.DescribeCustomKeyStoresResponse{CustomKeyStores: []kmsapi.CustomKeyStoresListEntry{}, Truncated: new(false)}, nil
}

func (s *Service) CreateCustomKeyStore(ctx context.Context, call *Call, in *kmsapi.CreateCustomKeyStoreRequest) (*kmsapi.CreateCustomKeyStoreResponse, error) {
	if err := s.authorizeAccount(call, "kms:CreateCustomKeyStore", "*"); err != nil {
		return nil, err
	}
	return nil, kmsapi.Errorf(kmsapi.UnsupportedOperationException,
		"Custom key stores are not supported by this server. Its root of trust can be an HSM instead (root_key.pkcs11).")
}

func (s *Service) UpdateCustomKeyStore(ctx context.Context, call *Call, in *kmsapi.UpdateCustomKeyStoreRequest) (*kmsapi.UpdateCustomKeyStoreResponse, error) {
	return nil, s.noCustomKeyStore(call, "kms:UpdateCustomKeyStore")
}

func (s *Service) DeleteCustomKeyStore(ctx context.Context, call *Call, in *kmsapi.DeleteCustomKeyStoreRequest) (*kmsapi.DeleteCustomKeyStoreResponse, error) {
	return nil, s.noCustomKeyStore(call, "kms:DeleteCustomKeyStore")
}

func (s *Service) ConnectCustomKeyStore(ctx context.Context, call *Call, in *kmsapi.ConnectCustomKeyStoreRequest) (*kmsapi.ConnectCustomKeyStoreResponse, error) {
	return nil, s.noCustomKeyStore(call, "kms:ConnectCustomKeyStore")
}

func (s *Service) DisconnectCustomKeyStore(ctx context.Context, call *Call, in *kmsapi.DisconnectCustomKeyStoreRequest) (*kmsapi.DisconnectCustomKeyStoreResponse, error) {
	return nil, s.noCustomKeyStore(call, "kms:DisconnectCustomKeyStore")
}

// noCustomKeyStore answers an operation on the custom key store a request
// names: the permission, then the store, which is never there.
func (s *Service) noCustomKeyStore(call *Call, action string) error {
	if err := s.authorizeAccount(call, action, "*"); err != nil {
		return err
	}
	return errNoCustomKeyStore()
}
