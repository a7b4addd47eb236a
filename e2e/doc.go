// Package e2e holds the end-to-end tests: they build the trent binary, run
// "trent serve" processes on loopback and drive them with the AWS SDK for
// Go v2, raw signed HTTP requests and Debian's AWS CLI.
package e2e
