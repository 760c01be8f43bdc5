package agentrunner

import (
	"context"
	"errors"
	"testing"

	"github.com/agentwatt/agentwatt/agentrunner/power"
	"github.com/agentwatt/agentwatt/spec"
)

// TestPlanFor: the sim/GPU difference is decided once, from the config.
func TestPlanFor(t *testing.T) {
	opened := false
	gpu := planFor(Config{Pool: "h100x8", Power: func() (power.Source, error) { opened = true; return nil, nil }})
	if !gpu.idleBeforeLaunch || gpu.baselineState != "gpus-idle" || gpu.simulated {
		t.Errorf("GPU plan %+v: want the baseline before the launch, gpus-idle, not simulated", gpu)
	}
	if _, err := gpu.source(nil); err != nil || !opened {
		t.Errorf("GPU plan's source: %v, opened %v; want the config's Power, without an engine", err, opened)
	}
	for _, pool := range []string{spec.Sim, "simx72"} {
		sim := planFor(Config{Pool: pool})
		if sim.idleBeforeLaunch || sim.baselineState != "engine-idle" || !sim.simulated {
			t.Errorf("pool %s: sim plan %+v: want the launch first, engine-idle, simulated", pool, sim)
		}
	}
}

// TestStepNamesCause: a phase interrupted says why, with its name; one
// that was never started when the job was already interrupted does not
// run.
func TestStepNamesCause(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errLost)
	ran := false
	_, err := step(ctx, PhaseSearch, func() (int, error) { ran = true; return 0, nil })
	if ran || !errors.Is(err, errLost) || err.Error() != "capacity_search: lease lost" {
		t.Errorf("after the cause: ran %v, err %v; want not run, capacity_search: lease lost", ran, err)
	}

	ctx, cancel = context.WithCancelCause(context.Background())
	v, err := step(ctx, PhaseAccuracy, func() (int, error) {
		cancel(errCanceled)
		return 7, context.Canceled
	})
	if v != 7 || !errors.Is(err, errCanceled) || phaseName(err) != PhaseAccuracy {
		t.Errorf("interrupted: %d, %v (phase %s); want its partial result 7 and errCanceled in accuracy", v, err, phaseName(err))
	}
}
