package metrics

import "github.com/agentwatt/agentwatt/spec"

// ProbeRulesOf maps the rules and a profile onto the numbers EvaluateProbe
// judges a probe by; the runner steers its search by them and the verifier
// judges by them. An agent counts as active across a gap between its
// requests of at most the think-time cap plus the client's allowed
// scheduling lag: a longer gap means the client did not keep the session
// going.
func ProbeRulesOf(r *spec.Rules, p *spec.Profile) ProbeRules {
	return ProbeRules{
		Confidence:      r.Probe.Confidence,
		MinMetShare:     r.Probe.MinMetShare,
		MinAgentShare:   r.Probe.AgentMedianShare,
		MaxErrorShare:   r.Probe.MaxErrorShare,
		ActiveTolerance: r.Probe.ActiveSessionTolerance,
		MaxIdleGap:      p.ThinkTimeCap.Duration + p.Client.MaxSchedLagP99.Duration,
		MinWindow:       p.Window.Duration,
		MinRequests:     p.MinRequests,
		Health: HealthLimits{
			MaxSchedLagP99: p.Client.MaxSchedLagP99.Duration,
			MaxCPUShare:    p.Client.MaxCPUShare,
		},
	}
}

// TierOf is a rules tier as the tier test reads it: S and T.
func TierOf(t spec.Tier) Tier {
	return Tier{Name: t.ID, MinDecodeTPS: t.MinDecodeRate, MaxTTFT: t.MaxTTFT.Duration}
}

// AgentsPerGPU is a tier's N_max divided by the GPUs whose power was
// summed; 0 without GPUs.
func AgentsPerGPU(maxAgents, gpus int) float64 {
	if gpus <= 0 {
		return 0
	}
	return float64(maxAgents) / float64(gpus)
}
