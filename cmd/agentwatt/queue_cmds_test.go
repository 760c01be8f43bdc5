package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/accounts"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/queue"
)

// queueFixture is an embedded NATS server on a loopback port and a queue on
// it; the commands under test run as child processes against its URL.
type queueFixture struct {
	url   string
	q     *queue.Queue
	fleet *fleet.Fleet
	acc   *accounts.Store
}

func newQueueFixture(t *testing.T) *queueFixture {
	t.Helper()
	e, err := queue.StartEmbedded(queue.EmbeddedConfig{Dir: t.TempDir(), Listen: "127.0.0.1:0"}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	nc, err := e.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q, err := queue.Open(ctx, nc, queue.Config{Replicas: 1}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	fl, err := openFleet(ctx, q, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	acc, err := openAccounts(ctx, q, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return &queueFixture{url: e.ClientURL(), q: q, fleet: fl, acc: acc}
}

// worker is a worker of pool for runner on the fixture's queue.
func (f *queueFixture) worker(t *testing.T, pool, runner string) *queue.Worker {
	t.Helper()
	w, err := f.q.NewWorker(queue.WorkerConfig{Pool: pool, Runner: runner})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// run runs agentwatt with args (and --nats) in a child process and returns
// its stdout and exit code.
func (f *queueFixture) run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, code, err := f.exec(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out, code
}

// exec is run for any goroutine: it reports a failure to start instead of
// failing the test.
func (f *queueFixture) exec(args ...string) (string, int, error) {
	raw, _ := json.Marshal(append(args, "--nats", f.url, "--log-level", "error"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(raw))
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return "", 0, fmt.Errorf("agentwatt %v: %w", args, err)
	}
	return stdout.String(), cmd.ProcessState.ExitCode(), nil
}

func (f *queueFixture) enqueue(t *testing.T, n int) *queue.Job {
	t.Helper()
	j, _, err := f.q.Enqueue(context.Background(), queue.NewJob{
		Vendor: "acme", Name: fmt.Sprintf("cfg-%d", n), Pool: "sim",
		SpecDigest: fmt.Sprintf("sha256:%064x", n), Trigger: "submit:test",
	})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestVendorAddCmd(t *testing.T) {
	f := newQueueFixture(t)
	out, code := f.run(t, "vendor", "add", "acme")
	token := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(token, "awv_") || strings.Contains(token, "\n") {
		t.Fatalf("vendor add: code %d, stdout %q; want one token", code, out)
	}
	if v, err := f.acc.AuthenticateVendor(context.Background(), token); err != nil || v != "acme" {
		t.Errorf("printed token authenticates as %q, %v", v, err)
	}
	out, code = f.run(t, "vendor", "list", "-o", "json")
	var vs []accounts.Vendor
	if code != 0 || json.Unmarshal([]byte(out), &vs) != nil || len(vs) != 1 || vs[0].Name != "acme" {
		t.Errorf("vendor list: code %d, %q", code, out)
	}
	if _, code := f.run(t, "vendor", "add", "Not A Label"); code != 1 {
		t.Errorf("vendor add with a bad name: exit %d, want 1", code)
	}
}

func TestRunnerTrustCmd(t *testing.T) {
	f := newQueueFixture(t)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	keyFile := filepath.Join(t.TempDir(), "runner.pub")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := f.run(t, "runner", "trust", keyFile, "--name", "gpu-node-7", "--pool", "h200x8", "--by", "alice")
	if code != 0 || !strings.Contains(out, bundle.KeyID(pub)) || !strings.Contains(out, "h200x8") {
		t.Fatalf("runner trust: code %d, %q", code, out)
	}
	keys, err := f.fleet.TrustedKeys(context.Background())
	if k := keys["gpu-node-7"]; err != nil || !k.PublicKey.Equal(pub) || k.TrustedBy != "alice" || len(k.Pools) != 1 || k.Pools[0] != "h200x8" || k.Sim {
		t.Errorf("enrolled keys: %+v, %v", keys, err)
	}
	if _, code := f.run(t, "runner", "trust", keyFile, "--pool", "h200x8"); code != 1 {
		t.Errorf("runner trust without --name: exit %d, want 1", code)
	}
	if _, code := f.run(t, "runner", "trust", keyFile, "--name", "gpu-node-8"); code != 1 {
		t.Errorf("runner trust without --pool: exit %d, want 1", code)
	}
	if _, code := f.run(t, "runner", "trust", keyFile, "--name", "gpu-node-8", "--pool", "sim,h200x8"); code != 1 {
		t.Errorf("runner trust for sim and hardware pools: exit %d, want 1", code)
	}
	bad := filepath.Join(t.TempDir(), "bad.pub")
	_ = os.WriteFile(bad, []byte("not a key"), 0o644)
	if _, code := f.run(t, "runner", "trust", bad, "--name", "x", "--pool", "sim"); code != 1 {
		t.Errorf("runner trust with a bad key: exit %d, want 1", code)
	}
}

func TestStatusCancelRetryCmds(t *testing.T) {
	f := newQueueFixture(t)
	a, b := f.enqueue(t, 1), f.enqueue(t, 2)

	out, code := f.run(t, "status")
	if code != 0 || !strings.Contains(out, a.ID) || !strings.Contains(out, b.ID) || !strings.Contains(out, "queued") {
		t.Fatalf("status: code %d\n%s", code, out)
	}
	out, _ = f.run(t, "status", "-o", "json", "--state", "queued", "--vendor", "acme")
	var jobs []queue.Job
	if err := json.Unmarshal([]byte(out), &jobs); err != nil || len(jobs) != 2 {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	if _, code := f.run(t, "status", "--state", "runing"); code != 1 {
		t.Errorf("status --state runing: exit %d, want 1", code)
	}
	if _, code := f.run(t, "status", queue.JobID("sha256:none", "x")); code != 1 {
		t.Errorf("status of an unknown job: exit %d, want 1", code)
	}

	// Jobs are named by unique prefixes from here on, as git and docker take them.
	out, code = f.run(t, "cancel", a.ID[:10], "--by", "alice")
	if code != 0 || !strings.Contains(out, "canceled") {
		t.Fatalf("cancel: code %d, %q", code, out)
	}
	out, code = f.run(t, "status", a.ID[:10])
	if code != 0 || !strings.Contains(out, "queued → canceling") || !strings.Contains(out, "alice") {
		t.Errorf("status JOB: code %d\n%s", code, out)
	}
	// Following a job that already ended prints its events and exits 1
	// (canceled).
	out, code = f.run(t, "status", "-f", a.ID[:10])
	if code != 1 || !strings.Contains(out, "canceling → canceled") {
		t.Errorf("status -f of a canceled job: code %d\n%s", code, out)
	}

	out, code = f.run(t, "retry", a.ID[:10], "--by", "alice", "-o", "json")
	var r queue.Job
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.RetryOf != a.ID || r.State != queue.Queued {
		t.Fatalf("retry: code %d\n%s", code, out)
	}
	if _, code := f.run(t, "retry", b.ID); code != 1 {
		t.Errorf("retry of a queued job: exit %d, want 1", code)
	}
}

// status -f follows a job while it moves and exits 0 when it is verified.
func TestStatusFollowCmd(t *testing.T) {
	f := newQueueFixture(t)
	j := f.enqueue(t, 1)
	type result struct {
		out  string
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		out, code, err := f.exec("status", "-f", j.ID, "-o", "json")
		done <- result{out, code, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := f.worker(t, "sim", "r1").Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Complete(ctx); err != nil {
		t.Fatal(err)
	}
	for _, to := range []queue.State{queue.Verifying, queue.Verified} {
		if _, err := f.q.Transition(ctx, j.ID, 1, to, "test"); err != nil {
			t.Fatal(err)
		}
	}
	var res result
	select {
	case res = <-done:
		if res.err != nil {
			t.Fatal(res.err)
		}
	case <-ctx.Done():
		t.Fatal("status -f did not end after the job was verified")
	}
	var states []queue.State
	for _, line := range strings.Split(strings.TrimSpace(res.out), "\n") {
		var ev queue.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		states = append(states, ev.State)
	}
	want := []queue.State{queue.Queued, queue.Running, queue.Uploaded, queue.Verifying, queue.Verified}
	if res.code != 0 || fmt.Sprint(states) != fmt.Sprint(want) {
		t.Errorf("status -f: code %d, states %v, want 0 and %v", res.code, states, want)
	}
}

// TestJobPrefixCmds: an ambiguous prefix is refused, listing the jobs it
// matches, and so is one too short to be safe; nothing is canceled by either.
func TestJobPrefixCmds(t *testing.T) {
	f := newQueueFixture(t)
	// Two jobs whose ids share their first queue.MinPrefixLen digits.
	seen := map[string]string{}
	var t1, t2 string
	for i := 0; t2 == ""; i++ {
		trig := fmt.Sprintf("submit:t%d", i)
		p := queue.JobID(fmt.Sprintf("sha256:%064x", 7), trig)[:queue.MinPrefixLen]
		if first, ok := seen[p]; ok {
			t1, t2 = first, trig
		}
		seen[p] = trig
	}
	var ids []string
	for _, trig := range []string{t1, t2} {
		j, _, err := f.q.Enqueue(context.Background(), queue.NewJob{
			Vendor: "acme", Name: "cfg-7", Pool: "sim", SpecDigest: fmt.Sprintf("sha256:%064x", 7), Trigger: trig,
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"cancel", ids[0][:queue.MinPrefixLen], "--by", "alice"}, []string{"matches 2 jobs", ids[0], ids[1]}},
		{[]string{"status", ids[0][:queue.MinPrefixLen-1]}, []string{"too short"}},
		{[]string{"retry", "not-hex"}, []string{"hex digits"}},
	} {
		stdout, stderr, code := f.execErr(t, tt.args...)
		if code != 1 || stdout != "" {
			t.Errorf("agentwatt %v: exit %d, stdout %q; want 1 and nothing", tt.args, code, stdout)
		}
		for _, w := range tt.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("agentwatt %v: stderr %q lacks %q", tt.args, stderr, w)
			}
		}
	}
	for _, id := range ids {
		if j, err := f.q.Get(context.Background(), id); err != nil || j.State != queue.Queued {
			t.Errorf("job %s after refused commands: %v %+v", id, err, j)
		}
	}
}

// execErr runs agentwatt like exec and returns its stderr too.
func (f *queueFixture) execErr(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	raw, _ := json.Marshal(append(args, "--nats", f.url, "--log-level", "error"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(raw))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("agentwatt %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}
