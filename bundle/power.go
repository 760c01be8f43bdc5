package bundle

import (
	"encoding/json"

	"github.com/agentwatt/agentwatt/metrics"
)

// Power sources, as written in a power line's power_source.
const (
	// PowerSourceInstant is NVML's field FI_DEV_POWER_INSTANT, GPU scope.
	PowerSourceInstant = "nvml-instant"
	// PowerSourceUsage is nvmlDeviceGetPowerUsage: a 1 s average on Ampere
	// (except GA100) and newer, instantaneous on older GPUs.
	PowerSourceUsage = "nvml-power-usage"
	// PowerSourceSim is the sim engine's simulated power (and energy).
	PowerSourceSim = "sim"
	// PowerSourceAMDInput and PowerSourceAMDAverage are the amdgpu
	// driver's hwmon power1_input (current socket power) and
	// power1_average.
	PowerSourceAMDInput   = "amdgpu-power1-input"
	PowerSourceAMDAverage = "amdgpu-power1-average"
	// PowerSourceRedfishControl is a BMC's Chassis/{id}/Power
	// PowerControl[].PowerConsumedWatts; PowerSourceRedfishMetrics its
	// Chassis/{id}/EnvironmentMetrics PowerWatts.Reading.
	PowerSourceRedfishControl = "redfish-power-control"
	PowerSourceRedfishMetrics = "redfish-environment-metrics"
	// PowerSourceMeter is an external meter's gauge of watts (Prometheus
	// text exposition).
	PowerSourceMeter = "meter-gauge"
	// PowerSourceMeterRate is the rate of an external meter's counter of
	// joules between two scrapes, for a meter with no gauge.
	PowerSourceMeterRate = "meter-counter-rate"
)

// PowerSourceBoundary is the power boundary a power source measures:
// "gpu-board" (NVML, amdgpu), "node" (Redfish), "external" (a meter),
// "simulated" (the sim); "" for a source it does not know.
func PowerSourceBoundary(src string) string {
	switch src {
	case PowerSourceInstant, PowerSourceUsage, PowerSourceAMDInput, PowerSourceAMDAverage:
		return "gpu-board"
	case PowerSourceRedfishControl, PowerSourceRedfishMetrics:
		return "node"
	case PowerSourceMeter, PowerSourceMeterRate:
		return "external"
	case PowerSourceSim:
		return "simulated"
	}
	return ""
}

// Energy sources, as written in a power line's energy_source. Both NVML
// sources read the same counter; they differ in what reading it costs.
const (
	// EnergySourceField is NVML's field FI_DEV_TOTAL_ENERGY_CONSUMPTION,
	// read in the same nvmlDeviceGetFieldValues call as instant power.
	EnergySourceField = "nvml-field"
	// EnergySourceCall is nvmlDeviceGetTotalEnergyConsumption, a call of
	// its own, where the field is not supported.
	EnergySourceCall = "nvml-total-energy"
	// EnergySourceAMDMetrics is the energy_accumulator of the amdgpu
	// driver's gpu_metrics table (units of 2^-16 J).
	EnergySourceAMDMetrics = "amdgpu-gpu-metrics"
	// EnergySourceRedfishKWh is a BMC's EnvironmentMetrics EnergykWh (or
	// EnergyJoules) reading.
	EnergySourceRedfishKWh = "redfish-energy"
	// EnergySourceMeter is an external meter's counter of joules.
	EnergySourceMeter = "meter-counter"
	// EnergySourceIntegrated is energy the source integrated itself from
	// its power readings (trapezoids between readings), where the device
	// has no energy counter: the counter-vs-integral cross-check then
	// shows only the sampling, not a second measurement.
	EnergySourceIntegrated = "integrated"
)

// PowerLine is one reading of one GPU: a line of power.jsonl.zst. Its
// embedded metrics.PowerSample (gpu, t_mono_ns, energy_mj, power_w) is what
// the energy formulas use; a line with Err set is a failed read whose
// energy and power are not valid (Valid), left out of every formula so
// that it is not mistaken for a counter reset.
type PowerLine struct {
	metrics.PowerSample
	// TUnixNs is the wall-clock time of TMonoNs (Unix ns): the run start's
	// wall clock plus TMonoNs, so it never jumps with the system clock.
	TUnixNs int64 `json:"t_unix_ns"`
	// PowerSource says where PowerW came from (PowerSourceInstant, …), and
	// EnergySource where EnergyMJ did (EnergySourceField, …).
	PowerSource  string `json:"power_source,omitempty"`
	EnergySource string `json:"energy_source,omitempty"`
	// SMClockMHz, TempC and ClockEvents (NVML's clock-event, or throttle,
	// reason bits) are read with the power on some samples only; 0 when
	// not read or unavailable (AuxErr).
	SMClockMHz  uint32 `json:"sm_clock_mhz,omitempty"`
	TempC       uint32 `json:"temp_c,omitempty"`
	ClockEvents uint64 `json:"clock_events,omitempty"`
	// SrcTUnixNs is the source's own timestamp of the power value: NVML's
	// field-value CPU timestamp, the sim's t_unix_ns.
	SrcTUnixNs int64 `json:"src_t_unix_ns,omitempty"`
	// ReadNs is how long reading this GPU took.
	ReadNs int64 `json:"read_ns,omitempty"`
	// Err is why the read failed; the line's energy and power are then
	// not valid.
	Err string `json:"err,omitempty"`
	// AuxErr is why a clock, temperature or clock-event read failed.
	AuxErr string `json:"aux_err,omitempty"`
	// Note records a change of how this GPU is read, e.g. the fallback from
	// FI_DEV_POWER_INSTANT to nvmlDeviceGetPowerUsage and its reason.
	Note string `json:"note,omitempty"`
}

// Valid reports whether the line's energy and power can be used.
func (s *PowerLine) Valid() bool { return s.Err == "" }

// AppendPowerLine appends s as one line (JSON and '\n') of
// power.jsonl.zst.
func AppendPowerLine(dst []byte, s *PowerLine) ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return dst, err
	}
	return append(append(dst, b...), '\n'), nil
}

// PowerReading is the part of a power line that the energy formulas and
// the verifier read: the sample, where its power came from, and whether
// the read failed. DecodePowerReading fills it without reflection.
type PowerReading struct {
	metrics.PowerSample
	PowerSource string `json:"power_source,omitempty"`
	Err         string `json:"err,omitempty"`
}

// Valid reports whether the reading's energy and power can be used.
func (s *PowerReading) Valid() bool { return s.Err == "" }

// DecodePowerReading reads the PowerReading of one line of
// power.jsonl.zst (without its '\n'), as json.Unmarshal would: the
// runner's compact lines through a reflection-free fast path (the other
// fields are skipped), anything else through encoding/json, whose error
// then names the problem.
func DecodePowerReading(b []byte, s *PowerReading) error {
	if decodePowerFast(b, s) {
		return nil
	}
	*s = PowerReading{}
	return json.Unmarshal(b, s)
}
