package verifier_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/verifier/verifiertest"
	"github.com/agentwatt/agentwatt/verifier/verifiertest/known"
)

// rackJobs is the job record of a simulated rack's job: pool simx72.
type rackJobs struct{ attempt int }

func (j rackJobs) Get(_ context.Context, id string) (*verifier.Job, error) {
	return &verifier.Job{ID: id, Attempt: j.attempt, Pool: "simx72", Profile: "test",
		SpecDigest: verifiertest.SpecDigest, WorkloadDigest: string(goodWorkloadDigest), Runner: verifiertest.Runner,
		Spec: []byte(`{"benchmark":{"rules":"v1","profile":"test"}}`)}, nil
}

// TestVerifySimRackPool: a simulated rack's result (pool simx72) is
// simulated in the verdict, signed by a key enrolled for sim pools; a
// hardware key cannot sign it, nor can the rack's sim key sign it relabelled
// as hardware.
func TestVerifySimRackPool(t *testing.T) {
	ctx := context.Background()
	b, err := verifiertest.Build(ctx, filepath.Join(t.TempDir(), "b"), verifiertest.Options{Seed: 11, Pool: "simx72"})
	if err != nil {
		t.Fatal(err)
	}
	verify := func(dir string, scope verifier.KeyScope, online bool) *bundle.Verdict {
		t.Helper()
		opts := known.Options(b)
		if online {
			opts.Jobs = rackJobs{attempt: b.Attempt}
		}
		for name := range opts.Trusted {
			opts.Scopes = map[string]verifier.KeyScope{name: scope}
		}
		v, err := verifier.Verify(ctx, bundle.DirSource(dir), opts)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	simKey := verifier.KeyScope{Pools: []string{spec.Sim, "simx72"}, Sim: true}
	for _, online := range []bool{true, false} {
		v := verify(b.Dir, simKey, online)
		if !v.Verified() || !v.Simulated || v.Pool != "simx72" {
			t.Fatalf("online %v: the rack's own result: status %s, simulated %v, pool %s; failed: %s", online, v.Status, v.Simulated, v.Pool, verifiertest.FailedReasons(v))
		}
		// A hardware key signs the simulated rack's result.
		v = verify(b.Dir, verifier.KeyScope{Pools: []string{"gb300x72"}}, online)
		if c, _ := v.Check(verifier.CheckKeyScope); v.Verified() || c.Passed || !strings.Contains(c.Reason, "enrolled for pools [gb300x72]") {
			t.Errorf("online %v: a gb300x72 key's simx72 result: status %s, key scope %+v", online, v.Status, c)
		}
	}

	// The rack's sim key signs its run relabelled as 8×H200.
	forged := filepath.Join(t.TempDir(), "forged")
	if err := b.Derive(ctx, forged, verifiertest.RelabelAsH200(""), b.Key); err != nil {
		t.Fatal(err)
	}
	for online, want := range map[bool]string{true: "simulated pool simx72 that is not simulated", false: "sim runner's key signed a result that is not simulated"} {
		v := verify(forged, simKey, online)
		if c, _ := v.Check(verifier.CheckKeyScope); v.Verified() || c.Passed || !strings.Contains(c.Reason, want) {
			t.Errorf("online %v: a sim rack key's relabelled result: status %s, key scope %+v; failed: %s", online, v.Status, c, verifiertest.FailedReasons(v))
		}
	}
	// Relabelled as hardware, yet still of pool simx72, and signed by a key
	// whose scope names simx72 without marking it sim (a scope built by
	// hand: the fleet and runners.json never make one).
	relabel := verifiertest.RelabelAsH200("")
	keepPool := filepath.Join(t.TempDir(), "keep-pool")
	if err := b.Derive(ctx, keepPool, func(dir string) error {
		if err := relabel(dir); err != nil {
			return err
		}
		return verifiertest.EditJSON(dir, bundle.ManifestFile, func(m *bundle.Manifest) { m.Pool = "simx72" })
	}, b.Key); err != nil {
		t.Fatal(err)
	}
	v := verify(keepPool, verifier.KeyScope{Pools: []string{"simx72"}}, false)
	if c, _ := v.Check(verifier.CheckKeyScope); v.Verified() || c.Passed || !strings.Contains(c.Reason, "simulated pool simx72 that is not simulated") {
		t.Errorf("a hardware claim of pool simx72: status %s, key scope %+v", v.Status, c)
	}
}
