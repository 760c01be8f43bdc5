package agentrunner

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/blob/blobtest"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/examples"
	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/workload"
	"github.com/agentwatt/agentwatt/workload/blobstore"
)

// testLog is silent unless AGENTWATT_TEST_LOG names a level.
func testLog() zerolog.Logger {
	lvl, err := zerolog.ParseLevel(os.Getenv("AGENTWATT_TEST_LOG"))
	if err != nil || os.Getenv("AGENTWATT_TEST_LOG") == "" {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05.000"}).Level(lvl).With().Timestamp().Logger()
}

// testEnv is a queue, a bucket, a workload in it and a runner key: what a
// runner needs, all real.
type testEnv struct {
	t        *testing.T
	dir      string
	nats     *queue.Embedded
	natsDir  string
	nc       *nats.Conn
	q        *queue.Queue
	qcfg     queue.Config
	fl       *fleet.Fleet
	blobCfg  blob.Config
	store    *blob.Store
	reg      *workload.Registry
	key      ed25519.PrivateKey
	wlName   string
	wlDigest workload.Digest
	pool     string // the pool submit enqueues into; "" the spec's
}

type envOpts struct {
	listen string // NATS on TCP (restart tests); "" in-process
	store  func(t *testing.T, cfg blob.Config) blob.Config
}

func newEnv(t *testing.T, o envOpts) *testEnv {
	t.Helper()
	e := &testEnv{t: t, dir: t.TempDir(), natsDir: t.TempDir()}
	e.qcfg = queue.Config{Replicas: 1, AckWait: 6 * time.Second, HeartbeatEvery: time.Second}
	e.startNATS(o.listen)
	e.blobCfg = blobtest.Start(t)
	if o.store != nil {
		e.blobCfg = o.store(t, e.blobCfg)
	}
	var err error
	if e.store, err = blob.Open(context.Background(), e.blobCfg, blob.WithRetry(blob.Retry{Attempts: 2, Base: 50 * time.Millisecond, Max: 200 * time.Millisecond})); err != nil {
		t.Fatal(err)
	}
	e.reg = blobstore.NewRegistry(e.store, filepath.Join(e.dir, "wlcache"))
	ref, err := e.reg.PushBytes(context.Background(), tinyWorkload(t), "runner-test")
	if err != nil {
		t.Fatal(err)
	}
	e.wlName, e.wlDigest = ref.Name, ref.Digest
	if e.key, err = bundle.LoadOrCreateKey(filepath.Join(e.dir, "runner.key")); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *testEnv) startNATS(listen string) {
	t := e.t
	emb, err := queue.StartEmbedded(queue.EmbeddedConfig{Dir: e.natsDir, Listen: listen}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	e.nats = emb
	t.Cleanup(emb.Shutdown)
	if listen == "" {
		e.nc, err = emb.Connect()
	} else {
		e.nc, err = nats.Connect(emb.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.nc.Close)
	if e.q, err = queue.Open(context.Background(), e.nc, e.qcfg, testLog()); err != nil {
		t.Fatal(err)
	}
	if e.fl, err = fleet.Open(context.Background(), e.q.JetStream(), fleet.Config{Replicas: 1, RunnerTTL: 10 * time.Second}, testLog()); err != nil {
		t.Fatal(err)
	}
}

// submit enqueues the sim example, changed for tests: the test profile, the
// tiny workload, the test binary as agentwatt; args are added to the sim's
// command line (through simArgsEnv: the spec names only the profile).
func (e *testEnv) submit(trigger string, args ...string) *queue.Job {
	return e.submitWith(trigger, nil, args...)
}

// submitWith is submit with a change to the submission.
func (e *testEnv) submitWith(trigger string, mod func(*spec.Submission), args ...string) *queue.Job {
	e.t.Helper()
	return e.submitFile(examples.SimSubmission, trigger, mod, args...)
}

// submitFile is submitWith for the example submission at file.
func (e *testEnv) submitFile(file, trigger string, mod func(*spec.Submission), args ...string) *queue.Job {
	t := e.t
	t.Helper()
	data, err := examples.Submissions.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := spec.Parse(file, data)
	if err != nil {
		t.Fatal(err)
	}
	sub.Benchmark.Profile = spec.ProfileTest
	sub.Benchmark.Workload = e.wlName
	if err := sub.PinWorkload(string(e.wlDigest)); err != nil {
		t.Fatal(err)
	}
	sub.Engine.Env = map[string]string{roleEnv: "agentwatt", ownerEnv: testOwner}
	if len(args) > 0 {
		sub.Engine.Env[simArgsEnv] = strings.Join(args, " ")
	}
	if mod != nil {
		mod(sub)
	}
	canon, err := sub.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	pool := sub.Pool()
	if e.pool != "" {
		pool = e.pool
	}
	j, _, err := e.q.Enqueue(context.Background(), queue.NewJob{
		Vendor: sub.Metadata.Vendor, Name: sub.Metadata.Name, Pool: pool, Spec: canon,
		SpecDigest: sub.Digest(), Trigger: trigger, Workload: sub.WorkloadName(),
		WorkloadDigest: sub.WorkloadDigest(), Profile: spec.ProfileTest,
	})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// config is a sim runner's config for this environment.
func (e *testEnv) config(id string) Config {
	self, err := os.Executable()
	if err != nil {
		e.t.Fatal(err)
	}
	return Config{
		ID: id, Pool: spec.Sim, Version: "test", WorkDir: filepath.Join(e.dir, "work-"+id), Key: e.key,
		Queue: e.q, Fleet: e.fl, Store: e.store, Workloads: e.reg, FixedAgents: 2, IdleBaseline: 500 * time.Millisecond,
		GracePeriod: 5 * time.Second, Self: self, ScanEvery: 500 * time.Millisecond, UploadRetryMax: time.Second,
		UploadWait: 5 * time.Second, Log: testLog(),
	}
}

// startRunner runs a runner until the test ends or stop is called.
func (e *testEnv) startRunner(cfg Config) (r *Runner, stop func()) {
	t := e.t
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.Run(ctx); err != nil {
			t.Errorf("runner: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return r, stop
}

// waitState waits until the job is in one of states and returns it.
func (e *testEnv) waitState(id string, d time.Duration, states ...queue.State) *queue.Job {
	t := e.t
	t.Helper()
	deadline := time.Now().Add(d)
	var last *queue.Job
	for time.Now().Before(deadline) {
		j, err := e.q.Get(context.Background(), id)
		if err == nil {
			last = j
			for _, s := range states {
				if j.State == s {
					return j
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if last != nil {
		t.Fatalf("job %s: state %s (attempt %d, reason %q) after %v, want %v", id, last.State, last.Attempt, last.Reason, d, states)
	}
	t.Fatalf("job %s: not found after %v", id, d)
	return nil
}

// stored lists the objects under a bundle's prefix, by file name.
func (e *testEnv) stored(job string, attempt int) map[string]blob.Info {
	infos, err := e.store.List(context.Background(), bundle.Prefix(job, attempt))
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]blob.Info{}
	for _, i := range infos {
		out[filepath.Base(i.Key)] = i
	}
	return out
}

// download copies a stored bundle into a directory and verifies it with
// the runner's key.
func (e *testEnv) verifyStored(job string, attempt int) (*bundle.Manifest, string) {
	t := e.t
	t.Helper()
	dir := t.TempDir()
	for name := range e.stored(job, attempt) {
		b, err := e.store.GetBytes(context.Background(), bundle.Key(job, attempt, name), 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := bundle.OpenDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	m, problems := b.VerifyIntegrity(context.Background(), bundle.Trusted(e.key.Public().(ed25519.PublicKey)))
	if len(problems) > 0 {
		t.Fatalf("stored bundle runs/%s/%d: %v", job, attempt, problems)
	}
	return m, dir
}

// tinyWorkload is four short trajectories of hashed blocks: short prompts,
// four-token answers, 50 ms think times.
func tinyWorkload(t testing.TB) []byte {
	t.Helper()
	const blockSize = 16
	h := workload.Header{
		Name: "runner-test", CreatedBy: "agentrunner tests", Seed: 3,
		Sources: []workload.Source{{ID: "gen:0000000000000001", Format: "generated", File: "gen", Licence: "MIT", BlockSize: blockSize}},
	}
	var buf bytes.Buffer
	w, err := workload.NewWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		blocks := []int64{0, 1}
		for b := range 6 {
			blocks = append(blocks, int64(1000*(i+1)+b))
		}
		tr := &workload.Trajectory{ID: fmt.Sprintf("t%02d", i), Source: 0, SharedPrefixTokens: 2 * blockSize}
		for k := range 4 {
			m := 3 + k
			turn := workload.Turn{T: float64(k), Input: []workload.Segment{{Blocks: blocks[:m:m], Tokens: m*blockSize - 3}}, OutputTokens: 4}
			if k > 0 {
				turn.ThinkS = 0.05
			}
			tr.Turns = append(tr.Turns, turn)
		}
		if err := w.Write(tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// liveEngines lists the processes that play the engine role for these
// tests (the test binary as "agentwatt sim serve"): after a job has ended
// there must be none.
func liveEngines() []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, d := range ents {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", d.Name(), "environ"))
		if err != nil {
			continue
		}
		if bytes.Contains(env, []byte(roleEnv+"=agentwatt\x00")) && bytes.Contains(env, []byte(ownerEnv+"="+testOwner+"\x00")) {
			stat, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
				continue // a zombie is not running
			}
			pids = append(pids, pid)
		}
	}
	return pids
}

// noOrphans fails t if an engine process is still alive shortly after a job
// ended.
func noOrphans(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := liveEngines()
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine processes left running: %v", pids)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitEvent waits until the job publishes an event that match accepts.
func (e *testEnv) waitEvent(id string, d time.Duration, match func(queue.Event) bool) {
	t := e.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := e.q.FollowEvents(ctx, id, func(ev queue.Event) error {
		if match(ev) {
			return queue.ErrStop
		}
		return nil
	})
	if err != nil {
		t.Fatalf("job %s: waiting for an event: %v", id, err)
	}
}

// inSearch matches the load phase's first live progress event.
func inSearch(ev queue.Event) bool {
	return ev.Kind == queue.EventProgress && strings.HasPrefix(ev.Message, "probe ") && strings.Contains(ev.Message, "window")
}

func itoa(n int) string { return strconv.Itoa(n) }
