package group

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/agentwatt/agentwatt/queue"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// cluster is one in-process NATS server; each process() is a runner
// process with its own connection and Groups.
type cluster struct {
	t *testing.T
	e *queue.Embedded
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	e, err := queue.StartEmbedded(queue.EmbeddedConfig{Dir: t.TempDir()}, zerolog.Nop())
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	t.Cleanup(e.Shutdown)
	return &cluster{t: t, e: e}
}

// process opens a Groups on its own connection; closing the connection
// (the returned nc) is the process dying or losing the network.
func (c *cluster) process(cfg Config) (*Groups, *nats.Conn) {
	c.t.Helper()
	nc, err := c.e.Connect()
	if err != nil {
		c.t.Fatalf("connect: %v", err)
	}
	c.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatal(err)
	}
	g, err := Open(testCtx(c.t, time.Minute), nc, js, cfg, zerolog.Nop())
	if err != nil {
		c.t.Fatalf("Open: %v", err)
	}
	return g, nc
}

// fast are short TTLs for tests of expiry.
var fast = Config{MemberTTL: 2 * time.Second, LeaseTTL: time.Second, RequestTimeout: 5 * time.Second}

// recorder is a Handler that records what it was told.
type recorder struct {
	mu        sync.Mutex
	assigned  []Assignment
	torn      []string
	refuse    error
	tornDown  chan string
	assignedC chan Assignment
}

func newRecorder() *recorder {
	return &recorder{tornDown: make(chan string, 8), assignedC: make(chan Assignment, 8)}
}

func (r *recorder) Assign(_ context.Context, a Assignment) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuse != nil {
		return r.refuse
	}
	r.assigned = append(r.assigned, a)
	r.assignedC <- a
	return nil
}

func (r *recorder) tornReasons() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.torn...)
}

func (r *recorder) Teardown(a Assignment, reason string) {
	r.mu.Lock()
	r.torn = append(r.torn, reason)
	r.mu.Unlock()
	r.tornDown <- reason
}

// join enters a member with n gb300 GPUs and leaves it at cleanup.
func join(t *testing.T, g *Groups, group, name string, gpus int, h Handler) *Membership {
	t.Helper()
	ms, err := g.Join(testCtx(t, time.Minute), group, Member{Name: name, Host: name + ".rack", Accelerator: "gb300", GPUs: gpus}, h)
	if err != nil {
		t.Fatalf("Join %s: %v", name, err)
	}
	t.Cleanup(func() { ms.stop() })
	return ms
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func resign(t *testing.T, l *Leadership) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l.Resign(ctx)
	})
}
