// Package sim is a SIMULATED inference engine. Nothing it produces is a
// measurement of real hardware: its latencies, token rates, capacities, power
// draw and energy counters come from a model with made-up, plausible-looking
// numbers. Results obtained against it are always labelled simulated and are
// never published as hardware results.
//
// What it is for: the stand-in for a GPU serving engine in tests, CI and the
// local demo. It speaks the OpenAI chat-completions protocol the way vLLM does
// (SSE chunks, a role-only first chunk, a final usage chunk with empty choices,
// data: [DONE], mid-stream errors after HTTP 200), and behind the protocol runs
// a step-based continuous-batching model:
//
//   - a scheduler that admits requests first come first served, runs chunked
//     prefill under a per-step token budget and decodes one token per running
//     sequence per step;
//   - a step time of base, plus per-sequence × batch, plus per-context-token ×
//     context, plus per-prefill-token × prefill tokens, on a virtual clock that
//     is paced to real time (Config.TimeScale speeds it up);
//   - a KV cache of fixed-size blocks with a capacity in tokens; when a running
//     sequence needs a block and none is free, the newest running sequence is
//     preempted and later recomputed;
//   - a prefix cache keyed by chained block hashes with LRU eviction of free
//     blocks, reported as usage.prompt_tokens_details.cached_tokens;
//   - a power model per virtual GPU (idle watts + dynamic watts × utilisation,
//     low-pass filtered) with a cumulative energy counter in millijoules, served
//     at GET /sim/v1/power;
//   - injectable faults (Faults) and an accuracy oracle for GSM8K-style sets;
//   - with Config.SpecAccept, vLLM's speculative-decoding counters at
//     GET /metrics (specdec.go), derived from the generated tokens.
//
// Tokens: see tokenizer.go. A token is a whitespace-separated word, so the
// workload's synthesised block text (single-space-separated words) counts one
// token per word, and PromptTokens lets a verifier recompute prompt targets.
//
// Profiles (capacity, step costs, power) live in profiles.yaml, embedded in the
// binary; LoadProfiles reads others. A profile may list simulated framework
// versions (profile_version.go) that run slower or draw more, so that a
// retest of the sim at a new framework.version can regress;
// Config.FrameworkVersion picks one. `agentwatt sim serve` runs the server.
//
// Racks (rack.go, node.go): a profile with a rack section (gb300-nvl72-like,
// tiny-rack) is a SIMULATED rack of member nodes, each a prefill or a decode
// pool. Its Server is the rack's frontend: it schedules the whole rack, loads
// each pool by its step's prefill or decode tokens, charges a KV transfer per
// prefill token, and serves each member's load and the rack power model at
// GET /sim/v1/rack (RackLoad). A member node (NewNode, `agentwatt sim node`)
// reads its member's load from the frontend (ReadRackLoad trusts nothing of
// the answer it has not checked) and serves its own GET /sim/v1/power with its
// GPUs' counters and the node's overhead. submission.go holds a sim
// submission's system to its profile (CheckSystem) and names a profile's
// pool: "sim", or "simx<GPUs>" for a rack (Profile.Pool, spec.SimPool).
package sim
