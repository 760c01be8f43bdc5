package scaler

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/queue"
)

func testLog() zerolog.Logger {
	lvl, err := zerolog.ParseLevel(os.Getenv("AGENTWATT_TEST_LOG"))
	if err != nil || os.Getenv("AGENTWATT_TEST_LOG") == "" {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(lvl).With().Timestamp().Logger()
}

// jsEnv is a real JetStream (embedded NATS) with the queue and the fleet,
// and a clock the test moves.
type jsEnv struct {
	t   *testing.T
	q   *queue.Queue
	fl  *fleet.Fleet
	now time.Time
	reg *prometheus.Registry
}

func newJSEnv(t *testing.T) *jsEnv {
	t.Helper()
	emb, err := queue.StartEmbedded(queue.EmbeddedConfig{Dir: t.TempDir()}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	nc, err := emb.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx := context.Background()
	q, err := queue.Open(ctx, nc, queue.Config{Replicas: 1, AckWait: time.Minute}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	fl, err := fleet.Open(ctx, q.JetStream(), fleet.Config{Replicas: 1, RunnerTTL: time.Minute}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	return &jsEnv{t: t, q: q, fl: fl, now: time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC), reg: prometheus.NewRegistry()}
}

var jobSerial atomic.Int64

// enqueue queues n jobs of pool.
func (e *jsEnv) enqueue(pool string, n int) {
	e.t.Helper()
	for range n {
		i := jobSerial.Add(1)
		spec, _ := json.Marshal(map[string]any{"metadata": map[string]any{"vendor": "acme", "name": fmt.Sprintf("cfg-%d", i)}})
		if _, _, err := e.q.Enqueue(context.Background(), queue.NewJob{
			Vendor: "acme", Name: fmt.Sprintf("cfg-%d", i), Pool: pool, Spec: spec,
			SpecDigest: fmt.Sprintf("sha256:%064x", i), Trigger: "submit:test", Workload: "swe-agent-v1",
			WorkloadDigest: fmt.Sprintf("sha256:%064x", 1000+i), Profile: "test",
		}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// take has a runner on instance take one job of pool (a real lease: the
// message is ack-pending) and registers it busy in the liveness bucket.
func (e *jsEnv) take(pool, runner, instance string) *queue.Lease {
	e.t.Helper()
	w, err := e.q.NewWorker(queue.WorkerConfig{Pool: pool, Runner: runner})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := w.Next(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(l.Abandon)
	e.register(pool, runner, instance, l.Job().ID)
	return l
}

// register writes a runner's liveness entry (job "" : idle).
func (e *jsEnv) register(pool, runner, instance, job string) {
	e.t.Helper()
	if err := e.fl.Register(context.Background(), fleet.Runner{ID: runner, Pool: pool, Instance: instance, Job: job}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *jsEnv) scaler(cooldown time.Duration, pools ...Pool) *Scaler {
	e.t.Helper()
	s, err := New(Config{Queue: e.q, Runners: e.fl, Pools: pools, Interval: time.Second, Cooldown: cooldown,
		Metrics: e.reg, Log: testLog(), Now: func() time.Time { return e.now }})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *jsEnv) tick(s *Scaler, pool string) Decision {
	e.t.Helper()
	ds := s.Tick(context.Background())
	d, ok := ds[pool]
	if !ok {
		e.t.Fatalf("no decision for pool %s (see errors_total)", pool)
	}
	return d
}

func gauge(t *testing.T, reg *prometheus.Registry, name, pool string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "pool" && l.GetValue() == pool {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{pool=%q}", name, pool)
	return 0
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestScaleOutOnBurst: a burst of submissions takes an empty group from 0
// to one instance per job at the first tick, and the metrics say so.
func TestScaleOutOnBurst(t *testing.T) {
	e := newJSEnv(t)
	m := newASG("asg-h200", 0, 20, 0)
	s := e.scaler(10*time.Minute, Pool{Name: "h200x8", Max: 10, Backend: NewAWSGroup(standinClient(t, startStandin(t, m)), "asg-h200")})

	if d := e.tick(s, "h200x8"); d.Action != ActionHold || d.Target != 0 {
		t.Fatalf("empty pool: %+v, want hold at 0", d)
	}
	e.enqueue("h200x8", 6)
	d := e.tick(s, "h200x8")
	if d.Action != ActionScaleOut || d.Desired != 6 || d.Target != 6 {
		t.Fatalf("after a burst of 6: %+v, want scale-out to 6", d)
	}
	if n := len(m.ids()); n != 6 {
		t.Errorf("group has %d instances, want 6", n)
	}
	var set []string
	for _, r := range m.takeRequests() {
		if r.Action == "SetDesiredCapacity" {
			set = append(set, r.Params.Get("DesiredCapacity"))
		}
	}
	if !slices.Equal(set, []string{"6"}) {
		t.Errorf("SetDesiredCapacity calls %v, want one with 6", set)
	}
	for name, want := range map[string]float64{"agentwatt_scaler_desired": 6, "agentwatt_scaler_actual": 0, "agentwatt_scaler_waiting": 6, "agentwatt_scaler_running": 0} {
		if got := gauge(t, e.reg, name, "h200x8"); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := counterValue(t, s.metrics.decisions.WithLabelValues("h200x8", string(ActionScaleOut))); got != 1 {
		t.Errorf("changes_total{scale_out} = %v, want 1", got)
	}
}

// TestScaleInProtectsBusy: with one job running on one of three
// instances, the busy instance is protected at once; no scale-in before the
// cooldown; after it, the group shrinks to the busy one and only idle
// instances are terminated.
func TestScaleInProtectsBusy(t *testing.T) {
	e := newJSEnv(t)
	m := newASG("asg", 0, 10, 3)
	ids := m.ids()
	s := e.scaler(10*time.Minute, Pool{Name: "h100x1", Max: 10, Backend: NewAWSGroup(standinClient(t, startStandin(t, m)), "asg")})
	e.enqueue("h100x1", 1)
	// The newest instance (the one a plain scale-in would pick first) runs
	// the job.
	lease := e.take("h100x1", "runner-c", ids[2])
	e.register("h100x1", "runner-a", ids[0], "")
	e.register("h100x1", "runner-b", ids[1], "")

	d := e.tick(s, "h100x1")
	if d.Action != ActionCooldown || d.Desired != 1 || d.Target != 3 {
		t.Fatalf("first tick: %+v, want cooldown at 3", d)
	}
	if got := m.protectedIDs(); !slices.Equal(got, ids[2:]) {
		t.Fatalf("protected %v, want the busy instance %v", got, ids[2:])
	}
	e.now = e.now.Add(9 * time.Minute)
	if d := e.tick(s, "h100x1"); d.Action != ActionCooldown {
		t.Fatalf("within the cooldown: %+v", d)
	}
	if n := len(m.ids()); n != 3 {
		t.Fatalf("scaled in during the cooldown: %d instances", n)
	}
	e.now = e.now.Add(time.Minute)
	if d := e.tick(s, "h100x1"); d.Action != ActionScaleIn || d.Target != 1 {
		t.Fatalf("after the cooldown: %+v, want scale-in to 1", d)
	}
	if got := m.ids(); !slices.Equal(got, ids[2:]) {
		t.Fatalf("left %v, want only the busy instance %v", got, ids[2:])
	}
	if slices.Contains(m.terminated, ids[2]) {
		t.Fatal("the busy instance was terminated")
	}

	// The job ends: its runner is idle, the protection is lifted, and after
	// a new cooldown the group goes to 0.
	if _, err := lease.Complete(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.register("h100x1", "runner-c", ids[2], "")
	if d := e.tick(s, "h100x1"); d.Action != ActionCooldown || d.Desired != 0 {
		t.Fatalf("after the job: %+v, want cooldown toward 0", d)
	}
	if got := m.protectedIDs(); len(got) != 0 {
		t.Fatalf("still protected: %v", got)
	}
	e.now = e.now.Add(10 * time.Minute)
	if d := e.tick(s, "h100x1"); d.Action != ActionScaleIn || d.Target != 0 || len(m.ids()) != 0 {
		t.Fatalf("after the second cooldown: %+v, %d instances; want 0", d, len(m.ids()))
	}
}

// TestNoScaleInWhileJobUnplaced: a job runs (ack-pending) but no runner
// says it holds it yet (its liveness entry not refreshed): the scaler does
// not scale in, since it cannot tell which instance to protect.
func TestNoScaleInWhileJobUnplaced(t *testing.T) {
	e := newJSEnv(t)
	m := newASG("asg", 0, 10, 2)
	ids := m.ids()
	s := e.scaler(time.Minute, Pool{Name: "h100x1", Max: 10, Backend: NewAWSGroup(standinClient(t, startStandin(t, m)), "asg")})
	e.enqueue("h100x1", 1)
	e.take("h100x1", "runner-b", ids[1])
	e.register("h100x1", "runner-a", ids[0], "")
	e.register("h100x1", "runner-b", ids[1], "") // stale: says idle
	e.tick(s, "h100x1")
	e.now = e.now.Add(time.Hour)
	if d := e.tick(s, "h100x1"); d.Action != ActionWait || d.Target != 2 {
		t.Fatalf("%+v, want wait at 2", d)
	}
	if n := len(m.ids()); n != 2 {
		t.Fatalf("%d instances, want 2", n)
	}
}

// TestMinMax: demand is held within the pool's min and max.
func TestMinMax(t *testing.T) {
	e := newJSEnv(t)
	m := newASG("asg", 0, 10, 0)
	s := e.scaler(time.Minute, Pool{Name: "h200x1", Min: 1, Max: 3, Backend: NewAWSGroup(standinClient(t, startStandin(t, m)), "asg")})
	if d := e.tick(s, "h200x1"); d.Action != ActionScaleOut || d.Target != 1 {
		t.Fatalf("empty pool with min 1: %+v, want scale-out to 1", d)
	}
	e.enqueue("h200x1", 7)
	if d := e.tick(s, "h200x1"); d.Desired != 3 || d.Target != 3 || len(m.ids()) != 3 {
		t.Fatalf("7 waiting with max 3: %+v, %d instances", d, len(m.ids()))
	}
	// Drain the queue: the group shrinks to min, never below.
	w, err := e.q.NewWorker(queue.WorkerConfig{Pool: "h200x1", Runner: "drain"})
	if err != nil {
		t.Fatal(err)
	}
	for range 7 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		l, err := w.Next(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Complete(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	e.tick(s, "h200x1")
	e.now = e.now.Add(time.Minute)
	if d := e.tick(s, "h200x1"); d.Action != ActionScaleIn || d.Target != 1 || len(m.ids()) != 1 {
		t.Fatalf("drained: %+v, %d instances; want scale-in to min 1", d, len(m.ids()))
	}
	// The group's own MaxSize bounds too.
	m2 := newASG("asg2", 0, 2, 0)
	s2 := New2(t, e, Pool{Name: "h200x2", Max: 5, Backend: NewAWSGroup(standinClient(t, startStandin(t, m2)), "asg2")})
	e.enqueue("h200x2", 4)
	if d := e.tick(s2, "h200x2"); d.Target != 2 || len(m2.ids()) != 2 {
		t.Fatalf("group MaxSize 2: %+v", d)
	}
}

// New2 is a second scaler on the same environment, with its own metrics.
func New2(t *testing.T, e *jsEnv, pools ...Pool) *Scaler {
	s, err := New(Config{Queue: e.q, Runners: e.fl, Pools: pools, Cooldown: time.Minute, Log: testLog(),
		Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPoolWithoutGroup: a pool with no back-end is observed (decision,
// metrics) and nothing is called.
func TestPoolWithoutGroup(t *testing.T) {
	e := newJSEnv(t)
	m := newASG("asg", 0, 10, 0)
	s := e.scaler(time.Minute,
		Pool{Name: "h100x8", Max: 4},
		Pool{Name: "h200x8", Max: 4, Backend: NewAWSGroup(standinClient(t, startStandin(t, m)), "asg")})
	e.enqueue("h100x8", 2)
	e.register("h100x8", "lonely", "", "")
	d := e.tick(s, "h100x8")
	if d.Desired != 2 || d.Action != ActionScaleOut {
		t.Fatalf("%+v, want desired 2", d)
	}
	if got := gauge(t, e.reg, "agentwatt_scaler_actual", "h100x8"); got != 1 {
		t.Errorf("actual = %v, want the 1 live runner", got)
	}
	if got := gauge(t, e.reg, "agentwatt_scaler_waiting", "h100x8"); got != 2 {
		t.Errorf("waiting = %v, want 2", got)
	}
	for _, r := range m.takeRequests() {
		if r.Action != "DescribeAutoScalingGroups" {
			t.Errorf("the other pool's group got %s", r.Action)
		}
	}
	if len(m.ids()) != 0 {
		t.Error("the other pool's group grew")
	}
}

// TestConfigValidate: bad pools are refused before anything runs.
func TestConfigValidate(t *testing.T) {
	e := newJSEnv(t)
	for _, pools := range [][]Pool{
		{{Name: "Bad"}},
		{{Name: "sim", Max: 1}, {Name: "sim", Max: 2}},
		{{Name: "sim", Min: 3, Max: 2}},
	} {
		if _, err := New(Config{Queue: e.q, Runners: e.fl, Pools: pools}); err == nil {
			t.Errorf("pools %+v accepted", pools)
		}
	}
}
