package verifyd_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/verifier/verifiertest"
	"github.com/agentwatt/agentwatt/verifier/verifiertest/known"
	"github.com/agentwatt/agentwatt/verifyd"
	"github.com/agentwatt/agentwatt/workload"
)

// verdictOf runs the daemon's verification of one uploaded job.
func (e *daemonEnv) verdictOf(t *testing.T, id string, attempt int) *bundle.Verdict {
	t.Helper()
	d, err := verifyd.New(verifyd.Config{
		Queue: e.q, Keys: e.fleet, Store: e.store, References: known.Options(known.Good(t)).References,
		Workloads: func(context.Context, string, string) (*workload.Workload, error) { return known.Good(t).Workload, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := d.Once(context.Background(), queue.VerifyRequest{Job: id, Attempt: attempt, Bundle: bundle.Prefix(id, attempt)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestVerifyRejectsBundleResignedForAnotherJob: a runner with an enrolled
// key takes job A's correctly signed bundle, names job B in its manifest,
// signs it again and uploads it as B's result. The queue's record of B
// (its spec digest) does not match: rejected.
func TestVerifyRejectsBundleResignedForAnotherJob(t *testing.T) {
	e := newDaemonEnv(t)
	ctx := context.Background()
	a := e.uploaded(t, "submit:a", nil)
	if v := e.verdictOf(t, a, 1); !v.Verified() {
		t.Fatalf("job A's own bundle: %s", verifiertest.FailedReasons(v))
	}
	// Job B: another spec, leased by the same runner.
	jobB, leaseB := e.enqueue(t, "submit:b", "sha256:"+strings.Repeat("0", 63)+"2", "sim")
	b := *e.built[a]
	forged := filepath.Join(t.TempDir(), "forged")
	if err := b.Derive(ctx, forged, func(dir string) error {
		return verifiertest.EditJSON(dir, bundle.ManifestFile, func(m *bundle.Manifest) { m.Job = jobB.ID })
	}, e.key); err != nil {
		t.Fatal(err)
	}
	b.Dir = forged
	if err := b.Upload(ctx, e.store.PutFile, bundle.Prefix(jobB.ID, leaseB.Attempt())); err != nil {
		t.Fatal(err)
	}
	if _, err := leaseB.Complete(ctx); err != nil {
		t.Fatal(err)
	}
	v := e.verdictOf(t, jobB.ID, leaseB.Attempt())
	if v.Verified() {
		t.Fatal("a bundle of job A re-signed for job B verified against B's record")
	}
	if c, ok := v.Check(verifier.CheckJob); !ok || c.Passed || !strings.Contains(c.Reason, "spec digest") {
		t.Errorf("check %s: got %+v, want a failed spec digest binding; failed: %s", verifier.CheckJob, c, verifiertest.FailedReasons(v))
	}
	if j, _ := e.q.Get(ctx, jobB.ID); j.State != queue.Rejected {
		t.Errorf("job B: state %s, want rejected", j.State)
	}
}

// TestVerifyRejectsRelabelledSimRun: a sim runner relabels its run as an
// 8×H200 hardware result and signs it with its own (enrolled, sim-scoped)
// key, for a job of pool h200x8 that it leased. The key's scope rejects it
// online; offline, the published runners file says the key is a sim key.
func TestVerifyRejectsRelabelledSimRun(t *testing.T) {
	e := newDaemonEnv(t)
	ctx := context.Background()
	job, lease := e.enqueue(t, "submit:h200", verifiertest.SpecDigest, "h200x8")
	b, err := verifiertest.Build(ctx, filepath.Join(t.TempDir(), "b"), verifiertest.Options{Seed: 3, Job: job.ID, Attempt: lease.Attempt(), Key: e.key, Runner: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	forged := filepath.Join(t.TempDir(), "forged")
	if err := b.Derive(ctx, forged, verifiertest.RelabelAsH200(""), e.key); err != nil {
		t.Fatal(err)
	}
	b.Dir = forged
	if err := b.Upload(ctx, e.store.PutFile, bundle.Prefix(job.ID, lease.Attempt())); err != nil {
		t.Fatal(err)
	}
	if _, err := lease.Complete(ctx); err != nil {
		t.Fatal(err)
	}
	v := e.verdictOf(t, job.ID, lease.Attempt())
	if v.Verified() {
		t.Fatal("online: a sim run relabelled as 8×H200, signed by the sim runner's key, verified")
	}
	if c, ok := v.Check(verifier.CheckKeyScope); !ok || c.Passed {
		t.Errorf("online: check %s: got %+v, want failed; failed: %s", verifier.CheckKeyScope, c, verifiertest.FailedReasons(v))
	}

	// Offline: the runners file publishes r1 as a sim key for pool sim.
	keys, _ := json.Marshal(map[string]any{"schema_version": 2, "runners": []map[string]any{{
		"name": "r1", "key_id": bundle.KeyID(e.key.Public().(ed25519.PublicKey)),
		"public_key": string(bundle.MarshalPublicKey(e.key.Public().(ed25519.PublicKey))), "pools": []string{"sim"}, "sim": true}}})
	parsed, err := verifyd.ParseKeys(keys)
	if err != nil {
		t.Fatal(err)
	}
	opts := parsed.Options(known.Options(b))
	v, err = verifier.Verify(ctx, bundle.DirSource(forged), opts)
	if err != nil {
		t.Fatal(err)
	}
	if v.Verified() {
		t.Fatal("offline: a sim key's bundle claiming 8×H200 verified")
	}
	if c, ok := v.Check(verifier.CheckKeyScope); !ok || c.Passed {
		t.Errorf("offline: check %s: got %+v, want failed; failed: %s", verifier.CheckKeyScope, c, verifiertest.FailedReasons(v))
	}
}
