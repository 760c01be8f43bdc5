package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/agentrunner/replay"
	"github.com/agentwatt/agentwatt/agentrunner/report"
	"github.com/agentwatt/agentwatt/sim"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/workload"
)

// apiKeyEnv names the environment variable bench reads the server's API key
// from (never a flag, so that it stays out of process listings).
const apiKeyEnv = "AGENTWATT_API_KEY"

func newBenchCmd(a *app) *cobra.Command {
	var (
		cfg          replay.Config
		workloadFile string
		tiers        string
		agents       int
		memoryMiB    int64
		search       bool
		profile      string
		rulesVersion string
		template     string
		out          string
	)
	cmd := &cobra.Command{
		Use:   "bench --endpoint URL --out DIR",
		Short: "Replay agents against an OpenAI-compatible server and find the most it serves per tier",
		Long: `bench is the benchmark's load on its own: closed-loop agents replay a
workload's multi-turn trajectories against an OpenAI-compatible streaming
server (vLLM, SGLang, TensorRT-LLM, the sim), and probes at N agents are
judged by the rules (docs/rules.md): a window of at least the profile's
duration and request count, the one joint TTFT-and-decode-rate test per
request, a 99% confidence bound on the share meeting the tier, the per-agent
median, errors, active sessions and the client's own health.

--search (the default) finds N_max for each tier: a short calibration, then
doubling until a probe fails, bisection to 2% and a confirmation window.
--agents N judges N alone. A vendor running this against their own server
gets the number the service would measure with the same rules profile.

The search cannot run away: it never probes more agents than the least of
the profile's max_agents, the server's reported sequence limit (max_num_seqs,
max_running_requests or max_concurrent_requests in /v1/models), --max-agents
and what --memory-budget-mib holds (an estimate per agent from the workload;
default half the available memory). A tier that passes at that limit is
reported as N_max ≥ limit, unconfirmed. A probe whose warm-up never completes
or whose window holds no request fails that N; two inconclusive probes in a
row end the search; --agents above the limit is refused.

Each agent starts at a seeded turn of a seeded trajectory (its first request
carries the history so far), waits the recorded think time capped by the
profile, salts its session right after the prefix shared with other
trajectories, and replays the recorded assistant history. Sub-agents are extra
streams, not counted in N.

--history live sends the server's own answers back as the assistant history
instead of the recorded text (literal-text workloads only; the recorded tool
calls stay, reasoning is never history). Its prompts no longer match the
trace: each record's target_prompt_tokens is counted from the request sent,
and summary.json and probes.json say "history": "live".

Before any load, bench compares the server's context length (max_model_len in
/v1/models, as vLLM, SGLang and the sim report it) with the workload's longest
request (prompt with salt and chat template, plus the forced output) and stops
if it cannot fit. A server that reports none is not checked (the log says so).

Idle connections are kept for the profile's think-time cap plus 10 s, so an
agent finds its connection after a think. A server whose own keep-alive is
shorter (vLLM's uvicorn: 5 s; VLLM_HTTP_TIMEOUT_KEEP_ALIVE raises it) closes
them, and the next request's TTFT then includes a new connection; probes.json
records connection wait apart from the server's time to first byte.

Event times are when their bytes reached this machine: the kernel's receive
time (64-bit Linux), so a busy client does not inflate TTFT or inter-token
times; probes.json counts the requests stamped so (kernel_stamped).

DIR receives requests.jsonl.zst (one record per request: timings on the run's
monotonic clock, tokens, status), probes.json (each probe's N, its window in
wall-clock and monotonic time, the client's health) and summary.json
(N_max per tier and each probe's figures), then the report: report.md (also
printed), report.html (self-contained, with charts) and requests.csv, with
TTFT, inter-token latency, end-to-end latency and decode rate at
p50/p90/p99 per probe and tier ('agentwatt bench report DIR' regenerates
them). Files appear complete or not at all. Ctrl-C stops at once and still
writes what was measured.

On a terminal, progress is drawn as bars: the probe's phase and window, one
line per tier with its bracket (t20: 8 ≤ N_max < 12) and the share of the
window's requests meeting it, and the ETA — the probes the search may still
run times the measured probe duration; it counts down, and when it rises the
line says why. Log lines print above the bars. Elsewhere, progress is one
plain line per phase (and every 15 s), and logs are JSON.

Exit status: 0 every tier passed (an N_max for each, or the fixed N held);
1 a tier failed (a valid, conclusive window did not pass it, or no N
passed); 3 the measurement is invalid (the client was unhealthy, or windows
could not be measured, and no valid window failed the tier): run again on a
quieter machine or with fewer agents; 130 interrupted.

The API key, if the server needs one, is read from $` + apiKeyEnv + `.
--chat-template gives the server's chat-template overhead in tokens (per
request, per message, per tool call) for each request's target prompt
length; the default is the simulated engine's.`,
		Example: `  agentwatt sim serve --addr 127.0.0.1:8000 --profile h200x8-like &
  agentwatt bench --endpoint http://127.0.0.1:8000 --out ./bench-run
  agentwatt bench --endpoint http://gpu-node:8000 --model deepseek-ai/DeepSeek-V4-Pro \
      --workload claude.jsonl.zst --tiers t20,t50 --profile official --out ./run1
  agentwatt bench --endpoint http://127.0.0.1:8000 --agents 64 --profile quick --out ./n64 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if agents > 0 && search {
				return errors.New("--agents and --search exclude each other")
			}
			if out == "" {
				return errors.New("--out DIR is required")
			}
			rules, err := spec.LoadRules(rulesVersion)
			if err != nil {
				return err
			}
			if cfg.Profile, err = rules.Profile(profile); err != nil {
				return err
			}
			cfg.Rules = rules
			if cfg.Template, err = parseTemplate(template); err != nil {
				return err
			}
			if tiers != "" {
				cfg.Tiers = strings.Split(tiers, ",")
			}
			if workloadFile == "" {
				cfg.Workload, err = workload.LoadDefault()
			} else {
				cfg.Workload, err = workload.Load(workloadFile)
			}
			if err != nil {
				return err
			}
			for _, f := range []string{replay.RequestsFile, replay.ProbesName, replay.SummaryName} {
				if _, err := os.Stat(filepath.Join(out, f)); err == nil {
					return fmt.Errorf("%s already holds a run (%s); choose another --out", out, f)
				}
			}
			if memoryMiB < 0 {
				return fmt.Errorf("--memory-budget-mib %d: must not be negative", memoryMiB)
			}
			cfg.MemoryBudget = memoryMiB << 20
			cfg.APIKey = os.Getenv(apiKeyEnv)
			cfg.Log = a.log
			if err := cfg.Validate(); err != nil {
				return err
			}
			ctx := cmd.Context()
			if err := checkContext(ctx, a, &cfg); err != nil {
				return err
			}

			o, err := replay.CreateOutput(out)
			if err != nil {
				return err
			}
			cfg.Recorder = o
			status := newBenchProgress(a.errOut, a.log)
			cfg.Progress, cfg.Log = status.show, status.log()
			r, err := replay.New(ctx, cfg)
			if err != nil {
				status.done()
				o.Abort()
				return err
			}
			cfg.Log.Info().Str("endpoint", cfg.Endpoint).Str("model", r.Model()).Str("workload", cfg.Workload.Header.Name).
				Str("profile", profile).Str("out", out).Msg("bench starting")
			var sum *replay.Summary
			var runErr error
			if agents > 0 {
				sum, runErr = r.Fixed(ctx, agents)
			} else {
				sum, runErr = r.Search(ctx)
			}
			status.done()
			if sum == nil {
				o.Abort()
				return runErr
			}
			if err := o.Finish(r.ProbesFile(), sum); err != nil {
				return errors.Join(runErr, err)
			}
			if err := r.RecordError(); err != nil {
				return errors.Join(runErr, err)
			}
			a.log.Info().Str("out", out).Int("requests", o.Count()).Msg("wrote results")
			rep, repErr := report.Write(out, out)
			if repErr != nil {
				a.log.Error().Err(repErr).Msg("report not written")
			} else {
				a.log.Info().Str("report", filepath.Join(out, report.HTMLFile)).Msg("wrote the report")
			}
			if err := printBenchSummary(a, sum, rep); err != nil {
				return err
			}
			return benchExit(sum, runErr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Endpoint, "endpoint", "", "server base URL, e.g. http://127.0.0.1:8000 (required)")
	f.StringVar(&cfg.Model, "model", "", "model name (default: the one /v1/models lists)")
	f.StringVar(&cfg.AffinityHeader, "affinity-header", "", "header carrying each request's session id, for session-affinity routers")
	f.StringVar(&workloadFile, "workload", "", "workload file (default: the built-in "+workload.DefaultName+")")
	f.StringVar(&tiers, "tiers", "", "comma-separated tier ids (default: every tier of the rules)")
	f.IntVar(&agents, "agents", 0, "judge this many agents instead of searching")
	f.BoolVar(&search, "search", false, "search N_max per tier (the default)")
	f.IntVar(&cfg.MaxAgents, "max-agents", 0, "never probe more agents than this (0: the profile's max_agents and the server's limit)")
	f.IntVar(&cfg.Repeats, "repeats", spec.DefaultRepeats, "windows per confirmed tier at its N_max (benchmark.repeats): the confirmation and repeats − 1 more; summary.json reports their spread")
	f.Int64Var(&memoryMiB, "memory-budget-mib", 0, "memory the agents may use, in MiB; no N that needs more is probed (0: half the available memory)")
	f.StringVar(&profile, "profile", spec.ProfileQuick, "rules profile: official, quick or test")
	f.StringVar(&rulesVersion, "rules", "v1", "rules version")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed for trajectory order, start turns, session salts and the chunk-timing sample")
	f.StringVar(&cfg.History, "history", replay.HistoryRecorded, "assistant history: recorded, or live (the server's answers; literal-text workloads only)")
	f.StringVar(&template, "chat-template", fmt.Sprintf("%d,%d,%d", sim.TemplateTokensPerRequest, sim.TemplateTokensPerMessage, sim.TemplateTokensPerToolCall),
		"chat-template tokens per request, per message, per tool call")
	f.StringVar(&out, "out", "", "directory for requests.jsonl.zst, probes.json, summary.json (required)")
	_ = cmd.MarkFlagRequired("endpoint")
	return cmd
}

// checkContext fails before any load when the workload's longest request
// cannot fit the server's context length; a server that does not report
// one, or does not answer /v1/models, is logged as not checked.
func checkContext(ctx context.Context, a *app, cfg *replay.Config) error {
	c, err := replay.CheckContext(ctx, cfg.Endpoint, cfg.APIKey, cfg.Model, cfg.Workload, cfg.Template)
	var ce *replay.ContextError
	switch {
	case errors.As(err, &ce):
		return fmt.Errorf("%w: use a workload that fits (agentwatt workload synth …) or a larger engine", err)
	case err != nil:
		a.log.Warn().Err(err).Msg("context length not checked")
	case c.Limit == 0:
		a.log.Info().Int("needs_tokens", c.Need.Tokens()).Str("longest", c.Need.Where()).
			Msg("context length not checked: the server's /v1/models reports none")
	default:
		a.log.Debug().Int("needs_tokens", c.Need.Tokens()).Str("longest", c.Need.Where()).
			Int(c.Field, c.Limit).Str("model", c.Model).Msg("context length checked")
	}
	return nil
}

// parseTemplate reads "per-request,per-message,per-tool-call".
func parseTemplate(s string) (workload.ChatTemplate, error) {
	parts := strings.Split(s, ",")
	var v [3]int
	if len(parts) != 3 {
		return workload.ChatTemplate{}, fmt.Errorf("--chat-template %q: want three numbers, per request,per message,per tool call", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 0 {
			return workload.ChatTemplate{}, fmt.Errorf("--chat-template %q: %q is not a token count", s, p)
		}
		v[i] = n
	}
	return workload.ChatTemplate{PerRequest: v[0], PerMessage: v[1], PerToolCall: v[2]}, nil
}

// printBenchSummary prints the summary: JSON with -o json, else the
// report's Markdown tables, or, without a report, a table of tiers and one
// of probes.
func printBenchSummary(a *app, s *replay.Summary, rep *report.Report) error {
	if a.json() {
		enc := json.NewEncoder(a.out)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	if rep != nil {
		return rep.Markdown(a.out)
	}
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "model %s, workload %s, rules %s/%s, %d probes", esc(s.Model), esc(s.Workload.Name), s.Rules, s.Profile, len(s.Probes))
	if s.Interrupted {
		fmt.Fprint(tw, " (interrupted)")
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "TIER\tTARGET\tMAX_AGENTS\tCONFIRMED\tNOTE")
	ids := make([]string, 0, len(s.Tiers))
	for id := range s.Tiers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return s.Tiers[ids[i]].MinDecodeTPS < s.Tiers[ids[j]].MinDecodeTPS })
	for _, id := range ids {
		t := s.Tiers[id]
		fmt.Fprintf(tw, "%s\t≥%g tok/s, TTFT ≤%gs\t%d\t%v\t%s\n", id, t.MinDecodeTPS, t.MaxTTFTS, t.MaxAgents, t.Confirmed, esc(t.Reason))
	}
	fmt.Fprintln(tw)
	fmt.Fprint(tw, "PROBE\tN\tWINDOW\tREQUESTS\tERRORS\tTTFT_P50\tDECODE_P10\tVALID")
	for _, id := range ids {
		fmt.Fprintf(tw, "\t%s", strings.ToUpper(id))
	}
	fmt.Fprintln(tw)
	for _, p := range s.Probes {
		fmt.Fprintf(tw, "%d\t%d\t%.1fs\t%d\t%d\t%.3fs\t%.1f\t%v", p.Index, p.Agents, p.WindowS, p.Requests, p.Errors, p.TTFTP50S, p.DecodeTPSP10, p.Valid)
		for _, id := range ids {
			pt := p.Tiers[id]
			mark := "fail"
			if pt.Passed {
				mark = "pass"
			}
			fmt.Fprintf(tw, "\t%s %.1f%%", mark, 100*pt.MetShare)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
