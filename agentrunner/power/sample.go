package power

import (
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
)

// Power sources a Sample's PowerW came from (bundle's names).
const (
	SourceInstant    = bundle.PowerSourceInstant
	SourcePowerUsage = bundle.PowerSourceUsage
	SourceSim        = bundle.PowerSourceSim
)

// Energy sources a Sample's EnergyMJ came from (bundle's names).
const (
	SourceEnergyField = bundle.EnergySourceField
	SourceEnergyCall  = bundle.EnergySourceCall
)

// Sample is one reading of one GPU: a line of power.jsonl.zst, whose
// schema package bundle owns. A sample with Err set failed and its energy
// and power are not valid (ValidPowerSamples leaves it out).
type Sample = bundle.PowerLine

// ValidPowerSamples is the metrics view of the valid samples.
func ValidPowerSamples(samples []Sample) []metrics.PowerSample {
	out := make([]metrics.PowerSample, 0, len(samples))
	for i := range samples {
		if samples[i].Valid() {
			out = append(out, samples[i].PowerSample)
		}
	}
	return out
}

// Event kinds.
const (
	// EventReset: a GPU's energy counter fell between two valid samples.
	EventReset = "reset"
	// EventGap: two consecutive valid samples of a GPU lie further apart
	// than the configured maximum gap (or the last one lies that far before
	// the sampler stopped).
	EventGap = "gap"
	// EventError: a read failed.
	EventError = "error"
	// EventNote: a source changed how it reads a GPU (Sample.Note).
	EventNote = "note"
	// EventDropped: the writer fell behind and samples were not written.
	EventDropped = "dropped"
	// EventWriteError: the writer failed; later samples were not written.
	EventWriteError = "write_error"
)

// Event is something the sampler noticed. GPU is -1 for the whole source.
type Event struct {
	Kind    string `json:"kind"`
	GPU     int    `json:"gpu"`
	TMonoNs int64  `json:"t_mono_ns"`
	// DurNs is the length of a gap.
	DurNs  int64  `json:"dur_ns,omitempty"`
	Detail string `json:"detail"`
}
