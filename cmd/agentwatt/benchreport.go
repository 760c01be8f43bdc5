package main

import (
	"encoding/json"
	"errors"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/agentrunner/report"
)

func newBenchReportCmd(a *app) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "report DIR",
		Short: "Write report.md, report.html and requests.csv for a bench or bundle directory",
		Long: `report reads a bench output directory (or a bundle directory: probes.json,
requests.jsonl.zst, summary.json) and writes three files a person reads:

  report.md     per tier and per probe: TTFT, inter-token latency (ITL),
                end-to-end latency (E2E) and decode rate at p50/p90/p99,
                requests, errors, pass share per tier, validity; also printed
  report.html   the same tables and charts, self-contained (data and the
                uPlot chart library inline; works offline)
  requests.csv  one row per request record, with its TTFT, ITL, E2E and
                decode rate

Every figure comes from package metrics over each probe's window requests
(those sent inside the window); the report judges nothing. bench writes the
report itself at the end of every run; this command regenerates it.

The files go to DIR, or to --out; a bundle directory holds only its signed
files, so for one --out is required.`,
		Example: `  agentwatt bench report ./bench-run
  agentwatt bench report ./spool/runs/j-1/1 --out ./j-1-report`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if out == "" {
				if report.IsBundle(dir) {
					return errors.New(dir + " is a bundle directory: its files are signed, so give --out DIR for the report")
				}
				out = dir
			}
			rep, err := report.Write(dir, out)
			if err != nil {
				return err
			}
			a.log.Info().Str("report", filepath.Join(out, report.HTMLFile)).Int("requests", rep.Records).Msg("wrote the report")
			if a.json() {
				return json.NewEncoder(a.out).Encode(map[string]any{"dir": out, "files": []string{report.MarkdownFile, report.HTMLFile, report.CSVFile}, "requests": rep.Records})
			}
			return rep.Markdown(a.out)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory for the report files (default: DIR)")
	return cmd
}
