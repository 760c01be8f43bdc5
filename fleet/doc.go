// Package fleet owns what agentwatt knows about its runners: the enrolled
// runner signing keys with the pools each may sign results of (keys.go,
// KV bucket agentwatt-runner-keys, no TTL), the enrolment tokens that let
// a runner enrol its key without a human (enrol.go, KV bucket
// agentwatt-enrol-tokens), and the runners' liveness entries (runners.go, KV bucket agentwatt-runners, with a TTL).
//
// `agentwatt runner trust` enrols a key (TrustKey); the verifier trusts a
// bundle only if it is signed with an enrolled key whose pools include the
// job's (TrustedKeys, CheckPools); a sim runner's key is enrolled for sim
// pools alone ("sim", "simx<N>": spec.SimPool), so it can never sign a
// hardware result. A runner refreshes
// its liveness entry (Register) more often than the bucket's TTL, and an
// entry that is not refreshed expires.
//
// Enrolment without a human (enrol.go): `agentwatt runner enrol-token`
// (an operator, the scaler) mints single-use tokens for one pool
// (MintTokens); their records live in their own KV bucket,
// agentwatt-enrol-tokens (TTL 7 days), keyed by the token's public id and
// holding only the token's sha256, its pool, expiry, minter, optional
// instance and, once used, who used it. A runner presents a token once
// with its new public key, name, instance and pool, signed by the new key
// (EnrolRequest, proof of possession), to the enrolment service
// (EnrolService, NATS subject agentwatt.fleet.enrol, run by `agentwatt
// server` and `local` with their credentials); Enrol consumes the token by
// compare-and-set before it writes the key, so two presentations of one
// token cannot both win, and enrols the key for the token's pool alone
// under CheckPools' rule. The key record names the token and instance
// (Key.Enrolment).
//
// Revocation (RevokeKey) keeps the key's record and adds who revoked it,
// when and why (Key.Revocation); the name is never enrolled again. The
// verifier keeps trusting the key's bundles made before the revocation and
// rejects later ones (verifier.Revocation).
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
//     with bundle.ParsePublicKey), Enrolment, Revocation, TrustKey, Key,
//     RevokeKey, TrustedKeys, CheckPools.
//   - enrol.go: EnrolToken, MintTokens, ParseToken, Token, Enrol.
//   - enrolrequest.go: EnrolRequest, EnrolMessage, NewEnrolRequest,
//     DecodeEnrolRequest.
//   - enrolservice.go: EnrolService (NATS micro service, failure limit),
//     RequestEnrol (the runner's side).
//   - runners.go: Runner, Register, Deregister, Runners.
//   - errors.go: ErrKeyConflict, ErrKeyNotFound, ErrKeyRevoked,
//     ErrEnrolRefused, ErrInvalid.
package fleet
