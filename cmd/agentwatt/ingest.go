package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/agentwatt/agentwatt/ingest"
	"github.com/agentwatt/agentwatt/workload"
)

func newIngestCmd(a *app) *cobra.Command {
	var (
		out, name, description, licence string
		origins                         []string
		opts                            ingest.Options
		noProgress                      bool
	)
	cmd := &cobra.Command{
		Use:   "ingest FORMAT INPUT... --out OUT.jsonl.zst",
		Short: "Convert real agent traces into a canonical workload",
		Long: `Convert real agent traces into a canonical workload file (JSONL, zstd;
docs/workload-format.md). Every request in the inputs becomes exactly one turn.

FORMAT is one of:
  weka         Claude Code conversations (callanjfox/agentic-coding-analysis,
               callanjfox/kv-cache-tester): one JSON trace per file, a
               directory of them, a .tar or .tar.zst archive of them, or a
               .jsonl (.jsonl.zst) file with one trace per line; read one
               trace at a time (memory is bounded by the largest trace);
               64-token block hashes, think time, sub-agents
  mooncake     Mooncake FAST'25 request traces (JSONL, 512-token block hashes,
               no session ids): sessions are rebuilt from shared prefixes, and
               the report says how many sessions, forks and single-turn
               requests it found
  openai-chat  SWE-agent .traj files, or JSON/JSONL {"messages": [...]}
               records: each assistant message ends a turn whose input is the
               whole history before it, as text

An INPUT may be written FORMAT:PATH to mix formats in one workload. The
licence of each input is read from a LICENSE/COPYING file beside it (or
--licence). A malformed input is reported as FILE:LINE:COL with the JSON path,
the exit status is 1, and nothing is written: the output appears only
complete. A bad weka trace is reported with its id and request index;
--skip-invalid drops such traces instead and counts them.

--max-context TOKENS cuts every trajectory before its first request whose
input + output tokens exceed TOKENS (the later turns need that history); the
report says how many requests and trajectories were cut, and the workload
records the cap, which the runner's context preflight uses. Long ingests
show progress on a terminal (plain lines otherwise). The digest printed is the
workload's name in the registry ('agentwatt workload push').`,
		Example: `  agentwatt ingest weka trace.json --out claude.jsonl.zst
  agentwatt ingest weka traces.tar.zst --skip-invalid --max-context 262144 --out coding-256k.jsonl.zst
  agentwatt ingest mooncake conversation_trace.jsonl --out mooncake.jsonl.zst -o json
  agentwatt ingest openai-chat run.traj mooncake:conversation_trace.jsonl --mooncake-limit 500 --out mix.jsonl.zst --name mix`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			format := args[0]
			if !isFormat(format) {
				return fmt.Errorf("%w %q: want %s", ingest.ErrUnknownFormat, format, strings.Join(ingest.Formats, ", "))
			}
			if out == "" {
				return fmt.Errorf("--out is required (the workload file to write, e.g. out.jsonl.zst)")
			}
			inputs := make([]ingest.Input, 0, len(args)-1)
			for _, arg := range args[1:] {
				inputs = append(inputs, ingest.ParseInput(arg, format))
			}
			switch {
			case len(origins) == 1:
				for i := range inputs {
					inputs[i].Origin = origins[0]
				}
			case len(origins) == len(inputs):
				for i := range inputs {
					inputs[i].Origin = origins[i]
				}
			case len(origins) > 0:
				return fmt.Errorf("--origin given %d times for %d inputs: give it once, or once per input", len(origins), len(inputs))
			}
			for i := range inputs {
				inputs[i].Licence = licence
			}
			opts.Name = name
			if opts.Name == "" {
				opts.Name = nameFromPath(out)
				if err := workload.ValidName(opts.Name); err != nil {
					return fmt.Errorf("cannot name the workload after %s; pass --name: %w", out, err)
				}
			}
			opts.Description = description
			stop := func() {}
			if !noProgress {
				stop = ingestProgress(cmd.Context(), a, &opts)
			}
			rep, err := ingest.Run(cmd.Context(), inputs, out, opts)
			stop()
			if err != nil {
				return err
			}
			a.log.Debug().Str("out", out).Str("digest", string(rep.Digest)).Msg("workload written")
			if a.json() {
				enc := json.NewEncoder(a.out)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			printIngestReport(a, rep)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "workload file to write (.jsonl.zst)")
	f.StringVar(&name, "name", "", "workload name (default: the --out file name without .jsonl.zst)")
	f.StringVar(&description, "description", "", "description stored in the workload header")
	f.StringArrayVar(&origins, "origin", nil, "where the inputs come from (repository, path, commit); once for all or once per input")
	f.StringVar(&licence, "licence", "", "SPDX licence of the inputs, instead of detecting it from a LICENSE file beside them")
	f.Uint64Var(&opts.Seed, "seed", 0, "seed of block-text synthesis, stored in the header")
	f.BoolVar(&opts.SkipInvalid, "skip-invalid", false, "drop weka traces that cannot be converted (counted in the report) instead of failing")
	f.IntVar(&opts.MaxContext, "max-context", 0, "cut each trajectory before its first request whose input+output tokens exceed this (0: no cap)")
	f.BoolVar(&noProgress, "no-progress", false, "do not show progress")
	f.IntVar(&opts.Mooncake.Limit, "mooncake-limit", 0, "read only the first N requests of each mooncake input (0: all)")
	f.Float64Var(&opts.Mooncake.DecodeTokensPerSecond, "mooncake-decode-tps", 50, "decode speed assumed for a recorded answer when deriving mooncake think time")
	f.Float64Var(&opts.Mooncake.MaxThinkS, "mooncake-max-think", 600, "cap, in seconds, on a derived mooncake think time")
	return cmd
}

func isFormat(f string) bool {
	for _, x := range ingest.Formats {
		if x == f {
			return true
		}
	}
	return false
}

// nameFromPath derives a workload name from an output file name.
func nameFromPath(p string) string {
	base := filepath.Base(p)
	for _, ext := range []string{".jsonl.zst", ".jsonl", ".zst"} {
		base = strings.TrimSuffix(base, ext)
	}
	return strings.ToLower(base)
}

func printIngestReport(a *app, r *ingest.Report) {
	w := a.out
	fmt.Fprintf(w, "wrote %s (%d bytes)\n", r.Output, r.Bytes)
	fmt.Fprintf(w, "  workload      %s@%s\n", r.Name, r.Digest)
	fmt.Fprintf(w, "  format        %s\n", r.Format)
	fmt.Fprintf(w, "  records       %d requests read\n", r.Records)
	fmt.Fprintf(w, "  turns         %d\n", r.Turns)
	fmt.Fprintf(w, "  trajectories  %d (+%d sub-agents)\n", r.Trajectories, r.Subagents)
	if r.TurnsPerSession != nil {
		fmt.Fprintf(w, "  sessions      %d rebuilt, %d forks, %d single-turn requests; turns per trajectory p50 %d p90 %d max %d\n",
			r.Sessions, r.Forks, r.SingleTurn, r.TurnsPerSession.P50, r.TurnsPerSession.P90, r.TurnsPerSession.Max)
	}
	if r.Traces > 0 {
		fmt.Fprintf(w, "  traces        %d read, %d skipped as invalid\n", r.Traces, r.Skipped)
		for _, why := range r.SkippedReasons {
			fmt.Fprintf(w, "    skipped     %s\n", why)
		}
	}
	if r.MaxContext > 0 {
		fmt.Fprintf(w, "  max context   %d tokens: %d requests cut from %d trajectories (%d dropped whole)\n",
			r.MaxContext, r.CutTurns, r.CutTrajectories, r.DroppedTrajectories)
	}
	if r.EstimatedOutputTurns > 0 {
		fmt.Fprintf(w, "  estimated     %d output lengths counted by the token estimate (no usage recorded)\n", r.EstimatedOutputTurns)
	}
	for _, in := range r.Inputs {
		fmt.Fprintf(w, "  input         %s %s: %d records, %d trajectories, licence %s\n", in.Format, in.File, in.Records, in.Trajectories, in.Licence)
	}
}

// ingestProgress sets opts.Progress: a bar per pass and input on a
// terminal, else a plain line every few seconds and at the end of each
// pass. The returned function waits for the bars to finish drawing.
func ingestProgress(ctx context.Context, a *app, opts *ingest.Options) func() {
	f, ok := a.errOut.(*os.File)
	if !ok || !isatty.IsTerminal(f.Fd()) {
		var last time.Time
		opts.Progress = func(p ingest.Progress) {
			if !p.Done && time.Since(last) < 5*time.Second {
				return
			}
			last = time.Now()
			state := "reading"
			if p.Done {
				state = "done"
			}
			fmt.Fprintf(a.errOut, "ingest: %s pass %d/2 %s: %d traces, %s of %s\n", filepath.Base(p.Input), p.Pass, state, p.Traces,
				workload.Thousands(p.Bytes), workload.Thousands(p.Total))
		}
		return func() {}
	}
	pb := mpb.NewWithContext(ctx, mpb.WithOutput(f), mpb.WithAutoRefresh(), mpb.WithWidth(32), mpb.WithRefreshRate(200*time.Millisecond))
	var bar *mpb.Bar
	var cur string
	opts.Progress = func(p ingest.Progress) {
		key := fmt.Sprintf("%s/%d", p.Input, p.Pass)
		if bar == nil || cur != key {
			if bar != nil {
				bar.SetTotal(-1, true)
			}
			cur = key
			label := fmt.Sprintf("%s pass %d/2 ", filepath.Base(p.Input), p.Pass)
			bar = pb.AddBar(max(p.Total, 1),
				mpb.PrependDecorators(decor.Name(label), decor.CountersKibiByte("% .1f / % .1f")),
				mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace)))
		}
		bar.SetCurrent(min(p.Bytes, max(p.Total, 1)))
		if p.Done {
			bar.SetTotal(-1, true)
		}
	}
	return func() {
		if bar != nil && !bar.Completed() {
			bar.Abort(false)
		}
		pb.Wait()
	}
}
