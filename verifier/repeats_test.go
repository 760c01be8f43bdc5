package verifier_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/verifier/verifiertest"
)

// repeatsBundle is a bundle of benchmark.repeats = 3: after the
// confirmation at N_max, two repeat probes there, the last of which fails
// the tier.
func repeatsBundle(t *testing.T) *verifiertest.Bundle {
	t.Helper()
	b, err := verifiertest.Build(context.Background(), filepath.Join(t.TempDir(), "b"), verifiertest.Options{Seed: 3, Repeats: 3, RepeatFails: true})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerifyRepeats: repeat probes at N_max, one of them failing, leave
// N_max and its confirmation window as the search found them, and the
// verdict carries the spread recomputed over all three windows.
func TestVerifyRepeats(t *testing.T) {
	b := repeatsBundle(t)
	v, err := verifier.Verify(context.Background(), bundle.DirSource(b.Dir), options(b))
	if err != nil {
		t.Fatal(err)
	}
	if !v.Verified() {
		t.Fatalf("status %s: %s", v.Status, verifiertest.FailedReasons(v))
	}
	claim := b.Summary.Tiers[verifiertest.Tier]
	got := v.Results.Tiers[0]
	if got.MaxAgents != claim.MaxAgents || got.ConfirmProbe != *claim.ConfirmProbe {
		t.Errorf("N_max %d at probe %d, want %d at probe %d", got.MaxAgents, got.ConfirmProbe, claim.MaxAgents, *claim.ConfirmProbe)
	}
	rs := got.Repeats
	if rs == nil || len(rs.Probes) != 3 || rs.Probes[0] != got.ConfirmProbe || !slices.Equal(rs.Probes, claim.Repeats.Probes) {
		t.Fatalf("repeats %+v, want the confirmation and two repeat windows as claimed (%+v)", rs, claim.Repeats)
	}
	if !(rs.MetShare.Min < rs.MetShare.Max) || rs.AgentsPerMW == nil || !(rs.AgentsPerMW.Min < rs.AgentsPerMW.Max) {
		t.Errorf("spread %+v (Agents/MW %+v): want the failing repeat and the varying power to show", rs.MetShare, rs.AgentsPerMW)
	}
	if m := rs.AgentsPerMW; m != nil && (m.Min > got.AgentsPerMW || m.Max < got.AgentsPerMW) {
		t.Errorf("Agents/MW spread %+v does not hold the confirmation window's %v", m, got.AgentsPerMW)
	}
}

// TestVerifyRejectsRepeatSpreadClaims: a runner that narrows the spread,
// leaves out the failing repeat, or claims no spread at all is caught.
func TestVerifyRejectsRepeatSpreadClaims(t *testing.T) {
	b := repeatsBundle(t)
	editTier := func(fn func(t *bundle.TierSummary)) func(dir string) error {
		return func(dir string) error {
			return verifiertest.EditJSON(dir, bundle.SummaryFile, func(s *bundle.Summary) {
				t := s.Tiers[verifiertest.Tier]
				fn(&t)
				s.Tiers[verifiertest.Tier] = t
			})
		}
	}
	sum := b.Summary
	tests := []struct {
		name      string
		edit      func(dir string) error
		reasonHas string
	}{
		{"Agents/MW spread narrowed", editTier(func(t *bundle.TierSummary) {
			m := *t.Repeats.AgentsPerMW
			m.Min = m.Median
			t.Repeats.AgentsPerMW = &m
		}), "repeats.agents_per_mw.min: claimed"},
		{"the failing repeat left out", editTier(func(t *bundle.TierSummary) {
			// A self-consistent spread over the windows that passed.
			var ws []bundle.RepeatWindow
			for _, i := range t.Repeats.Probes {
				if p := sum.Probes[i]; p.Tiers[verifiertest.Tier].Passed {
					ws = append(ws, bundle.RepeatWindow{Probe: i, MetShare: p.Tiers[verifiertest.Tier].MetShare, AvgPowerW: p.Energy.AvgPowerW})
				}
			}
			t.Repeats = bundle.RepeatSpreadOf(t.MaxAgents, ws)
		}), "repeats.probes: claimed"},
		{"no spread claimed", editTier(func(t *bundle.TierSummary) { t.Repeats = nil }), "repeats: none claimed"},
		{"met share spread narrowed", editTier(func(t *bundle.TierSummary) {
			t.Repeats.MetShare = metrics.Spread{Min: t.Repeats.MetShare.Max, Median: t.Repeats.MetShare.Max, Max: t.Repeats.MetShare.Max}
		}), "repeats.met_share.min: claimed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "b")
			if err := b.Derive(context.Background(), dir, tc.edit, b.Key); err != nil {
				t.Fatal(err)
			}
			v, err := verifier.Verify(context.Background(), bundle.DirSource(dir), options(b))
			if err != nil {
				t.Fatal(err)
			}
			c, ok := v.Check(verifier.CheckTiers)
			if v.Verified() || !ok || c.Passed {
				t.Fatalf("tampered spread verified; tiers check %+v", c)
			}
			if !strings.Contains(c.Reason, tc.reasonHas) {
				t.Errorf("reason %q, want it to contain %q", c.Reason, tc.reasonHas)
			}
		})
	}
}

// specJobs is jobs with the record's spec asking for repeats.
type specJobs struct{ repeats int }

func (j specJobs) Get(ctx context.Context, id string) (*verifier.Job, error) {
	job, _ := jobs{attempt: 1}.Get(ctx, id)
	job.Spec = []byte(fmt.Sprintf(`{"benchmark":{"rules":"v1","profile":"test","repeats":%d}}`, j.repeats))
	return job, nil
}

// TestVerifyCountsRepeats: against its job's record, a bundle must hold
// the repeats its spec asks for — a runner that skips them (to hide a
// spread) is caught; one that ran them verifies.
func TestVerifyCountsRepeats(t *testing.T) {
	tests := []struct {
		name    string
		b       *verifiertest.Bundle
		repeats int
		fails   string // "" when it verifies
	}{
		{"three asked, three run", repeatsBundle(t), 3, ""},
		{"none asked, one run", goodBundle(t), 1, ""},
		{"three asked, one run", goodBundle(t), 3, "0 repeat probes at N_max=40, benchmark.repeats 3 asks for 2"},
		{"five asked, three run", repeatsBundle(t), 5, "2 repeat probes at N_max=40, benchmark.repeats 5 asks for 4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := options(tc.b)
			opts.Jobs = specJobs{repeats: tc.repeats}
			v, err := verifier.Verify(context.Background(), bundle.DirSource(tc.b.Dir), opts)
			if err != nil {
				t.Fatal(err)
			}
			c, _ := v.Check(verifier.CheckTiers)
			if tc.fails == "" {
				if !v.Verified() {
					t.Fatalf("status %s: %s", v.Status, verifiertest.FailedReasons(v))
				}
				return
			}
			if c.Passed || !strings.Contains(c.Reason, tc.fails) {
				t.Errorf("tiers check %+v, want it failed with %q", c, tc.fails)
			}
		})
	}
}

// TestVerifyRepeatWindowPower: a repeat window's power is held to the
// confirmation window's checks, since the Agents/MW spread rests on it.
func TestVerifyRepeatWindowPower(t *testing.T) {
	b := repeatsBundle(t)
	last := b.Summary.Probes[len(b.Summary.Probes)-1]
	from := last.WindowStartNs + 5e9
	dir := filepath.Join(t.TempDir(), "b")
	err := b.Derive(context.Background(), dir, func(dir string) error {
		return verifiertest.EditPower(dir, func(s *bundle.PowerLine) bool { return s.TMonoNs <= from || s.TMonoNs > from+7e8 })
	}, b.Key)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifier.Verify(context.Background(), bundle.DirSource(dir), options(b))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := v.Check(verifier.CheckPower)
	if want := fmt.Sprintf("probe %d: power sample gap", last.Index); c.Passed || !strings.Contains(c.Reason, want) {
		t.Errorf("power check %+v, want it failed with %q", c, want)
	}
}

// withManifestRepeats is b re-signed by its runner with the manifest's
// repeats set to n.
func withManifestRepeats(t *testing.T, b *verifiertest.Bundle, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repeats")
	if err := b.Derive(context.Background(), dir, func(dir string) error {
		return verifiertest.EditJSON(dir, bundle.ManifestFile, func(m *bundle.Manifest) { m.Repeats = n })
	}, b.Key); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestVerifyCountsRepeatsFromTheManifest: offline, with no job record,
// the signed manifest says how many windows the spec asked for, so a
// bundle that skipped its repeats is caught there too; online the
// manifest must agree with the job record's spec.
func TestVerifyCountsRepeatsFromTheManifest(t *testing.T) {
	ctx := context.Background()
	verify := func(b *verifiertest.Bundle, dir string, jobs verifier.JobSource) *bundle.Verdict {
		t.Helper()
		opts := options(b)
		opts.Jobs = jobs
		v, err := verifier.Verify(ctx, bundle.DirSource(dir), opts)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	rb := repeatsBundle(t)
	if v := verify(rb, withManifestRepeats(t, rb, 3), nil); !v.Verified() {
		t.Errorf("three signed, three run, offline: %s", verifiertest.FailedReasons(v))
	}
	gb := goodBundle(t)
	v := verify(gb, withManifestRepeats(t, gb, 3), nil)
	if c, _ := v.Check(verifier.CheckTiers); c.Passed || !strings.Contains(c.Reason, "0 repeat probes at N_max=40, benchmark.repeats 3 asks for 2") {
		t.Errorf("three signed, one run, offline: tiers check %+v, want it failed", c)
	}
	v = verify(gb, withManifestRepeats(t, gb, 1), specJobs{repeats: 3})
	if c, _ := v.Check(verifier.CheckJob); c.Passed || !strings.Contains(c.Reason, "repeats: the bundle says 1, the job record's spec 3") {
		t.Errorf("one signed, three asked by the job: job check %+v, want it failed", c)
	}
}
