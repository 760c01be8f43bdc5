package verifier_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/verifier/verifiertest"
)

// asHardware relabels the known-good sim bundle as an 8×H200 node whose
// power came from source src, keeping one sample in every `every` (a
// BMC's 1 Hz is every 10th of the bundle's 10 Hz), and claims boundary.
func asHardware(src string, every int, boundary string) func(dir string) error {
	return func(dir string) error {
		if err := verifiertest.RelabelAsH200("")(dir); err != nil {
			return err
		}
		n := 0
		if err := verifiertest.EditPower(dir, func(s *bundle.PowerLine) bool {
			n++
			s.PowerSource = src
			return (n-1)%every == 0
		}); err != nil {
			return err
		}
		return verifiertest.EditJSON(dir, bundle.SummaryFile, func(s *bundle.Summary) {
			s.PowerBoundary = boundary
			if every > 1 {
				s.IdleBaseline = nil // thinned samples change it; the claims are not what this judges
			}
			if boundary == "node" {
				s.GPUs = 8
			}
		})
	}
}

func verifyAsH200(t *testing.T, edit func(dir string) error) *bundle.Verdict {
	t.Helper()
	b := goodBundle(t)
	dir := filepath.Join(t.TempDir(), "b")
	if err := b.Derive(context.Background(), dir, edit, b.Key); err != nil {
		t.Fatal(err)
	}
	opts := options(b)
	for name := range opts.Trusted {
		opts.Scopes = map[string]verifier.KeyScope{name: {Pools: []string{"h200x8"}}}
	}
	v, err := verifier.Verify(context.Background(), bundle.DirSource(dir), opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestVerifyPowerBoundaryClaim is the attack of a runner that labels GPU
// board power (NVML) as the node's: its Agents/MW would be ranked among
// the node-boundary results, where it looks several times better than a
// whole node's, and the node boundary's looser sampling limits would
// apply. The boundary is the samples' sources', and a claim that differs
// fails the power check.
func TestVerifyPowerBoundaryClaim(t *testing.T) {
	v := verifyAsH200(t, asHardware(bundle.PowerSourceInstant, 1, "node"))
	c, _ := v.Check(verifier.CheckPower)
	if v.Verified() || c.Passed || !strings.Contains(c.Reason, `power_boundary "node", but the power samples measure "gpu-board"`) {
		t.Errorf("NVML samples claimed as node: power check %+v; failed: %s", c, verifiertest.FailedReasons(v))
	}
	// The same samples claimed as what they are pass the power check.
	v = verifyAsH200(t, asHardware(bundle.PowerSourceInstant, 1, "gpu-board"))
	if c, _ := v.Check(verifier.CheckPower); !c.Passed {
		t.Errorf("NVML samples as gpu-board: power check %+v", c)
	}
}

// TestVerifyNodeBoundary: a BMC's samples at 1 Hz meet the node boundary's
// sampling limits (a 1 s gap, 5 s allowed), count the inventory's GPUs,
// and are not held to the GPUs' power limits; the same 1 Hz from NVML
// breaks the GPU boards' 500 ms limit.
func TestVerifyNodeBoundary(t *testing.T) {
	v := verifyAsH200(t, asHardware(bundle.PowerSourceRedfishMetrics, 10, "node"))
	if c, _ := v.Check(verifier.CheckPower); !c.Passed || !strings.Contains(c.Reason, "gaps ≤ 5.00 s") {
		t.Errorf("Redfish at 1 Hz: power check %+v; failed: %s", c, verifiertest.FailedReasons(v))
	}
	if v.Results == nil || v.Results.GPUs != 8 || v.Results.PowerBoundary != "node" {
		t.Errorf("results %+v: want the inventory's 8 GPUs at the node boundary", v.Results)
	}
	v = verifyAsH200(t, asHardware(bundle.PowerSourceInstant, 10, "gpu-board"))
	if c, _ := v.Check(verifier.CheckPower); c.Passed || !strings.Contains(c.Reason, "above 0.500 s") {
		t.Errorf("NVML at 1 Hz: power check %+v, want the 500 ms gap limit", c)
	}
	v = verifyAsH200(t, asHardware("redfish-made-up", 10, "node"))
	if c, _ := v.Check(verifier.CheckPower); c.Passed || !strings.Contains(c.Reason, "redfish-made-up") {
		t.Errorf("unknown source: power check %+v", c)
	}
}
