package verifier

import (
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/bundle"
)

func TestCheckMemberSystem(t *testing.T) {
	rack := func(n, gpus int, acc string) *bundle.Members {
		ms := &bundle.Members{}
		for k := 0; k < n; k++ {
			ms.Members = append(ms.Members, bundle.Member{Name: string(rune('a' + k)), Accelerator: acc, GPUs: gpus})
		}
		return ms
	}
	tests := []struct {
		name string
		ms   *bundle.Members
		pool string
		want string // "" for none
	}{
		{"4 × 18 gb300 is gb300x72", rack(4, 18, "gb300"), "gb300x72", ""},
		{"4 × 16 is not 72", rack(4, 16, "gb300"), "gb300x72", "add up to gb300x64"},
		{"another accelerator", rack(4, 18, "gb200"), "gb300x72", "add up to gb200x72"},
		{"a pool without a count", rack(1, 8, "h200"), "h200", "does not declare"},
		{"sim declares no hardware", rack(4, 1, ""), "sim", ""},
		{"a sim rack: 4 × 18 sim GPUs is simx72", rack(4, 18, ""), "simx72", ""},
		{"a sim rack naming its accelerator", rack(4, 18, "sim"), "simx72", ""},
		{"a sim rack short of GPUs", rack(4, 1, ""), "simx72", "add up to simx4"},
		{"hardware members in a sim rack's pool", rack(4, 18, "gb300"), "simx72", "add up to gb300x72"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fails := strings.Join(checkMemberSystem(tt.ms, tt.pool), "\n")
			if (tt.want == "") != (fails == "") || !strings.Contains(fails, tt.want) {
				t.Errorf("checkMemberSystem = %q, want %q", fails, tt.want)
			}
		})
	}
	mixed := rack(2, 8, "h200")
	mixed.Members[1].Accelerator = "h100"
	if fails := checkMemberSystem(mixed, "sim"); len(fails) != 1 || !strings.Contains(fails[0], "one accelerator") {
		t.Errorf("mixed accelerators: %q", fails)
	}
}
