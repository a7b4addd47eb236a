package policy

// Error is a policy document that Parse refuses. Message is the text AWS
// returns with MalformedPolicyDocumentException (key policies) or
// MalformedPolicyDocument (IAM) where that text is known; the constants
// below say which texts are AWS's and which are ours.
type Error struct {
	Message string
}

func (e *Error) Error() string { return e.Message }

func errorf(msg string) error { return &Error{Message: msg} }

// Messages. "AWS" means the text was seen in a real AWS response (source in
// the comment); "ours" means AWS's text for the case is not known to us and
// the wording is trent's own, in AWS's style.
const (
	// AWS (KMS): gh:cookiecutter-openedx/cookiecutter-openedx-devops#62.
	msgInvalidPrincipals = "Policy contains a statement with one or more invalid principals."
	// AWS (KMS Developer Guide, "AWS KMS condition keys"); the guide prints
	// "[encryption context or tag]", which we fill in per key.
	msgOverlyPermissiveEC  = "OverlyPermissiveCondition: Using the ForAllValues set operator with a single-valued condition key matches requests without the specified encryption context or with an unspecified encryption context. To fix, remove ForAllValues."
	msgOverlyPermissiveTag = "OverlyPermissiveCondition: Using the ForAllValues set operator with a single-valued condition key matches requests without the specified tag or with an unspecified tag. To fix, remove ForAllValues."

	// AWS (IAM): gh:hashicorp/terraform-provider-aws#10419.
	msgIAMNoPrincipal = "Policy document should not specify a principal."
	// AWS (IAM): gh:Wolox/carthage_cache#22.
	msgIAMSidAlnum = "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"
	// AWS (IAM): gh:kubernetes/kops#4951.
	msgIAMSidUnique = "Statement IDs (SID) in a single policy must be unique."
	// AWS (IAM): gh:garnaat/kappa#111.
	msgIAMOneColon = "Actions/Condition can contain only one colon."
	// AWS (IAM), as remembered from IAM's responses; no capture at hand.
	msgIAMVendor = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
	// AWS (IAM): gh:aws-cloudformation/cfn-lint#708 and others.
	msgIAMSyntax = "Syntax errors in policy."
	// AWS (IAM), as remembered; no capture at hand.
	msgIAMNoActions   = "Policy statement must contain actions."
	msgIAMNoResources = "Policy statement must contain resources."

	// Ours: the text trent has always returned for a document that is not
	// a JSON policy (AWS returned an empty message in 2018, aws-sdk-ruby#1784).
	msgNotJSON = "The key policy is not a valid JSON policy document."
	// Ours (AWS announced the 2025-08-18 rule, not its message).
	msgKeyPolicyAction   = "Policy contains a statement without an Action or NotAction element."
	msgKeyPolicyResource = `Policy contains a statement whose Resource element is not "*". In a key policy, the only accepted Resource value is "*".`
	// Ours.
	msgNoStatement     = "Policy contains no statement."
	msgBadVersion      = "Policy contains an unsupported Version. Use \"2012-10-17\"."
	msgBadEffect       = "Policy contains a statement whose Effect is neither \"Allow\" nor \"Deny\"."
	msgBadCondition    = "Policy contains a statement with an invalid Condition element."
	msgBadOperator     = "Policy contains a statement with an unknown condition operator."
	msgBadConditionVal = "Policy contains a condition value that does not suit its condition operator."
	msgDuplicateName   = "Policy contains an element that is given more than once."
)

// elementError is the message for an element that is misplaced, unknown or
// of the wrong JSON type. IAM answers these with its generic syntax
// message; KMS's text is not known, so key policies get ours.
func elementError(kind Kind, element string) error {
	if kind == IdentityPolicy {
		return errorf(msgIAMSyntax)
	}
	return errorf("Policy contains an invalid or unsupported element: " + element + ".")
}
