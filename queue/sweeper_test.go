package queue

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// sweepCfg is a queue whose leases expire in seconds.
var sweepCfg = Config{AckWait: 2 * time.Second, HeartbeatEvery: 500 * time.Millisecond, SweepEvery: 200 * time.Millisecond}

func startSweeper(t *testing.T, q *Queue) {
	t.Helper()
	runDaemon(t, q.Sweeper().Run)
}

// runDaemon runs a daemon's Run until the test ends, and fails the test if
// Run returns an error.
func runDaemon(t *testing.T, run func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	})
}

// sweeps counts the history entries the sweeper wrote.
func sweeps(j *Job) int {
	n := 0
	for _, h := range j.History {
		if h.By == sweeperActor {
			n++
		}
	}
	return n
}

// The attack: a runner takes a job and dies (no heartbeat, no ack) while no
// other runner of the pool polls. Without a sweeper the job stays running
// for ever; with one it is queued again once the lease expires, and the
// next runner takes it as attempt 2 while the dead runner's lease is fenced.
func TestSweeperReleasesLostLease(t *testing.T) {
	q := newTestQueue(t, sweepCfg)
	j := mustEnqueue(t, q, newJob("sim"))
	dead := next(t, newWorker(t, q, "sim", "r-dead"), 30*time.Second)
	startSweeper(t, q)
	dead.Abandon() // the runner dies: heartbeats stop, nothing is acknowledged

	got := waitState(t, q, j.ID, Queued, time.Minute)
	if got.Attempt != 1 || got.Runner != "" || sweeps(got) != 1 || !strings.Contains(got.Reason, "runner r-dead lost its lease") {
		t.Fatalf("swept job: attempt %d runner %q sweeps %d reason %q", got.Attempt, got.Runner, sweeps(got), got.Reason)
	}

	ctx := testCtx(t, time.Minute)
	if _, err := dead.Complete(ctx); !errors.Is(err, ErrStaleAttempt) {
		t.Fatalf("dead runner's Complete after the sweep: got %v, want ErrStaleAttempt", err)
	}
	l := next(t, newWorker(t, q, "sim", "r-next"), time.Minute)
	if l.Attempt() != 2 {
		t.Fatalf("next runner's attempt: got %d, want 2", l.Attempt())
	}
	if _, err := l.Complete(ctx); err != nil {
		t.Fatalf("next runner's Complete: %v", err)
	}
	final, err := q.Get(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []State{Queued, Running, Queued, Running, Uploaded}
	if s := states(final); !slices.Equal(s, want) {
		t.Errorf("history: got %v, want %v", s, want)
	}
}

// A lost lease whose message has no delivery left is a dead letter: the job
// fails and the message moves to AGENTWATT_DEAD, with nobody polling.
func TestSweeperDeadLettersExhaustedJob(t *testing.T) {
	cfg := sweepCfg
	cfg.MaxDeliver = 1
	q := newTestQueue(t, cfg)
	j := mustEnqueue(t, q, newJob("sim"))
	next(t, newWorker(t, q, "sim", "r-dead"), 30*time.Second).Abandon()
	startSweeper(t, q)

	got := waitState(t, q, j.ID, Failed, time.Minute)
	if !strings.Contains(got.Reason, "dead letter") || sweeps(got) != 1 {
		t.Errorf("reason %q, %d sweeps", got.Reason, sweeps(got))
	}
	// The message moves right after the record changes.
	deadline := time.Now().Add(time.Minute)
	for streamMsgs(t, q, StreamJobs) != 0 || streamMsgs(t, q, StreamDead) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("AGENTWATT_JOBS holds %d messages, AGENTWATT_DEAD %d; want 0 and 1", streamMsgs(t, q, StreamJobs), streamMsgs(t, q, StreamDead))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A cancel whose runner is gone ends canceled.
func TestSweeperCancelsCancelingJobOfLostRunner(t *testing.T) {
	q := newTestQueue(t, sweepCfg)
	j := mustEnqueue(t, q, newJob("sim"))
	l := next(t, newWorker(t, q, "sim", "r-dead"), 30*time.Second)
	l.Abandon()
	if _, err := q.Cancel(testCtx(t, 30*time.Second), j.ID, "acme"); err != nil {
		t.Fatal(err)
	}
	startSweeper(t, q)
	got := waitState(t, q, j.ID, Canceled, time.Minute)
	if sweeps(got) != 1 {
		t.Errorf("%d sweeps, want 1: %v", sweeps(got), states(got))
	}
}

// A runner that keeps heartbeating keeps its job, however long it runs. Ten
// heartbeats per AckWait, so that a busy machine cannot miss all of them.
func TestSweeperLeavesLiveLeaseAlone(t *testing.T) {
	q := newTestQueue(t, Config{AckWait: 4 * time.Second, HeartbeatEvery: 400 * time.Millisecond, SweepEvery: 200 * time.Millisecond})
	j := mustEnqueue(t, q, newJob("sim"))
	l := next(t, newWorker(t, q, "sim", "r-live"), 30*time.Second)
	startSweeper(t, q)
	time.Sleep(2 * q.Config().AckWait)
	got, err := q.Get(testCtx(t, 30*time.Second), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != Running || sweeps(got) != 0 {
		t.Fatalf("live lease after 2×AckWait: state %s, history %v", got.State, states(got))
	}
	if _, err := l.Complete(testCtx(t, 30*time.Second)); err != nil {
		t.Fatalf("Complete: %v", err)
	}
}

// Two sweepers (two servers) that look at the same lost lease at the same
// time release it once: every change is a compare-and-set.
func TestTwoSweepersReleaseOnce(t *testing.T) {
	e := startEmbedded(t)
	q1, q2 := openQueue(t, e, sweepCfg), openQueue(t, e, sweepCfg)
	j := mustEnqueue(t, q1, newJob("sim"))
	next(t, newWorker(t, q1, "sim", "r-dead"), 30*time.Second).Abandon()
	ctx := testCtx(t, time.Minute)
	for { // until the lease key has expired
		if _, err := q1.leases.Get(ctx, leaseKeyName(j.ID, 1)); errors.Is(err, jetstream.ErrKeyNotFound) {
			break
		} else if ctx.Err() != nil {
			t.Fatalf("lease key still there after a minute: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	var mu sync.Mutex
	moved := 0
	var wg sync.WaitGroup
	for _, q := range []*Queue{q1, q2, q1, q2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				n, err := q.sweep(ctx, testLog())
				if err != nil {
					t.Errorf("sweep: %v", err)
				}
				mu.Lock()
				moved += n
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	got, err := q1.Get(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if moved != 1 || got.State != Queued || sweeps(got) != 1 {
		t.Fatalf("moved %d, state %s, history %v", moved, got.State, states(got))
	}
}

// On a 3-node cluster, the runner's server and the sweepers' servers are
// different: the runner dies, no runner polls, and two sweepers on the two
// other servers give the job back once.
func TestClusterSweeperReleasesLostLease(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	servers, _ := startCluster(t)
	cfg := sweepCfg
	cfg.Replicas = 3
	var qs []*Queue
	for _, s := range servers {
		nc, err := Connect(s.ClientURL(), "", testLog())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		q, err := Open(testCtx(t, 2*time.Minute), nc, cfg, testLog())
		if err != nil {
			t.Fatal(err)
		}
		qs = append(qs, q)
	}
	j := mustEnqueue(t, qs[0], newJob("sim"))
	next(t, newWorker(t, qs[0], "sim", "r-dead"), time.Minute).Abandon()
	startSweeper(t, qs[1])
	startSweeper(t, qs[2])

	got := waitState(t, qs[1], j.ID, Queued, 2*time.Minute)
	time.Sleep(2 * cfg.SweepEvery) // give the other sweeper a round to misbehave in
	if got, err := qs[2].Get(testCtx(t, time.Minute), j.ID); err != nil || got.State != Queued || sweeps(got) != 1 {
		t.Fatalf("after two sweepers: %v, err %v", got, err)
	}
	if got.Attempt != 1 || !strings.Contains(got.Reason, "lost its lease") {
		t.Errorf("swept: attempt %d reason %q", got.Attempt, got.Reason)
	}
}
