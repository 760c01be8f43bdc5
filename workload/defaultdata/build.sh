#!/bin/sh
# Rebuilds the built-in workloads with 'agentwatt ingest' from the real
# traces in ingest/testdata. Run it through 'go generate ./workload' (or
# directly) from anywhere in the repository, then run 'go test ./ingest/'
# (TestBuiltinsAreReproducible checks that the embedded files are what these
# inputs and flags give; AGENTWATT_TEST_CORPUS=1 includes the two built from
# the whole corpus, about two minutes).
#
# agentic-coding-sample.jsonl.zst is not rebuilt: it is frozen, kept only so
# that bundles that pinned it still verify (see README.md).
set -eu
cd "$(dirname "$0")/../.."
export CGO_ENABLED=1 CGO_CFLAGS=-Wno-deprecated-declarations
T=ingest/testdata
D=workload/defaultdata
BIN=$(mktemp -d)/agentwatt
trap 'rm -rf "$(dirname "$BIN")"' EXIT
go build -ldflags=-extldflags=-Wl,-z,lazy -o "$BIN" ./cmd/agentwatt
KVT="callanjfox/kv-cache-tester traces/ @ 94f6046dfd9c0c8bc0cdb24a5aa6579bac8669bf (710 of 739 traces; the 29 over 4 MiB missing)"

"$BIN" ingest weka "$T/kv-cache-tester/mini" \
  --origin "$KVT: 20 sessions (see ingest/testdata/SOURCES.md)" \
  --name agentic-coding-mini --no-progress \
  --description "Small real subset for demos and tests: 20 Claude Code sessions of the kv-cache-tester corpus, every one of 3 or more requests whose contexts stay under 60K tokens and answers under 1,200 tokens." \
  --out "$D/agentic-coding-mini.jsonl.zst"

"$BIN" ingest weka "$T/kv-cache-tester/traces.tar.zst" --origin "$KVT" \
  --name agentic-coding --no-progress \
  --description "Real agentic coding: 710 anonymised Claude Code sessions (Opus 4.x, Sonnet 4.x, Haiku 4.5) with their sub-agents, think and API times, from callanjfox/kv-cache-tester." \
  --out "$D/agentic-coding.jsonl.zst"

"$BIN" ingest weka "$T/kv-cache-tester/traces.tar.zst" --origin "$KVT" \
  --name agentic-coding-256k --max-context 262144 --no-progress \
  --description "agentic-coding cut for models with a 256K (262,144-token) context: each session ends before its first request whose input + output exceed the cap." \
  --out "$D/agentic-coding-256k.jsonl.zst"

"$BIN" ingest mooncake "$T/mooncake/conversation_trace.jsonl" --mooncake-limit 2000 \
  --origin "kvcache-ai/Mooncake FAST25-release/traces/conversation_trace.jsonl @ 3b5a594133958449a1feaf1c9e0fc1b553e34a28 (first 2000 requests)" \
  --name chat-mooncake --no-progress \
  --description "Chat, not coding: the sessions rebuilt from the first 2000 requests of the Mooncake FAST'25 conversation trace (mostly single-turn)." \
  --out "$D/chat-mooncake.jsonl.zst"
