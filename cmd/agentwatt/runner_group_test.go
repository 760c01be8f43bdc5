package main

import (
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/agentrunner"
)

// TestGroupFlagsPool: the group's pool comes from the sim rack profile or
// from this node's GPUs × the group's size; flags that make no group are
// refused with the reason.
func TestGroupFlagsPool(t *testing.T) {
	tests := []struct {
		name     string
		f        groupFlags
		cfg      agentrunner.Config
		wantPool string
		wantErr  string
	}{
		{"no group", groupFlags{}, agentrunner.Config{Pool: "h100x8"}, "h100x8", ""},
		{"sim rack", groupFlags{name: "rack", simRack: "gb300-nvl72-like"}, agentrunner.Config{Pool: "sim"}, "simx72", ""},
		{"sim rack of its size", groupFlags{name: "rack", simRack: "tiny-rack", size: 2}, agentrunner.Config{Pool: "sim"}, "simx4", ""},
		{"sim rack, wrong size", groupFlags{name: "rack", simRack: "tiny-rack", size: 4}, agentrunner.Config{Pool: "sim"}, "", "--group-size 4: sim rack profile tiny-rack has 2 members"},
		{"not a rack profile", groupFlags{name: "rack", simRack: "tiny"}, agentrunner.Config{Pool: "sim"}, "", "not a rack profile"},
		{"hardware group", groupFlags{name: "rack", size: 4}, agentrunner.Config{Pool: "gb300x18", Accelerator: "gb300", GPUs: 18}, "gb300x72", ""},
		{"hardware group without a size", groupFlags{name: "rack"}, agentrunner.Config{Pool: "gb300x18", Accelerator: "gb300", GPUs: 18}, "", "--group-size is needed"},
		{"member without a group", groupFlags{member: "node-0"}, agentrunner.Config{Pool: "sim"}, "", "need --group"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			err := tc.f.setPool(&cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Pool != tc.wantPool {
				t.Errorf("pool %s, want %s", cfg.Pool, tc.wantPool)
			}
		})
	}
}
