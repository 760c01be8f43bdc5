// Package loadgen is the load generator: many agents replaying multi-turn
// trajectories against an OpenAI-compatible streaming server, timed
// precisely, and the probes and search built on them.
//
// Its streaming client, on which the agents and probes are built:
//
//   - sse.go: SSEDecoder, a byte-level server-sent-events reader that
//     allocates nothing per event and stamps every event with the run clock
//     at the read that completed it;
//   - chunk.go: ParseChunk, a strict single-pass scanner of chat-completion
//     chunks that extracts only what the metrics need (output-carrying
//     deltas, finish_reason, usage with cached_tokens known or not, error
//     objects);
//   - client.go: Client, HTTP/1.1 with one keep-alive connection per
//     in-flight stream, kept idle longer than the longest think time,
//     request bodies streamed from shared immutable segments (body.go),
//     one metrics.Request record per request;
//   - answer.go: Answer, the opt-in capture of an answer's content text
//     (for live history);
//   - rxconn_linux64.go: connections that keep the kernel's receive time of
//     what they read (SO_TIMESTAMPNS), which stamps the events;
//   - models.go: DiscoverModel and ListModels (/v1/models, with each
//     model's context length and concurrent sequence limit when the
//     server reports them);
//   - health.go: HealthMonitor, the client's self-check (scheduling lag, CPU
//     share and set, connection wait vs server time to first byte);
//   - clock.go: Clock, the run's monotonic clock.
//
// The record type, its zstd JSON-lines reader and writer and every formula
// live in package metrics, which the verifier shares.
package loadgen
