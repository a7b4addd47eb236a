package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/auth"
	"github.com/trent-kms/trent/internal/config"
	"github.com/trent-kms/trent/internal/grant"
	"github.com/trent-kms/trent/internal/kms"
	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/policy"
)

const policyExplainUsage = `Usage: trent policy explain --config FILE (--principal ARN | --access-key ID) --action ACTION
         (--key-policy FILE --key-arn ARN | --endpoint-url URL --key-id KEY) [--context KEY=VALUE]...

Says whether a principal of the configuration may perform an action on a
key, and which statement or grant decided it, as trent decides it. The key
policy comes from a file, or from a running trent (GetKeyPolicy, DescribeKey
and ListGrants, with the credentials of the standard AWS chain).
--context sets condition keys: kms:EncryptionContext:Dept=IT,
aws:SourceIp=10.0.0.1, kms:EncryptionAlgorithm=SYMMETRIC_DEFAULT, ...
It exits 0 if allowed, 3 if denied.
`

// errDenied makes trent policy explain exit 3.
var errDenied = errors.New("denied")

func policyExplain(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("policy explain", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), policyExplainUsage); fs.PrintDefaults() }
	configPath := fs.String("config", "", "trent's configuration `file` (identities and their IAM policies)")
	principalARN := fs.String("principal", "", "the caller's `ARN` (arn:aws:iam::111122223333:user/alice, …:root, arn:aws:sts::…:assumed-role/app/s1)")
	accessKey := fs.String("access-key", "", "the caller's access key `ID`, instead of --principal")
	action := fs.String("action", "", "the permission, such as kms:Decrypt")
	keyPolicyFile := fs.String("key-policy", "", "a key policy `file`")
	keyARNFlag := fs.String("key-arn", "", "the key's `ARN`, with --key-policy")
	endpoint := fs.String("endpoint-url", "", "a running trent's `URL`, to read the key from")
	keyID := fs.String("key-id", "", "the `key` to read from --endpoint-url")
	region := fs.String("region", "", "the region of --endpoint-url (default: from the AWS configuration)")
	var contexts multiFlag
	fs.Var(&contexts, "context", "a condition `KEY=VALUE` (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configPath == "" || *action == "" || (*principalARN == "") == (*accessKey == "") ||
		(*keyPolicyFile == "") == (*endpoint == "") || (*keyPolicyFile != "" && *keyARNFlag == "") || (*endpoint != "" && *keyID == "") {
		fs.Usage()
		return errors.New("missing or conflicting flags")
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		return err
	}
	principal, err := findPrincipal(cfg, *principalARN, *accessKey)
	if err != nil {
		return err
	}
	call := &kms.Call{Account: principal.Account, ARN: principal.ARN, Principal: principal.ForPolicy(), Policies: principal.Policies}
	for _, c := range contexts {
		k, v, ok := strings.Cut(c, "=")
		if !ok {
			return fmt.Errorf("--context %q: want KEY=VALUE", c)
		}
		if name, ok := strings.CutPrefix(strings.ToLower(k), "kms:encryptioncontext:"); ok {
			if call.Cond.EncryptionContext == nil {
				call.Cond.EncryptionContext = map[string]string{}
			}
			call.Cond.EncryptionContext[k[len(k)-len(name):]] = v
			call.Cond.TakesContext = true
			continue
		}
		switch strings.ToLower(k) {
		case "aws:sourceip":
			call.SourceIP = v
		case "aws:securetransport":
			call.SecureTransport = v == "true"
		default:
			call.Cond.Set(k, v)
		}
	}

	key := &kms.Key{KeySpec: kmsapi.KeySpecSymmetricDefault, KeyUsage: kmsapi.KeyUsageTypeEncryptDecrypt, Origin: kmsapi.OriginTypeAwsKms}
	var doc string
	var grants []*grant.Grant
	if *keyPolicyFile != "" {
		b, err := os.ReadFile(*keyPolicyFile)
		if err != nil {
			return err
		}
		doc = string(b)
		if err := key.SetARN(*keyARNFlag); err != nil {
			return err
		}
	} else if doc, grants, err = fetchKey(*endpoint, *region, *keyID, key); err != nil {
		return err
	}
	call.Region = key.Region
	keyPolicy, err := policy.Parse(doc, policy.KeyPolicy)
	if err != nil {
		return fmt.Errorf("the key policy: %w", err)
	}
	d, via := kms.Explain(call, *action, key, keyPolicy, grants)
	fmt.Fprintln(stdout, d.Explain())
	if via != nil {
		fmt.Fprintf(stdout, "grant %s: grantee %s, operations %v\n", via.ID, via.Grantee, via.Operations)
	}
	if !d.Allowed {
		fmt.Fprintf(stdout, "AccessDeniedException: %s\n", d.Message())
		return errDenied
	}
	return nil
}

// findPrincipal finds the identity an ARN or access key names in cfg.
func findPrincipal(cfg *config.Config, arn, accessKey string) (auth.Principal, error) {
	for _, a := range cfg.Accounts {
		for _, k := range a.AccessKeys {
			p := a.Principal(k)
			if (accessKey != "" && k.ID == accessKey) || (arn != "" && (p.ARN == arn || p.RoleARN == arn)) {
				return p, nil
			}
		}
		// A user or role without an access key, or an account's root.
		if arn == "arn:aws:iam::"+a.ID+":root" {
			return a.Principal(config.AccessKey{}), nil
		}
		for _, u := range a.Users {
			if arn == "arn:aws:iam::"+a.ID+":user/"+u.Name {
				return a.Principal(config.AccessKey{User: u.Name}), nil
			}
		}
	}
	return auth.Principal{}, fmt.Errorf("no principal %s%s in the configuration", arn, accessKey)
}

// fetchKey reads a key's policy, properties and grants from a running trent.
func fetchKey(endpoint, region, keyID string, key *kms.Key) (string, []*grant.Grant, error) {
	ctx := context.Background()
	opts := []func(*awsconfig.LoadOptions) error{}
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	awscfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return "", nil, err
	}
	c := awskms.NewFromConfig(awscfg, func(o *awskms.Options) { o.BaseEndpoint = &endpoint })
	d, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: &keyID})
	if err != nil {
		return "", nil, err
	}
	m := d.KeyMetadata
	if err := key.SetARN(*m.Arn); err != nil {
		return "", nil, err
	}
	key.KeySpec, key.KeyUsage, key.Origin = kmsapi.KeySpec(m.KeySpec), kmsapi.KeyUsageType(m.KeyUsage), kmsapi.OriginType(m.Origin)
	p, err := c.GetKeyPolicy(ctx, &awskms.GetKeyPolicyInput{KeyId: m.KeyId})
	if err != nil {
		return "", nil, err
	}
	var grants []*grant.Grant
	pages := awskms.NewListGrantsPaginator(c, &awskms.ListGrantsInput{KeyId: m.KeyId})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return "", nil, err
		}
		for _, g := range page.Grants {
			ops := make([]kmsapi.GrantOperation, len(g.Operations))
			for i, op := range g.Operations {
				ops[i] = kmsapi.GrantOperation(op)
			}
			ng := &grant.Grant{ID: *g.GrantId, Grantee: *g.GranteePrincipal, Operations: ops}
			if g.Constraints != nil {
				ng.ContextEquals, ng.ContextSubset = g.Constraints.EncryptionContextEquals, g.Constraints.EncryptionContextSubset
			}
			grants = append(grants, ng)
		}
	}
	return *p.Policy, grants, nil
}
