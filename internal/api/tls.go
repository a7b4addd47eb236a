package api

import (
	"crypto/tls"
	"net/http"

	"github.com/trent-kms/trent/internal/audit"
)

// tlsDetails is the audit record's tlsDetails of a request that came over
// TLS, named as CloudTrail names them; nil over plain HTTP.
func tlsDetails(r *http.Request) *audit.TLSDetails {
	cs := r.TLS
	if cs == nil {
		return nil
	}
	d := &audit.TLSDetails{ClientProvidedHostHeader: r.Host}
	switch cs.Version {
	case tls.VersionTLS13:
		d.TLSVersion = "TLSv1.3"
	case tls.VersionTLS12:
		d.TLSVersion = "TLSv1.2"
	default:
		d.TLSVersion = tls.VersionName(cs.Version)
	}
	d.CipherSuite = tls.CipherSuiteName(cs.CipherSuite)
	if name, ok := openSSLSuiteNames[cs.CipherSuite]; ok {
		d.CipherSuite = name
	}
	if cs.CurveID != 0 {
		d.KeyExchange = cs.CurveID.String()
	}
	return d
}

// openSSLSuiteNames are the TLS 1.2 cipher suites Go offers by default, by
// the OpenSSL names CloudTrail writes for TLS 1.2 (for TLS 1.3 it writes
// the IANA names, which are Go's).
var openSSLSuiteNames = map[uint16]string{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:       "ECDHE-ECDSA-AES128-GCM-SHA256",
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:       "ECDHE-ECDSA-AES256-GCM-SHA384",
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: "ECDHE-ECDSA-CHACHA20-POLY1305",
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:         "ECDHE-RSA-AES128-GCM-SHA256",
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:         "ECDHE-RSA-AES256-GCM-SHA384",
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:   "ECDHE-RSA-CHACHA20-POLY1305",
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA:          "ECDHE-ECDSA-AES128-SHA",
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA:          "ECDHE-ECDSA-AES256-SHA",
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA:            "ECDHE-RSA-AES128-SHA",
	tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA:            "ECDHE-RSA-AES256-SHA",
}
