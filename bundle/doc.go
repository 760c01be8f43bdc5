// Package bundle owns the evidence of one benchmark attempt: the files of
// runs/<job>/<attempt>/ — for each its name (layout.go), schema, Go type,
// encoder and decoder — the manifest that lists them, the signed in-toto
// statement over them, and the bounded readers the verifier needs to read
// them without trusting them. The runner writes every file through these
// types and the verifier reads through them; no other package declares a
// file's shape. It imports metrics, spec and workload, never the runner or
// the verifier.
//
// # Layout
//
// One bundle per attempt, under Prefix(job, attempt) in object storage and
// in the runner's spool directory:
//
//	manifest.json        the Manifest (job, attempt, pool, digests, runner, inventory, files)
//	manifest.dsse.json   DSSE envelope over an in-toto v1 statement
//	requests.jsonl.zst   per-request records (metrics.Request and its codec), zstd
//	power.jsonl.zst      power lines (PowerLine; DecodePowerReading, ReadPowerLines), zstd
//	members.json         a runner group's bundle only: its members, hosts, GPUs, inventories, clock offsets (Members; DecodeMembers)
//	power/<member>.jsonl.zst  a group's bundle only, instead of power.jsonl.zst: each member's power lines on its own clock (MemberPowerFile)
//	engine-metrics.jsonl.zst  optional: /metrics scrapes per window (EngineMetricsLine; ReadEngineMetrics), zstd
//	probes.json          the probe schedule and windows (Probes; DecodeProbes)
//	accuracy.jsonl       accuracy phase outputs (AccuracyRecord)
//	engine.log.zst       the engine's stdout and stderr, zstd
//	environment.json     host, software and settings the run saw (Environment)
//	summary.json         the runner's claim (Summary); checked, never trusted
//	verdict.json         written later by the verifier (Verdict), outside the signed set
//
// The manifest's inventory is Inventory. Figures both sides compute from a
// file live here once: WindowEnergyFrom (a window's energy),
// TierSummary.SetFigures (a tier's headline figures) and RepeatSpreadOf
// (repeats.go: the spread of a tier's windows at N_max, benchmark.repeats).
//
// # Signing
//
// The statement's subjects are the bundle's files (name and sha256), its
// predicate is the manifest (PredicateType): what binds the bundle to its
// job — job id, attempt, spec digest, pool, runner, rules version and
// profile, workload digest, simulated — which the verifier compares with
// the job's record; the envelope's payload type
// is PayloadType. The runner signs with its ed25519 key (Signer, a
// dsse.SignerVerifier); the key id is KeyID: "sha256:" and the hex sha256 of
// the 32 public key bytes, the same fingerprint the queue records when a
// maintainer enrols the key with `agentwatt runner trust`.
//
// # Verification
//
// Open reads a bundle from a Source (a directory, an fs.FS, or object
// storage through the caller's adapter); VerifyIntegrity checks, each
// failure with its own Reason: the envelope decodes and is signed by a
// trusted key, the statement is an in-toto v1 statement of our predicate
// type, manifest.json equals the signed predicate, the subjects equal the
// manifest's files, every listed file is present with its size and sha256,
// no unlisted file is present, and a complete bundle has every required
// file. Every read is bounded (Limits); LimitedZstdReader and LineReader
// bound decompression and line length so that a zip bomb or a 10 GB line is
// refused in bounded memory.
package bundle
