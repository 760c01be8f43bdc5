// Package power samples power for the runner: a Sampler reads a Source on
// its own goroutine at a fixed rate — the rules' sample_interval of the
// source's boundary (ConfigFor): 10 Hz for GPU boards, 1 Hz for a BMC or a
// meter — and keeps every sample in memory and, through a Writer, in
// power.jsonl.zst.
//
// Sources, by boundary (what the energy covers):
//   - gpu-board: NVMLSource (NVIDIA, go-nvml; nvml_source.go) and
//     AMDGPUSource (the amdgpu driver's sysfs: hwmon power1_input or
//     power1_average, and the gpu_metrics table's energy accumulator,
//     ParseGPUMetrics; amdgpu_source.go, gpumetrics.go);
//   - node: RedfishSource, the node's BMC (EnvironmentMetrics PowerWatts
//     and EnergykWh, or the legacy Power PowerControl; redfish.go);
//   - external: MeterSource, a meter or PDU outlet's Prometheus text
//     endpoint (meter.go);
//   - simulated: SimSource, the sim engine's /sim/v1/power.
//
// The HTTP sources (httpget.go) stay on the one origin the operator named
// (no redirect or link to another host), bound every request by a timeout
// and every reply by a size, verify TLS unless told not to, and take
// credentials from a file (LoadCredentials). A source without an energy
// counter integrates its power readings (EnergySourceIntegrated) and says
// so in every sample.
//
// Each Sample (a bundle.PowerLine: package bundle owns the line's schema)
// holds a GPU's cumulative energy counter (mJ) and instantaneous
// power (W), stamped on the run's monotonic clock — the same clock as the
// load generator's request records (nanoseconds since the run's start
// time.Time) — and on the wall clock. NVML reads both in one
// nvmlDeviceGetFieldValues call per GPU per sample: the fields
// FI_DEV_TOTAL_ENERGY_CONSUMPTION and FI_DEV_POWER_INSTANT (GPU scope).
// A field the driver does not support is read by its own call from then on
// — nvmlDeviceGetTotalEnergyConsumption, or nvmlDeviceGetPowerUsage (a 1 s
// average on Ampere and newer) — and every sample says which it was
// (EnergySource, PowerSource). SM clock, temperature and the clock-event
// (throttle) reasons, which no field carries, are read once a second
// (DefaultAuxPeriod explains why).
//
// The sampler records, as Events: energy-counter decreases (resets), gaps
// between a GPU's valid samples longer than the rules' max_sample_gap, read
// errors (a sample with Err set, whose energy and power are not valid),
// power-source fallbacks and samples the writer could not keep up with.
//
// WindowEnergy turns the samples of a window into the figures a bundle's
// summary states: energy from the counters and from the integral of
// instantaneous power (both through package metrics, the one home of every
// formula), average power, the largest gap and the resets. Measure samples
// for a fixed time and adds the statistics of `agentwatt gpu sample`
// (achieved rate, the counter's update period, the sampler's CPU cost).
package power
