package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/workload"
	"github.com/agentwatt/agentwatt/workload/blobstore"
)

func init() { addCommand(newWorkloadCmd) }

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

Runners, 'bench' and the verifier refer to a workload as NAME (its latest) or
NAME@sha256:… and fetch it from the registry, verifying the digest.`,
		Example: `  agentwatt workload stats mooncake.jsonl.zst
  agentwatt workload push mooncake.jsonl.zst --name mooncake-conversation
  agentwatt workload list -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newWorkloadStatsCmd(a), newWorkloadPushCmd(a), newWorkloadListCmd(a))
	return cmd
}

func newWorkloadStatsCmd(a *app) *cobra.Command {
	var (
		svgDir     string
		builtin    bool
		histograms bool
	)
	cmd := &cobra.Command{
		Use:   "stats FILE",
		Short: "Describe a workload: turns, token lengths, think time, prefix-cache hits",
		Long: `Read a workload file (streaming: any size) and print its statistics:
trajectories and sub-agents, turns per trajectory (p50/p90/max), input and
output tokens per turn (p50/p90/p99/max), the longest context, think time
(p50/p90), the shared prefix each trajectory declares, and the theoretical
prefix-cache hit rate: the share of input tokens that an earlier turn of the
same trajectory already sent, plus shared prefixes another trajectory already
sent. Quantiles are nearest-rank.

On a terminal (or with --histograms) it also draws histograms of input and
output lengths; --svg DIR writes them as SVG files. --builtin describes the
workload built into this binary (agentic-coding-sample).`,
		Example: `  agentwatt workload stats mooncake.jsonl.zst
  agentwatt workload stats --builtin
  agentwatt workload stats claude.jsonl.zst -o json --svg ./charts`,
		Args: func(cmd *cobra.Command, args []string) error {
			if builtin {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var (
				r   *workload.Reader
				err error
			)
			if builtin {
				r, err = workload.OpenDefault()
			} else {
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
	f.BoolVar(&builtin, "builtin", false, "describe the built-in workload instead of a file")
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

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}
