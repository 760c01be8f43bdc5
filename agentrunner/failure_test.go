package agentrunner

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/workload"
)

// TestJobEnds: the ways a job ends early, each in its state with the
// engine log uploaded in an incomplete bundle and no engine left running.
func TestJobEnds(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, stop := e.startRunner(e.config("runner-f"))
	defer stop()
	tests := []struct {
		name   string
		mod    func(*spec.Submission)
		args   []string
		during func(j *queue.Job) // what happens while it runs
		state  queue.State
		reason string // in the job's reason
		files  []string
		pool   string // the job record's pool, when not its spec's
	}{
		{
			name: "engine never healthy",
			mod:  func(s *spec.Submission) { s.Engine.ReadyTimeout = spec.D(2 * time.Second) },
			args: []string{"--fault-slow-start", "10m"}, state: queue.Failed, reason: "engine_launch",
			files: []string{bundle.EngineLogFile, bundle.EnvironmentFile},
		},
		{
			name: "accuracy phase errors",
			args: []string{"--fault-server-error-rate", "1"}, state: queue.Failed, reason: "accuracy",
			files: []string{bundle.EngineLogFile, bundle.AccuracyFile, bundle.PowerFile},
		},
		{
			name: "engine crash mid-probe",
			args: []string{"--fault-crash-after", "40"}, state: queue.Failed, reason: "engine crashed",
			files: []string{bundle.EngineLogFile, bundle.AccuracyFile, bundle.PowerFile, bundle.RequestsFile},
		},
		{
			name: "canceled mid-probe",
			during: func(j *queue.Job) {
				e.waitEvent(j.ID, time.Minute, inSearch)
				if _, err := e.q.Cancel(context.Background(), j.ID, "tester"); err != nil {
					t.Fatal(err)
				}
			},
			state: queue.Canceled,
			files: []string{bundle.EngineLogFile, bundle.AccuracyFile, bundle.PowerFile, bundle.RequestsFile, bundle.ProbesFile},
		},
		{
			name:  "sim accelerators differ from the engine's profile",
			mod:   func(s *spec.Submission) { s.System.Accelerators = 1 },
			state: queue.Failed, reason: "simulates 8 GPUs",
			files: []string{bundle.EngineLogFile, bundle.EnvironmentFile},
		},
		{
			name: "workload too long for the engine's context",
			mod: func(s *spec.Submission) {
				s.System.Accelerators = 1
				s.Engine.SimProfile = "tiny"
				s.Benchmark.Workload = workload.DefaultName + "@" + string(workload.DefaultDigest())
			},
			state: queue.Failed, reason: "max_model_len",
			files: []string{bundle.EngineLogFile, bundle.PowerFile},
		},
		{
			// A preflight refusal. (A multi-node sim job no longer reaches a
			// single-host sim runner: its pool is simx<N>, spec.Submission.Pool.)
			name:  "unknown sim profile refused",
			mod:   func(s *spec.Submission) { s.Engine.SimProfile = "no-such-profile" },
			state: queue.Failed, reason: "unknown sim profile",
			files: []string{bundle.EnvironmentFile},
		},
		{
			// A sim multi-node job's pool is simx<N>, which a single sim
			// runner never takes; a record put in pool sim all the same (by
			// whoever can write the queue) is refused.
			name:  "multi-node refused",
			mod:   func(s *spec.Submission) { s.System.Topology = spec.TopologyMultiNode },
			pool:  spec.Sim,
			state: queue.Failed, reason: "this runner is one node; multi-node and rack-scale jobs run on a runner group",
			files: []string{bundle.EnvironmentFile},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.pool = tt.pool
			j := e.submitWith("test:end:"+string(rune('a'+i)), tt.mod, tt.args...)
			e.pool = ""
			if tt.during != nil {
				tt.during(j)
			}
			got := e.waitState(j.ID, 90*time.Second, queue.Failed, queue.Canceled, queue.Uploaded)
			if got.State != tt.state || !strings.Contains(got.Reason, tt.reason) {
				t.Fatalf("job ended %s (%q), want %s with %q", got.State, got.Reason, tt.state, tt.reason)
			}
			noOrphans(t)
			m, _ := e.verifyStored(j.ID, got.Attempt)
			if !m.Incomplete || m.IncompleteReason == "" {
				t.Errorf("manifest: incomplete %v %q, want an incomplete bundle with its reason", m.Incomplete, m.IncompleteReason)
			}
			for _, f := range tt.files {
				if _, ok := m.File(f); !ok {
					t.Errorf("bundle lacks %s (has %v)", f, m.Files)
				}
			}
		})
	}
}

// TestJobWithoutWorkDir: a job whose work directory cannot be made (the
// disk's jobs/ is not a directory) fails with the reason, and the runner
// goes on; there is no bundle to seal.
func TestJobWithoutWorkDir(t *testing.T) {
	e := newEnv(t, envOpts{})
	cfg := e.config("runner-nowork")
	r, stop := e.startRunner(cfg)
	defer stop()
	// Run made jobs/ before it took any job; make it a file.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(r.jobsDir()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the runner never made its jobs directory")
		}
	}
	if err := os.RemoveAll(r.jobsDir()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.jobsDir(), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	j := e.submit("test:nowork")
	got := e.waitState(j.ID, 90*time.Second, queue.Failed, queue.Uploaded)
	if got.State != queue.Failed || !strings.Contains(got.Reason, "not a directory") {
		t.Fatalf("job ended %s (%q), want failed naming the work directory", got.State, got.Reason)
	}
	noOrphans(t)
}
