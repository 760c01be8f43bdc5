// Package accounts owns who may use agentwatt's HTTP API: the registered
// vendors and maintainers and their API tokens, in the KV bucket
// agentwatt-vendors (BucketVendors). A token is 256 random bits shown once
// and stored only as its sha256; its prefix says the role it claims (awv_
// a vendor's, awm_ a maintainer's) and is accepted only with the record it
// names. The intake (package bots) turns a bearer token into a Principal
// with Authenticate; `agentwatt vendor` and `agentwatt maintainer` issue
// and list them.
//
// The package sits beside package queue on the same JetStream connection
// and owns its bucket; it takes the queue's name rule (queue.ValidName),
// because a job record carries its vendor's name.
//
// Files:
//
//   - store.go: Config, Open and the Store on the bucket.
//   - tokens.go: vendors, maintainers, roles; issuing, authenticating,
//     revoking and listing tokens.
//   - errors.go: ErrUnauthorized, ErrInvalid.
package accounts
