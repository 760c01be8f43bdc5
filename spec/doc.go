// Package spec owns the submission spec v1 and the benchmark rules.
//
// A submission (apiVersion agentwatt.dev/v1, kind Submission) is a YAML
// document that describes one serving configuration: the model and its
// weights, the hardware, the framework, how to start the engine (a container
// pinned by digest, or a profile of the simulated engine, which the runner
// launches itself: a submission never names a program to run), the secrets
// the engine needs by name, declared optimizations, and
// what to benchmark (workload, tiers, rules version, profile). Parse reads
// one and returns every problem it finds, each located as FILE:LINE:COL:
// syntax errors, unknown fields (with the likely intended one), duplicate
// keys, wrong types, missing fields, and the spec's own rules (a pinned
// image, no engine.command, the sim profile only for the sim, a ready_timeout
// within the profile's bounds, known tiers, profile and rules version). A
// submission is published with its job and shown on terminals, so no string
// may hold a control character (control.go) and no credential may be
// written in engine.env or engine.args (credentials.go): engine.secrets
// names them for the runner's secret store. Hostile input is refused
// cheaply: files over 1 MiB, non-UTF-8 bytes, too many tokens, deep nesting
// and alias bombs never reach the decoder (guard.go, document.go).
//
// Decoding is done here rather than by the YAML library's decoder: the
// document is parsed to goccy/go-yaml's AST, and decode.go walks it against
// the Go types by reflection, so that every problem keeps its position and
// none stops the walk. The json tags of the types name the fields for YAML,
// JSON and the JSON Schema alike; a field without omitempty is required.
//
// An engine may be split into roles (roles.go): a frontend, the one
// endpoint the runner drives, and prefill and decode (or aggregated) workers,
// each with replicas, GPUs per replica and args whose placeholders ({port},
// {rank}, {nnodes}, {leader_addr}) the runner fills per replica; their GPUs
// add up to system.accelerators and agree with system.disaggregation.
// Replicas and Part place them on hosts. engine.deployment external is an
// engine its operator deployed: the runner launches nothing.
//
// A submission's pool (Pool), canonical JSON (Canonical) and digest (Digest)
// are derived from it; the queue names subjects after the pool and derives
// job ids from the digest. submission.schema.json is the same spec as a JSON
// Schema for editors; a test keeps it and the Go types in agreement.
//
// The rules files, rules/<version>.yaml and rules/models.yaml, are embedded:
// LoadRules and Models return them, typed and validated. Every number that
// judges a run (tiers, pass criteria, tolerances, per-profile windows and
// limits, reference accuracy scores) lives there and nowhere else.
package spec
