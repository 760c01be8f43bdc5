package sim_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/agentrunner/power"
	"github.com/agentwatt/agentwatt/sim"
)

// The runner's existing sim power source reads a rack member's node as it
// reads a single-host sim: the member's GPUs, simulated, on the host's
// monotonic clock; during the gap fault it gets no samples.
func TestRunnerSimSourceReadsANode(t *testing.T) {
	p, err := sim.DefaultProfile("gb300-nvl72-like")
	if err != nil {
		t.Fatal(err)
	}
	front, err := sim.NewServer(sim.Config{Profile: p, Seed: 3}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(front.Stop)
	fe := httptest.NewServer(front.Handler())
	t.Cleanup(fe.Close)
	nodeSource := func(f sim.Faults) *power.SimSource {
		node, err := sim.NewNode(sim.NodeConfig{Profile: p, Member: 2, FrontendURL: fe.URL, Seed: 3, Faults: f}, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = node.Close() })
		ns := httptest.NewServer(node)
		t.Cleanup(ns.Close)
		src := power.NewSimSource(ns.URL)
		t.Cleanup(func() { _ = src.Close() })
		return src
	}
	clk := power.NewClock(time.Now())
	if s, err := nodeSource(sim.Faults{PowerGapFor: time.Hour}).Read(context.Background(), clk); err == nil {
		t.Errorf("a node in a power gap gave %d samples", len(s))
	}
	src := nodeSource(sim.Faults{})
	samples, err := src.Read(context.Background(), clk)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != p.Rack.GPUsPerMember {
		t.Fatalf("%d samples, want member 2's %d GPUs", len(samples), p.Rack.GPUsPerMember)
	}
	for i, s := range samples {
		if s.GPU != i || s.PowerSource != power.SourceSim || s.EnergyMJ <= 0 || s.PowerW < p.Power.IdleW*0.9 {
			t.Errorf("sample %d: %+v", i, s)
		}
	}
	if src.Boundary() != power.BoundarySimulated {
		t.Errorf("boundary %s", src.Boundary())
	}
}
