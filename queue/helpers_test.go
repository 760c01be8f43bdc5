package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testLog is silent unless AGENTWATT_TEST_LOG names a level (debug, info…):
// goroutines of the server may log after a test has returned.
func testLog() zerolog.Logger {
	lvl, err := zerolog.ParseLevel(os.Getenv("AGENTWATT_TEST_LOG"))
	if err != nil || os.Getenv("AGENTWATT_TEST_LOG") == "" {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05.000"}).Level(lvl).With().Timestamp().Logger()
}

// testCtx is a context that ends with the test, with a generous deadline:
// the box running tests is small and shared.
func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// startEmbedded starts an in-process server (no listener) in a temp dir.
func startEmbedded(t testing.TB) *Embedded {
	t.Helper()
	e, err := StartEmbedded(EmbeddedConfig{Dir: t.TempDir()}, testLog())
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

// openQueue connects to e and opens a queue with cfg.
func openQueue(t testing.TB, e *Embedded, cfg Config) *Queue {
	t.Helper()
	nc, err := e.Connect()
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	q, err := Open(testCtx(t, time.Minute), nc, cfg, testLog())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return q
}

// newTestQueue is a fresh server and a queue on it.
func newTestQueue(t testing.TB, cfg Config) *Queue {
	t.Helper()
	return openQueue(t, startEmbedded(t), cfg)
}

var jobSerial atomic.Int64

// newJob is a valid NewJob for pool, unique per call.
func newJob(pool string) NewJob {
	n := jobSerial.Add(1)
	spec, _ := json.Marshal(map[string]any{"metadata": map[string]any{"vendor": "acme", "name": fmt.Sprintf("cfg-%d", n)}})
	return NewJob{
		Vendor: "acme", Name: fmt.Sprintf("cfg-%d", n), Pool: pool,
		Spec: spec, SpecDigest: fmt.Sprintf("sha256:%064x", n), Trigger: "submit:test",
		Workload: "swe-agent-v1", WorkloadDigest: "sha256:" + fmt.Sprintf("%064x", 1000+n), Profile: "test",
	}
}

func mustEnqueue(t testing.TB, q *Queue, nj NewJob) *Job {
	t.Helper()
	j, created, err := q.Enqueue(testCtx(t, 30*time.Second), nj)
	if err != nil || !created {
		t.Fatalf("Enqueue: created=%v err=%v", created, err)
	}
	return j
}

// streamMsgs is the number of messages in a stream now.
func streamMsgs(t testing.TB, q *Queue, stream string) uint64 {
	t.Helper()
	s, err := q.js.Stream(testCtx(t, 30*time.Second), stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(testCtx(t, 30*time.Second))
	if err != nil {
		t.Fatalf("stream %s info: %v", stream, err)
	}
	return info.State.Msgs
}

// waitState watches the job until it is in state want, failing the test after
// d. Event-driven: it returns as soon as the record changes.
func waitState(t testing.TB, q *Queue, id string, want State, d time.Duration) *Job {
	t.Helper()
	ctx := testCtx(t, d)
	var got *Job
	err := q.WatchJob(ctx, id, func(j *Job) error {
		got = j
		if j.State == want {
			return ErrStop
		}
		return nil
	})
	if err != nil {
		state := State("?")
		if got != nil {
			state = got.State
		}
		t.Fatalf("job %s: waiting for %s, still %s: %v", id, want, state, err)
	}
	return got
}

// newWorker is a worker of pool for runner, failing the test on a bad
// config.
func newWorker(t testing.TB, q *Queue, pool, runner string) *Worker {
	t.Helper()
	w, err := q.NewWorker(WorkerConfig{Pool: pool, Runner: runner})
	if err != nil {
		t.Fatalf("NewWorker: %v", err)
	}
	return w
}

// next takes the next job of w within d, failing the test otherwise.
func next(t testing.TB, w *Worker, d time.Duration) *Lease {
	t.Helper()
	l, err := w.Next(testCtx(t, d))
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	t.Cleanup(l.Abandon)
	return l
}

// states lists the To of each history entry.
func states(j *Job) []State {
	var out []State
	for _, h := range j.History {
		out = append(out, h.To)
	}
	return out
}
