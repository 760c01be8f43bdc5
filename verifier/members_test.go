package verifier_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/verifier/verifiertest"
	"github.com/agentwatt/agentwatt/verifier/verifiertest/known"
)

// buildGroup builds a runner group's bundle with seed 1, as the
// known-good single-host bundle.
func buildGroup(t *testing.T, g verifiertest.GroupOptions) *verifiertest.Bundle {
	t.Helper()
	b, err := verifiertest.Build(t.Context(), filepath.Join(t.TempDir(), "group"), verifiertest.Options{Seed: 1, Group: g})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func verifyBundle(t *testing.T, b *verifiertest.Bundle, dir string) *bundle.Verdict {
	t.Helper()
	v, err := verifier.Verify(context.Background(), bundle.DirSource(dir), known.Options(b))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestVerifyGroupSumsMembers: four members' power files, each member's
// window energy on its own samples, summed: the group's average power is
// the single host's times 1 + 1.1 + 1.2 + 1.3.
func TestVerifyGroupSumsMembers(t *testing.T) {
	single := known.Good(t)
	sv := verifyBundle(t, single, single.Dir)
	b := buildGroup(t, verifiertest.GroupOptions{Members: 4})
	v := verifyBundle(t, b, b.Dir)
	if !v.Verified() {
		t.Fatalf("status %s: %s", v.Status, verifiertest.FailedReasons(v))
	}
	if v.Results.GPUs != 4 {
		t.Errorf("results gpus = %d, want 4", v.Results.GPUs)
	}
	got, one := v.Results.Tiers[0], sv.Results.Tiers[0]
	if want := 4.6 * one.AvgPowerW; metrics.RelativeDifference(got.AvgPowerW, want) > 1e-9 {
		t.Errorf("group avg power %.6f W, want 4.6 × %.6f = %.6f W", got.AvgPowerW, one.AvgPowerW, want)
	}
	if want := 4.6 * one.EnergyJ; metrics.RelativeDifference(got.EnergyJ, want) > 1e-9 {
		t.Errorf("group energy %.6f J, want %.6f J", got.EnergyJ, want)
	}
	if got.AgentsPerGPU != float64(got.MaxAgents)/4 {
		t.Errorf("agents per GPU %v, want %d/4", got.AgentsPerGPU, got.MaxAgents)
	}
	claim := b.Summary.Tiers[verifiertest.Tier]
	if metrics.RelativeDifference(got.AgentsPerMW, claim.AgentsPerMW) > 1e-9 {
		t.Errorf("agents per MW %v, the claim %v", got.AgentsPerMW, claim.AgentsPerMW)
	}
}

// TestVerifyGroupAlignsSkewedClock: the last member's clock runs 2 s ahead
// and its measured offsets say so (off by 300 µs, inside their ±500 µs):
// aligned, the result is the unskewed group's within the tolerance. The
// same skew unmeasured is refused, naming the member.
func TestVerifyGroupAlignsSkewedClock(t *testing.T) {
	straight := buildGroup(t, verifiertest.GroupOptions{Members: 4})
	ref := verifyBundle(t, straight, straight.Dir)
	skewed := buildGroup(t, verifiertest.GroupOptions{Members: 4, Skew: 2 * time.Second, OffsetError: 300 * time.Microsecond})
	v := verifyBundle(t, skewed, skewed.Dir)
	if !v.Verified() {
		t.Fatalf("status %s: %s", v.Status, verifiertest.FailedReasons(v))
	}
	got, want := v.Results.Tiers[0], ref.Results.Tiers[0]
	if d := metrics.RelativeDifference(got.AvgPowerW, want.AvgPowerW); d > 1e-3 {
		t.Errorf("skewed group avg power %.6f W, unskewed %.6f W: %.4f%% apart", got.AvgPowerW, want.AvgPowerW, 100*d)
	}
	if got.MaxAgents != want.MaxAgents {
		t.Errorf("max agents %d, unskewed %d", got.MaxAgents, want.MaxAgents)
	}

	unmeasured := buildGroup(t, verifiertest.GroupOptions{Members: 4, Skew: 2 * time.Second, NoOffsets: true})
	v = verifyBundle(t, unmeasured, unmeasured.Dir)
	c, _ := v.Check(verifier.CheckPower)
	if c.Passed || !strings.Contains(strings.Join(c.Reasons, "\n"), "member node-3: its clock was not measured") {
		t.Errorf("unmeasured skew: power check %+v, want it refused naming node-3", c)
	}
}

// TestVerifyGroupRefuses: a member's gap, a stranger's power file, a
// member name that climbs out of power/, members that do not add up.
func TestVerifyGroupRefuses(t *testing.T) {
	good := buildGroup(t, verifiertest.GroupOptions{Members: 4})
	cw := good.ConfirmWindow
	tests := []struct {
		name      string
		edit      func(dir string) error
		resign    bool
		check     string
		reasonHas string
	}{
		{
			name: "a member's samples have a 2 s gap in the confirmation window",
			edit: func(dir string) error {
				mid := (cw[0] + cw[1]) / 2
				return verifiertest.EditMemberPower(dir, "node-2", func(s *bundle.PowerLine) bool {
					return s.TMonoNs < mid || s.TMonoNs > mid+int64(2*time.Second)
				})
			},
			resign: true,
			check:  verifier.CheckPower, reasonHas: "member node-2: power sample gap 2.",
		},
		{
			name: "a member's clock measured with ±1 s uncertainty",
			edit: func(dir string) error {
				return verifiertest.EditJSON(dir, bundle.MembersFile, func(ms *bundle.Members) {
					for i := range ms.Members[1].Offsets {
						ms.Members[1].Offsets[i].UncertaintyNs = int64(time.Second)
					}
				})
			},
			resign: true,
			check:  verifier.CheckPower, reasonHas: "member node-1: clock offset at the window's start uncertain by ±1.000 s",
		},
		{
			name: "outsider: a member power file not in the manifest",
			edit: func(dir string) error {
				return os.WriteFile(filepath.Join(dir, "power", "node-9.jsonl.zst"), []byte("watts"), 0o600)
			},
			check: verifier.CheckIntegrity, reasonHas: "power/node-9.jsonl.zst",
		},
		{
			name: "runner: a fifth power file for a member that is not in members.json",
			edit: func(dir string) error {
				src := filepath.Join(dir, "power", "node-1.jsonl.zst")
				data, err := os.ReadFile(src)
				if err != nil {
					return err
				}
				return os.WriteFile(filepath.Join(dir, "power", "node-9.jsonl.zst"), data, 0o600)
			},
			resign: true,
			check:  verifier.CheckPower, reasonHas: "node-9 is not a member",
		},
		{
			name: "runner: a member named ../summary",
			edit: func(dir string) error {
				return verifiertest.EditJSON(dir, bundle.MembersFile, func(ms *bundle.Members) { ms.Members[3].Name = "../summary" })
			},
			resign: true,
			check:  verifier.CheckPower, reasonHas: `"../summary"`,
		},
		{
			name: "runner: members of two accelerators",
			edit: func(dir string) error {
				return verifiertest.EditJSON(dir, bundle.MembersFile, func(ms *bundle.Members) { ms.Members[2].Accelerator = "h200" })
			},
			resign: true,
			check:  verifier.CheckPower, reasonHas: "member node-2: accelerator \"h200\"",
		},
		{
			name: "runner: a member declares 2 GPUs, its power covers 1",
			edit: func(dir string) error {
				return verifiertest.EditJSON(dir, bundle.MembersFile, func(ms *bundle.Members) {
					ms.Members[1].GPUs = 2
					ms.Members[1].Inventory.GPUs = append(ms.Members[1].Inventory.GPUs, bundle.InventoryGPU{Index: 1})
				})
			},
			resign: true,
			check:  verifier.CheckPower, reasonHas: "member node-1: declares 2 GPUs, its power samples cover 1",
		},
		{
			name: "runner: members.json dropped, the member files kept",
			edit: func(dir string) error {
				if err := os.WriteFile(filepath.Join(dir, bundle.PowerFile), nil, 0o600); err != nil {
					return err
				}
				return os.Remove(filepath.Join(dir, bundle.MembersFile))
			},
			resign: true,
			check:  verifier.CheckPower, reasonHas: "listed without members.json",
		},
		{
			name: "runner: power.jsonl.zst beside the members' files",
			edit: func(dir string) error {
				return os.WriteFile(filepath.Join(dir, bundle.PowerFile), []byte("{}"), 0o600)
			},
			resign: true,
			check:  verifier.CheckPower, reasonHas: "beside members.json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "b")
			key := good.Key
			if !tt.resign {
				key = nil
			}
			if err := good.Derive(t.Context(), dir, tt.edit, key); err != nil {
				t.Fatal(err)
			}
			v := verifyBundle(t, good, dir)
			if v.Verified() {
				t.Fatal("verified, want rejected")
			}
			c, ok := v.Check(tt.check)
			if !ok || c.Passed || !strings.Contains(strings.Join(c.Reasons, "\n"), tt.reasonHas) {
				t.Errorf("check %s = %+v, want failed with %q; failed: %s", tt.check, c, tt.reasonHas, verifiertest.FailedReasons(v))
			}
		})
	}
}
