package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestOpenIsIdempotent(t *testing.T) {
	e := startEmbedded(t)
	q1 := openQueue(t, e, Config{Replicas: 1})
	j := mustEnqueue(t, q1, newJob("sim"))
	// A second process opening with explicit replicas, and a CLI binding with
	// Replicas 0, both see the same queue.
	q2 := openQueue(t, e, Config{Replicas: 1})
	q3 := openQueue(t, e, Config{})
	for i, q := range []*Queue{q2, q3} {
		got, err := q.Get(testCtx(t, 30*time.Second), j.ID)
		if err != nil || got.State != Queued {
			t.Errorf("queue %d: Get = %v, %v; want queued", i+2, got, err)
		}
	}
	for _, name := range []string{StreamJobs, StreamVerify, StreamEvents, StreamDead, StreamAdvisories} {
		if _, err := q3.js.Stream(testCtx(t, 30*time.Second), name); err != nil {
			t.Errorf("stream %s: %v", name, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string // named by the error; "" for a valid config
	}{
		{"defaults", Config{}, ""},
		{"r3", Config{Replicas: 3}, ""},
		{"r2", Config{Replicas: 2}, "Replicas"},
		{"heartbeat slower than ack wait", Config{AckWait: time.Second, HeartbeatEvery: 2 * time.Second}, "HeartbeatEvery"},
		{"heartbeat slower than the default ack wait", Config{HeartbeatEvery: 6 * time.Minute}, "HeartbeatEvery"},
		{"max deliver negative", Config{MaxDeliver: -1}, "MaxDeliver"},
		{"ack wait negative", Config{AckWait: -time.Second}, "AckWait"},
		{"request timeout negative", Config{RequestTimeout: -time.Second}, "RequestTimeout"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: Validate() = %v, want nil", tt.name, err)
		case tt.field != "" && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.field)):
			t.Errorf("%s: Validate() = %v, want ErrInvalid naming %s", tt.name, err, tt.field)
		}
	}
	if got := (Config{AckWait: 3 * time.Second}).withDefaults().HeartbeatEvery; got != time.Second {
		t.Errorf("default HeartbeatEvery for AckWait 3s = %s, want 1s", got)
	}
}

func TestEnqueueIsIdempotent(t *testing.T) {
	q := newTestQueue(t, Config{})
	ctx := testCtx(t, time.Minute)
	nj := newJob("h200x8")
	j1, created, err := q.Enqueue(ctx, nj)
	if err != nil || !created {
		t.Fatalf("first Enqueue: created=%v err=%v", created, err)
	}
	if j1.ID != JobID(nj.SpecDigest, nj.Trigger) || j1.State != Queued || j1.Seq == 0 {
		t.Fatalf("first Enqueue: got id %s state %s seq %d", j1.ID, j1.State, j1.Seq)
	}
	j2, created, err := q.Enqueue(ctx, nj)
	if err != nil || created {
		t.Fatalf("second Enqueue: created=%v err=%v, want created=false", created, err)
	}
	if j2.ID != j1.ID || j2.Seq != j1.Seq {
		t.Errorf("second Enqueue: got %s seq %d, want %s seq %d", j2.ID, j2.Seq, j1.ID, j1.Seq)
	}
	if got := streamMsgs(t, q, StreamJobs); got != 1 {
		t.Errorf("AGENTWATT_JOBS holds %d messages, want 1", got)
	}
	// A new trigger is a new job.
	nj.Trigger = "retest:vllm-0.9.2"
	j3, created, err := q.Enqueue(ctx, nj)
	if err != nil || !created || j3.ID == j1.ID {
		t.Errorf("new trigger: id %s created=%v err=%v, want a new job", j3.ID, created, err)
	}
	// The record keeps what intake gave it.
	got, err := q.Get(ctx, j1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Pool != "h200x8" || got.Vendor != "acme" || got.WorkloadDigest != nj.WorkloadDigest || !json.Valid(got.Spec) || got.SubmittedBy != "acme" {
		t.Errorf("record: %+v", got)
	}
	if _, err := q.Get(ctx, JobID("sha256:none", "x")); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("Get unknown: got %v, want ErrJobNotFound", err)
	}
}

func TestEnqueueRejectsBadInput(t *testing.T) {
	q := newTestQueue(t, Config{})
	tests := []struct {
		name string
		edit func(*NewJob)
	}{
		{"vendor", func(n *NewJob) { n.Vendor = "Acme Corp" }},
		{"name", func(n *NewJob) { n.Name = "" }},
		{"pool with a dot", func(n *NewJob) { n.Pool = "h200.x8" }},
		{"pool wildcard", func(n *NewJob) { n.Pool = "*" }},
		{"digest", func(n *NewJob) { n.SpecDigest = "" }},
		{"trigger", func(n *NewJob) { n.Trigger = "" }},
		{"spec", func(n *NewJob) { n.Spec = json.RawMessage("{") }},
		{"retest of", func(n *NewJob) { n.RetestOf = "../published" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nj := newJob("sim")
			tt.edit(&nj)
			if _, _, err := q.Enqueue(testCtx(t, 30*time.Second), nj); !errors.Is(err, ErrInvalid) {
				t.Errorf("got %v, want ErrInvalid", err)
			}
		})
	}
}

// TestEnqueueKeepsRetestOf: a retest's link to the published job it derives
// from is in the record, as written.
func TestEnqueueKeepsRetestOf(t *testing.T) {
	q := newTestQueue(t, Config{})
	ctx := testCtx(t, 30*time.Second)
	nj := newJob("sim")
	nj.RetestOf = JobID("sha256:"+fmt.Sprintf("%064x", 7), "submit:test")
	j, _, err := q.Enqueue(ctx, nj)
	if err != nil {
		t.Fatal(err)
	}
	got, err := q.Get(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.RetestOf != nj.RetestOf {
		t.Errorf("retest_of = %q, want %q", got.RetestOf, nj.RetestOf)
	}
}

func TestEnqueueFinishesAnInterruptedDispatch(t *testing.T) {
	q := newTestQueue(t, Config{})
	ctx := testCtx(t, time.Minute)
	nj := newJob("sim")
	// A crash after the record was written and before the message was
	// published leaves a queued record with no sequence.
	id := JobID(nj.SpecDigest, nj.Trigger)
	rec, _ := json.Marshal(&Job{ID: id, State: Queued, Pool: nj.Pool, Vendor: nj.Vendor, Name: nj.Name,
		SpecDigest: nj.SpecDigest, Trigger: nj.Trigger, History: []Transition{{To: Queued, At: time.Now()}}})
	if _, err := q.jobs.Create(ctx, id, rec); err != nil {
		t.Fatal(err)
	}
	j, created, err := q.Enqueue(ctx, nj)
	if err != nil || created || j.Seq == 0 {
		t.Fatalf("Enqueue: created=%v seq=%d err=%v, want the dispatch finished", created, j.Seq, err)
	}
	l := next(t, newWorker(t, q, "sim", "r1"), 30*time.Second)
	if l.Job().ID != id || l.Attempt() != 1 {
		t.Errorf("lease: job %s attempt %d", l.Job().ID, l.Attempt())
	}
}

func TestHeldJobWaitsForRelease(t *testing.T) {
	q := newTestQueue(t, Config{})
	ctx := testCtx(t, time.Minute)
	nj := newJob("sim")
	nj.Held = true
	j := mustEnqueue(t, q, nj)
	if j.State != Held || streamMsgs(t, q, StreamJobs) != 0 {
		t.Fatalf("held job: state %s, %d messages", j.State, streamMsgs(t, q, StreamJobs))
	}
	w := newWorker(t, q, "sim", "r1")
	if _, err := w.TryNext(ctx, 300*time.Millisecond); !errors.Is(err, ErrNoMessage) {
		t.Fatalf("TryNext with only a held job: got %v, want ErrNoMessage", err)
	}
	if _, err := q.Release(ctx, j.ID, "maint"); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if _, err := q.Release(ctx, j.ID, "maint"); !errors.Is(err, ErrBadTransition) {
		t.Errorf("second Release: got %v, want ErrBadTransition", err)
	}
	l := next(t, w, 30*time.Second)
	if got := states(l.Job()); !slices.Equal(got, []State{Held, Queued, Running}) {
		t.Errorf("history: %v", got)
	}
}

func TestLifecycleEventsAndVerify(t *testing.T) {
	q := newTestQueue(t, Config{})
	ctx := testCtx(t, time.Minute)
	j := mustEnqueue(t, q, newJob("sim"))
	l := next(t, newWorker(t, q, "sim", "runner-1"), 30*time.Second)
	if l.Job().ID != j.ID || l.Attempt() != 1 || l.Job().State != Running || l.Job().Runner != "runner-1" {
		t.Fatalf("lease: %+v", l.Job())
	}
	if err := l.Event(ctx, Event{Kind: EventProgress, Message: "capacity search: 64 agents"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Complete(ctx); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if _, err := l.Complete(ctx); !errors.Is(err, ErrLeaseFinished) {
		t.Errorf("second Complete: got %v, want ErrLeaseFinished", err)
	}
	waitMsgs(t, q, StreamJobs, 0) // Complete's ack is not confirmed synchronously

	v, err := q.NextVerify(ctx, 10*time.Second)
	if err != nil {
		t.Fatalf("NextVerify: %v", err)
	}
	req := v.Request()
	if req.Job != j.ID || req.Attempt != 1 || req.Bundle != "runs/"+j.ID+"/1/" {
		t.Errorf("verify request: %+v", req)
	}
	for _, to := range []State{Verifying, Verified} {
		if _, err := q.Transition(ctx, j.ID, req.Attempt, to, "verifier"); err != nil {
			t.Fatalf("Transition %s: %v", to, err)
		}
	}
	if err := v.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := q.TransitionBy(ctx, j.ID, 1, Published, "maintainer", "approved"); err != nil {
		t.Fatal(err)
	}
	// Forbidden and stale transitions through the queue.
	if _, err := q.Transition(ctx, j.ID, 1, Verifying, ""); !errors.Is(err, ErrBadTransition) {
		t.Errorf("published → verifying: got %v, want ErrBadTransition", err)
	}
	if _, err := q.Transition(ctx, j.ID, 0, Failed, ""); !errors.Is(err, ErrStaleAttempt) {
		t.Errorf("attempt 0: got %v, want ErrStaleAttempt", err)
	}

	var got []string
	err = q.FollowEvents(ctx, j.ID, func(ev Event) error {
		if ev.Job != j.ID || ev.Seq == 0 {
			t.Errorf("event %+v", ev)
		}
		got = append(got, string(ev.Kind)+":"+string(ev.State))
		if ev.Kind == EventState && ev.State.Terminal() && ev.State == Published {
			return ErrStop
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"state:queued", "state:running", "progress:", "state:uploaded", "state:verifying", "state:verified", "state:published"}
	if !slices.Equal(got, want) {
		t.Errorf("events:\n got %v\nwant %v", got, want)
	}
}

func TestListFilters(t *testing.T) {
	q := newTestQueue(t, Config{})
	ctx := testCtx(t, time.Minute)
	a := mustEnqueue(t, q, newJob("sim"))
	nb := newJob("h200x8")
	nb.Vendor = "globex"
	b := mustEnqueue(t, q, nb)
	nc := newJob("sim")
	nc.Held = true
	c := mustEnqueue(t, q, nc)
	tests := []struct {
		name string
		f    Filter
		want []string
	}{
		{"all, oldest first", Filter{}, []string{a.ID, b.ID, c.ID}},
		{"vendor", Filter{Vendor: "globex"}, []string{b.ID}},
		{"state", Filter{State: Held}, []string{c.ID}},
		{"pool and state", Filter{Pool: "sim", State: Queued}, []string{a.ID}},
		{"nothing", Filter{Vendor: "initech"}, nil},
	}
	for _, tt := range tests {
		jobs, err := q.List(ctx, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, j := range jobs {
			got = append(got, j.ID)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRetry(t *testing.T) {
	q := newTestQueue(t, Config{})
	ctx := testCtx(t, time.Minute)
	nj := newJob("sim")
	nj.PullRequest = &PullRequest{Repo: "acme/subs", Number: 7, HeadSHA: strings.Repeat("ab", 20), Path: "submissions/acme/a.yaml", Author: "ann"}
	j := mustEnqueue(t, q, nj)
	if _, err := q.Retry(ctx, j.ID, "maint"); !errors.Is(err, ErrBadTransition) {
		t.Errorf("Retry of a queued job: got %v, want ErrBadTransition", err)
	}
	l := next(t, newWorker(t, q, "sim", "r1"), 30*time.Second)
	if _, err := l.Fail(ctx, "engine exited with status 137"); err != nil {
		t.Fatal(err)
	}
	r, err := q.Retry(ctx, j.ID, "maint")
	if err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if r.ID == j.ID || r.State != Queued || r.RetryOf != j.ID || r.Trigger != "retry:"+j.ID || r.SpecDigest != j.SpecDigest || r.SubmittedBy != "maint" {
		t.Errorf("retry job: %+v", r)
	}
	if r.PullRequest == nil || *r.PullRequest != *nj.PullRequest {
		t.Errorf("retry job's pull request: %+v, want %+v", r.PullRequest, nj.PullRequest)
	}
	old, _ := q.Get(ctx, j.ID)
	if old.RetriedAs != r.ID || old.State != Failed {
		t.Errorf("old job: state %s retried_as %q", old.State, old.RetriedAs)
	}
	again, err := q.Retry(ctx, j.ID, "maint")
	if err != nil || again.ID != r.ID {
		t.Errorf("second Retry: %v, %v; want the same new job", again, err)
	}
	waitMsgs(t, q, StreamJobs, 1) // the retry's; Fail's Term is not confirmed synchronously
}

// A pull request's head is a full commit SHA: the bot reports on it and a
// new push is told apart by it, so a short or odd one is refused.
func TestEnqueueRefusesBadPullRequest(t *testing.T) {
	q := newTestQueue(t, Config{})
	ctx := testCtx(t, time.Minute)
	for _, pr := range []PullRequest{
		{Repo: "acme/subs", Number: 1, HeadSHA: "abc123"},
		{Repo: "acme", Number: 1, HeadSHA: strings.Repeat("a", 40)},
		{Repo: "acme/subs", Number: 0, HeadSHA: strings.Repeat("a", 40)},
	} {
		nj := newJob("sim")
		nj.PullRequest = &pr
		if _, _, err := q.Enqueue(ctx, nj); !errors.Is(err, ErrInvalid) {
			t.Errorf("Enqueue with %+v: got %v, want ErrInvalid", pr, err)
		}
	}
}

func TestCancelQueuedJob(t *testing.T) {
	q := newTestQueue(t, Config{})
	ctx := testCtx(t, time.Minute)
	j := mustEnqueue(t, q, newJob("sim"))
	got, err := q.Cancel(ctx, j.ID, "vendor")
	if err != nil || got.State != Canceled {
		t.Fatalf("Cancel: %v, %v", got, err)
	}
	if !slices.Equal(states(got), []State{Queued, Canceling, Canceled}) {
		t.Errorf("history: %v", states(got))
	}
	if n := streamMsgs(t, q, StreamJobs); n != 0 {
		t.Errorf("AGENTWATT_JOBS holds %d messages, want 0", n)
	}
	if _, err := q.Cancel(ctx, j.ID, "vendor"); err != nil {
		t.Errorf("second Cancel: %v, want no-op", err)
	}
	held := newJob("sim")
	held.Held = true
	h := mustEnqueue(t, q, held)
	if got, err := q.Cancel(ctx, h.ID, "maint"); err != nil || got.State != Canceled {
		t.Errorf("Cancel held: %v, %v", got, err)
	}
}

// A job that became canceling while its message stayed in the stream (the
// delete did not happen) is finished by the worker that receives it.
func TestWorkerFinishesACancel(t *testing.T) {
	q := newTestQueue(t, Config{})
	ctx := testCtx(t, time.Minute)
	j := mustEnqueue(t, q, newJob("sim"))
	if _, err := q.update(ctx, j.ID, func(j *Job) error { return j.apply(Canceling, "test", "", time.Now()) }); err != nil {
		t.Fatal(err)
	}
	if _, err := newWorker(t, q, "sim", "r1").TryNext(ctx, 10*time.Second); !errors.Is(err, ErrNoMessage) {
		t.Fatalf("TryNext: got %v, want ErrNoMessage", err)
	}
	got, _ := q.Get(ctx, j.ID)
	if got.State != Canceled || streamMsgs(t, q, StreamJobs) != 0 {
		t.Errorf("state %s, %d messages; want canceled and none", got.State, streamMsgs(t, q, StreamJobs))
	}
}

// A second message for the same job (published outside the dedup window, or
// by hand) is dropped: the record names the message that carries the job.
func TestStaleDuplicateMessageIsDropped(t *testing.T) {
	q := newTestQueue(t, Config{})
	ctx := testCtx(t, time.Minute)
	j := mustEnqueue(t, q, newJob("sim"))
	w := newWorker(t, q, "sim", "r1")
	l := next(t, w, 30*time.Second)
	if _, err := q.js.Publish(ctx, SubjectJobsPrefix+"sim", []byte(`{"job":"`+j.ID+`"}`), jetstream.WithMsgID("dup")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.TryNext(ctx, 10*time.Second); !errors.Is(err, ErrNoMessage) {
		t.Fatalf("TryNext on the duplicate: got %v, want ErrNoMessage", err)
	}
	got, _ := q.Get(ctx, j.ID)
	if got.Attempt != 1 || got.State != Running {
		t.Errorf("duplicate changed the job: attempt %d state %s", got.Attempt, got.State)
	}
	if _, err := l.Complete(ctx); err != nil {
		t.Fatal(err)
	}
}
