package agentrunner

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/queue"
)

// runUntilReturn runs r and returns a channel that yields Run's error.
func runUntilReturn(t *testing.T, ctx context.Context, cfg Config) <-chan error {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return done
}

func waitReturn(t *testing.T, done <-chan error, d time.Duration) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v, want nil", err)
		}
	case <-time.After(d):
		t.Fatalf("Run did not return within %v", d)
	}
}

func exits(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "agentwatt_runner_exits_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestRunnerOnce: a --once runner takes one of two queued jobs, finishes it
// (uploaded, bundle stored and valid), returns nil and leaves the other job
// queued and undelivered: it took nothing it did not run.
func TestRunnerOnce(t *testing.T) {
	e := newEnv(t, envOpts{})
	first := e.submit("once-1")
	second := e.submit("once-2")
	reg := prometheus.NewRegistry()
	cfg := e.config("runner-once")
	cfg.Once, cfg.Metrics = true, reg
	waitReturn(t, runUntilReturn(t, context.Background(), cfg), 3*time.Minute)

	j := e.waitState(first.ID, 10*time.Second, queue.Uploaded)
	e.verifyStored(j.ID, j.Attempt)
	if got, err := e.q.Get(context.Background(), second.ID); err != nil || got.State != queue.Queued || got.Attempt != 0 {
		t.Fatalf("second job: %+v, %v; want queued, never attempted", got, err)
	}
	d, err := e.q.PoolDepth(context.Background(), "sim")
	if err != nil {
		t.Fatal(err)
	}
	if d != (queue.PoolDepth{Waiting: 1, Running: 0}) {
		t.Errorf("pool depth after a once runner: %+v, want 1 waiting and none held", d)
	}
	if got := exits(t, reg, ExitOnce); got != 1 {
		t.Errorf("exits{reason=once} = %v, want 1", got)
	}
	if rs, err := e.fl.Runners(context.Background()); err != nil || len(rs) != 0 {
		t.Errorf("liveness after exit: %+v, %v; want none", rs, err)
	}
}

// TestRunnerIdleExit: a runner with IdleExit and no job returns after it,
// counted as idle; a job queued afterwards is left waiting, not held.
func TestRunnerIdleExit(t *testing.T) {
	e := newEnv(t, envOpts{})
	reg := prometheus.NewRegistry()
	cfg := e.config("runner-idle")
	cfg.IdleExit, cfg.Metrics = 1500*time.Millisecond, reg
	start := time.Now()
	waitReturn(t, runUntilReturn(t, context.Background(), cfg), time.Minute)
	if el := time.Since(start); el < cfg.IdleExit {
		t.Errorf("returned after %v, before IdleExit %v", el, cfg.IdleExit)
	}
	if got := exits(t, reg, ExitIdle); got != 1 {
		t.Errorf("exits{reason=idle} = %v, want 1", got)
	}
	j := e.submit("after-idle")
	d, err := e.q.PoolDepth(context.Background(), "sim")
	if err != nil {
		t.Fatal(err)
	}
	if d != (queue.PoolDepth{Waiting: 1}) {
		t.Errorf("pool depth: %+v, want the job waiting", d)
	}
	if got, _ := e.q.Get(context.Background(), j.ID); got.State != queue.Queued {
		t.Errorf("job %s: %s, want queued", j.ID, got.State)
	}
}

// TestRunnerOnceStopBetweenJobs: an ephemeral runner asked to stop while
// it waits for a job returns at once, counted as stopped, not once or idle.
func TestRunnerOnceStopBetweenJobs(t *testing.T) {
	e := newEnv(t, envOpts{})
	reg := prometheus.NewRegistry()
	cfg := e.config("runner-stop")
	cfg.Once, cfg.IdleExit, cfg.Metrics = true, time.Hour, reg
	ctx, cancel := context.WithCancel(context.Background())
	done := runUntilReturn(t, ctx, cfg)
	deadline := time.Now().Add(30 * time.Second)
	for {
		rs, err := e.fl.Runners(context.Background())
		if err == nil && len(rs) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("runner never registered")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	waitReturn(t, done, 15*time.Second)
	if got := exits(t, reg, ExitStopped); got != 1 {
		t.Errorf("exits{reason=stopped} = %v, want 1", got)
	}
	if got := exits(t, reg, ExitOnce) + exits(t, reg, ExitIdle); got != 0 {
		t.Errorf("exits{once,idle} = %v, want 0", got)
	}
}

// TestRunnerInstanceInLiveness: the instance a runner is told it runs on
// is in its liveness entry (the scaler's map from runner to instance).
func TestRunnerInstanceInLiveness(t *testing.T) {
	e := newEnv(t, envOpts{})
	cfg := e.config("runner-inst")
	cfg.Instance = "i-0123456789abcdef0"
	e.startRunner(cfg)
	deadline := time.Now().Add(30 * time.Second)
	for {
		rs, err := e.fl.Runners(context.Background())
		if err == nil && len(rs) == 1 {
			if rs[0].Instance != cfg.Instance {
				t.Fatalf("instance %q, want %q", rs[0].Instance, cfg.Instance)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("runner never registered")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLivenessNamesJobAtOnce: a runner's liveness entry names its job as
// soon as the job starts, not at the next periodic refresh (here ten
// minutes away): the scaler protects busy instances by it.
func TestLivenessNamesJobAtOnce(t *testing.T) {
	e := newEnv(t, envOpts{})
	slow, err := fleet.Open(context.Background(), e.q.JetStream(), fleet.Config{RunnerTTL: 30 * time.Minute}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	j := e.submit("liveness-job")
	cfg := e.config("runner-busy")
	cfg.Fleet, cfg.Once = slow, true
	done := runUntilReturn(t, context.Background(), cfg)
	for {
		rs, err := e.fl.Runners(context.Background())
		if err == nil && len(rs) == 1 && rs[0].Job == j.ID {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the job ended (Run: %v) and the liveness entry never named it", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	waitReturn(t, done, 3*time.Minute)
}
