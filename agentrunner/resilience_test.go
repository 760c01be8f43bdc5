package agentrunner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/agentrunner/engine"
	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/workload/blobstore"
)

// childConfig is what a runner process (role "runner") runs with.
type childConfig struct {
	NATS    string       `json:"nats"`
	Queue   queue.Config `json:"queue"`
	Blob    blob.Config  `json:"blob"`
	WorkDir string       `json:"work_dir"`
	KeyPath string       `json:"key_path"`
	ID      string       `json:"id"`
}

const childConfigEnv = "AGENTWATT_RUNNER_TEST_CONFIG"

// runnerProcess runs a sim runner until it is killed.
func runnerProcess() int {
	var c childConfig
	if err := json.Unmarshal([]byte(os.Getenv(childConfigEnv)), &c); err != nil {
		return 2
	}
	log := testLog()
	nc, err := queue.Connect(c.NATS, "", log)
	if err != nil {
		return 1
	}
	ctx := context.Background()
	q, err := queue.Open(ctx, nc, c.Queue, log)
	if err != nil {
		return 1
	}
	fl, err := fleet.Open(ctx, q.JetStream(), fleet.Config{}, log)
	if err != nil {
		return 1
	}
	st, err := blob.Open(ctx, c.Blob)
	if err != nil {
		return 1
	}
	key, err := bundle.LoadKey(c.KeyPath)
	if err != nil {
		return 1
	}
	self, _ := os.Executable()
	r, err := New(Config{ID: c.ID, Pool: "sim", Version: "test", WorkDir: c.WorkDir, Key: key, Queue: q, Fleet: fl, Store: st,
		Workloads: blobstore.NewRegistry(st, filepath.Join(c.WorkDir, "cache")), FixedAgents: 2,
		IdleBaseline: 500 * time.Millisecond, GracePeriod: 5 * time.Second, Self: self, Log: log})
	if err != nil {
		return 1
	}
	if err := r.Run(ctx); err != nil {
		return 1
	}
	return 0
}

// TestRunnerKilledMidProbe: a runner process killed mid-probe leaves no
// engine behind; the job is redelivered and attempt 2, on another runner,
// completes; attempt 1's spool is never uploaded as current.
func TestRunnerKilledMidProbe(t *testing.T) {
	e := newEnv(t, envOpts{listen: "127.0.0.1:0"})
	j := e.submit("test:killed")
	cfgA := e.config("runner-a")
	c, _ := json.Marshal(childConfig{NATS: e.nats.ClientURL(), Queue: e.qcfg, Blob: e.blobCfg, WorkDir: cfgA.WorkDir,
		KeyPath: filepath.Join(e.dir, "runner.key"), ID: "runner-a"})
	self, _ := os.Executable()
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), roleEnv+"=runner", childConfigEnv+"="+string(c))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })

	e.waitEvent(j.ID, time.Minute, inSearch)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	noOrphans(t) // the engine dies with its runner (parent-death signal)

	_, stop := e.startRunner(e.config("runner-b"))
	got := e.waitState(j.ID, 90*time.Second, queue.Uploaded, queue.Failed)
	stop()
	if got.State != queue.Uploaded || got.Attempt != 2 || got.Runner != "runner-b" {
		t.Fatalf("job: %s attempt %d runner %s (%s), want uploaded by attempt 2 on runner-b", got.State, got.Attempt, got.Runner, got.Reason)
	}
	e.verifyStored(j.ID, 2)
	if objs := e.stored(j.ID, 1); len(objs) != 0 {
		t.Errorf("attempt 1 has objects: %v", objs)
	}

	// Attempt 1's late upload: runner-a comes back with a sealed bundle of
	// attempt 1 in its spool. It is removed, not uploaded.
	ra, err := New(cfgA)
	if err != nil {
		t.Fatal(err)
	}
	dir := ra.bundleDir(j.ID, 1)
	w, err := bundle.NewWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteJSON(bundle.EnvironmentFile, map[string]string{"late": "yes"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Seal(context.Background(), &bundle.Manifest{Job: j.ID, Attempt: 1, SpecDigest: j.SpecDigest, Pool: cfgA.Pool, Runner: bundle.Runner{ID: cfgA.ID},
		Incomplete: true, Inventory: json.RawMessage(`{}`)}, ra.signer); err != nil {
		t.Fatal(err)
	}
	if err := ra.uploadUntil(context.Background(), dir, j.ID, 1, nil); !errors.Is(err, ErrStale) {
		t.Errorf("upload of attempt 1 = %v, want ErrStale", err)
	}
	if left := ra.ScanSpool(context.Background()); left != 0 {
		t.Errorf("%d bundles left in the spool, want the stale one removed", left)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale spool %s still there (%v)", dir, err)
	}
	if objs := e.stored(j.ID, 1); len(objs) != 0 {
		t.Errorf("attempt 1 uploaded late: %v", objs)
	}
	if j2, _ := e.q.Get(context.Background(), j.ID); j2.State != queue.Uploaded || j2.Attempt != 2 {
		t.Errorf("job after the late attempt: %s attempt %d", j2.State, j2.Attempt)
	}
}

// TestNATSRestartMidJob: the queue's server restarts while a probe runs;
// the runner reconnects and the job completes.
func TestNATSRestartMidJob(t *testing.T) {
	port, err := engine.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	listen := "127.0.0.1:" + itoa(port)
	e := newEnv(t, envOpts{listen: listen})
	j := e.submit("test:nats-restart")
	_, stop := e.startRunner(e.config("runner-n"))
	defer stop()
	e.waitEvent(j.ID, time.Minute, inSearch)
	e.nats.Shutdown()
	time.Sleep(time.Second)
	emb, err := queue.StartEmbedded(queue.EmbeddedConfig{Dir: e.natsDir, Listen: listen}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	e.nats = emb
	got := e.waitState(j.ID, 90*time.Second, queue.Uploaded, queue.Failed)
	if got.State != queue.Uploaded || got.Attempt != 1 {
		t.Fatalf("job: %s attempt %d (%s), want uploaded by attempt 1", got.State, got.Attempt, got.Reason)
	}
	e.verifyStored(j.ID, 1)
}

// outageProxy forwards to the object store until down is set; then every
// request's connection is reset.
type outageProxy struct {
	srv  *httptest.Server
	down atomic.Bool
}

func newOutageProxy(t *testing.T, endpoint string) *outageProxy {
	target, _ := url.Parse("http://" + endpoint)
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &outageProxy{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			_, _ = io.Copy(io.Discard, r.Body)
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// TestStoreOutageDuringUpload: the object store is unreachable when the
// bundle is ready; it stays spooled, survives a runner restart, and is
// uploaded byte-identical once the store is back.
func TestStoreOutageDuringUpload(t *testing.T) {
	var proxy *outageProxy
	e := newEnv(t, envOpts{store: func(t *testing.T, cfg blob.Config) blob.Config {
		proxy = newOutageProxy(t, strings.TrimPrefix(cfg.Endpoint, "http://"))
		cfg.Endpoint = strings.TrimPrefix(proxy.srv.URL, "http://")
		return cfg
	}})
	j := e.submit("test:outage")
	cfg := e.config("runner-s")
	_, stop := e.startRunner(cfg)
	e.waitEvent(j.ID, time.Minute, inSearch)
	proxy.down.Store(true)

	dir := filepath.Join(cfg.WorkDir, "spool", "runs", j.ID, "1")
	deadline := time.Now().Add(time.Minute)
	for !bundle.IsSealed(dir) {
		if time.Now().After(deadline) {
			t.Fatal("no sealed bundle in the spool after a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // a few failed tries
	if j1, _ := e.q.Get(context.Background(), j.ID); j1.State != queue.Running {
		t.Fatalf("job %s while the store is down, want running", j1.State)
	}
	spooled := map[string][]byte{}
	ents, _ := os.ReadDir(dir)
	for _, d := range ents {
		if b, err := os.ReadFile(filepath.Join(dir, d.Name())); err == nil && !strings.HasPrefix(d.Name(), ".") {
			spooled[d.Name()] = b
		}
	}
	stop() // the runner restarts while the store is down; the bundle stays
	if !bundle.IsSealed(dir) {
		t.Fatal("the spooled bundle is gone after the runner stopped")
	}
	proxy.down.Store(false)
	_, stop2 := e.startRunner(cfg)
	defer stop2()
	got := e.waitState(j.ID, time.Minute, queue.Uploaded, queue.Failed)
	if got.State != queue.Uploaded || got.Attempt != 1 {
		t.Fatalf("job: %s attempt %d (%s)", got.State, got.Attempt, got.Reason)
	}
	e.verifyStored(j.ID, 1)
	stored := e.stored(j.ID, 1)
	if len(stored) != len(spooled) {
		t.Errorf("stored %d files, spooled %d", len(stored), len(spooled))
	}
	for name, want := range spooled {
		b, err := e.store.GetBytes(context.Background(), bundle.Key(j.ID, 1, name), 1<<30)
		if err != nil || !bytes.Equal(b, want) {
			t.Errorf("%s: stored copy differs from the spooled one (%v)", name, err)
		}
	}
}
