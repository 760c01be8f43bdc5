// Package verifier decides whether a bundle's numbers may be published:
// a bundle in, a bundle.Verdict out. It checks the bundle's integrity and
// signature (bundle.VerifyIntegrity), then recomputes every figure from the
// raw records alone — requests.jsonl.zst, power.jsonl.zst, probes.json,
// accuracy.jsonl and the workload the manifest names — with the formulas of
// metrics/, applies the rules of spec/rules/, and compares with the
// runner's claim (summary.json). The verdict has one Check per rule, each
// with whether it passed and why not.
//
// The verifier is pure: it reads nothing but its inputs — a bundle.Source,
// the workload, the trusted keys and their scopes, the reference answers
// and, when asked, the job's record (Job, through a JobSource). Finding
// them (the queue, object storage, runners.json, the registry) is package
// verifyd's; publishing a verdict is package publish's. TestVerifierIsPure
// keeps the queue, the store and the network out of its imports.
//
// The verifier never takes a number from summary.json; it takes the probe
// schedule (windows, N, the client's health self-check) from probes.json,
// because those are inputs of the measurement, not results, and the target
// prompt and output lengths from the workload (workload.TargetPromptTokens),
// never from the runner's records.
//
//   - verify.go: Verify — integrity, the binding, then the recomputation
//     in order (records, probes, tiers, power, accuracy); the tier figures.
//   - options.go: Options (keys, scopes, workload, references, limits),
//     Job and JobSource, Reference, the per-file size limits.
//   - binding.go: the bundle tied to its job. With a job record, the signed
//     manifest's spec digest, pool, rules, profile, workload, runner and
//     simulated flag must equal the record's (TermsOf, which publication
//     also reads); always, the signing key's scope (KeyScope) must cover
//     the result, and the inventory, the simulated flag and the power
//     samples' source must agree.
//   - keys.go: KeyScope, what an enrolled key may sign; Revocation, when
//     a revoked key stopped being trusted (its bundles of attempts started
//     or signed from then on are rejected under the key-scope check).
//   - peek.go: PeekManifest, the manifest read untrusted to learn which
//     workload to fetch.
//   - records.go: requests.jsonl.zst read once against the workload's
//     targets; records a sequential agent cannot produce (duplicates,
//     overlapping turns) are rejected, keeping one entry per agent stream.
//   - probeset.go: every probe evaluated in that one pass: each record goes
//     to the accumulator (metrics.ProbeAccumulator) of every probe it
//     belongs to, about 32 bytes per agent and two numbers per successful
//     window request; nothing of a record is kept.
//   - recompute.go: the capacity search recomputed per tier from the probes
//     (searchOutcome; repeat probes are no search step), the spread over the
//     repeat windows at N_max (repeatSpread, bundle.RepeatSpreadOf) and
//     their count against the job's benchmark.repeats (countRepeats), and
//     the comparison of summary.json's probes and tiers with it within the
//     rules' tolerance.
//   - power.go: power.jsonl.zst decoded (runner lines without reflection,
//     bundle.DecodePowerReading) and held whole (tens of MB for a long run
//     on 8 GPUs); each window's energy from the samples around it.
//   - members.go: a runner group's bundle (members.json): each member's
//     power/<member>.jsonl.zst aligned on the leader's clock by its
//     measured offsets, each window's energy per member summed
//     (bundle.SumWindowEnergy); a judged window refused, naming the
//     member, for a gap, missing coverage or an unmeasured clock; the
//     members' accelerators and GPUs against the pool.
//   - accuracy.go: accuracy.jsonl scored against the reference answers.
//   - verdict.go: the check names (stable: tests and the site branch on
//     them) and the capped lists of reasons.
//   - text.go: WriteText, the verdict for people, bundle text escaped.
//   - errors.go: sentinel errors; an error from Verify means "could not
//     verify" (exit 2), never "rejected".
//
// A 5M-record bundle verifies in a few hundred MB (docs/performance.md).
// Every file is decoded through package bundle's types.
package verifier
