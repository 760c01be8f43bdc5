package agentrunner

import (
	"fmt"
	"strings"

	"github.com/agentwatt/agentwatt/spec"
)

// preflight checks that this runner can run sub before anything starts. v1
// runners are single-node and no runner of a pool can run what its pool
// cannot, so a refusal fails the job with the reason (a release would only
// hand it to another runner that refuses it too).
func (r *Runner) preflight(sub *spec.Submission) error {
	if t := sub.System.Topology; t != "" && t != spec.TopologySingleNode {
		return fmt.Errorf("%w: system.topology %s: v1 runners are single-node; multi-node and rack-scale jobs need multi-host runner groups, which do not exist yet",
			ErrPreflight, t)
	}
	if sub.System.Disaggregation != nil {
		return fmt.Errorf("%w: system.disaggregation: v1 runners run one engine per node", ErrPreflight)
	}
	if p := sub.Pool(); p != r.cfg.Pool {
		return fmt.Errorf("%w: the job's pool is %s, this runner's %s", ErrPreflight, p, r.cfg.Pool)
	}
	if sub.System.Accelerator != r.cfg.Accelerator {
		return fmt.Errorf("%w: system.accelerator %s, this node has %s", ErrPreflight, sub.System.Accelerator, r.cfg.Accelerator)
	}
	if r.cfg.Pool == spec.Sim {
		if !sub.Engine.ProcessMode() || sub.Framework.Name != spec.Sim {
			return fmt.Errorf("%w: a sim runner runs the sim engine only (framework sim, engine.command)", ErrPreflight)
		}
		return nil
	}
	if sub.System.Accelerators != r.cfg.GPUs {
		return fmt.Errorf("%w: system.accelerators %d, this node has %d GPUs", ErrPreflight, sub.System.Accelerators, r.cfg.GPUs)
	}
	if r.cfg.BusyGPUs != nil {
		if busy := r.cfg.BusyGPUs(); len(busy) > 0 {
			return fmt.Errorf("%w: other compute processes on the GPUs: %s", ErrPreflight, strings.Join(busy, ", "))
		}
	}
	return nil
}
