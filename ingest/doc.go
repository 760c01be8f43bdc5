// Package ingest converts real agent traces into canonical workloads
// (package workload).
//
// Formats:
//
//   - weka: one Claude Code conversation per JSON file (callanjfox/
//     agentic-coding-analysis), hashed 64-token blocks, think time and
//     sub-agents;
//   - mooncake: Mooncake FAST'25 request traces, JSONL with 512-token block
//     hashes and no session ids; sessions are reconstructed from shared
//     prefixes (see mooncake.go and docs/workload-format.md);
//   - openai-chat: SWE-agent .traj files and JSONL of {"messages": [...]}
//     records; every assistant message ends a turn whose input is the whole
//     history before it, as literal text.
//
// Every input request becomes exactly one turn. Bad input is reported as
// FILE:LINE:COL with the JSON path (a *workload.FormatError) and nothing is
// written; the output appears only complete, through a rename.
package ingest
