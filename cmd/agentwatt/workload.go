package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/workload"
	"github.com/agentwatt/agentwatt/workload/blobstore"
)

func newWorkloadCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workload",
		Short: "Describe workloads and manage the workload registry",
		Long: `A workload is what a benchmark replays: real agent trajectories in the
canonical format (docs/workload-format.md), made by 'agentwatt ingest'.

  stats  describes a workload file: turns, prompt and answer lengths, think
         time, sub-agents, and the prefix-cache hit rate a perfect cache
         would reach
  push   stores a workload in object storage under its sha256 digest and
         points its name's "latest" at it
  list   lists the names and digests in the registry
  synth  generates a small SYNTHETIC workload (for the sim's tiny profile,
         smoke tests, demos): generated words, not a real agent's trace

Runners, 'bench' and the verifier refer to a workload as NAME (its latest) or
NAME@sha256:… and fetch it from the registry, verifying the digest.`,
		Example: `  agentwatt workload stats mooncake.jsonl.zst
  agentwatt workload push mooncake.jsonl.zst --name mooncake-conversation
  agentwatt workload list -o json
  agentwatt workload synth --out tiny.jsonl.zst`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	return cmd
}

func newWorkloadStatsCmd(a *app) *cobra.Command {
	var (
		svgDir     string
		builtin    bool
		histograms bool
	)
	cmd := &cobra.Command{
		Use:   "stats FILE | --builtin [NAME]",
		Short: "Describe a workload: turns, token lengths, think time, prefix-cache hits",
		Long: `Read a workload file (streaming: any size) and print its statistics:
trajectories and sub-agents, turns per trajectory (p50/p90/max), input and
output tokens per turn (p50/p90/p99/max), the longest context, think time
(p50/p90), the shared prefix each trajectory declares, and the theoretical
prefix-cache hit rate: the share of input tokens that an earlier turn of the
same trajectory already sent, plus shared prefixes another trajectory already
sent. Quantiles are nearest-rank.

On a terminal (or with --histograms) it also draws histograms of input and
output lengths; --svg DIR writes them as SVG files. --builtin NAME describes
a workload built into this binary (--builtin alone: ` + workload.DefaultName + `):
  ` + strings.Join(workload.Builtins(), ", ") + `.`,
		Example: `  agentwatt workload stats mooncake.jsonl.zst
  agentwatt workload stats --builtin
  agentwatt workload stats --builtin agentic-coding -o json
  agentwatt workload stats claude.jsonl.zst -o json --svg ./charts`,
		Args: func(cmd *cobra.Command, args []string) error {
			if builtin {
				return cobra.MaximumNArgs(1)(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var (
				r   *workload.Reader
				err error
			)
			switch {
			case builtin && len(args) == 1:
				r, err = workload.OpenBuiltin(args[0])
			case builtin:
				r, err = workload.OpenDefault()
			default:
				r, err = workload.Open(args[0])
			}
			if err != nil {
				return err
			}
			defer r.Close()
			st, err := workload.ComputeStats(r)
			if err != nil {
				return err
			}
			if svgDir != "" {
				paths, err := st.WriteSVG(svgDir)
				if err != nil {
					return err
				}
				for _, p := range paths {
					a.log.Info().Str("file", p).Msg("wrote histogram")
				}
			}
			if a.json() {
				enc := json.NewEncoder(a.out)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			return st.WriteText(a.out, histograms || isTerminal(a.out))
		},
	}
	f := cmd.Flags()
	f.StringVar(&svgDir, "svg", "", "write input/output length histograms as SVG files into this directory")
	f.BoolVar(&builtin, "builtin", false, "describe a built-in workload (NAME, default "+workload.DefaultName+") instead of a file")
	f.BoolVar(&histograms, "histograms", false, "draw text histograms even when not on a terminal")
	return cmd
}

func newWorkloadPushCmd(a *app) *cobra.Command {
	var (
		s3   s3Flags
		name string
	)
	cmd := &cobra.Command{
		Use:   "push FILE",
		Short: "Upload a workload to the registry and make it its name's latest",
		Long: `Validate a workload file (every line), then upload it to object storage as
workloads/<name>/<sha256>.jsonl.zst with its statistics beside it
(<sha256>.stats.json) and move workloads/<name>/latest to it. The name
defaults to the one in the file's header. Pushing the same file twice stores
it once.

Works against the embedded S3 of 'agentwatt local' (source its env file) and
any S3 service.`,
		Example: `  agentwatt workload push mooncake.jsonl.zst --name mooncake-conversation
  . agentwatt-local/env && agentwatt workload push mix.jsonl.zst -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(cmd.Context(), &s3)
			if err != nil {
				return err
			}
			reg := blobstore.NewRegistry(st, "")
			ref, stats, err := reg.PushWithStats(cmd.Context(), args[0], name)
			if err != nil {
				return err
			}
			a.log.Info().Str("workload", ref.String()).Msg("pushed")
			if a.json() {
				return json.NewEncoder(a.out).Encode(map[string]any{
					"name": ref.Name, "digest": ref.Digest, "ref": ref.String(),
					"trajectories": stats.Trajectories, "turns": stats.Turns,
				})
			}
			fmt.Fprintf(a.out, "%s\n", ref)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "registry name (default: the name in the file's header)")
	addS3Flags(cmd.Flags(), &s3)
	return cmd
}

func newWorkloadListCmd(a *app) *cobra.Command {
	var s3 s3Flags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the workloads in the registry",
		Long: `List every workload name in the registry, the digest its "latest" points at,
and every digest stored under it.`,
		Example: `  agentwatt workload list
  agentwatt workload list -o json --s3-endpoint 127.0.0.1:9000 --s3-bucket agentwatt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStore(cmd.Context(), &s3)
			if err != nil {
				return err
			}
			entries, err := blobstore.NewRegistry(st, "").List(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				if entries == nil {
					entries = []workload.Entry{}
				}
				return json.NewEncoder(a.out).Encode(entries)
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tLATEST\tVERSIONS")
			for _, e := range entries {
				latest := string(e.Latest)
				if latest == "" {
					latest = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\n", e.Name, latest, len(e.Versions))
			}
			return tw.Flush()
		},
	}
	addS3Flags(cmd.Flags(), &s3)
	return cmd
}

func newWorkloadSynthCmd(a *app) *cobra.Command {
	o := workload.DefaultSynthOptions()
	var (
		out   string
		think = time.Duration(o.ThinkS * float64(time.Second))
	)
	cmd := &cobra.Command{
		Use:   "synth --out FILE",
		Short: "Generate a small synthetic workload (not a real trace) for the sim and smoke tests",
		Long: `Generate a SYNTHETIC workload in the canonical format: agent-shaped
trajectories made of generated words, not recorded from any agent. Use it
where the built-in workloads (real traces, contexts far beyond 8K tokens)
do not fit, e.g. the simulated engine's tiny profile:

  agentwatt sim serve --profile tiny --addr 127.0.0.1:8000 &
  agentwatt workload synth --out tiny.jsonl.zst
  agentwatt bench --endpoint http://127.0.0.1:8000 --workload tiny.jsonl.zst \
      --search --profile quick --out ./tiny-run

Every trajectory starts with the same --shared-tokens system prompt (a
prefix cache can share it; replay salts each session right after it) and
its own --first-tokens task. Each later turn re-sends the history, then the
previous answer as the assistant and --turn-tokens of tool result, after
--think of tool time. Answers are --output-tokens ± --output-spread tokens,
drawn per turn. --subagents N gives each trajectory N sub-agents that start
when its middle turn's answer arrives (half the turns, half the task).

By default prompts are hashed blocks whose words are one token each (in the
sim and in the Llama-3, Qwen3, DeepSeek-V3 and GPT-4o tokenizers), so prompt
lengths are exact. --literal writes literal chat messages with tool calls
and tool results instead (same words), for replay with live history.

The header says what it is: source format "synthetic", created_by
"` + workload.SynthCreatedBy + `", licence ` + workload.SynthLicence + ` (the word list's), and every
option in the description. The same options and --seed give the same bytes
and digest. The file is written to a temporary name and renamed. The longest
request (prompt + answer) is printed and must stay within --max-context;
chat templates and the session salt add a few dozen tokens on top.`,
		Example: `  agentwatt workload synth --out tiny.jsonl.zst
  agentwatt workload synth --trajectories 64 --turns 10 --subagents 1 --out mid.jsonl.zst -o json
  agentwatt workload synth --literal --output-tokens 32 --think 500ms --out chat.jsonl.zst
  agentwatt workload synth --max-context 8192 --turns 40 --out check.jsonl.zst`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out FILE is required")
			}
			o.ThinkS = think.Seconds()
			w, err := workload.Synthesize(o)
			if err != nil {
				return err
			}
			if _, err := w.WriteFile(out); err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			st := workload.StatsOf(w)
			ref := workload.Ref{Name: w.Header.Name, Digest: w.Digest}
			a.log.Info().Str("file", out).Str("workload", ref.String()).Msg("wrote synthetic workload")
			if a.json() {
				return json.NewEncoder(a.out).Encode(map[string]any{
					"output": out, "name": w.Header.Name, "digest": w.Digest, "ref": ref.String(),
					"trajectories": st.Trajectories, "subagents": st.Subagents, "turns": st.Turns,
					"max_context_tokens": st.MaxContextTokens, "synthetic": true,
				})
			}
			fmt.Fprintf(a.out, "wrote %s: SYNTHETIC workload %s\n", out, ref)
			fmt.Fprintf(a.out, "  %d trajectories, %d sub-agents, %d turns; input tokens per turn p50 %d, max %d; output p50 %d\n",
				st.Trajectories, st.Subagents, st.Turns, st.InputTokens.P50, st.InputTokens.Max, st.OutputTokens.P50)
			fmt.Fprintf(a.out, "  longest request %d tokens (prompt + answer; max-context %d)\n", st.MaxContextTokens, o.MaxContext)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "the workload file to write (NAME.jsonl.zst)")
	f.StringVar(&o.Name, "name", o.Name, "workload name in the header (the registry name)")
	f.IntVar(&o.Trajectories, "trajectories", o.Trajectories, "top-level trajectories (agent sessions)")
	f.IntVar(&o.Turns, "turns", o.Turns, "turns per trajectory")
	f.IntVar(&o.SharedTokens, "shared-tokens", o.SharedTokens, "system-prompt tokens every trajectory shares (0: none)")
	f.IntVar(&o.FirstTokens, "first-tokens", o.FirstTokens, "tokens of each trajectory's own first message (its task)")
	f.IntVar(&o.TurnTokens, "turn-tokens", o.TurnTokens, "tokens each later turn adds after the previous answer (a tool result)")
	f.IntVar(&o.OutputTokens, "output-tokens", o.OutputTokens, "answer length in tokens")
	f.IntVar(&o.OutputSpread, "output-spread", o.OutputSpread, "answers are output-tokens ± this, drawn per turn")
	f.DurationVar(&think, "think", think, "think (tool) time before each later turn")
	f.IntVar(&o.Subagents, "subagents", o.Subagents, "sub-agents per trajectory")
	f.BoolVar(&o.Literal, "literal", o.Literal, "literal chat messages with tool calls instead of hashed blocks (allows live history)")
	f.Uint64Var(&o.Seed, "seed", o.Seed, "content seed: the same options and seed give the same file")
	f.IntVar(&o.MaxContext, "max-context", o.MaxContext, "fail if any request's prompt + answer would exceed this many tokens")
	return cmd
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}
