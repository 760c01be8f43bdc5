package verifier_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/agentrunner/accuracy"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/verifier/verifiertest"
	"github.com/agentwatt/agentwatt/workload"
)

// h200Inventory is what an 8×H200 node's runner records.
const h200Inventory = `{"source":"nvml","driver_version":"570.86.15","nvml_version":"12.570.86.15","cuda_version":"12.8",
"collected_at":"2026-12-01T00:00:00Z","gpus":[` +
	`{"index":0,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-0","power_limit_w":700,"enforced_power_limit_w":700},` +
	`{"index":1,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-1","power_limit_w":700,"enforced_power_limit_w":700},` +
	`{"index":2,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-2","power_limit_w":700,"enforced_power_limit_w":700},` +
	`{"index":3,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-3","power_limit_w":700,"enforced_power_limit_w":700},` +
	`{"index":4,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-4","power_limit_w":700,"enforced_power_limit_w":700},` +
	`{"index":5,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-5","power_limit_w":700,"enforced_power_limit_w":700},` +
	`{"index":6,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-6","power_limit_w":700,"enforced_power_limit_w":700},` +
	`{"index":7,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-7","power_limit_w":700,"enforced_power_limit_w":700}]}`

// relabelAsH200 is the attack of a sim runner that claims hardware: the
// manifest and summary say simulated=false, pool h200x8, with an 8×H200
// inventory; the records and the sim power samples stay as measured.
func relabelAsH200(job string) func(dir string) error {
	return func(dir string) error {
		if err := verifiertest.EditJSON(dir, bundle.SummaryFile, func(s *bundle.Summary) {
			s.Simulated, s.PowerBoundary = false, "gpu-board"
		}); err != nil {
			return err
		}
		return verifiertest.EditJSON(dir, bundle.ManifestFile, func(m *bundle.Manifest) {
			m.Simulated = false
			m.Inventory = json.RawMessage(h200Inventory)
			m.Pool = "h200x8"
			if job != "" {
				m.Job = job
			}
		})
	}
}

// verdictOf runs the daemon's verification of one uploaded job.
func (e *daemonEnv) verdictOf(t *testing.T, id string, attempt int) *verifier.Verdict {
	t.Helper()
	d := verifier.NewDaemon(verifier.DaemonConfig{
		Queue: e.q, Store: e.store, References: options(goodBundle(t)).References,
		Workloads: func(context.Context, string, string) (*workload.Workload, error) { return goodBundle(t).Workload, nil },
	})
	v, err := d.Once(context.Background(), queue.VerifyRequest{Job: id, Attempt: attempt, Bundle: bundle.Prefix(id, attempt)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func failedReasons(v *verifier.Verdict) string {
	var parts []string
	for _, c := range v.Failed() {
		parts = append(parts, c.Name+": "+c.Reason)
	}
	return strings.Join(parts, " | ")
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
		t.Fatalf("job A's own bundle: %s", failedReasons(v))
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
		t.Errorf("check %s: got %+v, want a failed spec digest binding; failed: %s", verifier.CheckJob, c, failedReasons(v))
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
	if err := b.Derive(ctx, forged, relabelAsH200(""), e.key); err != nil {
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
		t.Errorf("online: check %s: got %+v, want failed; failed: %s", verifier.CheckKeyScope, c, failedReasons(v))
	}

	// Offline: the runners file publishes r1 as a sim key for pool sim.
	keys, _ := json.Marshal(map[string]any{"schema_version": 2, "runners": []map[string]any{{
		"name": "r1", "key_id": bundle.KeyID(e.key.Public().(ed25519.PublicKey)),
		"public_key": string(bundle.MarshalPublicKey(e.key.Public().(ed25519.PublicKey))), "pools": []string{"sim"}, "sim": true}}})
	trusted, scopes, err := verifier.ParseKeys(keys)
	if err != nil {
		t.Fatal(err)
	}
	opts := options(b)
	opts.Trusted, opts.Scopes = trusted, scopes
	v, err = verifier.Verify(ctx, bundle.DirSource(forged), opts)
	if err != nil {
		t.Fatal(err)
	}
	if v.Verified() {
		t.Fatal("offline: a sim key's bundle claiming 8×H200 verified")
	}
	if c, ok := v.Check(verifier.CheckKeyScope); !ok || c.Passed {
		t.Errorf("offline: check %s: got %+v, want failed; failed: %s", verifier.CheckKeyScope, c, failedReasons(v))
	}
}

// TestVerifyRejectsDuplicateRecords: a runner pads its windows with copies
// of its own records (or with records of one agent whose intervals
// overlap, which a sequential agent cannot produce) and computes its claim
// from the padded records, so that every recomputed number agrees.
func TestVerifyRejectsDuplicateRecords(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra func(r metrics.Request) metrics.Request
	}{
		{"same agent, session, turn and times", func(r metrics.Request) metrics.Request { return r }},
		{"overlapping turns of one agent", func(r metrics.Request) metrics.Request {
			r.TSendNs += int64(time.Millisecond)
			r.TFirstNs += int64(time.Millisecond)
			r.TLastNs += int64(time.Millisecond)
			return r
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			b, err := verifiertest.Build(context.Background(), filepath.Join(t.TempDir(), "b"), verifiertest.Options{Seed: 5,
				Tamper: func(r metrics.Request) []metrics.Request {
					n++
					if n%3 != 0 {
						return []metrics.Request{r}
					}
					return []metrics.Request{r, tc.extra(r)}
				}})
			if err != nil {
				t.Fatal(err)
			}
			v, err := verifier.Verify(context.Background(), bundle.DirSource(b.Dir), options(b))
			if err != nil {
				t.Fatal(err)
			}
			if v.Verified() {
				t.Fatal("padded records with a recomputed summary verified")
			}
			c, _ := v.Check(verifier.CheckRecords)
			if c.Passed || !strings.Contains(c.Reason, "agent") {
				t.Errorf("check records: got %+v, want a failure naming the agent; failed: %s", c, failedReasons(v))
			}
		})
	}
}

// TestVerifyPowerSourceAgainstInventory: the power samples' source must
// agree with the claimed hardware, whoever signed: sim power under an
// 8×H200 inventory (signed by a key enrolled for h200x8), and NVML power in
// a simulated run, are rejected offline.
func TestVerifyPowerSourceAgainstInventory(t *testing.T) {
	b := goodBundle(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		edit  func(dir string) error
		scope verifier.KeyScope
	}{
		{"sim power under an H200 inventory", relabelAsH200(""), verifier.KeyScope{Pools: []string{"h200x8"}}},
		{"nvml power in a simulated run", func(dir string) error {
			return verifiertest.EditPower(dir, func(s *bundle.PowerLine) bool { s.PowerSource = "nvml-instant"; return true })
		}, verifier.KeyScope{Pools: []string{"sim"}, Sim: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "b")
			if err := b.Derive(ctx, dir, tc.edit, b.Key); err != nil {
				t.Fatal(err)
			}
			opts := options(b)
			for name := range opts.Trusted {
				opts.Scopes = map[string]verifier.KeyScope{name: tc.scope}
			}
			v, err := verifier.Verify(ctx, bundle.DirSource(dir), opts)
			if err != nil {
				t.Fatal(err)
			}
			c, _ := v.Check(verifier.CheckPower)
			if v.Verified() || c.Passed || !strings.Contains(c.Reason, "power samples from source") {
				t.Errorf("status %s, power check %+v; failed: %s", v.Status, c, failedReasons(v))
			}
		})
	}
}

// TestVerifyBundleOfVersion1: a bundle written by the code before the
// manifest named its pool (testdata/v1bundle, schema 1, with the runners
// file of that time) still verifies offline.
func TestVerifyBundleOfVersion1(t *testing.T) {
	dir := filepath.Join("testdata", "v1bundle")
	data, err := os.ReadFile(filepath.Join(dir, "runners.json"))
	if err != nil {
		t.Fatal(err)
	}
	keys, scopes, err := verifier.ParseKeys(data)
	if err != nil {
		t.Fatal(err)
	}
	qs, err := accuracy.GSM8K()
	if err != nil {
		t.Fatal(err)
	}
	// It ran the built-in workload of its time, which this binary still
	// holds and finds by the digest the manifest names.
	var m bundle.Manifest
	mData, err := os.ReadFile(filepath.Join(dir, "bundle", bundle.ManifestFile))
	if err != nil || json.Unmarshal(mData, &m) != nil {
		t.Fatalf("read the manifest: %v", err)
	}
	wl, _, err := workload.NewLoader(nil).Load(context.Background(), m.Workload.Name, workload.Digest(m.Workload.Digest))
	if err != nil {
		t.Fatalf("the version 1 bundle's workload %s@%s: %v", m.Workload.Name, m.Workload.Digest, err)
	}
	opts := verifier.Options{Trusted: keys, Scopes: scopes, Workload: wl}
	for _, q := range qs {
		opts.References = append(opts.References, verifier.Reference{ID: q.ID, Expected: q.Expected})
	}
	v, err := verifier.Verify(context.Background(), bundle.DirSource(filepath.Join(dir, "bundle")), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Verified() {
		t.Fatalf("the version 1 bundle: %s", failedReasons(v))
	}
	if v.Results == nil || len(v.Results.Tiers) != 1 || v.Results.Tiers[0].MaxAgents != 16 {
		t.Errorf("results: %+v, want N_max 16", v.Results)
	}
	// With the queue asked, what a version 1 manifest lacks (its pool) is
	// taken from the record: verified against its own record, rejected
	// against a record of pool h200x8.
	opts.Jobs = v1Jobs{digest: m.Workload.Digest}
	v, err = verifier.Verify(context.Background(), bundle.DirSource(filepath.Join(dir, "bundle")), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Verified() || v.Pool != queue.SimPool {
		t.Errorf("the version 1 bundle against a matching record: pool %q, %s", v.Pool, failedReasons(v))
	}
	opts.Jobs = v1Jobs{digest: m.Workload.Digest, pool: "h200x8"}
	v, err = verifier.Verify(context.Background(), bundle.DirSource(filepath.Join(dir, "bundle")), opts)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := v.Check(verifier.CheckJob); v.Verified() || c.Passed || !strings.Contains(c.Reason, "simulated") {
		t.Errorf("the version 1 bundle against a record of pool h200x8: check %+v", c)
	}
}

// v1Jobs is the record of the version 1 bundle's job: jobs at attempt 1,
// with its workload digest and, when set, another pool.
type v1Jobs struct{ digest, pool string }

func (j v1Jobs) Get(ctx context.Context, id string) (*queue.Job, error) {
	job, err := jobs{attempt: 1}.Get(ctx, id)
	if job != nil {
		job.WorkloadDigest = j.digest
		if j.pool != "" {
			job.Pool = j.pool
		}
	}
	return job, err
}

// TestVerifySequentialAgentsInterleaved: records written in the order the
// requests finished, the agents interleaved as a runner writes them, are
// sequential per agent and verify.
func TestVerifySequentialAgentsInterleaved(t *testing.T) {
	b, err := verifiertest.Build(context.Background(), filepath.Join(t.TempDir(), "b"), verifiertest.Options{Seed: 6, CompletionOrder: true})
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifier.Verify(context.Background(), bundle.DirSource(b.Dir), options(b))
	if err != nil {
		t.Fatal(err)
	}
	if !v.Verified() {
		t.Fatalf("an honest interleaved bundle: %s", failedReasons(v))
	}
}
