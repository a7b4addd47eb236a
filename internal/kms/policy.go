package kms

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/trent-kms/trent/internal/kmsapi"
)

// The only key policy name AWS KMS has.
const defaultPolicyName = "default"

// defaultPolicy is the key policy AWS attaches to a key created without
// one, formatted exactly as GetKeyPolicy returns it: it gives the account
// (and through it IAM policies) full control of the key.
func defaultPolicy(account string) string {
	return fmt.Sprintf(`{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::%s:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`, account)
}

// checkPolicy rejects a policy document that is too large or not a JSON
// object with statements. Evaluating policies comes with the policy engine.
func checkPolicy(doc string) error {
	if len(doc) > maxPolicyBytes {
		return kmsapi.Errorf(kmsapi.LimitExceededException,
			"The key policy document exceeds the maximum size of %d bytes.", maxPolicyBytes)
	}
	var p struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil || len(p.Statement) == 0 {
		return kmsapi.Errorf(kmsapi.MalformedPolicyDocumentException, "The key policy is not a valid JSON policy document.")
	}
	return nil
}

func checkPolicyName(name *string) error {
	if name != nil && *name != defaultPolicyName {
		return kmsapi.Errorf(kmsapi.NotFoundException, "No such policy exists: %s", *name)
	}
	return nil
}

func (k *Key) policy() string {
	if k.Policy == "" {
		return defaultPolicy(k.Account)
	}
	return k.Policy
}

func (s *Service) GetKeyPolicy(ctx context.Context, call *Call, in *kmsapi.GetKeyPolicyRequest) (*kmsapi.GetKeyPolicyResponse, error) {
	k, err := s.viewKey(ctx, call, "GetKeyPolicy", in.GetKeyId())
	if err != nil {
		return nil, err
	}
	if err := checkPolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	return &kmsapi.GetKeyPolicyResponse{Policy: new(k.policy()), PolicyName: new(defaultPolicyName)}, nil
}

func (s *Service) ListKeyPolicies(ctx context.Context, call *Call, in *kmsapi.ListKeyPoliciesRequest) (*kmsapi.ListKeyPoliciesResponse, error) {
	if _, err := s.viewKey(ctx, call, "ListKeyPolicies", in.GetKeyId()); err != nil {
		return nil, err
	}
	return &kmsapi.ListKeyPoliciesResponse{PolicyNames: []string{defaultPolicyName}, Truncated: new(false)}, nil
}

func (s *Service) PutKeyPolicy(ctx context.Context, call *Call, in *kmsapi.PutKeyPolicyRequest) error {
	if err := checkPolicyName(in.PolicyName); err != nil {
		return err
	}
	if err := checkPolicy(in.GetPolicy()); err != nil {
		return err
	}
	_, err := s.changeKey(ctx, call, "PutKeyPolicy", in.GetKeyId(), func(k *Key) error {
		k.Policy = in.GetPolicy()
		return nil
	})
	return err
}
