package auth

// Error messages. Where AWS's wording is known it is copied, including
// AWS's trailing blanks; see the comment on each for its source. None of
// them may carry a secret or a request signature.
const (
	// MissingAuthenticationTokenException. AWS.
	msgMissingToken = "Missing Authentication Token"

	// IncompleteSignatureException.
	// AWS (current front ends hash the header instead of echoing it).
	msgMissingEqualSign = "Invalid key=value pair (missing equal-sign) in Authorization header (hashed with SHA-256 and encoded with Base64): '%s'."
	// Own wording; see parseAuthorization.
	msgDuplicateParameter = "Authorization header has more than one '%s' parameter."
	// Own wording; AWS's answer to repeated Authorization headers is unknown.
	msgMultipleAuthorization = "Authorization header must be sent only once."
	// AWS, from memory.
	msgUnsupportedAlgorithm = "Unsupported AWS 'algorithm': '%s'."
	// AWS.
	msgCredentialElements = "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'"
	// AWS, from memory.
	msgBadDate = "Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601"
	// AWS.
	msgSignedHeaderAbsent = "'%s' is named as a SignedHeader, but it does not exist in the HTTP request."

	// InvalidSignatureException.
	// AWS, from memory.
	msgScopeDate = "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'."
	// AWS, from memory.
	msgScopeTerminator = "Credential should be scoped with a valid terminator: 'aws4_request', not '%s'. "
	// AWS.
	msgScopeService = "Credential should be scoped to correct service: '%s'. "
	// AWS (newer form; older endpoints add ", not '<region>'").
	msgScopeRegion = "Credential should be scoped to a valid region. "
	// AWS (DynamoDB, InvalidSignatureException).
	msgHostNotSigned = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
	// Own wording, modelled on msgHostNotSigned.
	msgDateNotSigned        = "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."
	msgTokenNotSigned       = "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization."
	msgTargetNotSigned      = "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."
	msgContentTypeNotSigned = "'Content-Type' must be a 'SignedHeader' in the AWS Authorization."
	// AWS.
	msgExpired    = "Signature expired: %s is now earlier than %s (%s - 5 min.)"
	msgNotCurrent = "Signature not yet current: %s is still later than %s (%s + 5 min.)"
	// Amazon S3's wording (S3 answers XAmzContentSHA256Mismatch, which KMS
	// does not have).
	msgContentSHA256 = "The provided 'x-amz-content-sha256' header does not match what was computed."
	// AWS.
	msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

	// UnrecognizedClientException. AWS.
	msgInvalidToken = "The security token included in the request is invalid."
	// ExpiredTokenException. AWS.
	msgExpiredToken = "The security token included in the request is expired"
)
