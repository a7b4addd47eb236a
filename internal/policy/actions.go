package policy

import "strings"

// ActionInfo is what authorization needs to know of a KMS permission
// (KMS Developer Guide, "AWS KMS permissions"; API Reference, "Cross-account
// use").
type ActionInfo struct {
	// IAMOnly: the permission is granted by IAM policies only; its
	// resource is "*" (or the alias, for the alias half of alias
	// operations).
	IAMOnly bool
	// CrossAccount: a principal of another account may be allowed it on a
	// key. Allowing another account any other permission has no effect.
	CrossAccount bool
}

var kmsActions = map[string]ActionInfo{
	// Key management: key policy (or IAM when delegated), own account only.
	"kms:CancelKeyDeletion":         {},
	"kms:CreateAlias":               {},
	"kms:DeleteAlias":               {},
	"kms:DeleteImportedKeyMaterial": {},
	"kms:DisableKey":                {},
	"kms:DisableKeyRotation":        {},
	"kms:EnableKey":                 {},
	"kms:EnableKeyRotation":         {},
	"kms:GetKeyLastUsage":           {},
	"kms:GetKeyPolicy":              {},
	"kms:GetParametersForImport":    {},
	"kms:ImportKeyMaterial":         {},
	"kms:ListKeyPolicies":           {},
	"kms:ListKeyRotations":          {},
	"kms:ListResourceTags":          {},
	"kms:PutKeyPolicy":              {},
	"kms:ReplicateKey":              {},
	"kms:RotateKeyOnDemand":         {},
	"kms:ScheduleKeyDeletion":       {},
	"kms:TagResource":               {},
	"kms:UntagResource":             {},
	"kms:UpdateAlias":               {},
	"kms:UpdateKeyDescription":      {},
	"kms:UpdatePrimaryRegion":       {},

	// Use of a key, and grants: also across accounts.
	"kms:CreateGrant":                         {CrossAccount: true},
	"kms:Decapsulate":                         {CrossAccount: true},
	"kms:Decrypt":                             {CrossAccount: true},
	"kms:DeriveSharedSecret":                  {CrossAccount: true},
	"kms:DescribeKey":                         {CrossAccount: true},
	"kms:Encapsulate":                         {CrossAccount: true},
	"kms:Encrypt":                             {CrossAccount: true},
	"kms:GenerateDataKey":                     {CrossAccount: true},
	"kms:GenerateDataKeyPair":                 {CrossAccount: true},
	"kms:GenerateDataKeyPairWithoutPlaintext": {CrossAccount: true},
	"kms:GenerateDataKeyWithoutPlaintext":     {CrossAccount: true},
	"kms:GenerateMac":                         {CrossAccount: true},
	"kms:GetKeyRotationStatus":                {CrossAccount: true},
	"kms:GetPublicKey":                        {CrossAccount: true},
	"kms:ListGrants":                          {CrossAccount: true},
	"kms:ReEncryptFrom":                       {CrossAccount: true},
	"kms:ReEncryptTo":                         {CrossAccount: true},
	"kms:RetireGrant":                         {CrossAccount: true},
	"kms:RevokeGrant":                         {CrossAccount: true},
	"kms:Sign":                                {CrossAccount: true},
	"kms:Verify":                              {CrossAccount: true},
	"kms:VerifyMac":                           {CrossAccount: true},

	// No key resource: IAM policies only.
	"kms:ConnectCustomKeyStore":    {IAMOnly: true},
	"kms:CreateCustomKeyStore":     {IAMOnly: true},
	"kms:CreateKey":                {IAMOnly: true},
	"kms:DeleteCustomKeyStore":     {IAMOnly: true},
	"kms:DescribeCustomKeyStores":  {IAMOnly: true},
	"kms:DisconnectCustomKeyStore": {IAMOnly: true},
	"kms:GenerateRandom":           {IAMOnly: true},
	"kms:ListAliases":              {IAMOnly: true},
	"kms:ListKeys":                 {IAMOnly: true},
	"kms:ListRetirableGrants":      {IAMOnly: true},
	"kms:UpdateCustomKeyStore":     {IAMOnly: true},
}

// LookupAction returns what is known of a KMS permission such as
// "kms:Encrypt" (case-insensitive).
func LookupAction(action string) (ActionInfo, bool) {
	if info, ok := kmsActions[action]; ok {
		return info, true
	}
	for name, info := range kmsActions {
		if strings.EqualFold(name, action) {
			return info, true
		}
	}
	return ActionInfo{}, false
}
