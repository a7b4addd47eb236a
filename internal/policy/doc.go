// Package policy parses, validates, compiles and evaluates IAM and AWS KMS
// policy documents, and combines a key policy, the caller's identity
// policies and grants into AWS KMS's authorization decision.
//
// It is pure logic: it knows nothing of HTTP, storage or the KMS service.
// The caller parses each policy once (Parse), describes each request
// (Request: principal, action, resource, condition keys) and asks Decide.
// Evaluation allocates nothing in the common case and needs no JSON or
// regular-expression work.
//
// Sources are the IAM User Guide and the KMS Developer Guide; comments cite
// page titles. Where AWS's behaviour is not documented, the comment says
// the reading is ours.
package policy
