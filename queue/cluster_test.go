package queue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startCluster starts three JetStream servers routed to each other on
// loopback ports and waits for the JetStream meta group to have a leader.
// It returns the servers and a comma-separated client URL list.
func startCluster(t *testing.T) ([]*server.Server, string) {
	t.Helper()
	var routePorts []int
	for range 3 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		routePorts = append(routePorts, l.Addr().(*net.TCPAddr).Port)
		l.Close()
	}
	var routes []string
	for _, p := range routePorts {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	var servers []*server.Server
	var urls []string
	for i := range 3 {
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			Cluster:    server.ClusterOpts{Name: "agentwatt-test", Host: "127.0.0.1", Port: routePorts[i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
		}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		s.SetLoggerV2(serverLogger{testLog()}, false, false, false)
		go s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		servers = append(servers, s)
	}
	for _, s := range servers {
		if !s.ReadyForConnections(30 * time.Second) {
			t.Fatalf("%s not ready", s.Name())
		}
		urls = append(urls, s.ClientURL())
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		leader, current := false, 0
		for _, s := range servers {
			if s.JetStreamIsLeader() {
				leader = true
			}
			if s.JetStreamIsCurrent() {
				current++
			}
		}
		if leader && current == len(servers) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no JetStream meta leader after 60s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return servers, strings.Join(urls, ",")
}

// Shutting down the stream leader of a 3-node cluster while jobs are queued
// and one is running loses no job and completes none twice.
func TestClusterSurvivesStreamLeaderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	servers, urls := startCluster(t)
	nc, err := Connect(urls, "", testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx := testCtx(t, 3*time.Minute)
	q, err := Open(ctx, nc, Config{Replicas: 3, AckWait: 5 * time.Second}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	const n = 6
	ids := map[string]bool{}
	for range n {
		ids[mustEnqueue(t, q, newJob("h200x8")).ID] = true
	}
	running := next(t, newWorker(t, q, "h200x8", "r0"), time.Minute)

	// Stop the server that leads AGENTWATT_JOBS.
	info, err := q.jobsStream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 || info.Cluster == nil || info.Cluster.Leader == "" {
		t.Fatalf("stream is not R3 with a leader: replicas %d cluster %+v", info.Config.Replicas, info.Cluster)
	}
	for _, s := range servers {
		if s.Name() == info.Cluster.Leader {
			t.Logf("shutting down stream leader %s", s.Name())
			s.Shutdown()
			s.WaitForShutdown()
		}
	}

	var mu sync.Mutex
	completed := map[string]int{}
	done := make(chan struct{})
	record := func(id string) {
		mu.Lock()
		defer mu.Unlock()
		completed[id]++
		if len(completed) == n {
			select {
			case <-done:
			default:
				close(done)
			}
		}
	}
	// complete retries through the failover; a stale lease (the job was
	// taken over meanwhile) is not a completion.
	complete := func(l *Lease) error {
		for {
			_, err := l.Complete(ctx)
			switch {
			case err == nil:
				record(l.Job().ID)
				return nil
			case errors.Is(err, ErrStaleAttempt):
				return nil
			case ctx.Err() != nil:
				return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
			}
			t.Logf("complete %s: %v (retrying)", l.Job().ID, err)
			time.Sleep(200 * time.Millisecond)
		}
	}
	if err := complete(running); err != nil {
		t.Fatalf("complete the running job: %v", err)
	}

	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := q.NewWorker(WorkerConfig{Pool: "h200x8", Runner: fmt.Sprintf("r%d", i+1), PollWait: time.Second})
			if err != nil {
				t.Error(err)
				return
			}
			for {
				l, err := w.Next(wctx)
				if err != nil {
					return
				}
				if err := complete(l); err != nil {
					l.Abandon()
					return
				}
			}
		}()
	}
	select {
	case <-done:
	case <-ctx.Done():
		mu.Lock()
		t.Errorf("only %d of %d jobs completed", len(completed), n)
		mu.Unlock()
	}
	stop()
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	for id, c := range completed {
		if c != 1 {
			t.Errorf("job %s completed %d times", id, c)
		}
	}
	jobs, err := q.List(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != n {
		t.Errorf("%d jobs listed, want %d", len(jobs), n)
	}
	for _, j := range jobs {
		uploads := 0
		for _, h := range j.History {
			if h.To == Uploaded {
				uploads++
			}
		}
		if !ids[j.ID] || j.State != Uploaded || uploads != 1 {
			t.Errorf("job %s: state %s, %d uploads, history %v", j.ID, j.State, uploads, states(j))
		}
	}
	if got := streamMsgs(t, q, StreamJobs); got != 0 {
		t.Errorf("AGENTWATT_JOBS holds %d messages, want 0", got)
	}
}

// A lease's end is bounded by RequestTimeout, not by its caller's context: a
// request sent while the server is gone (or an ack a newly elected stream
// leader drops while it catches up) gets no reply, and the caller must get
// an error it can retry on instead of waiting out its whole context. This
// hung TestClusterSurvivesStreamLeaderLoss on a loaded CI machine.
func TestLeaseEndGivesUpOnAnUnansweredRequest(t *testing.T) {
	e, err := StartEmbedded(EmbeddedConfig{Dir: t.TempDir(), Listen: "127.0.0.1:0"}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	nc, err := Connect(e.ClientURL(), "", testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	q, err := Open(testCtx(t, time.Minute), nc, Config{RequestTimeout: 300 * time.Millisecond}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	mustEnqueue(t, q, newJob("sim"))
	l := next(t, newWorker(t, q, "sim", "r1"), 30*time.Second)
	e.Shutdown() // the client keeps reconnecting; its requests get no reply

	ctx := testCtx(t, 2*time.Minute)
	if _, err := l.Complete(ctx); err == nil {
		t.Fatal("Complete succeeded with the server gone")
	} else if ctx.Err() != nil {
		t.Fatalf("Complete waited out its caller's context: %v", err)
	}
	if _, err := l.Fail(ctx, "gone"); err == nil || ctx.Err() != nil {
		t.Fatalf("Fail: %v (caller's context: %v)", err, ctx.Err())
	}
}
