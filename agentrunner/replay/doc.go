// Package replay is the benchmark's load: many closed-loop agents replaying
// a workload's trajectories against an OpenAI-compatible streaming server,
// probes at N agents judged by package metrics, and the capacity search
// that finds the most agents each service tier allows. `agentwatt bench`
// runs it on its own; the runner daemon drives it inside a job.
//
//   - agent.go: an agent replays one trajectory after another in the run's
//     seeded order, starting at a seeded turn (a warm start whose first
//     request carries the history so far), waiting the recorded think time
//     capped by the profile, each trajectory in its own salted session;
//     sub-agents start at their recorded offset as extra streams.
//   - render.go: request bodies as immutable pieces (block text cached once
//     per run, literal messages rendered once per trajectory, the salt once
//     per session), handed to loadgen without copying a history. The rules
//     for messages, salt placement and target_prompt_tokens live in
//     package workload (targets.go), which the verifier shares.
//   - live.go: live assistant history (Config.History = HistoryLive): the
//     server's answers in place of the recorded assistant text of
//     literal-text trajectories, and the targets of such requests.
//   - preflight.go: CheckContext, the workload's longest request against
//     the server's context length, before any load.
//   - pool.go: the live set of agents; N changes between probes by adding
//     (ramped) or retiring agents, never by restarting.
//   - probe.go: one probe — ramp, settle, warm-up until every agent has
//     completed a request, a window of at least the profile's duration and
//     request count, a wait for the window's requests, evaluation of every
//     tier (metrics.EvaluateProbe) including the client's health.
//   - calibrate.go, search.go, fixed.go: the search per tier (calibrated
//     start, doubling, bisection to the rules' precision, confirmation with
//     step-down), reusing every probe for every tier; or a fixed N, whose
//     one unmeasurable window is run again. A probe the engine did not
//     serve (warm-up never completed, empty window) fails its N; two
//     inconclusive or invalid probes in a row end the search. With
//     Config.Repeats > 1, each confirmed N_max gets Repeats − 1 repeat
//     probes (repeatTier), which no search reads: they measure the spread.
//   - limits.go: the most agents a run may start — the profile's
//     max_agents, the engine's reported sequence limit (/v1/models),
//     Config.MaxAgents and the memory budget (BytesPerAgent).
//   - progress.go, eta.go: Config.Progress snapshots — every tier's state
//     and bracket, the open window's pass share per tier — and the ETA:
//     the search's bound on the probes left (per tier, from its bracket)
//     times the measured probe duration, counting down between probes and
//     rising only with a reason (etaEstimator).
//   - output.go, summary.go: requests.jsonl.zst, probes.json (its schema,
//     bundle.Probes, is package bundle's), the bench's summary.json, each
//     written under a temporary name and renamed.
//
// Every number comes from the rules file (spec.Rules and a profile); every
// formula from package metrics. docs/rules.md explains them in words.
package replay
