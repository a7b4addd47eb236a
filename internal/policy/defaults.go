package policy

// DefaultKeyPolicy returns the key policy AWS KMS gives a key created
// without one, byte for byte as GetKeyPolicy returns it (KMS Developer
// Guide, "Default key policy"; the Sid is the one the service prints,
// "Enable IAM User Permissions", see the reference notes §5). It lets the
// account's IAM policies decide every permission on the key.
func DefaultKeyPolicy(account string) string {
	return `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::` + account + `:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`
}
