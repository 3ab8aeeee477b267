// Package wrap implements capy's byte formats: the versioned sealed box,
// the outer wrap added by the service, `capy:` snippets, environment blobs
// with their signed manifests, and the redeem and deploy codes people hand
// to each other.
//
// It takes raw 32-byte keys and knows nothing of the key hierarchy (that is
// package keys, built on this one), so the service can use the formats it
// needs without being able to derive any client key. Every function here is
// pure: no network, no files, randomness only from crypto/rand.
//
// docs/protocol.md is the normative description of every format here.
package wrap
