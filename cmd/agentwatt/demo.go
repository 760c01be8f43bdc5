package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/bots"
	"github.com/agentwatt/agentwatt/examples"
)

func init() { addCommand(newDemoCmd) }

// demoReport is what `demo -o json` prints.
type demoReport struct {
	Dir     string `json:"dir"`
	Job     string `json:"job"`
	Pool    string `json:"pool"`
	State   string `json:"state"`
	Trigger string `json:"trigger"`
	Server  string `json:"server"`
	Stage   string `json:"stage"`
}

func newDemoCmd(a *app) *cobra.Command {
	cfg := stackConfig{}
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Show the agentwatt pipeline end to end on this machine, then exit",
		Long: `Start the embedded local stack (as 'agentwatt local' does) in a temporary
directory or --dir, submit the example sim submission through the intake API
with a fresh trigger, show what happens to it, and stop.

Each run is a new job, also on the same --dir (the trigger is fresh). Everything
the demo runs is simulated: the sim engine stands in for a GPU, and its results
are labelled simulated.`,
		Example: `  agentwatt demo
  agentwatt demo --dir ./demo-data   # keeps the stack's data for 'agentwatt local --dir ./demo-data'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if cfg.Dir == "" {
				dir, err := os.MkdirTemp("", "agentwatt-demo-")
				if err != nil {
					return err
				}
				cfg.Dir = dir
				if !keep {
					defer os.RemoveAll(dir)
				}
			}
			say := func(format string, args ...any) {
				if !a.json() {
					fmt.Fprintf(a.out, format+"\n", args...)
				}
			}
			log := a.log
			if !cmd.Flags().Changed("log-level") {
				// The demo narrates on stdout; the services' info logs would drown it.
				log = log.Level(zerolog.WarnLevel)
			}
			say("==> starting the local stack in %s (embedded NATS, embedded S3, intake API)", cfg.Dir)
			s, err := startLocalStack(ctx, cfg, log)
			if err != nil {
				return err
			}
			defer s.Stop()
			say("    intake %s, NATS %s, S3 %s", s.httpURL, s.nats.ClientURL(), s.s3.URL())
			say("    workload registry holds the built-in %s", s.sample)

			body, err := examples.Submissions.ReadFile(examples.SimSubmission)
			if err != nil {
				return err
			}
			trigger := bots.NewTrigger("demo")
			say("==> submitting examples/%s as vendor %s (trigger %s)", examples.SimSubmission, s.vendor, trigger)
			client := bots.Client{BaseURL: s.httpURL, Token: s.token}
			resp, err := client.Submit(ctx, body, trigger)
			if err != nil {
				return fmt.Errorf("submit the example: %w", err)
			}
			job, err := s.queue.Get(ctx, resp.ID)
			if err != nil {
				return err
			}
			say("    job %s accepted: pool %s, state %s, spec %s", job.ID, job.Pool, job.State, job.SpecDigest)
			say("    workload pinned to %s@%s", job.Workload, job.WorkloadDigest)
			for _, t := range job.History {
				say("    %s  %s -> %s  %s", t.At.Format(time.TimeOnly), orDash(string(t.From)), t.To, t.Reason)
			}
			say("==> the job is queued on agentwatt.jobs.%s and stays queued: this version has no runner yet,", job.Pool)
			say("    so nothing takes it. Inspect it with 'agentwatt status %s' against a running 'agentwatt local'.", job.ID)
			if a.json() {
				return json.NewEncoder(a.out).Encode(demoReport{
					Dir: cfg.Dir, Job: job.ID, Pool: job.Pool, State: string(job.State), Trigger: trigger,
					Server: s.httpURL, Stage: "queued (no runner in this version)",
				})
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cfg.Dir, "dir", "", "directory for the stack's data (default: a temporary directory, removed at the end)")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary directory")
	addStackFlags(cmd, &cfg, false)
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
