// Package fleet owns what agentwatt knows about its runners: the enrolled
// runner signing keys with the pools each may sign results of (keys.go,
// KV bucket agentwatt-runner-keys, no TTL), and the runners' liveness
// entries (runners.go, KV bucket agentwatt-runners, with a TTL).
//
// `agentwatt runner trust` enrols a key (TrustKey); the verifier trusts a
// bundle only if it is signed with an enrolled key whose pools include the
// job's (TrustedKeys, CheckPools); a sim runner's key is enrolled for pool
// sim alone, so it can never sign a hardware result. A runner refreshes
// its liveness entry (Register) more often than the bucket's TTL, and an
// entry that is not refreshed expires.
//
// The package sits beside package queue on the same JetStream connection
// and owns its buckets. It takes the queue's pool and name rules
// (queue.ValidPool, queue.ValidName): a key's pools are the pools the queue
// dispatches to. The queue does not import it: a lease's own liveness is
// the lease key in the queue's agentwatt-leases bucket.
//
// Files:
//
//   - fleet.go: Config, Open and the Fleet on its two buckets.
//   - keys.go: Key (its fingerprint is bundle.KeyID; key files are read
//     with bundle.ParsePublicKey), TrustKey, Key, RevokeKey, TrustedKeys,
//     CheckPools.
//   - runners.go: Runner, Register, Deregister, Runners.
//   - errors.go: ErrKeyConflict, ErrKeyNotFound, ErrInvalid.
package fleet
