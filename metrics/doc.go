// Package metrics holds every formula of the benchmark, once: the runner
// uses it to steer its capacity search, the verifier to recompute every
// number from raw records. It also owns the request record
// (requests.jsonl.zst) and its fast codec, and the power sample the energy
// formulas read (the power line around it is package bundle's). It imports
// only spec: every threshold is a parameter, mapped from the rules file
// once, by ProbeRulesOf and TierOf (rules.go), for the runner and the
// verifier alike; AgentsPerGPU and AgentsPerMW are the headline ratios.
//
// This comment is the canonical definition of each metric; the
// documentation links here.
//
// # Clock
//
// Times are int64 nanoseconds on the run's monotonic clock, relative to the
// run's start (probes.json anchors it to wall-clock time). Windows are
// half-open, [start, end).
//
// # Per request
//
//   - t_send: just before the request is handed to the HTTP client (so the
//     wait for a connection is inside TTFT).
//   - t_first: arrival of the first SSE event whose delta carries output:
//     non-empty content, reasoning_content or reasoning, or a non-empty
//     tool_calls. The role-only first chunk and the usage chunk do not count.
//   - t_last: arrival of the last such event (when none arrived: the time the
//     request ended).
//   - TTFT = t_first − t_send.
//   - decode rate = (completion_tokens − 1) / (t_last − t_first), in tokens/s,
//     with completion_tokens from the server's usage object; without usage the
//     client counts output-carrying events, labelled token_count_source =
//     "client" (a lower bound when a chunk carries several tokens). A request
//     with ≤ 1 output token, or whose output arrived in a single event, has no
//     decode rate and is judged on TTFT alone.
//   - inter-token latency = (t_last − t_first) / (completion_tokens − 1),
//     the inverse of the decode rate, where one exists
//     (InterTokenLatency); end-to-end latency = t_last − t_send
//     (EndToEndLatency). They describe requests in the bench report
//     (WindowRequestStats: p50/p90/p99 over a window's successful
//     requests); no tier test reads them.
//   - meets tier (S tok/s, T): status ok AND TTFT ≤ T AND (no decode rate OR
//     decode rate ≥ S) — one joint test (MeetsTier). An errored or truncated
//     request never meets a tier.
//   - status: "error" for an HTTP error, an error event, a malformed stream or
//     a stream closed before [DONE]; else "truncated" when completion_tokens <
//     target (the server ignored min_tokens), or, without usage, when the
//     finish reason is not "length"; else "ok".
//
// # Quantiles and bounds
//
//   - nearest-rank quantile: the value of rank ⌈q·n⌉ (1-based) of the sorted
//     values, the smallest for q = 0; q·n within 1e-9 of an integer counts as
//     that integer. The median is the 0.5 quantile: the lower middle value for
//     an even count.
//   - Clopper–Pearson one-sided lower bound at confidence c for x successes in
//     n: the (1 − c) quantile of Beta(x, n − x + 1); 0 for x = 0 and
//     (1 − c)^(1/n) for x = n. Computed by bisection on the regularized
//     incomplete beta function (continued fraction, Numerical Recipes betacf).
//
// # Per probe (EvaluateProbe)
//
// EvaluateProbe takes a slice of records; ProbeAccumulator takes them one
// at a time, in any order, and keeps no record (the verifier streams a
// bundle through it). EvaluateProbe is the accumulator fed the slice, so
// the two cannot disagree. The definitions:
//
//   - window requests: those with t_send in [start, end), sub-agent requests
//     included.
//   - met share = window requests meeting the tier / window requests; it must
//     satisfy ClopperPearsonLower(met, n, Confidence) ≥ MinMetShare.
//   - an agent's median request: over its window requests (its sub-agents'
//     included), the nearest-rank median TTFT and the nearest-rank median
//     decode rate, taken separately; a failed request enters both as the worst
//     value (+Inf, 0), a successful one without a decode rate only the TTFT
//     median. The agent meets the tier iff median TTFT ≤ T and (no rates or
//     median rate ≥ S). At least MinAgentShare of the N agents must meet it,
//     and every agent must have a successful window request.
//   - error share = window requests with status "error" / window requests ≤
//     MaxErrorShare (truncated requests are counted apart; they fail the tier
//     test).
//   - active sessions (time-averaged) = Σ over root agents of the time their
//     session was active inside the window / window length, where an agent is
//     active from its first request's send to its last request's end,
//     including think time, except across gaps longer than MaxIdleGap
//     (AgentActivity, TimeAveraged). It must be within ActiveTolerance·N of
//     N, and the client healthy (CheckClientHealth), or the probe is invalid.
//   - in flight (time-averaged) = Σ over requests of |[t_send, end) ∩ window|
//     / window length, sub-agents included.
//   - a probe is inconclusive when the window is shorter than MinWindow or
//     holds fewer than MinRequests requests.
//   - summary statistics over successful window requests: TTFT p50/p90,
//     decode rate p10/p50 (nearest-rank); cached-token share = Σ cached_tokens
//     / Σ prompt_tokens over the requests that reported cached_tokens (an
//     absent or null field is unknown, never zero).
//
// # Throughput and energy
//
//   - output tokens in a window: each request's first token sits at t_first,
//     its other completion_tokens − 1 are spread evenly over [t_first,
//     t_last); the tokens falling in the window count, whatever the status.
//     Output tokens/s = that / window seconds.
//   - energy (EnergyFromCounters) = Σ over GPUs of the cumulative counter's
//     change across the window; each sample interval's increment is spread
//     evenly over the interval (linear interpolation at the edges); a decrease
//     is a counter reset, reported, the interval then holding the new reading.
//     Each GPU must have samples at or before start and at or after end.
//   - cross-check (EnergyFromPowerIntegral) = Σ over GPUs of the trapezoid
//     integral of instantaneous power, interpolated at the edges; compare with
//     RelativeDifference.
//   - sample gap (MaxGap) = the longest interval between consecutive samples
//     of one GPU that overlaps the window.
//   - average power = energy / window seconds; Agents/MW = N_max × 10⁶ /
//     average watts; joules per output token = energy / output tokens in the
//     window.
//   - relative difference = |got − ref| / |ref|.
//
// # Clocks across a runner group (clock_offset.go)
//
//   - a member's offset against the group's leader comes from NTP-style
//     rounds (ClockRound): the leader sends at T1, the member receives at
//     T2 and replies at T3, the leader receives at T4. offset = ((T2 − T1) +
//     (T3 − T4)) / 2, delay = (T4 − T1) − (T3 − T2), uncertainty = delay /
//     2: the true offset lies within it whatever the split of the delay.
//     Of several rounds the one with the smallest delay counts
//     (BestClockOffset).
//   - a member's sample at member time t is at leader time t − offset,
//     the offset interpolated linearly between the measurements around
//     it (OffsetAt, AlignSamples); a window's energy across members is the
//     sum of each member's window energy on the aligned samples.
//
// # Repeats (SpreadOf)
//
//   - with benchmark.repeats = R, a tier's figures are measured in R windows
//     at N_max: the confirmation window and R − 1 repeat windows. The
//     spread of a figure (the tier's met share, Agents/MW) is its minimum,
//     nearest-rank median and maximum over them; its relative spread is
//     (max − min) / median, 0 when the median is not positive.
//
// # Between framework versions (VersionChange)
//
//   - change = (B − A) / A of one tier's Agents/MW, A the previous framework
//     version's published result and B the new one's; a regression when
//     change < −max(threshold, spread), an improvement when change >
//     +max(threshold, spread). threshold is the rules' regression.threshold,
//     spread the larger relative spread of Agents/MW across the two results'
//     repeated runs. Which result is A is publication's choice (package
//     publish).
package metrics
