package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// A job that runs much longer than AckWait is not redelivered while its lease
// heartbeats.
func TestLongJobIsNotRedeliveredWhileItHeartbeats(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 10 s job")
	}
	const ackWait, runFor = 2 * time.Second, 10 * time.Second
	q := newTestQueue(t, Config{AckWait: ackWait})
	ctx := testCtx(t, time.Minute)
	j := mustEnqueue(t, q, newJob("sim"))
	l := next(t, newWorker(t, q, "sim", "r1"), 30*time.Second)

	// Another runner of the pool polls for the whole run; a redelivery
	// would reach it.
	other := newWorker(t, q, "sim", "r2")
	deadline := time.Now().Add(runFor)
	for time.Now().Before(deadline) {
		if l2, err := other.TryNext(ctx, time.Until(deadline)+10*time.Millisecond); !errors.Is(err, ErrNoMessage) {
			if l2 != nil {
				l2.Abandon()
			}
			t.Fatalf("other runner got %v, %v during a heartbeating job", l2, err)
		}
	}
	select {
	case <-l.Lost():
		t.Fatal("lease lost while heartbeating")
	default:
	}
	md, err := l.msg.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	if md.NumDelivered != 1 {
		t.Errorf("delivered %d times, want 1", md.NumDelivered)
	}
	got, err := l.Complete(ctx)
	if err != nil {
		t.Fatalf("Complete after %s: %v", runFor, err)
	}
	if got.Attempt != 1 || !slices.Equal(states(got), []State{Queued, Running, Uploaded}) {
		t.Errorf("job %s: attempt %d history %v", j.ID, got.Attempt, states(got))
	}
}

// A runner whose heartbeats stop loses the job to another runner as a new
// attempt; its late transitions and its ack are refused.
func TestStaleWorkerLosesTheJob(t *testing.T) {
	q := newTestQueue(t, Config{AckWait: 2 * time.Second})
	ctx := testCtx(t, time.Minute)
	j := mustEnqueue(t, q, newJob("sim"))
	l1 := next(t, newWorker(t, q, "sim", "r1"), 30*time.Second)
	l1.hb.Stop() // the runner hangs: no more heartbeats reach the server

	l2 := next(t, newWorker(t, q, "sim", "r2"), 30*time.Second)
	if l2.Job().ID != j.ID || l2.Attempt() != 2 || l2.Job().Runner != "r2" {
		t.Fatalf("takeover: job %s attempt %d runner %s", l2.Job().ID, l2.Attempt(), l2.Job().Runner)
	}
	select {
	case <-l1.Lost():
	case <-ctx.Done():
		t.Fatal("the stale lease was not told it lost the job")
	}
	if _, err := l1.Transition(ctx, Failed, "late"); !errors.Is(err, ErrStaleAttempt) {
		t.Errorf("stale Transition: got %v, want ErrStaleAttempt", err)
	}
	if _, err := l1.Complete(ctx); !errors.Is(err, ErrStaleAttempt) {
		t.Errorf("stale Complete: got %v, want ErrStaleAttempt", err)
	}
	// The stale lease did not ack: the message is still there for attempt 2.
	if n := streamMsgs(t, q, StreamJobs); n != 1 {
		t.Fatalf("AGENTWATT_JOBS holds %d messages after the stale Complete, want 1", n)
	}
	got, err := l2.Complete(ctx)
	if err != nil {
		t.Fatalf("Complete of attempt 2: %v", err)
	}
	want := []State{Queued, Running, Queued, Running, Uploaded}
	if !slices.Equal(states(got), want) || got.Attempt != 2 {
		t.Errorf("history %v attempt %d, want %v attempt 2", states(got), got.Attempt, want)
	}
	if r := got.History[2].Reason; !strings.Contains(r, "lost its lease") {
		t.Errorf("takeover reason %q", r)
	}
	waitMsgs(t, q, StreamJobs, 0) // acks and terms are not confirmed synchronously
}

// A message that exhausts MaxDeliver is dead-lettered: the job fails with the
// reason, a copy lands in AGENTWATT_DEAD, the work queue is empty.
func TestMaxDeliverDeadLetters(t *testing.T) {
	q := newTestQueue(t, Config{AckWait: time.Second, MaxDeliver: 2})
	ctx := testCtx(t, time.Minute)
	runDaemon(t, q.DeadLetters().Run)
	j := mustEnqueue(t, q, newJob("sim"))
	for i, runner := range []string{"r1", "r2"} {
		l := next(t, newWorker(t, q, "sim", runner), 30*time.Second)
		if l.Attempt() != i+1 {
			t.Fatalf("delivery %d: attempt %d", i+1, l.Attempt())
		}
		l.Abandon() // the runner dies
	}
	// The server notices the exhausted message when the pool asks for the
	// next one: a third runner polls while we wait, and gets nothing.
	polled := make(chan error, 1)
	pollCtx, stopPolling := context.WithCancel(ctx)
	go func() {
		w := newWorker(t, q, "sim", "r3")
		for {
			l, err := w.TryNext(pollCtx, 2*time.Second)
			if l != nil {
				l.Abandon()
				polled <- fmt.Errorf("r3 got attempt %d of a dead job", l.Attempt())
				return
			}
			if pollCtx.Err() != nil {
				polled <- nil
				return
			}
			if !errors.Is(err, ErrNoMessage) {
				polled <- err
				return
			}
		}
	}()
	got := waitState(t, q, j.ID, Failed, 30*time.Second)
	stopPolling()
	if err := <-polled; err != nil {
		t.Error(err)
	}
	if !strings.Contains(got.Reason, "dead letter") || !strings.Contains(got.Reason, "2 times") {
		t.Errorf("reason %q", got.Reason)
	}
	if h := got.History[len(got.History)-1]; h.By != "dead-letter" || h.Attempt != 2 {
		t.Errorf("last transition %+v", h)
	}
	waitMsgs(t, q, StreamJobs, 0)
	waitMsgs(t, q, StreamDead, 1)
	dead, err := q.deadStream.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if dead.Subject != "agentwatt.dead.jobs.sim" || dead.Header.Get(headerJob) != j.ID || dead.Header.Get(headerDeadReason) != got.Reason {
		t.Errorf("dead copy: %s %v", dead.Subject, dead.Header)
	}
}

// waitMsgs polls until a stream holds n messages: the dead-letter watcher
// deletes and copies after it changes the record.
func waitMsgs(t *testing.T, q *Queue, stream string, n uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for streamMsgs(t, q, stream) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d messages, want %d", stream, streamMsgs(t, q, stream), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFailTerminates(t *testing.T) {
	q := newTestQueue(t, Config{})
	ctx := testCtx(t, time.Minute)
	runDaemon(t, q.DeadLetters().Run)
	j := mustEnqueue(t, q, newJob("sim"))
	l := next(t, newWorker(t, q, "sim", "r1"), 30*time.Second)
	got, err := l.Fail(ctx, "engine never became ready")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != Failed || got.Reason != "engine never became ready" {
		t.Errorf("after Fail: %s %q", got.State, got.Reason)
	}
	waitMsgs(t, q, StreamJobs, 0) // Term is fire-and-forget
	// The watcher handles the MSG_TERMINATED advisory and changes nothing.
	waitMsgs(t, q, StreamAdvisories, 0)
	after, _ := q.Get(ctx, j.ID)
	if len(after.History) != len(got.History) {
		t.Errorf("the watcher changed a failed job: %v", states(after))
	}
}

// A message terminated outside a lease (another tool calling TermWithReason)
// still fails its job, found by the message's sequence.
func TestTermWithReasonFailsTheJob(t *testing.T) {
	q := newTestQueue(t, Config{})
	runDaemon(t, q.DeadLetters().Run)
	j := mustEnqueue(t, q, newJob("sim"))
	l := next(t, newWorker(t, q, "sim", "r1"), 30*time.Second)
	l.Abandon()
	if err := l.msg.TermWithReason("disk full"); err != nil {
		t.Fatal(err)
	}
	got := waitState(t, q, j.ID, Failed, 30*time.Second)
	if got.Reason != "terminated: disk full" {
		t.Errorf("reason %q", got.Reason)
	}
	waitMsgs(t, q, StreamJobs, 0) // acks and terms are not confirmed synchronously
}

func TestCancelReachesTheWorker(t *testing.T) {
	q := newTestQueue(t, Config{})
	ctx := testCtx(t, time.Minute)
	j := mustEnqueue(t, q, newJob("sim"))
	l := next(t, newWorker(t, q, "sim", "r1"), 30*time.Second)
	if got, err := q.Cancel(ctx, j.ID, "vendor"); err != nil || got.State != Canceling {
		t.Fatalf("Cancel: %v, %v", got, err)
	}
	select {
	case <-l.Canceled():
	case <-ctx.Done():
		t.Fatal("the lease did not see the cancel")
	}
	got, err := l.AckCanceled(ctx)
	if err != nil || got.State != Canceled {
		t.Fatalf("AckCanceled: %v, %v", got, err)
	}
	if !slices.Equal(states(got), []State{Queued, Running, Canceling, Canceled}) {
		t.Errorf("history %v", states(got))
	}
	waitMsgs(t, q, StreamJobs, 0) // acks and terms are not confirmed synchronously
	select {
	case <-l.Lost():
		t.Error("a lease that acknowledged its own cancel reports lost")
	default:
	}
}

// A runner that finishes (or fails) after a cancel request ends the job as
// canceled and is told so.
func TestEndWhileCanceling(t *testing.T) {
	q := newTestQueue(t, Config{})
	ctx := testCtx(t, time.Minute)
	for _, end := range []string{"complete", "fail", "release"} {
		t.Run(end, func(t *testing.T) {
			j := mustEnqueue(t, q, newJob("sim"))
			l := next(t, newWorker(t, q, "sim", "r1"), 30*time.Second)
			if _, err := q.Cancel(ctx, j.ID, "vendor"); err != nil {
				t.Fatal(err)
			}
			var err error
			switch end {
			case "complete":
				_, err = l.Complete(ctx)
			case "fail":
				_, err = l.Fail(ctx, "boom")
			case "release":
				_, err = l.Release(ctx, "shutdown")
			}
			if !errors.Is(err, ErrJobCanceled) {
				t.Errorf("got %v, want ErrJobCanceled", err)
			}
			if got, _ := q.Get(ctx, j.ID); got.State != Canceled {
				t.Errorf("state %s, want canceled", got.State)
			}
		})
	}
	waitMsgs(t, q, StreamJobs, 0) // acks and terms are not confirmed synchronously
}

func TestReleaseGoesToTheNextRunner(t *testing.T) {
	q := newTestQueue(t, Config{})
	ctx := testCtx(t, time.Minute)
	j := mustEnqueue(t, q, newJob("sim"))
	l1 := next(t, newWorker(t, q, "sim", "r1"), 30*time.Second)
	got, err := l1.Release(ctx, "runner shutting down")
	if err != nil || got.State != Queued || got.Runner != "" {
		t.Fatalf("Release: %+v, %v", got, err)
	}
	l2 := next(t, newWorker(t, q, "sim", "r2"), 30*time.Second)
	if l2.Job().ID != j.ID || l2.Attempt() != 2 {
		t.Errorf("after release: job %s attempt %d", l2.Job().ID, l2.Attempt())
	}
	if _, err := l1.Fail(ctx, "late"); !errors.Is(err, ErrLeaseFinished) {
		t.Errorf("Fail on a released lease: got %v, want ErrLeaseFinished", err)
	}
}

// Pools do not see each other's jobs.
func TestPoolsAreSeparate(t *testing.T) {
	q := newTestQueue(t, Config{})
	ctx := testCtx(t, time.Minute)
	mustEnqueue(t, q, newJob("h200x8"))
	if _, err := newWorker(t, q, "b300x8", "r1").TryNext(ctx, 300*time.Millisecond); !errors.Is(err, ErrNoMessage) {
		t.Errorf("b300x8 worker: got %v, want ErrNoMessage", err)
	}
	if l := next(t, newWorker(t, q, "h200x8", "r2"), 30*time.Second); l.Job().Pool != "h200x8" {
		t.Errorf("h200x8 worker got pool %s", l.Job().Pool)
	}
}

// A worker's config is checked when it is made, naming the field: a bad
// pool once looped in Next, logging "retrying" forever.
func TestWorkerConfigValidate(t *testing.T) {
	q := newTestQueue(t, Config{})
	for _, tt := range []struct {
		name  string
		cfg   WorkerConfig
		field string
	}{
		{"no pool", WorkerConfig{Runner: "r1"}, "Pool"},
		{"bad pool", WorkerConfig{Pool: "H200 x8", Runner: "r1"}, "Pool"},
		{"no runner", WorkerConfig{Pool: "sim"}, "Runner"},
		{"negative poll wait", WorkerConfig{Pool: "sim", Runner: "r1", PollWait: -time.Second}, "PollWait"},
	} {
		w, err := q.NewWorker(tt.cfg)
		if w != nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%s: NewWorker = %v, %v; want ErrInvalid naming %s", tt.name, w, err, tt.field)
		}
	}
	w, err := q.NewWorker(WorkerConfig{Pool: "sim", Runner: "r1"})
	if err != nil || w.cfg.PollWait != 5*time.Second {
		t.Errorf("defaults: %+v, %v; want PollWait 5s", w, err)
	}
}
