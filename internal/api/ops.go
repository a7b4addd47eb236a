package api

import (
	"slices"
	"time"

	json "github.com/go-json-experiment/json"

	"github.com/trent-kms/trent/internal/kmsapi"
	"github.com/trent-kms/trent/internal/quota"
)

// Observer receives every answered request: its operation ("Unknown" for
// a target that names none, so that callers cannot create series), its
// error code ("" for success) and how long it took.
type Observer func(op string, code kmsapi.ErrorCode, took time.Duration)

// ThrottlingException is AWS's error for a request beyond a request quota.
// It is not in the KMS model (AWS's front end answers it for every
// service); every AWS SDK retries it with back-off.
const ThrottlingException kmsapi.ErrorCode = "ThrottlingException"

var errThrottled = kmsapi.Errorf(ThrottlingException, "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.")

// admit takes the request from its caller's request quota: the quota of
// the caller's account (AWS throttles the caller, not the key's owner, of
// a cross-account request) in the region the request is signed for. A
// cryptographic operation counts against the quota of its key's kind,
// which the service takes through Call.Quota once it has found the key and
// the caller may use it.
func (h *Handler) admit(x *exchange, body []byte) error {
	if h.quotas == nil {
		return nil
	}
	if quota.Keyed(x.op) {
		if h.quotas.Enabled() {
			x.quota = keyQuota{limiter: h.quotas, account: x.call.Account, region: x.call.Region}
			x.call.Quota = &x.quota
		}
		return nil
	}
	spec := ""
	if x.op == "GenerateDataKeyPair" || x.op == "GenerateDataKeyPairWithoutPlaintext" {
		// The quota depends on the key pair spec; a body that does not
		// say fails validation right after.
		var in struct{ KeyPairSpec string }
		if json.Unmarshal(body, &in, json.RejectUnknownMembers(false)) == nil {
			spec = in.KeyPairSpec
		}
	}
	if !h.quotas.Allow(x.call.Account, x.call.Region, quota.Name(x.op, spec)) {
		return errThrottled
	}
	return nil
}

// keyQuota is a request's kms.KeyQuota. A request is one request to each
// quota it touches: ReEncrypt between two symmetric keys counts once, from
// a symmetric to an RSA key once against each.
type keyQuota struct {
	limiter         *quota.Limiter
	account, region string
	taken           [2]string // a request uses at most two keys
}

func (q *keyQuota) AdmitKey(spec kmsapi.KeySpec) error {
	name := quota.ForKey(string(spec))
	if slices.Contains(q.taken[:], name) {
		return nil
	}
	if !q.limiter.Allow(q.account, q.region, name) {
		return errThrottled
	}
	if q.taken[0] == "" {
		q.taken[0] = name
	} else {
		q.taken[1] = name
	}
	return nil
}

// observed is the operation as metrics name it.
func (h *Handler) observed(op string) string {
	if _, ok := h.routes[op]; ok {
		return op
	}
	return "Unknown"
}
