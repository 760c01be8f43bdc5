package metrics

import (
	"testing"
	"time"
)

func TestCheckClientHealth(t *testing.T) {
	lim := HealthLimits{MaxSchedLagP99: 5 * time.Millisecond, MaxCPUShare: 0.85, MaxConnWaitP99: 10 * time.Millisecond}
	tests := []struct {
		name    string
		h       ClientHealth
		reasons int
	}{
		{"healthy", ClientHealth{SchedLagP99Ns: 4e6, CPUShare: 0.5, ConnWaitP99Ns: 1e6}, 0},
		{"at the limits", ClientHealth{SchedLagP99Ns: 5e6, CPUShare: 0.85, ConnWaitP99Ns: 10e6}, 0},
		{"lagging", ClientHealth{SchedLagP99Ns: 6e6, CPUShare: 0.5}, 1},
		{"saturated CPU", ClientHealth{SchedLagP99Ns: 1e6, CPUShare: 0.95}, 1},
		{"waiting for connections", ClientHealth{ConnWaitP99Ns: 50e6}, 1},
		{"everything", ClientHealth{SchedLagP99Ns: 60e6, CPUShare: 1, ConnWaitP99Ns: 50e6}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CheckClientHealth(tc.h, lim); len(got) != tc.reasons {
				t.Fatalf("reasons = %v, want %d", got, tc.reasons)
			}
		})
	}
	if got := CheckClientHealth(ClientHealth{SchedLagP99Ns: 1e9, CPUShare: 1}, HealthLimits{}); len(got) != 0 {
		t.Fatalf("zero limits are not checked, got %v", got)
	}
}
