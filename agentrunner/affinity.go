package agentrunner

import (
	"fmt"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/agentrunner/cpuset"
)

// affinityScope says when the client CPUs apply: from the first request of
// the accuracy phase to the end of the capacity search.
const affinityScope = "accuracy+search"

// clientAffinity is environment.json's account of Config.ClientCPUs: every
// thread of the runner was pinned to them while it generated load, read
// back from the kernel when the pin was applied and again before it was
// lifted (which also covers threads created meanwhile).
type clientAffinity struct {
	Scope    string         `json:"scope"`
	Applied  *cpuset.Report `json:"applied,omitempty"`
	AtEnd    *cpuset.Report `json:"at_end,omitempty"`
	Restored bool           `json:"restored"`
	Error    string         `json:"error,omitempty"`
}

// clientPin is the client CPUs' pin while the load runs, and its account.
type clientPin struct {
	p        *cpuset.Pinning // nil once lifted
	affinity *clientAffinity
}

// pinClient restricts every thread of the runner to the client CPUs, so the
// load generator (whose goroutines may run on any of the process's threads)
// stays off the engine's. It is applied here rather than when the runner
// starts because the engine, launched before this, inherits the mask of the
// thread that forks it: with the runner pinned, an engine without
// --engine-cpus would be confined to the client's CPUs. The NATS, upload
// and sampler goroutines share the pinned threads meanwhile; they are light,
// and they stay off the engine's CPUs too. Nil without client CPUs; a pin
// that failed is returned with its error, to be lifted and reported.
func (jr *jobRun) pinClient() (*clientPin, error) {
	cpus := jr.r.cfg.ClientCPUs
	if cpus == "" {
		return nil, nil
	}
	cp := &clientPin{affinity: &clientAffinity{Scope: affinityScope}}
	p, err := cpuset.Pin(cpus)
	if err != nil {
		cp.affinity.Error = err.Error()
		return cp, fmt.Errorf("client cpus: %w", err)
	}
	cp.p = p
	r, err := p.Check()
	if err != nil {
		cp.affinity.Error = err.Error()
		return cp, fmt.Errorf("client cpus: %w", err)
	}
	cp.affinity.Applied = &r
	if !r.OK() {
		return cp, fmt.Errorf("client cpus %s: %d of %d runner threads pinned (%+v)", cpus, r.Matching, r.Threads, r.Mismatched)
	}
	jr.log.Info().Str("client_cpus", r.Applied).Str("previous", r.Previous).Int("threads", r.Threads).
		Msg("runner threads pinned to the client cpus")
	return cp, nil
}

// unpin checks every thread once more and puts them back on the CPUs they
// had; it is safe on a nil pin and a second time.
func (cp *clientPin) unpin(log zerolog.Logger) {
	if cp == nil || cp.p == nil {
		return
	}
	p := cp.p
	cp.p = nil
	if r, err := p.Check(); err != nil {
		cp.affinity.Error = err.Error()
	} else {
		cp.affinity.AtEnd = &r
		if !r.OK() {
			log.Warn().Int("threads", r.Threads).Int("matching", r.Matching).Interface("mismatched", r.Mismatched).
				Msg("runner threads left the client cpus during the load")
		}
	}
	if err := p.Restore(); err != nil {
		cp.affinity.Error = err.Error()
		log.Warn().Err(err).Msg("restore runner cpus")
		return
	}
	cp.affinity.Restored = true
}
