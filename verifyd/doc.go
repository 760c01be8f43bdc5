// Package verifyd is the verifier service: it finds what the pure
// verifier needs, calls verifier.Verify, and records the verdict.
//
//	d, err := verifyd.New(verifyd.Config{Queue: q, Store: store, Workloads: verifyd.RegistryWorkloads(reg)})
//	err = d.Run(ctx)
//
// The daemon takes verify requests (agentwatt.verify) from the queue, moves
// the job uploaded → verifying, reads the bundle from object storage, binds
// it to the job's record, writes verdict.json beside it and moves the job to
// verified or rejected — attempt-fenced; a bundle that cannot be read is
// handed back for a later try. `agentwatt verify` runs the same
// verification offline (Offline), finding the keys and workload itself.
//
//   - daemon.go: Daemon, New, Run (one request at a time) and Once (one
//     request: transitions, verification, verdict.json).
//   - config.go: Config, its Validate (names the field, changes nothing)
//     and withDefaults; Queue and Store, what the daemon needs of them.
//   - source.go: StoreSource, a bundle in object storage as a
//     bundle.Source. It lives here, not in blob, because blob stores
//     objects and knows no bundle, and the verifier side is the only reader
//     of bundles from a store.
//   - jobs.go: Jobs and JobOf, the queue's job record as verifier.Job.
//   - keys.go: where verification keys come from. The daemon trusts the
//     queue's enrolled keys (EnrolledKeys), read afresh per request;
//     FindKeys, for `agentwatt verify`, takes the first that answers: a
//     keys file, the queue (also the job's record when it knows the job),
//     the bucket's published runners.json.
//   - runners.go: runners.json — the enrolled keys, their pools and
//     (version 3) their revocations as publication writes them
//     (RunnersOf) and ParseKeys reads them back, with the queue's own
//     enrolment rule for scopes.
//   - references.go: GSM8KReferences, the embedded reference answers.
//   - workloads.go: RegistryWorkloads, the workload a bundle pins, through
//     workload.Loader.
//   - offline.go: Offline, `agentwatt verify`'s policy: peek at the
//     manifest, find keys and workload, verify.
package verifyd
