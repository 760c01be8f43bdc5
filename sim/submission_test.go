package sim

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/spec"
)

// TestExamplesFitTheirProfiles: every sim example submission names an
// embedded profile and declares the system that profile simulates.
func TestExamplesFitTheirProfiles(t *testing.T) {
	files, err := filepath.Glob("../examples/submissions/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	racks := 0
	for _, f := range files {
		s, err := spec.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Engine.Sim() {
			continue
		}
		p, err := DefaultProfile(s.Engine.SimProfile)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := CheckSystem(p, s.System); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if p.Rack != nil {
			racks++
		}
		if s.Pool() != p.Pool() || !spec.SimPool(p.Pool()) {
			t.Errorf("%s: pool %q, the profile's %q", f, s.Pool(), p.Pool())
		}
	}
	if racks == 0 {
		t.Error("no example submission runs a sim rack")
	}
}

func TestCheckSystem(t *testing.T) {
	rack, err := DefaultProfile("gb300-nvl72-like")
	if err != nil {
		t.Fatal(err)
	}
	tiny, _ := DefaultProfile("tiny")
	dg := func(p, d int) *spec.Disaggregation { return &spec.Disaggregation{PrefillWorkers: p, DecodeWorkers: d} }
	tests := []struct {
		name string
		p    Profile
		sys  spec.System
		want string // "" = fits
	}{
		{"rack fits", rack, spec.System{Accelerators: 72, Topology: spec.TopologyRackScale, Disaggregation: dg(1, 3)}, ""},
		{"rack as multi-node", rack, spec.System{Accelerators: 72, Topology: spec.TopologyMultiNode, Disaggregation: dg(1, 3)}, ""},
		{"rack on one node", rack, spec.System{Accelerators: 72, Topology: spec.TopologySingleNode, Disaggregation: dg(1, 3)}, "is a rack of 4 member nodes"},
		{"rack, wrong GPUs", rack, spec.System{Accelerators: 8, Topology: spec.TopologyRackScale, Disaggregation: dg(1, 3)}, "simulates 72 GPUs"},
		{"rack, no disaggregation", rack, spec.System{Accelerators: 72, Topology: spec.TopologyRackScale}, "declare prefill_workers 1 and decode_workers 3"},
		{"rack, other split", rack, spec.System{Accelerators: 72, Topology: spec.TopologyRackScale, Disaggregation: dg(2, 2)}, "has 1 prefill and 3 decode members"},
		{"host fits", tiny, spec.System{Accelerators: 1, Topology: spec.TopologySingleNode}, ""},
		{"host as a rack", tiny, spec.System{Accelerators: 1, Topology: spec.TopologyRackScale}, "simulates one host"},
		{"host disaggregated", tiny, spec.System{Accelerators: 1, Topology: spec.TopologySingleNode, Disaggregation: dg(1, 1)}, "not disaggregated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSystem(tt.p, tt.sys)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckSystem = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("CheckSystem = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestPools(t *testing.T) {
	got := Pools(DefaultProfiles())
	want := []string{"sim", "simx4", "simx72"}
	if !slices.Equal(got, want) {
		t.Errorf("Pools(embedded) = %v, want %v", got, want)
	}
	for _, p := range got {
		if !spec.SimPool(p) {
			t.Errorf("%s is not a sim pool", p)
		}
	}
}
