package verifier_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/agentrunner/accuracy"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/verifier/verifiertest"
	"github.com/agentwatt/agentwatt/verifyd"
	"github.com/agentwatt/agentwatt/workload"
)

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
				t.Errorf("check records: got %+v, want a failure naming the agent; failed: %s", c, verifiertest.FailedReasons(v))
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
		{"sim power under an H200 inventory", verifiertest.RelabelAsH200(""), verifier.KeyScope{Pools: []string{"h200x8"}}},
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
				t.Errorf("status %s, power check %+v; failed: %s", v.Status, c, verifiertest.FailedReasons(v))
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
	parsed, err := verifyd.ParseKeys(data)
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
	opts := parsed.Options(verifier.Options{Workload: wl})
	for _, q := range qs {
		opts.References = append(opts.References, verifier.Reference{ID: q.ID, Expected: q.Expected})
	}
	v, err := verifier.Verify(context.Background(), bundle.DirSource(filepath.Join(dir, "bundle")), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Verified() {
		t.Fatalf("the version 1 bundle: %s", verifiertest.FailedReasons(v))
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
	if !v.Verified() || v.Pool != spec.Sim {
		t.Errorf("the version 1 bundle against a matching record: pool %q, %s", v.Pool, verifiertest.FailedReasons(v))
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

func (j v1Jobs) Get(ctx context.Context, id string) (*verifier.Job, error) {
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
		t.Fatalf("an honest interleaved bundle: %s", verifiertest.FailedReasons(v))
	}
}
