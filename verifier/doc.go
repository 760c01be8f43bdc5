// Package verifier decides whether a bundle's numbers may be published. It
// checks the bundle's integrity and signature (bundle.VerifyIntegrity), then
// recomputes every figure from the raw records alone — requests.jsonl.zst,
// power.jsonl.zst, probes.json, accuracy.jsonl and the workload the manifest
// names — with the formulas of metrics/, applies the rules of spec/rules/,
// and compares with the runner's claim (summary.json). The result is a
// Verdict: one Check per rule, each with whether it passed and why not.
//
// The verifier never takes a number from summary.json; it takes the probe
// schedule (windows, N, the client's health self-check) from probes.json,
// because those are inputs of the measurement, not results, and the target
// prompt and output lengths from the workload (workload.TargetPromptTokens),
// never from the runner's records.
//
// Before recomputing, binding.go ties the bundle to its job: with the
// queue, the signed manifest's spec digest, pool, rules, profile,
// workload, runner and simulated flag must equal the job record's; always,
// the signing key's enrolled pools (KeyScope; runners.json offline) must
// cover the result, and the inventory, the simulated flag and the power
// samples' source must agree. records.go rejects records a sequential agent
// cannot produce (duplicates, overlapping turns), keeping one entry per
// agent stream.
//
// Publication (publish.go) writes approved results to object storage and
// renders the static leaderboard site (site.go: the page from site/index.html.tmpl,
// its site.js and site.css, and SiteCSP, the strict policy it is served with);
// what a result is (simulated, profile, hardware) comes from the job record.
//
// Memory and time: requests.jsonl.zst is read once and no record is kept.
// Each record is checked against the workload's targets and handed to the
// accumulator (metrics.ProbeAccumulator) of every probe it belongs to,
// which keeps counts, two numbers per successful window request and about
// 32 bytes per agent (probeset.go); a 5M-record bundle verifies in a few
// hundred MB (docs/performance.md). Power samples are held whole (a few tens of MB for a long run on
// 8 GPUs) and each window's energy is computed from the samples around it.
// power.jsonl.zst lines as the runner writes them are read without
// reflection (bundle.DecodePowerReading), any other line by encoding/json.
// Every file is decoded through package bundle's types.
package verifier
