package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/agentrunner/replay"
	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/bots"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/examples"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
)

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
	// Results are the leaderboard's rows after the demo's automatic approval.
	Results []publish.Result `json:"results,omitempty"`
	Site    string           `json:"site,omitempty"`
	// Retest is the simulated release's retest (demo --retest).
	Retest *demoRetestReport `json:"retest,omitempty"`
}

func newDemoCmd(a *app) *cobra.Command {
	cfg := stackConfig{}
	var timeout time.Duration
	var rack bool
	var withRetest bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Show the agentwatt pipeline end to end on this machine, then exit",
		Long: `Run the whole pipeline on this machine and exit: start the embedded local
stack (as 'agentwatt local' does) in --dir, submit the example sim submission
through the intake API with a fresh trigger, and follow it while the stack's
sim runner takes it through every phase (preflight, workload, engine launch,
idle baseline, accuracy, load probes with power sampling, bundle, upload), the
verifier recomputes every number from the signed bundle, and an automatic
approval (the demo only: real results need a maintainer's 'agentwatt approve')
publishes it. It prints the leaderboard, the path of the static site, and the
command that serves it. On a terminal the load's progress is drawn as bars,
as 'agentwatt status -f' draws it.

The runner judges a fixed number of agents (--fixed-agents, 12: the sim's
b300x8-like profile passes t20 at 12) so that the demo takes about two
minutes; --fixed-agents 0 runs the full capacity search. On a busy machine a
window can come out invalid (the load generator fell behind) or short of its
request minimum: the runner measures it once more, and if that fails too the
demo ends with "measurement invalid: the machine was too busy", exit status 3,
and publishes nothing. Each run is a new job
(the trigger is fresh); on the same --dir its result joins the same
leaderboard and history. Everything the demo runs is simulated: the sim engine
stands in for a GPU, and its results are badged "simulated — not hardware".

--retest then shows the retest loop: the submission asks for retests on new
framework releases, and after its publication the demo handles a simulated
release sim@2 as 'agentwatt bot retest --release sim@2' does (the sim's
profile runs version 2 slower and hungrier), follows the retest through the
runner and verifier, publishes it the same automatic way and prints its
change against version 1 and its result page, whose version chart shows both
versions and the regression.`,
		Example: `  agentwatt demo
  agentwatt demo --dir ./demo-data && agentwatt local --dir ./demo-data   # then open http://127.0.0.1:8080/
  agentwatt demo --retest                                                 # then a slower simulated release, and its regression
  agentwatt demo --fixed-agents 0 --timeout 30m                           # a full capacity search
  agentwatt demo --rack --dir ./rack-demo                                 # a simulated 4-member rack, one runner per member`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			say := func(format string, args ...any) {
				if !a.json() {
					fmt.Fprintf(a.out, format+"\n", escArgs(args)...)
				}
			}
			log := a.log
			if !cmd.Flags().Changed("log-level") {
				// The demo narrates on stdout; the services' info logs would drown it.
				log = log.Level(zerolog.WarnLevel)
			}
			if rack {
				return runDemoRack(ctx, a, cfg, timeout, say, log) // demo_rack.go
			}
			cfg.Runner = true
			say("==> starting the local stack in %s (embedded NATS, embedded S3, intake API, a sim runner)", cfg.Dir)
			s, err := openLocalStack(ctx, cfg, log)
			if err != nil {
				return err
			}
			defer s.Close()
			// The demo's story runs beside the stack's services; when it ends
			// (or Ctrl-C ends it, or a service fails) the group stops them all.
			g := runGroup{log: log}
			s.addServices(ctx, &g)
			body, err := examples.Submissions.ReadFile(examples.SimSubmission)
			if err != nil {
				return err
			}
			storyCtx, endStory := context.WithCancel(ctx)
			run := demoRun{body: body, name: examples.SimSubmission, retest: withRetest, timeout: timeout}
			g.Add(func() error { return runDemoStories(storyCtx, a, s, cfg, run, say) }, func(error) { endStory() })
			return g.Run()
		},
	}
	cmd.Flags().StringVar(&cfg.Dir, "dir", "agentwatt-demo", "directory for the stack's data; a second run on it adds to the same leaderboard and history")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "give up when the job has not ended after this long")
	cmd.Flags().IntVar(&cfg.RunnerFixedAgents, "fixed-agents", 12, "the runner judges this many agents instead of a full capacity search (0: search)")
	cmd.Flags().BoolVar(&withRetest, "retest", false, "then retest it on a simulated release sim@"+demoRetestVersion+" (slower), publish that too and show the regression")
	cmd.Flags().BoolVar(&rack, "rack", false, "run a SIMULATED 4-member rack instead (examples/submissions/sim-rack.yaml on a runner group of four in-process runners); prints each member's power file and the summed Agents/MW, publishes nothing")
	addStackFlags(cmd, &cfg, false)
	return cmd
}

// demoRun is what one demo submits and whether it retests.
type demoRun struct {
	body    []byte // the submission: the example
	name    string // its name, examples/<name> in the story
	retest  bool   // opt in to retests, then retest on sim@demoRetestVersion
	timeout time.Duration
}

// runDemoStories runs the demo's story, then with run.retest the
// retest's, and returns the report, which -o json prints.
func runDemoStories(ctx context.Context, a *app, s *localStack, cfg stackConfig, run demoRun, say func(string, ...any)) error {
	_, err := demoStories(ctx, a, s, cfg, run, say)
	return err
}

func demoStories(ctx context.Context, a *app, s *localStack, cfg stackConfig, run demoRun, say func(string, ...any)) (*demoReport, error) {
	rep, err := runDemoStory(ctx, a, s, cfg, run, say)
	if err != nil {
		return nil, err
	}
	if run.retest {
		if rep.Retest, err = runDemoRetest(ctx, a, s, cfg, run.timeout, rep.Job, say); err != nil {
			return nil, err
		}
	}
	if a.json() {
		return rep, printJSONLine(a.out, rep)
	}
	return rep, nil
}

// runDemoStory submits run.body to the running stack s, follows the job
// to its verdict, approves and publishes it, and tells what happened. With
// run.retest the submission asks for retests on new framework releases.
func runDemoStory(ctx context.Context, a *app, s *localStack, cfg stackConfig, run demoRun, say func(string, ...any)) (*demoReport, error) {
	say("    intake %s, NATS %s, S3 %s", s.httpURL, s.nats.ClientURL(), s.s3.URL())
	say("    workload registry holds the built-in %s", s.sample)

	body := run.body
	if run.retest {
		body = withRetestOptIn(body)
	}
	trigger := bots.NewTrigger("demo")
	say("==> submitting examples/%s as vendor %s (trigger %s)", run.name, s.vendor, trigger)
	client := bots.Client{BaseURL: s.httpURL, Token: s.token}
	resp, err := client.Submit(ctx, body, trigger, run.name)
	if err != nil {
		return nil, fmt.Errorf("submit the example: %w", err)
	}
	job, err := s.queue.Get(ctx, resp.ID)
	if err != nil {
		return nil, err
	}
	say("    job %s accepted: pool %s, state %s, spec %s", job.ID, job.Pool, job.State, job.SpecDigest)
	say("    workload pinned to %s@%s", job.Workload, job.WorkloadDigest)
	for _, t := range job.History {
		say("    %s  %s -> %s  %s", t.At.Format(time.TimeOnly), orDash(string(t.From)), t.To, t.Reason)
	}
	say("==> the local runner (pool %s) takes it: every phase, then a signed bundle in S3", job.Pool)
	var bars *jobBars
	if !a.json() {
		bars = newJobBars(a.out)
	}
	final, err := followDemoJob(ctx, s, job.ID, run.timeout, say, bars)
	if err != nil {
		return nil, err
	}
	objs, err := s.store.List(ctx, bundle.Prefix(final.ID, final.Attempt))
	if err != nil {
		return nil, fmt.Errorf("list the bundle: %w", err)
	}
	say("==> job %s is %s (attempt %d)%s", final.ID, final.State, final.Attempt, reasonSuffix(final.Reason))
	say("    bundle in the embedded S3, s3://%s/%s:", s.cfg.Bucket, bundle.Prefix(final.ID, final.Attempt))
	for _, o := range objs {
		say("      %-22s %9d bytes", strings.TrimPrefix(o.Key, bundle.Prefix(final.ID, final.Attempt)), o.Size)
	}
	if final.State != queue.Verified {
		return nil, demoJobError(final)
	}
	say("    signed by the enrolled runner key %s", s.runner.KeyID())
	say("==> the verifier recomputed every number from the raw records: VERIFIED (verdict.json beside the bundle)")
	say("==> automatic approval (agentwatt demo only: a maintainer approves real results with 'agentwatt approve')")
	published, lb, err := publish.Approve(ctx, s.queue, s.fleet, s.store, final.ID, publish.Approval{
		By: demoApprover, Via: publish.ViaDemo, Note: "automatic approval by agentwatt demo; simulated, not hardware",
	}, true)
	if errors.Is(err, publish.ErrNotPublishable) {
		return nil, fmt.Errorf("publish: %w (N=%d was measured and did not pass: pick another --fixed-agents)", err, cfg.RunnerFixedAgents)
	}
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	site := filepath.Join(s.cfg.Dir, "s3", "data", s.cfg.Bucket, filepath.FromSlash(publish.SiteIndexKey))
	rep := &demoReport{
		Dir: s.cfg.Dir, Job: published.ID, Pool: published.Pool, State: string(published.State), Trigger: trigger,
		Server: s.httpURL, Stage: string(published.State), Attempt: published.Attempt, Bundle: bundleNames(objs, final),
		Results: lb.Results, Site: site,
	}
	if a.json() {
		return rep, nil
	}
	say("    job %s is %s; the leaderboard (%d results, %d in the history):\n", published.ID, published.State, len(lb.Results), len(lb.History))
	writeLeaderboard(a.out, lb.Results)
	say("\n    Everything above is SIMULATED: the sim engine stood in for a GPU, and the results are badged so.")
	say("    static site: %s", site)
	say("    serve it:    agentwatt local --dir %s   (then open http://127.0.0.1:8080/)", s.cfg.Dir)
	say("    recompute:   with the stack running, . %s && agentwatt verify %s", s.envFile(), s.store.URL(bundle.Prefix(final.ID, final.Attempt)))
	return rep, nil
}

// exitTooBusy is demo's exit status when the machine was too busy to measure
// the fixed N (distinct from 1, a failure of the pipeline).
const exitTooBusy = 3

// demoJobError is the demo's error for a job that did not verify: one whose
// windows the runner could not measure, twice (replay.ErrMeasurementInvalid
// in the job's reason), ends with exitTooBusy and advice; any other end is a
// failure.
func demoJobError(j *queue.Job) error {
	if strings.Contains(j.Reason, replay.ErrMeasurementInvalid.Error()) {
		return &exitError{code: exitTooBusy, err: fmt.Errorf(
			"%s (job %s, %s: %s)\n"+
				"  The runner measured the window again and could not measure it twice; nothing was published.\n"+
				"  Run the demo again when the machine is quieter, or judge fewer agents (--fixed-agents 6)",
			replay.ErrMeasurementInvalid, esc(j.ID), esc(j.State), esc(j.Reason))}
	}
	return fmt.Errorf("the demo job ended %s: %s", esc(j.State), esc(j.Reason))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// followDemoJob prints the job's progress events until it ends (uploaded,
// failed or canceled) and returns its final record. With bars (a terminal)
// the load's progress draws them and the other lines go above them.
func followDemoJob(ctx context.Context, s *localStack, id string, timeout time.Duration, say func(string, ...any), bars *jobBars) (*queue.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if bars != nil {
		say = func(format string, args ...any) { fmt.Fprintf(bars.w, format+"\n", escArgs(args)...) }
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var lastLoad time.Time
		_ = s.queue.FollowEvents(ctx, id, func(ev queue.Event) error {
			if bars != nil && bars.show(ev) {
				return nil
			}
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
		case queue.Verified, queue.Rejected, queue.Published, queue.Failed, queue.Canceled:
			final = j
			return queue.ErrStop
		}
		return nil
	})
	// let the last events arrive before the follower stops
	time.Sleep(500 * time.Millisecond)
	cancel()
	<-done
	if bars != nil {
		bars.done()
	}
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

// demoApprover is who the demo's automatic approval is recorded as.
const demoApprover = "agentwatt-demo (automatic, demo only)"

// writeLeaderboard prints the published results as a table.
func writeLeaderboard(w io.Writer, results []publish.Result) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "    MODEL\tSYSTEM\tFRAMEWORK\tTIER\tMAX AGENTS\tAGENTS/MW\tAGENTS/GPU\tTOK/S\tJ/TOK\tAVG W\t")
	for _, r := range results {
		badge := ""
		if r.Simulated {
			badge = "  simulated — not hardware"
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s %s\t%s\t%d\t%.0f\t%.2f\t%.0f\t%.3f\t%.0f\t%s\n",
			esc(r.Model), esc(r.System), esc(r.Framework), esc(r.FrameworkVersion), esc(r.Tier), r.MaxAgents, r.AgentsPerMW,
			r.AgentsPerGPU, r.OutputTokensPerS, r.JoulesPerToken, r.AvgPowerW, badge)
	}
	_ = tw.Flush()
}
