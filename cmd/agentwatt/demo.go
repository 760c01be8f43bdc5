package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/bots"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/examples"
	"github.com/agentwatt/agentwatt/queue"
)

func init() { addCommand(newDemoCmd) }

// demoReport is what `demo -o json` prints.
type demoReport struct {
	Dir     string   `json:"dir"`
	Job     string   `json:"job"`
	Pool    string   `json:"pool"`
	State   string   `json:"state"`
	Trigger string   `json:"trigger"`
	Server  string   `json:"server"`
	Stage   string   `json:"stage"`
	Attempt int      `json:"attempt"`
	Bundle  []string `json:"bundle"`
}

func newDemoCmd(a *app) *cobra.Command {
	cfg := stackConfig{}
	var (
		keep    bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Show the agentwatt pipeline end to end on this machine, then exit",
		Long: `Start the embedded local stack (as 'agentwatt local' does) in a temporary
directory or --dir, submit the example sim submission through the intake API
with a fresh trigger, and follow it while the stack's sim runner takes it
through every phase (preflight, workload, engine launch, idle baseline,
accuracy, load probes with power sampling, bundle, upload) to a signed bundle
in the embedded S3, which it lists; then stop. The runner judges a fixed
number of agents (--fixed-agents, 8: the sim h200x8-like profile passes t20 at 8)
so that the demo takes about two minutes;
--fixed-agents 0 runs the full capacity search.

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
			cfg.Runner = true
			say("==> starting the local stack in %s (embedded NATS, embedded S3, intake API, a sim runner)", cfg.Dir)
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
			say("==> the local runner (pool %s) takes it: every phase, then a signed bundle in S3", job.Pool)
			final, err := followDemoJob(ctx, s, job.ID, timeout, say)
			if err != nil {
				return err
			}
			objs, err := s.store.List(ctx, bundle.Prefix(final.ID, final.Attempt))
			if err != nil {
				return fmt.Errorf("list the bundle: %w", err)
			}
			say("==> job %s is %s (attempt %d)%s", final.ID, final.State, final.Attempt, reasonSuffix(final.Reason))
			say("    bundle in the embedded S3, s3://%s/%s:", s.cfg.Bucket, bundle.Prefix(final.ID, final.Attempt))
			for _, o := range objs {
				say("      %-22s %9d bytes", strings.TrimPrefix(o.Key, bundle.Prefix(final.ID, final.Attempt)), o.Size)
			}
			if final.State == queue.Uploaded {
				say("    signed by the enrolled runner key %s; the verifier (agentwatt.verify) takes it from here.", s.runner.keyID)
				say("    Everything above is SIMULATED: the sim engine stood in for a GPU.")
			}
			if a.json() {
				if err := json.NewEncoder(a.out).Encode(demoReport{
					Dir: cfg.Dir, Job: final.ID, Pool: final.Pool, State: string(final.State), Trigger: trigger,
					Server: s.httpURL, Stage: string(final.State), Attempt: final.Attempt, Bundle: bundleNames(objs, final),
				}); err != nil {
					return err
				}
			}
			if final.State != queue.Uploaded {
				return fmt.Errorf("the demo job ended %s: %s", final.State, final.Reason)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cfg.Dir, "dir", "", "directory for the stack's data (default: a temporary directory, removed at the end)")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary directory")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "give up when the job has not ended after this long")
	cmd.Flags().IntVar(&cfg.RunnerFixedAgents, "fixed-agents", 8, "the runner judges this many agents instead of a full capacity search (0: search)")
	addStackFlags(cmd, &cfg, false)
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// followDemoJob prints the job's progress events until it ends (uploaded,
// failed or canceled) and returns its final record.
func followDemoJob(ctx context.Context, s *localStack, id string, timeout time.Duration, say func(string, ...any)) (*queue.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		var lastLoad time.Time
		_ = s.queue.FollowEvents(ctx, id, func(ev queue.Event) error {
			switch ev.Kind {
			case queue.EventState:
				say("    %s  state %s -> %s%s", ev.Time.Format(time.TimeOnly), orDash(string(ev.From)), ev.State, reasonSuffix(ev.Message))
			case queue.EventProbe:
				say("    %s  %-8s %s", ev.Time.Format(time.TimeOnly), ev.Kind, ev.Message)
			case queue.EventProgress:
				// Phase changes always; the load's live status every 10 s.
				if strings.Contains(ev.Message, " ") && !strings.HasPrefix(ev.Message, "accuracy") {
					if ev.Time.Sub(lastLoad) < 10*time.Second {
						return nil
					}
					lastLoad = ev.Time
				}
				say("    %s  %-8s %s", ev.Time.Format(time.TimeOnly), ev.Kind, ev.Message)
			}
			return nil
		})
	}()
	var final *queue.Job
	err := s.queue.WatchJob(ctx, id, func(j *queue.Job) error {
		switch j.State {
		case queue.Uploaded, queue.Verifying, queue.Verified, queue.Rejected, queue.Published, queue.Failed, queue.Canceled:
			final = j
			return queue.ErrStop
		}
		return nil
	})
	// let the last events arrive before the follower stops
	time.Sleep(500 * time.Millisecond)
	cancel()
	<-done
	if final == nil {
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("follow job %s: %w", id, err)
	}
	return final, nil
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return " (" + r + ")"
}

func bundleNames(objs []blob.Info, j *queue.Job) []string {
	names := make([]string, 0, len(objs))
	for _, o := range objs {
		names = append(names, strings.TrimPrefix(o.Key, bundle.Prefix(j.ID, j.Attempt)))
	}
	return names
}
