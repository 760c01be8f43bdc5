package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/agentwatt/agentwatt/blob"
)

// SubmissionsPrefix holds the published form of each job's submission
// (published/submissions/<job>.json): what its result page shows.
const SubmissionsPrefix = PublishedPrefix + "submissions/"

// Submission is the part of a job's submission that is published beside
// its results, as the vendor submitted it: what was measured and how the
// engine was started. The contact, environment variables and secret names
// stay private.
type Submission struct {
	Job           string          `json:"job"`
	Vendor        string          `json:"vendor"`
	Name          string          `json:"name"`
	Model         string          `json:"model"`
	Revision      string          `json:"revision,omitempty"`
	Precision     string          `json:"precision,omitempty"`
	Accelerator   string          `json:"accelerator,omitempty"`
	Accelerators  int             `json:"accelerators,omitempty"`
	Topology      string          `json:"topology,omitempty"`
	PowerLimitW   int             `json:"power_limit_w,omitempty"`
	Framework     string          `json:"framework,omitempty"`
	Version       string          `json:"framework_version,omitempty"`
	EngineImage   string          `json:"engine_image,omitempty"`
	SimProfile    string          `json:"sim_profile,omitempty"`
	EngineArgs    []string        `json:"engine_args,omitempty"`
	Optimizations json.RawMessage `json:"optimizations,omitempty"`
	Workload      string          `json:"workload,omitempty"`
	Tiers         []string        `json:"tiers,omitempty"`
	Rules         string          `json:"rules,omitempty"`
	Profile       string          `json:"profile,omitempty"`
}

// submissionOf reads the published part of a job's spec (the canonical
// JSON the queue holds).
func submissionOf(job string, spec []byte) (*Submission, error) {
	var sp struct {
		Metadata struct{ Vendor, Name string }
		Model    struct{ ID, Revision, Precision string }
		System   struct {
			Accelerator  string
			Accelerators int
			Topology     string
			PowerLimitW  int `json:"power_limit_w"`
		}
		Framework struct{ Name, Version string }
		Engine    struct {
			Image      string
			SimProfile string `json:"sim_profile"`
			Args       []string
		}
		Optimizations json.RawMessage
		Benchmark     struct {
			Workload, Rules, Profile string
			Tiers                    []string
		}
	}
	if err := json.Unmarshal(spec, &sp); err != nil {
		return nil, fmt.Errorf("job %s: spec: %w", job, err)
	}
	return &Submission{Job: job, Vendor: sp.Metadata.Vendor, Name: sp.Metadata.Name, Model: sp.Model.ID,
		Revision: sp.Model.Revision, Precision: sp.Model.Precision, Accelerator: sp.System.Accelerator,
		Accelerators: sp.System.Accelerators, Topology: sp.System.Topology, PowerLimitW: sp.System.PowerLimitW,
		Framework: sp.Framework.Name, Version: sp.Framework.Version, EngineImage: sp.Engine.Image,
		SimProfile: sp.Engine.SimProfile, EngineArgs: sp.Engine.Args, Optimizations: sp.Optimizations,
		Workload: sp.Benchmark.Workload, Tiers: sp.Benchmark.Tiers, Rules: sp.Benchmark.Rules, Profile: sp.Benchmark.Profile}, nil
}

// loadSubmission reads a job's published submission; none is nil.
func loadSubmission(ctx context.Context, store PublishStore, job string) (*Submission, error) {
	data, err := store.GetBytes(ctx, SubmissionsPrefix+job+".json", 1<<20)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s Submission
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s%s.json: %w", SubmissionsPrefix, job, err)
	}
	return &s, nil
}

// specMethod is the declared optimizations.speculative_decoding.method of
// a submission's optimizations, "" when none is declared.
func specMethod(opts json.RawMessage) string {
	var o struct {
		SpeculativeDecoding *struct {
			Method string `json:"method"`
		} `json:"speculative_decoding"`
	}
	if len(opts) == 0 || json.Unmarshal(opts, &o) != nil || o.SpeculativeDecoding == nil {
		return ""
	}
	return o.SpeculativeDecoding.Method
}
