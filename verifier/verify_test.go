package verifier_test

import (
	"bytes"

	"context"
	"crypto/ed25519"
	"github.com/klauspost/compress/zstd"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/verifier/verifiertest"
	"github.com/agentwatt/agentwatt/verifier/verifiertest/known"
	"github.com/agentwatt/agentwatt/workload"
)

func TestMain(m *testing.M) { known.Main(m) }

var (
	goodBundle = known.Good
	options    = known.Options
)

// jobs is a JobSource whose job is at a given attempt, its record the
// known-good bundle's terms.
type jobs struct{ attempt int }

func (j jobs) Get(_ context.Context, id string) (*verifier.Job, error) {
	return &verifier.Job{ID: id, Attempt: j.attempt, Pool: spec.Sim, Profile: "test",
		SpecDigest: verifiertest.SpecDigest, WorkloadDigest: string(goodWorkloadDigest), Runner: verifiertest.Runner,
		Spec: []byte(`{"benchmark":{"rules":"v1","profile":"test"}}`)}, nil
}

var goodWorkloadDigest = workload.DefaultDigest()

func TestVerifyHappyPath(t *testing.T) {
	b := goodBundle(t)
	opts := options(b)
	opts.Jobs = jobs{attempt: b.Attempt}
	v, err := verifier.Verify(context.Background(), bundle.DirSource(b.Dir), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Verified() {
		t.Fatalf("status %s, failed checks: %+v", v.Status, v.Failed())
	}
	for _, name := range []string{verifier.CheckIntegrity, verifier.CheckAttempt, verifier.CheckRecords, verifier.CheckTargets,
		verifier.CheckForced, verifier.CheckProbes, verifier.CheckTiers, verifier.CheckWindows, verifier.CheckErrorShare,
		verifier.CheckClientHealth, verifier.CheckPower, verifier.CheckAccuracy} {
		if c, ok := v.Check(name); !ok || !c.Passed {
			t.Errorf("check %s: got %+v (present %v), want passed", name, c, ok)
		}
	}
	claim := b.Summary.Tiers[verifiertest.Tier]
	if len(v.Results.Tiers) != 1 {
		t.Fatalf("results tiers: got %d, want 1", len(v.Results.Tiers))
	}
	got := v.Results.Tiers[0]
	if got.MaxAgents != claim.MaxAgents || !got.Confirmed || got.ConfirmProbe != *claim.ConfirmProbe {
		t.Errorf("tier: got N=%d confirmed=%v probe %d, want N=%d probe %d", got.MaxAgents, got.Confirmed, got.ConfirmProbe, claim.MaxAgents, *claim.ConfirmProbe)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"agents_per_mw", got.AgentsPerMW, claim.AgentsPerMW},
		{"avg_power_w", got.AvgPowerW, claim.AvgPowerW},
		{"joules_per_token", got.JoulesPerToken, claim.JoulesPerToken},
		{"output_tokens_per_s", got.OutputTokensPerS, claim.OutputTokensPerS},
		{"agents_per_gpu", got.AgentsPerGPU, claim.AgentsPerGPU},
	} {
		if c.want == 0 || metrics.RelativeDifference(c.got, c.want) > 1e-9 {
			t.Errorf("%s: recomputed %v, the known-good claim %v", c.name, c.got, c.want)
		}
	}
	if v.Results.Accuracy != 1 || v.Results.Model != "sim" {
		t.Errorf("accuracy: got %v for %q, want 1 for sim", v.Results.Accuracy, v.Results.Model)
	}
}

func TestVerifyRejectsTampering(t *testing.T) {
	b := goodBundle(t)
	_, stranger, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	cw := b.ConfirmWindow
	tests := []struct {
		name      string
		edit      func(dir string) error
		key       ed25519.PrivateKey // nil: not re-signed
		attempt   int                // the job's current attempt; 0: no queue
		check     string             // the check that must fail
		reasonHas string             // in its reason
	}{
		{
			name:  "outsider: file changed without re-signing",
			edit:  func(dir string) error { return flipByte(filepath.Join(dir, bundle.SummaryFile)) },
			check: verifier.CheckIntegrity, reasonHas: string(bundle.ReasonDigestMismatch),
		},
		{
			name:  "outsider: file missing",
			edit:  func(dir string) error { return os.Remove(filepath.Join(dir, bundle.AccuracyFile)) },
			check: verifier.CheckIntegrity, reasonHas: string(bundle.ReasonFileMissing),
		},
		{
			name:  "outsider: re-signed with an unenrolled key",
			edit:  func(dir string) error { return nil },
			key:   stranger,
			check: verifier.CheckIntegrity, reasonHas: string(bundle.ReasonUntrustedKey),
		},
		{
			name:    "outsider: stale attempt",
			edit:    func(dir string) error { return nil },
			attempt: 2,
			check:   verifier.CheckAttempt, reasonHas: "stale attempt: the bundle is attempt 1, the job's current attempt is 2",
		},
		{
			name: "runner: a first-token time moved by 1 s",
			edit: func(dir string) error {
				moved := false
				return verifiertest.EditRecords(dir, func(r *metrics.Request) {
					// The slowest first token in the confirmation window
					// crosses the tier's 10 s: the recomputed met share
					// drops below the claim.
					if !moved && r.TSendNs >= cw[0] && r.TSendNs < cw[1] && r.TFirstNs-r.TSendNs > 9e9 && r.TLastNs-r.TFirstNs > 1.2e9 {
						r.TFirstNs += 1e9
						moved = true
					}
				})
			},
			key:   nil, // set below: the enrolled key
			check: verifier.CheckProbes, reasonHas: "met_share",
		},
		{
			name: "runner: 0.7 s of power samples removed",
			edit: func(dir string) error {
				from := cw[0] + 5e9
				return verifiertest.EditPower(dir, func(s *bundle.PowerLine) bool {
					return s.TMonoNs <= from || s.TMonoNs > from+7e8
				})
			},
			check: verifier.CheckPower, reasonHas: "power sample gap",
		},
		{
			name: "runner: summary claims inflated by 1%",
			edit: func(dir string) error {
				return verifiertest.EditJSON(dir, bundle.SummaryFile, func(s *bundle.Summary) {
					t := s.Tiers[verifiertest.Tier]
					t.AgentsPerMW *= 1.01
					s.Tiers[verifiertest.Tier] = t
				})
			},
			check: verifier.CheckTiers, reasonHas: "agents_per_mw: claimed",
		},
		{
			name: "runner: theoretical cache share inflated",
			edit: func(dir string) error {
				return verifiertest.EditJSON(dir, bundle.SummaryFile, func(s *bundle.Summary) {
					for i := range s.Probes {
						if p := s.Probes[i].TheoreticalCacheShare; p != nil {
							*p = min(1, *p*1.2+0.05) // an engine's cache made to look less wanting
						}
					}
				})
			},
			check: verifier.CheckProbes, reasonHas: "theoretical_cache_share: claimed",
		},
		{
			name: "runner: accuracy below the threshold",
			edit: func(dir string) error {
				return verifiertest.EditAccuracy(dir, func(l *bundle.AccuracyRecord) {
					if l.ID == 3 {
						l.Output = "#### 4" // the oracle erred; the runner still claims correct
					}
				})
			},
			check: verifier.CheckAccuracy, reasonHas: "below 0.9900",
		},
		{
			name: "runner: live history claimed",
			edit: func(dir string) error {
				return verifiertest.EditJSON(dir, bundle.ProbesFile, func(m *map[string]any) { (*m)["history"] = "live" })
			},
			check: verifier.CheckTargets, reasonHas: `history "live"`,
		},
		{
			name:  "runner: too many answers ended early",
			edit:  truncateAnswers(cw),
			check: verifier.CheckForced, reasonHas: "ended before the forced length, above max_truncated_share",
		},
		{
			name: "runner: forced lengths ignored by the engine",
			edit: func(dir string) error {
				n := 0
				return verifiertest.EditRecords(dir, func(r *metrics.Request) {
					if n++; n%10 == 0 {
						r.CompletionTokens = max(2, r.CompletionTokens/2)
					}
				})
			},
			check: verifier.CheckForced, reasonHas: "below the forced length",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.key
			if strings.HasPrefix(tc.name, "runner:") {
				key = b.Key // dishonest but enrolled: re-signs its edit
			}
			dir := filepath.Join(t.TempDir(), "b")
			if err := b.Derive(context.Background(), dir, tc.edit, key); err != nil {
				t.Fatal(err)
			}
			opts := options(b)
			if tc.attempt > 0 {
				opts.Jobs = jobs{attempt: tc.attempt}
			}
			v, err := verifier.Verify(context.Background(), bundle.DirSource(dir), opts)
			if err != nil {
				t.Fatal(err)
			}
			if v.Verified() {
				t.Fatalf("tampered bundle verified")
			}
			c, ok := v.Check(tc.check)
			if !ok || c.Passed {
				t.Fatalf("check %s: got %+v (present %v), want failed; failed: %+v", tc.check, c, ok, v.Failed())
			}
			if !strings.Contains(c.Reason, tc.reasonHas) {
				t.Errorf("check %s reason: got %q, want it to contain %q", tc.check, c.Reason, tc.reasonHas)
			}
		})
	}
}

// A bundle of a runner that predates the theoretical cache share (no
// theoretical_cache_share in summary.json) still verifies; one that claims
// it is checked (TestVerifyRejectsTampering).
func TestVerifyWithoutTheoreticalCacheShare(t *testing.T) {
	b := goodBundle(t)
	claimed := 0
	for _, p := range b.Summary.Probes {
		if p.TheoreticalCacheShare != nil {
			claimed++
		}
	}
	if claimed == 0 {
		t.Fatal("the known-good bundle claims no theoretical cache share")
	}
	dir := filepath.Join(t.TempDir(), "b")
	err := b.Derive(context.Background(), dir, func(dir string) error {
		return verifiertest.EditJSON(dir, bundle.SummaryFile, func(s *bundle.Summary) {
			for i := range s.Probes {
				s.Probes[i].TheoreticalCacheShare = nil
			}
		})
	}, b.Key)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifier.Verify(context.Background(), bundle.DirSource(dir), options(b))
	if err != nil {
		t.Fatal(err)
	}
	if !v.Verified() {
		t.Fatalf("status %s, failed: %+v", v.Status, v.Failed())
	}
}

// An engine whose cache served nothing is noted beside the theoretical
// share, never failed.
func TestVerifyNotesCacheGap(t *testing.T) {
	b := goodBundle(t)
	v, err := verifier.Verify(context.Background(), bundle.DirSource(b.Dir), options(b))
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := v.Check(verifier.CheckCachedShare); strings.Contains(c.Reason, "points less") {
		t.Fatalf("known-good bundle (its cache serves the theory): got a gap note %q", c.Reason)
	}
	dir := filepath.Join(t.TempDir(), "b")
	err = b.Derive(context.Background(), dir, func(dir string) error {
		if err := verifiertest.EditRecords(dir, func(r *metrics.Request) { r.CachedTokens = metrics.Int(0) }); err != nil {
			return err
		}
		return verifiertest.EditJSON(dir, bundle.SummaryFile, func(s *bundle.Summary) {
			for i := range s.Probes {
				s.Probes[i].CachedTokenShare = 0
			}
		})
	}, b.Key)
	if err != nil {
		t.Fatal(err)
	}
	v, err = verifier.Verify(context.Background(), bundle.DirSource(dir), options(b))
	if err != nil {
		t.Fatal(err)
	}
	if !v.Verified() {
		t.Fatalf("status %s, failed: %+v", v.Status, v.Failed())
	}
	c, ok := v.Check(verifier.CheckCachedShare)
	if !ok || !c.Passed || !c.Informational || !strings.Contains(c.Reason, "points less than the workload allows") {
		t.Fatalf("cached share note: got %+v (present %v)", c, ok)
	}
}

// truncateAnswers is an edit that makes every 10th window request of the
// confirmation window cw an answer the engine ended early (status
// truncated, half the forced length): about 4% of the known-good bundle's
// answered window requests.
func truncateAnswers(cw [2]int64) func(dir string) error {
	return func(dir string) error {
		n := 0
		return verifiertest.EditRecords(dir, func(r *metrics.Request) {
			if r.TSendNs >= cw[0] && r.TSendNs < cw[1] {
				if n++; n%10 == 0 {
					r.Status = metrics.StatusTruncated
					r.CompletionTokens = max(1, r.TargetCompletionTokens/2)
				}
			}
		})
	}
}

// TestVerifyTruncatedShare: the share of answers the engine ended before
// the forced length is judged against probe.max_truncated_share, its own
// number, not the error share's.
func TestVerifyTruncatedShare(t *testing.T) {
	b := goodBundle(t)
	dir := filepath.Join(t.TempDir(), "b")
	if err := b.Derive(context.Background(), dir, truncateAnswers(b.ConfirmWindow), b.Key); err != nil {
		t.Fatal(err)
	}
	rules, err := spec.LoadRules("v1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		truncated float64
		errors    float64
		passed    bool
		reasonHas string
	}{
		{"v1: 1% allowed", rules.Probe.MaxTruncatedShare, rules.Probe.MaxErrorShare, false, "answered window requests"},
		{"a looser truncated share", 0.5, rules.Probe.MaxErrorShare, true, ""},
		{"a looser error share does not help", 0.01, 0.5, false, "above max_truncated_share 1.00%"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := *rules
			r.Probe.MaxTruncatedShare, r.Probe.MaxErrorShare = tc.truncated, tc.errors
			opts := options(b)
			opts.Rules = &r
			v, err := verifier.Verify(context.Background(), bundle.DirSource(dir), opts)
			if err != nil {
				t.Fatal(err)
			}
			c, ok := v.Check(verifier.CheckForced)
			if !ok || c.Passed != tc.passed || !strings.Contains(c.Reason, tc.reasonHas) {
				t.Fatalf("forced lengths check: got %+v, want passed=%v with %q", c, tc.passed, tc.reasonHas)
			}
		})
	}
}

// flipByte changes one byte in the middle of a file, keeping its size.
func flipByte(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	data[len(data)/2] ^= 0x01
	return os.WriteFile(path, data, 0o600)
}

// A runner's records file that expands to a 64 MiB line is refused with a
// reason, in bounded memory (the line limit is 4 MiB).
func TestVerifyRefusesHugeLine(t *testing.T) {
	b := goodBundle(t)
	dir := filepath.Join(t.TempDir(), "b")
	err := b.Derive(context.Background(), dir, func(dir string) error {
		f, err := os.Create(filepath.Join(dir, bundle.RequestsFile))
		if err != nil {
			return err
		}
		defer f.Close()
		zw, err := zstd.NewWriter(f)
		if err != nil {
			return err
		}
		chunk := bytes.Repeat([]byte("a"), 1<<20)
		for range 64 {
			if _, err := zw.Write(chunk); err != nil {
				return err
			}
		}
		return zw.Close()
	}, b.Key)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifier.Verify(context.Background(), bundle.DirSource(dir), options(b))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := v.Check(verifier.CheckRecords)
	if v.Verified() || c.Passed || !strings.Contains(c.Reason, "line") {
		t.Fatalf("records check: got %+v, want failed on a too long line", c)
	}
}

// A stream of more records than the limit is refused, not held.
func TestVerifyRefusesTooManyRecords(t *testing.T) {
	b := goodBundle(t)
	opts := options(b)
	opts.MaxRecords = 10
	v, err := verifier.Verify(context.Background(), bundle.DirSource(b.Dir), opts)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := v.Check(verifier.CheckRecords)
	if v.Verified() || c.Passed || !strings.Contains(c.Reason, "more than 10 records") {
		t.Fatalf("records check: got %+v, want failed past 10 records", c)
	}
}
