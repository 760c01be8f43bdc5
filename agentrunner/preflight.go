package agentrunner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/agentwatt/agentwatt/sim"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/workload"
)

// jobSpec is what the preflight phase produced: the job's submission, its
// rules and the profile it runs under.
type jobSpec struct {
	sub     spec.Submission
	rules   *spec.Rules   // nil when the rules could not be loaded
	profile *spec.Profile // set with rules
}

// preflight decodes the job's spec and checks that this runner can run it.
// A spec that decoded is returned with the refusal: the bundle says what
// the job asked for.
func (jr *jobRun) preflight() (*jobSpec, error) {
	sub, err := decodeSpec(jr.job.Spec)
	if err != nil {
		return nil, err
	}
	js := &jobSpec{sub: sub}
	rules, err := spec.LoadRules(sub.Benchmark.Rules)
	if err != nil {
		return js, err
	}
	name := jr.job.Profile
	if name == "" {
		name = sub.Benchmark.Profile
	}
	profile, err := rules.Profile(name)
	if err != nil {
		return js, err
	}
	js.rules, js.profile = rules, profile
	return js, jr.r.preflight(&js.sub)
}

// chatTemplate is the engine's chat-template overhead in tokens. The sim's
// is known; a real engine's is not measured yet and counts as zero (as for
// a job whose spec did not decode).
func (js *jobSpec) chatTemplate() workload.ChatTemplate {
	if js != nil && js.sub.Framework.Name == spec.Sim {
		return workload.ChatTemplate{PerRequest: sim.TemplateTokensPerRequest,
			PerMessage: sim.TemplateTokensPerMessage, PerToolCall: sim.TemplateTokensPerToolCall}
	}
	return workload.ChatTemplate{}
}

// decodeSpec reads a job's spec strictly. Intake validated it, but a job
// record is only as trusted as whoever could write to the queue: a field
// this runner does not know (an engine.command, above all) refuses the job
// rather than being dropped unread, and the spec is validated again.
func decodeSpec(raw []byte) (spec.Submission, error) {
	var sub spec.Submission
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sub); err != nil {
		return spec.Submission{}, fmt.Errorf("%w: the job's spec is not a v1 submission this runner runs: %v", ErrPreflight, err)
	}
	if dec.More() {
		return spec.Submission{}, fmt.Errorf("%w: the job's spec has data after the submission", ErrPreflight)
	}
	if err := sub.Validate(); err != nil {
		var ps spec.Problems
		msg := err.Error()
		if errors.As(err, &ps) {
			msgs := make([]string, len(ps))
			for i, p := range ps {
				msgs[i] = p.Message
			}
			msg = strings.Join(msgs, "; ")
		}
		return spec.Submission{}, fmt.Errorf("%w: the job's spec is not a valid submission: %s", ErrPreflight, msg)
	}
	return sub, nil
}

// preflight checks that this runner can run sub before anything starts. A
// single runner is one node (a disaggregated engine on one node is fine:
// checkPlacement fits its roles to the GPUs); a multi-node or rack-scale
// system runs only on a runner group whose pool it matches. No runner of a
// pool can run what its pool cannot, so a refusal fails the job with the
// reason (a release would only hand it to another runner that refuses it
// too).
func (r *Runner) preflight(sub *spec.Submission) error {
	if t := sub.System.Topology; t != "" && t != spec.TopologySingleNode && r.cfg.Group == nil {
		return fmt.Errorf("%w: system.topology %s: this runner is one node; multi-node and rack-scale jobs run on a runner group (agentwatt runner --group)",
			ErrPreflight, t)
	}
	if r.cfg.Group != nil {
		return r.preflightGroup(sub)
	}
	if p := sub.Pool(); p != r.cfg.Pool {
		return fmt.Errorf("%w: the job's pool is %s, this runner's %s", ErrPreflight, p, r.cfg.Pool)
	}
	if sub.System.Accelerator != r.cfg.Accelerator {
		return fmt.Errorf("%w: system.accelerator %s, this node has %s", ErrPreflight, sub.System.Accelerator, r.cfg.Accelerator)
	}
	if err := r.checkSecrets(sub.Engine.Secrets); err != nil && !sub.Engine.External() { // an external engine has its own
		return err
	}
	if spec.SimPool(r.cfg.Pool) {
		if !sub.Engine.Sim() || sub.Framework.Name != spec.Sim {
			return fmt.Errorf("%w: a sim runner runs only the simulated engine it launches itself (framework sim, engine.sim_profile)", ErrPreflight)
		}
		if err := sim.CheckSubmission(sub); err != nil {
			return fmt.Errorf("%w: %v", ErrPreflight, err)
		}
		return nil
	}
	if sub.Engine.Image == "" {
		return fmt.Errorf("%w: this runner runs engines in containers and the job names no engine.image", ErrPreflight)
	}
	if sub.System.Accelerators != r.cfg.GPUs {
		return fmt.Errorf("%w: system.accelerators %d, this node has %d GPUs", ErrPreflight, sub.System.Accelerators, r.cfg.GPUs)
	}
	if err := r.checkPlacement(sub); err != nil {
		return err
	}
	// An external deployment's engine holds the GPUs already.
	if r.cfg.BusyGPUs != nil && !sub.Engine.External() {
		if busy := r.cfg.BusyGPUs(); len(busy) > 0 {
			return fmt.Errorf("%w: other compute processes on the GPUs: %s", ErrPreflight, strings.Join(busy, ", "))
		}
	}
	return nil
}

// checkSecrets fails the job before launch when a secret it names is not in
// this runner's store. The values are read again at launch.
func (r *Runner) checkSecrets(names []string) error {
	_, err := r.resolveSecrets(names)
	return err
}

// resolveSecrets reads the values of the named secrets from the runner's
// store.
func (r *Runner) resolveSecrets(names []string) (map[string]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	if r.cfg.Secrets == nil {
		return nil, fmt.Errorf("%w: engine.secrets names %s, and this runner has no secret store (--secrets-dir)",
			ErrPreflight, strings.Join(names, ", "))
	}
	out := make(map[string]string, len(names))
	for _, n := range names {
		v, err := r.cfg.Secrets.Secret(n)
		if err != nil {
			return nil, fmt.Errorf("%w: engine.secrets: %v", ErrPreflight, err)
		}
		out[n] = v
	}
	return out, nil
}

// preflightGroup checks a job for this runner's group: its pool is the
// group's (the members' GPUs add up to the system), and a sim rack runs
// only the sim on its own rack profile. A group runs no real engine share
// yet: the leader would have no part to assign.
func (r *Runner) preflightGroup(sub *spec.Submission) error {
	gc := r.cfg.Group
	if p := sub.Pool(); p != r.cfg.Pool {
		return fmt.Errorf("%w: the job's pool is %s, runner group %s's %s", ErrPreflight, p, gc.Name, r.cfg.Pool)
	}
	if !gc.simulated() {
		return fmt.Errorf("%w: runner group %s: members launch only sim rack nodes so far; a real engine's parts across hosts are not launched yet", ErrPreflight, gc.Name)
	}
	if !sub.Engine.Sim() || sub.Framework.Name != spec.Sim {
		return fmt.Errorf("%w: a sim rack runs only the simulated engine it launches itself (framework sim, engine.sim_profile)", ErrPreflight)
	}
	if sub.Engine.SimProfile != gc.SimRackProfile {
		return fmt.Errorf("%w: engine.sim_profile %s, runner group %s is a sim rack of profile %s", ErrPreflight, sub.Engine.SimProfile, gc.Name, gc.SimRackProfile)
	}
	if sub.System.Accelerator != r.cfg.Accelerator {
		return fmt.Errorf("%w: system.accelerator %s, this group's members have %s", ErrPreflight, sub.System.Accelerator, r.cfg.Accelerator)
	}
	if err := sim.CheckSubmission(sub); err != nil {
		return fmt.Errorf("%w: %v", ErrPreflight, err)
	}
	return nil
}
