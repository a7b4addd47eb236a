package kms

import (
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/store"
)

// AWS managed keys. Every AWS account has, in every region, predefined
// aliases alias/aws/<service> that AWS services use when the customer names
// no key of their own. Until a key is made for one, ListAliases shows it
// without a TargetKeyId; DescribeKey on it makes the key: an AWS managed key
// (KeyManager AWS), symmetric, of origin AWS_KMS, with a fixed key policy,
// rotated every year. Customers can read such a key but not manage or use it
// directly: its policy allows the account only Describe*, Get* and List*,
// and everything else only through the service (kms:ViaService), which no
// request to trent ever comes through. So PutKeyPolicy, ScheduleKeyDeletion,
// DisableKey, TagResource, CreateGrant, Encrypt and the rest are refused by
// the ordinary policy evaluation with AWS's AccessDeniedException, as on AWS.
//
// Sources: the KMS API model (DescribeKey, ListAliases, GetKeyRotationStatus,
// EnableKeyRotation, TagResource, UpdateAlias); AWS's documentation of
// services' managed key policies (DynamoDB, Secrets Manager, WorkMail);
// policies and descriptions of real managed keys as published by their
// owners. See docs/compatibility.md, "AWS managed keys", for what is
// verified and what is trent's choice.

// managedRotationPeriod is how often AWS rotates managed keys (yearly since
// May 2022).
const managedRotationPeriod = 365

// managedService is one predefined alias and the key AWS makes for it.
type managedService struct {
	name string // alias/aws/<name>
	// title is how the policy names the service ("Allow access through
	// <title> for all principals in the account that are authorized to
	// use <title>").
	title string
	// via is the service's endpoint prefix in kms:ViaService
	// (<via>.<region>.amazonaws.com).
	via string
	// id is the policy's Id.
	id string
	// what completes the description: "Default master key that protects
	// my <what> when no other key is defined".
	what string
	// createGrant and listGrants add kms:CreateGrant and kms:ListGrants to
	// what the service may do; revoke adds kms:RevokeGrant to what the
	// account may do; describeOnly gives the account only kms:Describe*.
	createGrant, listGrants, revoke, describeOnly bool
	// viaFirst writes kms:ViaService before kms:CallerAccount in the
	// condition, as the published policy does.
	viaFirst bool
	// servicePrincipal, if set, is a service principal the policy lets
	// describe the key directly (DynamoDB's policy does).
	servicePrincipal string
}

// managedServices are the predefined aliases, sorted by name. The set is
// the one observed in AWS accounts (kms-lifecycle.md §6) plus sns and sqs;
// AWS does not publish the full list.
var managedServices = []managedService{
	{name: "acm", title: "AWS Certificate Manager", via: "acm", id: "auto-acm-1", what: "ACM private keys",
		createGrant: true, revoke: true},
	{name: "dynamodb", title: "Amazon DynamoDB", via: "dynamodb", id: "auto-dynamodb-1", what: "DynamoDB data",
		createGrant: true, revoke: true, servicePrincipal: "dynamodb.amazonaws.com"},
	{name: "ebs", title: "EBS", via: "ec2", id: "auto-ebs-2", what: "EBS volumes",
		createGrant: true, revoke: true},
	{name: "elasticfilesystem", title: "Amazon Elastic File System", via: "elasticfilesystem", id: "auto-elasticfilesystem-1", what: "Amazon EFS file systems",
		createGrant: true, revoke: true},
	{name: "es", title: "Amazon OpenSearch Service", via: "es", id: "auto-es-1", what: "OpenSearch Service domains",
		createGrant: true, revoke: true},
	{name: "glue", title: "AWS Glue", via: "glue", id: "auto-glue-1", what: "Glue data",
		createGrant: true, revoke: true},
	{name: "kinesisvideo", title: "Amazon Kinesis Video Streams", via: "kinesisvideo", id: "auto-kinesisvideo-1", what: "Kinesis Video Streams data",
		createGrant: true, revoke: true},
	{name: "lambda", title: "AWS Lambda", via: "lambda", id: "auto-awslambda", what: "Lambda functions",
		createGrant: true, describeOnly: true},
	{name: "rds", title: "RDS", via: "rds", id: "auto-rds-2", what: "RDS database volumes",
		createGrant: true, listGrants: true, revoke: true},
	{name: "redshift", title: "Amazon Redshift", via: "redshift", id: "auto-redshift-1", what: "Redshift data",
		createGrant: true, revoke: true},
	{name: "s3", title: "S3", via: "s3", id: "auto-s3-2", what: "S3 objects", viaFirst: true},
	{name: "secretsmanager", title: "AWS Secrets Manager", via: "secretsmanager", id: "auto-secretsmanager-1", what: "Secrets Manager data",
		createGrant: true, revoke: true, viaFirst: true},
	{name: "sns", title: "Amazon SNS", via: "sns", id: "auto-sns-1", what: "SNS data",
		createGrant: true, revoke: true},
	{name: "sqs", title: "Amazon SQS", via: "sqs", id: "auto-sqs-1", what: "SQS data",
		createGrant: true, revoke: true},
	{name: "ssm", title: "AWS Systems Manager", via: "ssm", id: "auto-ssm-1", what: "SSM parameters",
		createGrant: true, revoke: true},
	{name: "xray", title: "AWS X-Ray", via: "xray", id: "auto-xray-1", what: "X-Ray data",
		createGrant: true, revoke: true},
}

// managedAliasPrefix is the reserved prefix of AWS's aliases.
const managedAliasPrefix = "alias/aws/"

// managedServiceFor returns the service of a predefined alias name, or nil.
func managedServiceFor(aliasName string) *managedService {
	name, ok := strings.CutPrefix(aliasName, managedAliasPrefix)
	if !ok {
		return nil
	}
	i := sort.Search(len(managedServices), func(i int) bool { return managedServices[i].name >= name })
	if i < len(managedServices) && managedServices[i].name == name {
		return &managedServices[i]
	}
	return nil
}

func (m *managedService) aliasName() string { return managedAliasPrefix + m.name }

func (m *managedService) description() string {
	return "Default master key that protects my " + m.what + " when no other key is defined"
}

// policy is the key policy of the service's managed key in an account and
// region, formatted as GetKeyPolicy returns AWS's policies.
func (m *managedService) policy(account, region string) string {
	actions := []string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"}
	if m.createGrant {
		actions = append(actions, "kms:CreateGrant")
	}
	if m.listGrants {
		actions = append(actions, "kms:ListGrants")
	}
	actions = append(actions, "kms:DescribeKey")
	caller := `        "kms:CallerAccount" : "` + account + `"`
	via := `        "kms:ViaService" : "` + m.via + "." + region + `.amazonaws.com"`
	condition := caller + ",\n" + via
	if m.viaFirst {
		condition = via + ",\n" + caller
	}
	metadata := `[ "kms:Describe*", "kms:Get*", "kms:List*" ]`
	switch {
	case m.describeOnly:
		metadata = `"kms:Describe*"`
	case m.revoke:
		metadata = `[ "kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant" ]`
	}
	doc := `{
  "Version" : "2012-10-17",
  "Id" : "` + m.id + `",
  "Statement" : [ {
    "Sid" : "Allow access through ` + m.title + ` for all principals in the account that are authorized to use ` + m.title + `",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "*"
    },
    "Action" : [ "` + strings.Join(actions, `", "`) + `" ],
    "Resource" : "*",
    "Condition" : {
      "StringEquals" : {
` + condition + `
      }
    }
  }, {
    "Sid" : "Allow direct access to key metadata to the account",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::` + account + `:root"
    },
    "Action" : ` + metadata + `,
    "Resource" : "*"
  }`
	if m.servicePrincipal != "" {
		doc += `, {
    "Sid" : "Allow ` + m.title + ` Service with service principal name ` + m.servicePrincipal + ` to describe the key directly",
    "Effect" : "Allow",
    "Principal" : {
      "Service" : "` + m.servicePrincipal + `"
    },
    "Action" : [ "kms:Describe*", "kms:Get*", "kms:List*" ],
    "Resource" : "*"
  }`
	}
	return doc + " ]\n}"
}

// predefinedAlias names a managed service's alias for the caller when id
// (an alias name or alias ARN) is one in the caller's own account and
// region; nil otherwise.
func predefinedAlias(call *Call, id string) *managedService {
	p, ok := parseKeyID(call, id)
	if !ok || p.alias == "" || p.account != call.Account || p.region != call.Region {
		return nil
	}
	return managedServiceFor(p.alias)
}

// ensureManagedKey makes the AWS managed key of a predefined alias that id
// names, if it has none yet: what DescribeKey does on such an alias (KMS API
// Reference, DescribeKey: "If you specify a predefined AWS alias (an AWS
// alias with no key ID), KMS associates the alias with an AWS managed key").
// Nothing is made for a caller who could not describe the key: the
// permission is asked first, on the key about to be made. Two requests
// racing make one key: the alias is read again in the transaction that
// stores the key, and the loser's key is dropped unstored.
func (s *Service) ensureManagedKey(call *Call, id string) error {
	m := predefinedAlias(call, id)
	if m == nil {
		return nil
	}
	exists := func(tx store.Tx) (bool, error) {
		_, err := getAlias(tx, call.Account, call.Region, m.aliasName())
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	var found bool
	if err := s.store.View(func(tx store.Tx) (err error) {
		found, err = exists(tx)
		return err
	}); err != nil || found {
		return err
	}
	k, err := s.newManagedKey(call, m)
	if err != nil {
		return err
	}
	probe := *call
	probe.Cond.RequestAlias = m.aliasName()
	if _, err := s.authorizeKey(&probe, "kms:DescribeKey", k, nil, nil); err != nil {
		return err
	}
	return s.store.Update(func(tx store.Tx) error {
		found, err := exists(tx)
		if err != nil || found {
			return err // made meanwhile, by another request or node
		}
		if err := putKey(tx, k); err != nil {
			return err
		}
		a := &alias{Name: m.aliasName(), TargetKeyID: k.ID, CreationDate: k.CreationDate, LastUpdatedDate: k.CreationDate}
		return putAlias(tx, call.Account, call.Region, a, "")
	})
}

// newManagedKey makes (but does not store) the AWS managed key of a service
// in the caller's account and region.
func (s *Service) newManagedKey(call *Call, m *managedService) (*Key, error) {
	id, err := s.newKeyID(false)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	k := &Key{
		ID:                   id,
		Account:              call.Account,
		Region:               call.Region,
		CreationDate:         now,
		Description:          m.description(),
		KeySpec:              kmsapi.KeySpecSymmetricDefault,
		KeyUsage:             kmsapi.KeyUsageTypeEncryptDecrypt,
		Origin:               kmsapi.OriginTypeAwsKms,
		State:                kmsapi.KeyStateEnabled,
		Manager:              kmsapi.KeyManagerTypeAws,
		Policy:               m.policy(call.Account, call.Region),
		RotationPeriodInDays: managedRotationPeriod,
		NextRotationDate:     now.Add(managedRotationPeriod * 24 * time.Hour),
	}
	materials, err := s.newMaterial([]*Key{k}, now)
	if err != nil {
		return nil, err
	}
	k.Materials = materials
	return k, nil
}

// predefinedAfter lists the predefined alias names that sort after the
// alias name after ("" for all), for ListAliases.
func predefinedAfter(after string) []string {
	var names []string
	for i := range managedServices {
		if n := managedServices[i].aliasName(); n > after {
			names = append(names, n)
		}
	}
	return names
}

// predefinedEntry is how ListAliases shows a predefined alias whose key
// has not been made: its name and ARN only, no TargetKeyId and no dates.
func predefinedEntry(call *Call, name string) kmsapi.AliasListEntry {
	return kmsapi.AliasListEntry{
		AliasName: new(name),
		AliasArn:  new(aliasARN(call.Region, call.Account, name)),
	}
}
