package bundle

import (
	"encoding/json"
	"fmt"

	"github.com/agentwatt/agentwatt/workload"
)

// Environment is environment.json: the host, software and settings the run
// saw beyond the manifest. The verifier reads Model and ChatTemplate (the
// prompts' token targets depend on them); the rest is the runner's account
// for a reader.
type Environment struct {
	Host         string                `json:"host"`
	GoVersion    string                `json:"go_version"`
	OS           string                `json:"os"`
	Arch         string                `json:"arch"`
	CPUs         int                   `json:"cpus"`
	EngineArgv   []string              `json:"engine_argv,omitempty"`
	EnginePort   int                   `json:"engine_port,omitempty"`
	EngineCPUs   string                `json:"engine_cpus,omitempty"`
	ClientCPUs   string                `json:"client_cpus,omitempty"`
	Model        string                `json:"model,omitempty"`
	Mode         string                `json:"mode"`
	FixedAgents  int                   `json:"fixed_agents,omitempty"`
	Seed         uint64                `json:"seed"`
	ChatTemplate workload.ChatTemplate `json:"chat_template"`
	Clock        *ClockAnchor          `json:"clock,omitempty"`
	// PowerSource and PowerBoundary name the power sampler's source and
	// what its energy covers.
	PowerSource   string `json:"power_source,omitempty"`
	PowerBoundary string `json:"power_boundary,omitempty"`
	// Deployment is "external" when the operator deployed the engine
	// (spec engine.deployment) and the runner launched nothing; left out
	// when the runner launched it. The verifier holds it to the job's spec.
	Deployment string `json:"deployment,omitempty"`
	// PowerStats and PowerEvents are the sampler's own account (package
	// power's Stats and []Event), IdleBaseline its idle measurement
	// (*power.Baseline) and ClientAffinity the load generator's CPU
	// pinning: diagnostics whose shape their runner package owns and no
	// check reads. A nil value is left out, so the runner sets one only
	// when it has it.
	PowerStats     any             `json:"power_stats,omitempty"`
	PowerEvents    any             `json:"power_events,omitempty"`
	Accuracy       *AccuracyResult `json:"accuracy,omitempty"`
	IdleBaseline   any             `json:"idle_baseline,omitempty"`
	ClientAffinity any             `json:"client_affinity,omitempty"`
}

// DecodeEnvironment reads environment.json. Unknown fields are allowed (a
// runner's diagnostics grow); the fields the verifier reads must have
// their types.
func DecodeEnvironment(data []byte) (*Environment, error) {
	var env Environment
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%s: %w", EnvironmentFile, err)
	}
	return &env, nil
}
