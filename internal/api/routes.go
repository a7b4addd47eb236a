package api

import (
	"github.com/trent-kms/trent/internal/kms"
	"github.com/trent-kms/trent/internal/kmsapi"
)

// routes maps every operation of the KMS API to its route. Every operation
// of the model is here: the ones trent does not implement yet still decode
// and validate their input, then answer UnsupportedOperationException.
func routes(s *kms.Service) map[string]route {
	return map[string]route{
		"CancelKeyDeletion":                   operation(s.CancelKeyDeletion),
		"ConnectCustomKeyStore":               notYet[kmsapi.ConnectCustomKeyStoreRequest]("ConnectCustomKeyStore"),
		"CreateAlias":                         withoutOutput(s.CreateAlias),
		"CreateCustomKeyStore":                notYet[kmsapi.CreateCustomKeyStoreRequest]("CreateCustomKeyStore"),
		"CreateGrant":                         operation(s.CreateGrant),
		"CreateKey":                           operation(s.CreateKey),
		"Decapsulate":                         operation(s.Decapsulate),
		"Decrypt":                             operation(s.Decrypt),
		"DeleteAlias":                         withoutOutput(s.DeleteAlias),
		"DeleteCustomKeyStore":                notYet[kmsapi.DeleteCustomKeyStoreRequest]("DeleteCustomKeyStore"),
		"DeleteImportedKeyMaterial":           operation(s.DeleteImportedKeyMaterial),
		"DeriveSharedSecret":                  operation(s.DeriveSharedSecret),
		"DescribeCustomKeyStores":             notYet[kmsapi.DescribeCustomKeyStoresRequest]("DescribeCustomKeyStores"),
		"DescribeKey":                         operation(s.DescribeKey),
		"DisableKey":                          withoutOutput(s.DisableKey),
		"DisableKeyRotation":                  withoutOutput(s.DisableKeyRotation),
		"DisconnectCustomKeyStore":            notYet[kmsapi.DisconnectCustomKeyStoreRequest]("DisconnectCustomKeyStore"),
		"EnableKey":                           withoutOutput(s.EnableKey),
		"EnableKeyRotation":                   withoutOutput(s.EnableKeyRotation),
		"Encapsulate":                         operation(s.Encapsulate),
		"Encrypt":                             operation(s.Encrypt),
		"GenerateDataKey":                     operation(s.GenerateDataKey),
		"GenerateDataKeyPair":                 operation(s.GenerateDataKeyPair),
		"GenerateDataKeyPairWithoutPlaintext": operation(s.GenerateDataKeyPairWithoutPlaintext),
		"GenerateDataKeyWithoutPlaintext":     operation(s.GenerateDataKeyWithoutPlaintext),
		"GenerateMac":                         operation(s.GenerateMac),
		"GenerateRandom":                      operation(s.GenerateRandom),
		"GetKeyLastUsage":                     operation(s.GetKeyLastUsage),
		"GetKeyPolicy":                        operation(s.GetKeyPolicy),
		"GetKeyRotationStatus":                operation(s.GetKeyRotationStatus),
		"GetParametersForImport":              operation(s.GetParametersForImport),
		"GetPublicKey":                        operation(s.GetPublicKey),
		"ImportKeyMaterial":                   operation(s.ImportKeyMaterial),
		"ListAliases":                         operation(s.ListAliases),
		"ListGrants":                          operation(s.ListGrants),
		"ListKeyPolicies":                     operation(s.ListKeyPolicies),
		"ListKeyRotations":                    operation(s.ListKeyRotations),
		"ListKeys":                            operation(s.ListKeys),
		"ListResourceTags":                    operation(s.ListResourceTags),
		"ListRetirableGrants":                 operation(s.ListRetirableGrants),
		"PutKeyPolicy":                        withoutOutput(s.PutKeyPolicy),
		"ReEncrypt":                           operation(s.ReEncrypt),
		"ReplicateKey":                        operation(s.ReplicateKey),
		"RetireGrant":                         withoutOutput(s.RetireGrant),
		"RevokeGrant":                         withoutOutput(s.RevokeGrant),
		"RotateKeyOnDemand":                   operation(s.RotateKeyOnDemand),
		"ScheduleKeyDeletion":                 operation(s.ScheduleKeyDeletion),
		"Sign":                                operation(s.Sign),
		"TagResource":                         withoutOutput(s.TagResource),
		"UntagResource":                       withoutOutput(s.UntagResource),
		"UpdateAlias":                         withoutOutput(s.UpdateAlias),
		"UpdateCustomKeyStore":                notYet[kmsapi.UpdateCustomKeyStoreRequest]("UpdateCustomKeyStore"),
		"UpdateKeyDescription":                withoutOutput(s.UpdateKeyDescription),
		"UpdatePrimaryRegion":                 withoutOutput(s.UpdatePrimaryRegion),
		"Verify":                              operation(s.Verify),
		"VerifyMac":                           operation(s.VerifyMac),
	}
}
