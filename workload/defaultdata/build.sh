#!/bin/sh
# Rebuilds the built-in workload (agentic-coding-sample.jsonl.zst) with
# 'agentwatt ingest' from the real traces in ingest/testdata. Run it through
# 'go generate ./workload' (or directly) from anywhere in the repository,
# then run 'go test ./ingest/' (TestDefaultWorkloadIsReproducible checks
# that the embedded file is what these inputs and flags give).
set -eu
cd "$(dirname "$0")/../.."
export CGO_ENABLED=1 CGO_CFLAGS=-Wno-deprecated-declarations
T=ingest/testdata
go run -ldflags=-extldflags=-Wl,-z,lazy ./cmd/agentwatt ingest weka \
  "$T/weka/sample_trace_with_subagent.json" \
  "openai-chat:$T/openai-chat/marshmallow-code__marshmallow-1867.traj" \
  "mooncake:$T/mooncake/conversation_trace.jsonl" \
  --mooncake-limit 2000 \
  --origin "callanjfox/agentic-coding-analysis examples/sample_trace_with_subagent.json @ 15e88f72f902c7852c330caf2cc11722e5dbc1aa" \
  --origin "SWE-agent/SWE-agent trajectories/demonstrations/replay__marshmallow-code__marshmallow-1867__function_calling_replace__install-1/marshmallow-code__marshmallow-1867.traj @ 3ea751c087f32b16e039a2233dd6eefecef325d5" \
  --origin "kvcache-ai/Mooncake FAST25-release/traces/conversation_trace.jsonl @ 3b5a594133958449a1feaf1c9e0fc1b553e34a28 (first 2000 requests)" \
  --name agentic-coding-sample \
  --description "Built-in sample of real agent traces: one Claude Code conversation with 4 sub-agents (Weka trace), one SWE-agent trajectory (a GPT-4o run on SWE-bench marshmallow-1867), and the sessions rebuilt from the first 2000 requests of the Mooncake FAST'25 conversation trace." \
  --out workload/defaultdata/agentic-coding-sample.jsonl.zst
