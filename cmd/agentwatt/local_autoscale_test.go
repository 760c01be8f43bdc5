package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/bots"
	"github.com/agentwatt/agentwatt/examples"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
)

// TestLocalAutoscale: the local stack with the scaler and its runner
// processes (what `agentwatt local --autoscale` runs) takes five waiting
// jobs to verified with at most two runners at once, each a separate
// `agentwatt runner --once` process with its own enrolled key, and ends
// with no job waiting or running and no runner left.
func TestLocalAutoscale(t *testing.T) {
	if testing.Short() {
		t.Skip("runs five sim benchmarks in runner processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	example, err := examples.Submissions.ReadFile(examples.SimSubmission)
	if err != nil {
		t.Fatal(err)
	}
	sub := strings.Replace(string(example), "profile: quick", "profile: test", 1)
	sub = strings.Replace(sub, "  ready_timeout: 30s\n", "  ready_timeout: 30s\n  env:\n    "+runMainEnv+": \"1\"\n", 1)
	// The runner processes are this test binary: it runs agentwatt with its
	// own arguments when runMainEnv is set.
	t.Setenv(runMainEnv, "1")

	log := zerolog.Nop()
	s, err := openLocalStack(ctx, stackConfig{Dir: t.TempDir(), NATSListen: "127.0.0.1:0", S3Listen: "127.0.0.1:0",
		HTTPListen: "127.0.0.1:0", Bucket: "agentwatt", RunnerFixedAgents: 10}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const maxRunners = 2
	sc, err := newStackScaler(s, autoscaleConfig{Max: maxRunners, Cooldown: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	g := runGroup{log: log}
	s.addServices(ctx, &g)
	g.add(ctx, sc)
	runCtx, stop := context.WithCancel(ctx)
	g.untilDone(runCtx, nil)
	ran := make(chan error, 1)
	go func() { ran <- g.Run() }()
	defer func() {
		stop()
		if err := <-ran; err != nil {
			t.Errorf("stack: %v", err)
		}
	}()

	client := bots.Client{BaseURL: s.httpURL, Token: s.token}
	var ids []string
	for i := range 5 {
		resp, err := client.Submit(ctx, []byte(sub), fmt.Sprintf("autoscale-%d", i), "")
		if err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
		ids = append(ids, resp.ID)
	}
	if d, err := s.queue.PoolDepth(ctx, spec.Sim); err != nil || d.Waiting+d.Running != 5 {
		t.Fatalf("after five submissions: %+v, %v", d, err)
	}

	// Every job to verified; never more runner processes than the max.
	peak := 0
	runners := map[string]bool{}
	for {
		peak = max(peak, sc.procs.Live())
		done := 0
		for _, id := range ids {
			j, err := s.queue.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			switch j.State {
			case queue.Verified:
				done++
				runners[j.Runner] = true
			case queue.Rejected, queue.Failed, queue.Canceled:
				t.Fatalf("job %s: %s (%s)", id, j.State, j.Reason)
			}
		}
		if done == len(ids) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d jobs verified before the deadline", done, len(ids))
		case <-time.After(200 * time.Millisecond):
		}
	}
	// How long each phase of the loop took, for whoever tunes this test.
	for _, id := range ids {
		j, _ := s.queue.Get(ctx, id)
		var marks []string
		for _, h := range j.History {
			marks = append(marks, fmt.Sprintf("%s +%.1fs", h.To, h.At.Sub(j.CreatedAt).Seconds()))
		}
		t.Logf("job %s on %s: %s", id[:8], j.Runner, strings.Join(marks, ", "))
	}
	if peak < 1 || peak > maxRunners {
		t.Errorf("peak runner processes %d, want 1 to %d", peak, maxRunners)
	}
	for r := range runners {
		if !strings.HasPrefix(r, "autoscale-sim-") {
			t.Errorf("a job ran on %q, not an autoscaled runner", r)
		}
	}
	if len(runners) != len(ids) {
		t.Errorf("%d runners for %d jobs; a --once runner takes one job", len(runners), len(ids))
	}

	// The queue is empty and the capacity back to zero.
	for {
		d, err := s.queue.PoolDepth(ctx, spec.Sim)
		if err != nil {
			t.Fatal(err)
		}
		live, err := s.fleet.Runners(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d == (queue.PoolDepth{}) && sc.procs.Live() == 0 && len(live) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("never back to zero: depth %+v, %d processes, liveness %+v", d, sc.procs.Live(), live)
		case <-time.After(200 * time.Millisecond):
		}
	}
	// Every runner process exited 0: after its one job (--once), or, a
	// spare, when the scaler stopped it idle.
	if ex := sc.procs.Exits(); ex[0] < len(ids) || len(ex) != 1 {
		t.Errorf("runner exits by status %v, want at least %d, all clean", ex, len(ids))
	}
}

// TestLocalAutoscaleFlags: bad --autoscale settings are refused before the
// stack starts.
func TestLocalAutoscaleFlags(t *testing.T) {
	for _, ac := range []autoscaleConfig{{Max: 0, Cooldown: time.Second}, {Max: 1, Cooldown: 0}} {
		if err := ac.validate(); err == nil {
			t.Errorf("%+v accepted", ac)
		}
	}
}

// TestAutoscaledRunnerCommand: a runner process gets the stack's S3 secret
// through its environment, never its arguments (any user reads those in
// /proc/PID/cmdline), and runs ephemeral.
func TestAutoscaledRunnerCommand(t *testing.T) {
	const secret = "s3-secret-value"
	cmd := autoscaledRunner("/bin/agentwatt", "autoscale-sim-x-1", "/tmp/w", 10, []string{"AGENTWATT_S3_SECRET_KEY=" + secret})
	args := strings.Join(cmd.Args, " ")
	if strings.Contains(args, secret) {
		t.Fatalf("secret on the command line: %s", args)
	}
	for _, want := range []string{"runner --once", "--pool sim", "--id autoscale-sim-x-1", "--instance autoscale-sim-x-1", "--key /tmp/w/runner.key"} {
		if !strings.Contains(args, want) {
			t.Errorf("command %q lacks %q", args, want)
		}
	}
	if !slices.Contains(cmd.Env, "AGENTWATT_S3_SECRET_KEY="+secret) {
		t.Errorf("env %v lacks the S3 secret", cmd.Env)
	}
}
