// Package esdkinterop holds only tests: they check, against a running trent,
// that messages written by the envelope package and the trent command decrypt
// with the official AWS Encryption SDK for Go and the other way round. It is
// a package of its own so that the official SDK and its material providers
// library (large, generated code) are compiled for these tests only and never
// linked into trent.
package esdkinterop
