// Package ingest converts real agent traces into canonical workloads
// (package workload).
//
// Formats:
//
//   - weka: Claude Code conversations (callanjfox/agentic-coding-analysis,
//     callanjfox/kv-cache-tester), hashed 64-token blocks, think time and
//     sub-agents: one JSON file, a directory of them, a tar or tar.zst
//     archive of them, or JSONL with one trace per line (traces.go reads
//     them one at a time; run.go converts in two passes, so memory follows
//     the largest trace, and names a bad trace by id and request, a
//     *TraceError that SkipInvalid may skip);
//   - mooncake: Mooncake FAST'25 request traces, JSONL with 512-token block
//     hashes and no session ids; sessions are reconstructed from shared
//     prefixes (see mooncake.go and docs/workload-format.md);
//   - openai-chat: SWE-agent .traj files and JSONL of {"messages": [...]}
//     records; every assistant message ends a turn whose input is the whole
//     history before it, as literal text.
//
// Every input request becomes exactly one turn, until Options.MaxContext
// cuts trajectories (workload.CapContext). Bad input is reported as
// FILE:LINE:COL with the JSON path (a *workload.FormatError) and nothing is
// written; the output appears only complete, through a rename.
package ingest
