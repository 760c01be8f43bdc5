package agentrunner

import (
	"errors"
	"fmt"
	"testing"
)

// TestPhaseErrorNamesItsPhaseOnce: a failure reason names the phase once,
// also when the error (ErrPreflight) already starts with its name.
func TestPhaseErrorNamesItsPhaseOnce(t *testing.T) {
	tests := []struct {
		name  string
		phase string
		err   error
		want  string
	}{
		{"preflight refusal", PhasePreflight, fmt.Errorf("%w: the job's pool is h200x8, this runner's sim", ErrPreflight), "preflight: the job's pool is h200x8, this runner's sim"},
		{"other phase", PhaseWorkload, errors.New("resolve workload x: not found"), "workload: resolve workload x: not found"},
		{"a name that only starts alike", PhasePreflight, errors.New("preflighted: x"), "preflight: preflighted: x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pe := &phaseError{tc.phase, tc.err}
			if got := pe.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
			if !errors.Is(pe, tc.err) {
				t.Errorf("errors.Is(phaseError, err) = false")
			}
		})
	}
}
