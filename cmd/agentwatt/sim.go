package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/sim"
)

func newSimCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run the simulated inference engine (an OpenAI-compatible stand-in for a GPU)",
		Long: `The sim is a SIMULATED inference engine: an OpenAI-compatible streaming
server (like vLLM's) backed by a continuous-batching model with prefill and
decode costs, a KV capacity, a prefix cache and a per-GPU power model with an
energy counter. It stands in for a GPU in tests, CI and the local demo.
Everything it produces is simulated; results against it are labelled so and
never published as hardware results.`,
		Example: `  agentwatt sim serve --addr 127.0.0.1:0 --profile tiny
  agentwatt sim node --profile gb300-nvl72-like --member 1 --frontend http://127.0.0.1:8000
  agentwatt sim profiles`,
	}
	return cmd
}

func newSimServeCmd(a *app) *cobra.Command {
	var (
		addr, profile, profiles, accuracySet string
		cfg                                  sim.Config
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the simulated engine over HTTP until SIGTERM or Ctrl-C",
		Long: `serve starts the simulated engine and prints, as its first line on stdout,
"listening on http://HOST:PORT" (useful with --addr 127.0.0.1:0, which picks a
free port), then serves until SIGTERM or Ctrl-C.

Endpoints: POST /v1/chat/completions (stream true or false, vLLM wire format),
GET /v1/models, GET /health (503 during a slow start), GET /sim/v1/power (per
virtual GPU cumulative energy in mJ, instantaneous watts, wall and
CLOCK_MONOTONIC timestamps), GET /sim/v1/stats, GET /sim/v1/profile and GET /metrics
(with --spec-accept: vLLM's speculative-decoding counters).

Profiles (--profile): tiny (tests), h200x8-like, b300x8-like, unlimited (no
capacity limit, for client benchmarks); --profiles FILE loads others in the
same YAML format (see 'agentwatt sim profiles'). --framework-version V plays
framework version V: a profile may list versions that run slower or draw more
(simulated releases, for retests); other versions run the profile as written.
With a rack profile (gb300-nvl72-like, tiny-rack) the server is the rack's
frontend: it schedules the whole rack, GET /sim/v1/power is the rack model's
GPUs in member order and GET /sim/v1/rack each member's load, which
'agentwatt sim node' reads.

Faults (--fault-*) exercise clients and runners: mid-stream errors, HTTP 500s,
stalls, a crash after N requests (exit status 3), a slow start, ignoring
min_tokens, an energy counter reset and a gap in power samples.
--accuracy-set FILE (GSM8K JSONL) turns on an oracle that answers those
questions correctly except for --accuracy-error-rate of them.`,
		Example: `  agentwatt sim serve --addr 127.0.0.1:0 --profile tiny
  agentwatt sim serve --profile h200x8-like --seed 7 --fault-mid-stream-error-rate 0.01
  agentwatt sim serve --accuracy-set gsm8k/test.jsonl --accuracy-error-rate 0.05`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ps, err := sim.LoadProfiles(profiles)
			if err != nil {
				return err
			}
			if cfg.Profile, err = sim.LookupProfile(ps, profile); err != nil {
				return err
			}
			if accuracySet != "" {
				if cfg.Accuracy, err = sim.LoadAccuracySet(accuracySet); err != nil {
					return err
				}
			}
			srv, err := sim.NewServer(cfg, a.log)
			if err != nil {
				return err
			}
			defer srv.Stop()
			ctx := cmd.Context()
			url, err := srv.Start(ctx, addr)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "listening on %s\n", url)
			select {
			case <-ctx.Done():
				a.log.Info().Msg("stopping simulated engine")
				srv.Stop()
				return nil
			case <-srv.Crashed():
				srv.Stop()
				return &exitError{code: 3, err: srv.Err()}
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8000", "listen address; port 0 picks a free one")
	f.StringVar(&profile, "profile", "tiny", "profile name")
	f.StringVar(&profiles, "profiles", "", "profile YAML file (default: the embedded profiles)")
	f.StringVar(&cfg.FrameworkVersion, "framework-version", "", "the framework version to play: the profile's versions entry for it applies (none: the profile as written)")
	f.Int64Var(&cfg.Seed, "seed", 1, "seed for output text, lengths, faults, power spread and oracle errors")
	f.Float64Var(&cfg.TimeScale, "time-scale", 1, "virtual seconds per real second (2 runs twice as fast)")
	f.IntVar(&cfg.TokensPerChunk, "tokens-per-chunk", 1, "tokens per streamed content chunk")
	f.BoolVar(&cfg.OmitCachedTokens, "omit-cached-tokens", false, "leave usage.prompt_tokens_details out (vLLM's default)")
	f.DurationVar(&cfg.KeepAliveTimeout, "keep-alive", sim.DefaultKeepAliveTimeout, "idle connection timeout")
	f.StringVar(&accuracySet, "accuracy-set", "", "GSM8K-style JSONL; its questions are answered by the oracle")
	f.Float64Var(&cfg.AccuracyErrorRate, "accuracy-error-rate", 0, "share of oracle answers with a wrong final number")
	f.Float64Var(&cfg.SpecAccept, "spec-accept", 0, "simulate speculative decoding: share of draft tokens accepted, served at GET /metrics (0: off)")
	ft := &cfg.Faults
	f.Float64Var(&ft.MidStreamErrorRate, "fault-mid-stream-error-rate", 0, "share of requests that get data: {\"error\"} mid-stream")
	f.Float64Var(&ft.ServerErrorRate, "fault-server-error-rate", 0, "share of requests answered HTTP 500")
	f.Float64Var(&ft.StallRate, "fault-stall-rate", 0, "share of streams that stall once")
	f.DurationVar(&ft.StallFor, "fault-stall-for", 0, "length of a stall")
	f.IntVar(&ft.CrashAfterRequests, "fault-crash-after", 0, "crash (exit 3) when request N+1 arrives; 0 never")
	f.DurationVar(&ft.SlowStart, "fault-slow-start", 0, "answer /health 503 for this long after start")
	f.Float64Var(&ft.IgnoreMinTokensRate, "fault-ignore-min-tokens-rate", 0, "share of requests that stop early ignoring min_tokens/ignore_eos")
	f.DurationVar(&ft.EnergyResetAfter, "fault-energy-reset-after", 0, "reset the energy counters to zero once, this long after start")
	f.DurationVar(&ft.PowerGapAfter, "fault-power-gap-after", 0, "start of a gap in /sim/v1/power answers (503)")
	f.DurationVar(&ft.PowerGapFor, "fault-power-gap-for", 0, "length of the power gap")
	return cmd
}

func newSimProfilesCmd(a *app) *cobra.Command {
	var profiles string
	cmd := &cobra.Command{
		Use:   "profiles",
		Short: "List the simulated engine's profiles",
		Long: `profiles lists the simulated engine's profiles: served model, virtual GPUs,
context window, KV capacity, simulated framework versions (VERSION:×speed/×dynamic
power), rack layout and description. A rack profile (RACK members x GPUs each :
prefill members P + decode members D) runs as a frontend ('agentwatt sim
serve') and one 'agentwatt sim node' per member; "-" is a single host.
Every number in a profile is simulated. -o json prints the full profiles, the format --profiles reads (as
JSON rather than YAML).`,
		Example: `  agentwatt sim profiles
  agentwatt sim profiles -o json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ps, err := sim.LoadProfiles(profiles)
			if err != nil {
				return err
			}
			if a.json() {
				enc := json.NewEncoder(a.out)
				enc.SetIndent("", "  ")
				return enc.Encode(ps)
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tMODEL\tGPUS\tMAX_MODEL_LEN\tKV_TOKENS\tVERSIONS\tRACK\tDESCRIPTION")
			for _, p := range ps {
				kv := fmt.Sprint(p.KVCapacityTokens)
				if p.KVCapacityTokens == 0 {
					kv = "unlimited"
				}
				rack := "-"
				if r := p.Rack; r != nil {
					rack = fmt.Sprintf("%dx%d:%dP+%dD", r.Members, r.GPUsPerMember, r.PrefillMembers, r.DecodeMembers())
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", p.Name, p.ServedModel, p.GPUs, p.MaxModelLen, kv, versionsOf(p), rack, p.Description)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&profiles, "profiles", "", "profile YAML file (default: the embedded profiles)")
	return cmd
}

// versionsOf lists a profile's simulated framework versions as
// VERSION:×SPEED/×DYNAMIC_POWER; "-" for none.
func versionsOf(p sim.Profile) string {
	if len(p.Versions) == 0 {
		return "-"
	}
	out := make([]string, len(p.Versions))
	for i, v := range p.Versions {
		out[i] = fmt.Sprintf("%s:×%g/×%g", v.Version, v.Speed, v.DynamicPower)
	}
	return strings.Join(out, ",")
}
