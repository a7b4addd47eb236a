// Package auth authenticates AWS KMS API requests signed with AWS Signature
// Version 4 in the Authorization header (service name "kms").
//
// A Keyring holds the access keys the server accepts. A Verifier checks one
// request against it and returns the Identity the request acts for, or a
// *kmsapi.Error whose code and message follow what AWS answers for the same
// fault (MissingAuthenticationTokenException, IncompleteSignatureException,
// InvalidSignatureException, UnrecognizedClientException,
// ExpiredTokenException). Anonymous and presigned (query-string) requests
// are never accepted.
//
// Secrets and request signatures never appear in error messages.
package auth
