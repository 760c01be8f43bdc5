package verifyd_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/blob/blobtest"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/verifier/verifiertest"
	"github.com/agentwatt/agentwatt/verifier/verifiertest/known"
	"github.com/agentwatt/agentwatt/verifyd"
	"github.com/agentwatt/agentwatt/workload"
)

type daemonEnv struct {
	q     *queue.Queue
	fleet *fleet.Fleet
	store *blob.Store
	key   ed25519.PrivateKey // runner r1's, enrolled for pool sim
	built map[string]*verifiertest.Bundle
}

func newDaemonEnv(t *testing.T) *daemonEnv {
	t.Helper()
	ctx := context.Background()
	e, err := queue.StartEmbedded(queue.EmbeddedConfig{Dir: t.TempDir()}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	nc, err := e.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	q, err := queue.Open(ctx, nc, queue.Config{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	fl, err := fleet.Open(ctx, q.JetStream(), fleet.Config{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := fl.TrustKey(ctx, "r1", key.Public().(ed25519.PublicKey), "maint", []string{"sim"}); err != nil {
		t.Fatal(err)
	}
	return &daemonEnv{q: q, fleet: fl, store: blobtest.Store(t), key: key, built: map[string]*verifiertest.Bundle{}}
}

// enqueue queues a job of pool for the test workload and profile and
// leases it as runner "r1".
func (e *daemonEnv) enqueue(t *testing.T, trigger, specDigest, pool string) (*queue.Job, *queue.Lease) {
	t.Helper()
	ctx := context.Background()
	spec, _ := json.Marshal(map[string]any{"metadata": map[string]any{"vendor": "acme", "name": "demo"}, "model": map[string]any{"id": "sim"},
		"system": map[string]any{"accelerator": "sim", "accelerators": 1}, "framework": map[string]any{"name": "sim", "version": "1"},
		"benchmark": map[string]any{"rules": "v1", "profile": "test"}})
	wl := known.Good(t).Workload
	job, _, err := e.q.Enqueue(ctx, queue.NewJob{Vendor: "acme", Name: "demo", Pool: pool, Spec: spec, SpecDigest: specDigest, Trigger: trigger,
		Workload: "default", WorkloadDigest: string(wl.Digest), Profile: "test"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := e.q.NewWorker(queue.WorkerConfig{Pool: pool, Runner: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	lease, err := w.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return job, lease
}

// uploaded enqueues a job, runs it as runner "r1" to uploaded with the
// bundle edit made of the known-good one, and returns the job id.
func (e *daemonEnv) uploaded(t *testing.T, trigger string, edit func(dir string) error) string {
	t.Helper()
	ctx := context.Background()
	job, lease := e.enqueue(t, trigger, verifiertest.SpecDigest, "sim")
	b, err := verifiertest.Build(ctx, filepath.Join(t.TempDir(), "b"), verifiertest.Options{Seed: 3, Job: job.ID, Attempt: lease.Attempt(), Key: e.key, Runner: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	e.built[job.ID] = b
	if edit != nil {
		dir := filepath.Join(t.TempDir(), "edited")
		if err := b.Derive(ctx, dir, edit, nil); err != nil {
			t.Fatal(err)
		}
		b.Dir = dir
	}
	if err := b.Upload(ctx, e.store.PutFile, bundle.Prefix(job.ID, lease.Attempt())); err != nil {
		t.Fatal(err)
	}
	if _, err := lease.Complete(ctx); err != nil {
		t.Fatal(err)
	}
	return job.ID
}

func (e *daemonEnv) waitState(t *testing.T, id string, want queue.State) *queue.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := e.q.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == want {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: state %s (%s), want %s", id, j.State, j.Reason, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestVerifierDaemonAndApprove(t *testing.T) {
	e := newDaemonEnv(t)
	good := e.uploaded(t, "submit:good", nil)
	bad := e.uploaded(t, "submit:bad", func(dir string) error {
		p := filepath.Join(dir, bundle.SummaryFile)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		data[len(data)/2] ^= 1
		return os.WriteFile(p, data, 0o600)
	})
	d, err := verifyd.New(verifyd.Config{
		Queue: e.q, Keys: e.fleet, Store: e.store, References: known.Options(known.Good(t)).References, Wait: 200 * time.Millisecond,
		Workloads: func(context.Context, string, string) (*workload.Workload, error) { return known.Good(t).Workload, nil },
		Log:       zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	e.waitState(t, good, queue.Verified)
	rej := e.waitState(t, bad, queue.Rejected)
	if !strings.Contains(rej.Reason, "digest_mismatch") {
		t.Errorf("rejected job's reason: got %q, want the digest mismatch", rej.Reason)
	}
	for _, tc := range []struct {
		id   string
		want string
	}{{good, bundle.StatusVerified}, {bad, bundle.StatusRejected}} {
		data, err := e.store.GetBytes(context.Background(), bundle.Key(tc.id, 1, bundle.VerdictFile), 16<<20)
		if err != nil {
			t.Fatalf("verdict.json of %s: %v", tc.id, err)
		}
		v, err := bundle.DecodeVerdict(data)
		if err != nil {
			t.Fatal(err)
		}
		if v.Status != tc.want || v.Job != tc.id {
			t.Errorf("verdict of %s: got %s for %s, want %s", tc.id, v.Status, v.Job, tc.want)
		}
	}

	// Approval: only a verified job, then published with who and when.
	_, _, err = publish.Approve(context.Background(), e.q, e.fleet, e.store, bad, publish.Approval{By: "alice", Via: publish.ViaMaintainerToken}, true)
	if !errors.Is(err, publish.ErrNotVerified) {
		t.Errorf("approve a rejected job: got %v, want ErrNotVerified", err)
	}
	job, lb, err := publish.Approve(context.Background(), e.q, e.fleet, e.store, good, publish.Approval{By: "alice", Via: publish.ViaMaintainerToken, Note: "checked"}, true)
	if err != nil {
		t.Fatal(err)
	}
	last := job.History[len(job.History)-1]
	if job.State != queue.Published || last.By != "alice" || last.At.IsZero() || last.Reason != "approved via maintainer-token: checked" {
		t.Errorf("job after approval: state %s, last transition %+v", job.State, last)
	}
	if len(lb.Results) != 1 || lb.Results[0].Job != good || !lb.Results[0].Simulated {
		t.Errorf("board: %+v", lb.Results)
	}
}
