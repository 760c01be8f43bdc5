package power

import "github.com/agentwatt/agentwatt/metrics"

// Power sources a Sample's PowerW came from.
const (
	// SourceInstant is NVML's field FI_DEV_POWER_INSTANT, GPU scope.
	SourceInstant = "nvml-instant"
	// SourcePowerUsage is nvmlDeviceGetPowerUsage: a 1 s average on Ampere
	// (except GA100) and newer, instantaneous on older GPUs.
	SourcePowerUsage = "nvml-power-usage"
	// SourceSim is the sim engine's simulated power (and energy).
	SourceSim = "sim"
)

// Energy sources a Sample's EnergyMJ came from. Both NVML sources read the
// same counter; they differ in what reading it costs.
const (
	// SourceEnergyField is NVML's field FI_DEV_TOTAL_ENERGY_CONSUMPTION,
	// read in the same nvmlDeviceGetFieldValues call as instant power.
	SourceEnergyField = "nvml-field"
	// SourceEnergyCall is nvmlDeviceGetTotalEnergyConsumption, a call of
	// its own, where the field is not supported.
	SourceEnergyCall = "nvml-total-energy"
)

// Sample is one reading of one GPU: a line of power.jsonl.zst. Its
// embedded metrics.PowerSample (gpu, t_mono_ns, energy_mj, power_w) is what
// the energy formulas use; a sample with Err set failed and its energy and
// power are not valid (ValidPowerSamples leaves it out).
type Sample struct {
	metrics.PowerSample
	// TUnixNs is the wall-clock time of TMonoNs (Unix ns): the run start's
	// wall clock plus TMonoNs, so it never jumps with the system clock.
	TUnixNs int64 `json:"t_unix_ns"`
	// PowerSource says where PowerW came from (SourceInstant, …), and
	// EnergySource where EnergyMJ did (SourceEnergyField, …).
	PowerSource  string `json:"power_source,omitempty"`
	EnergySource string `json:"energy_source,omitempty"`
	// SMClockMHz, TempC and ClockEvents (NVML's clock-event, or throttle,
	// reason bits) are read with the power on some samples only (once a
	// second by default, DefaultAuxPeriod); 0 when not read or unavailable
	// (AuxErr).
	SMClockMHz  uint32 `json:"sm_clock_mhz,omitempty"`
	TempC       uint32 `json:"temp_c,omitempty"`
	ClockEvents uint64 `json:"clock_events,omitempty"`
	// SrcTUnixNs is the source's own timestamp of the power value: NVML's
	// field-value CPU timestamp, the sim's t_unix_ns.
	SrcTUnixNs int64 `json:"src_t_unix_ns,omitempty"`
	// ReadNs is how long reading this GPU took.
	ReadNs int64 `json:"read_ns,omitempty"`
	// Err is why the read failed; the sample's energy and power are then
	// not valid.
	Err string `json:"err,omitempty"`
	// AuxErr is why a clock, temperature or clock-event read failed.
	AuxErr string `json:"aux_err,omitempty"`
	// Note records a change of how this GPU is read, e.g. the fallback from
	// FI_DEV_POWER_INSTANT to nvmlDeviceGetPowerUsage and its reason.
	Note string `json:"note,omitempty"`
}

// Valid reports whether the sample's energy and power can be used.
func (s *Sample) Valid() bool { return s.Err == "" }

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
