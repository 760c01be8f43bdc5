package power

import (
	"cmp"
	"maps"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"time"
)

// GPUStats describes one GPU's samples over the time they span, as `agentwatt
// gpu sample` and the device check report them.
type GPUStats struct {
	GPU     int `json:"gpu"`
	Samples int `json:"samples"` // valid samples
	Errors  int `json:"errors"`  // failed samples
	// Span is from the first to the last valid sample; RateHz is valid
	// samples per second over it.
	Span   time.Duration `json:"span_ns"`
	RateHz float64       `json:"rate_hz"`
	// CounterUpdatePeriod is the median time between the samples at which
	// the energy counter showed a new value: how often the driver updates
	// it, to within the sampling interval. PowerUpdatePeriod is the same for
	// the power reading. 0 with fewer than three changes.
	CounterUpdatePeriod time.Duration `json:"counter_update_period_ns"`
	PowerUpdatePeriod   time.Duration `json:"power_update_period_ns"`
	// CounterJ, IntegralJ and RelDiff are WindowEnergy over the span.
	CounterJ  float64 `json:"counter_j"`
	IntegralJ float64 `json:"integral_j"`
	RelDiff   float64 `json:"rel_diff"`
	// AvgW is CounterJ over the span; MinW and MaxW bound the sampled power.
	AvgW   float64       `json:"avg_w"`
	MinW   float64       `json:"min_w"`
	MaxW   float64       `json:"max_w"`
	MaxGap time.Duration `json:"max_gap_ns"`
	Resets int           `json:"resets"`
	// PowerSource and EnergySource are the last valid sample's
	// (SourceInstant, SourceEnergyField, …).
	PowerSource  string `json:"power_source"`
	EnergySource string `json:"energy_source,omitempty"`
	// ClockEvents is the OR of the clock-event reasons seen, named in
	// ClockEventNames.
	ClockEvents     uint64   `json:"clock_events"`
	ClockEventNames []string `json:"clock_event_names"`
	MaxTempC        uint32   `json:"max_temp_c"`
	MinSMClockMHz   uint32   `json:"min_sm_clock_mhz"`
	MaxSMClockMHz   uint32   `json:"max_sm_clock_mhz"`
	// MedianRead and MaxRead are how long reading the GPU took.
	MedianRead time.Duration `json:"median_read_ns"`
	MaxRead    time.Duration `json:"max_read_ns"`
}

// Summarize computes each GPU's statistics, by GPU index.
func Summarize(samples []Sample) []GPUStats {
	byGPU := map[int][]Sample{}
	for _, s := range samples {
		byGPU[s.GPU] = append(byGPU[s.GPU], s)
	}
	out := make([]GPUStats, 0, len(byGPU))
	for _, g := range slices.Sorted(maps.Keys(byGPU)) {
		out = append(out, summarizeGPU(g, byGPU[g]))
	}
	return out
}

func summarizeGPU(gpu int, all []Sample) GPUStats {
	st := GPUStats{GPU: gpu, MinW: math.Inf(1)}
	slices.SortStableFunc(all, func(a, b Sample) int { return cmp.Compare(a.TMonoNs, b.TMonoNs) })
	var valid []Sample
	var reads []int64
	for _, s := range all {
		if !s.Valid() {
			st.Errors++
			continue
		}
		valid = append(valid, s)
		reads = append(reads, s.ReadNs)
		st.MinW, st.MaxW = min(st.MinW, s.PowerW), max(st.MaxW, s.PowerW)
		st.ClockEvents |= s.ClockEvents
		st.MaxTempC = max(st.MaxTempC, s.TempC)
		if s.SMClockMHz > 0 && (st.MinSMClockMHz == 0 || s.SMClockMHz < st.MinSMClockMHz) {
			st.MinSMClockMHz = s.SMClockMHz
		}
		st.MaxSMClockMHz = max(st.MaxSMClockMHz, s.SMClockMHz)
		st.PowerSource, st.EnergySource = s.PowerSource, s.EnergySource
	}
	st.Samples = len(valid)
	st.ClockEventNames = ClockEventNames(st.ClockEvents)
	if st.Samples == 0 {
		st.MinW = 0
		return st
	}
	slices.Sort(reads)
	st.MedianRead, st.MaxRead = time.Duration(reads[len(reads)/2]), time.Duration(reads[len(reads)-1])
	first, last := valid[0].TMonoNs, valid[len(valid)-1].TMonoNs
	st.Span = time.Duration(last - first)
	if st.Span > 0 {
		st.RateHz = float64(st.Samples-1) / st.Span.Seconds()
	}
	st.CounterUpdatePeriod = UpdatePeriod(valid, func(s *Sample) float64 { return s.EnergyMJ })
	st.PowerUpdatePeriod = UpdatePeriod(valid, func(s *Sample) float64 { return s.PowerW })
	if w, err := WindowEnergy(valid, first, last); err == nil {
		st.CounterJ, st.IntegralJ, st.RelDiff = w.CounterJ, w.IntegralJ, w.RelDiff
		st.AvgW, st.MaxGap, st.Resets = w.AvgW, w.MaxGap, len(w.Resets)
	}
	return st
}

// UpdatePeriod is the median time between consecutive samples (in time
// order, one GPU) at which value changed; 0 with fewer than three changes.
func UpdatePeriod(samples []Sample, value func(*Sample) float64) time.Duration {
	var changes []int64
	for i := 1; i < len(samples); i++ {
		if value(&samples[i]) != value(&samples[i-1]) {
			changes = append(changes, samples[i].TMonoNs)
		}
	}
	if len(changes) < 3 {
		return 0
	}
	iv := make([]int64, 0, len(changes)-1)
	for i := 1; i < len(changes); i++ {
		iv = append(iv, changes[i]-changes[i-1])
	}
	slices.Sort(iv)
	return time.Duration(iv[len(iv)/2])
}

// clockEventNames names NVML's clock-event reason bits (nvml.h
// nvmlClocksEventReason*).
var clockEventNames = map[uint64]string{
	1:    "gpu_idle",
	2:    "applications_clocks_setting",
	4:    "sw_power_cap",
	8:    "hw_slowdown",
	16:   "sync_boost",
	32:   "sw_thermal_slowdown",
	64:   "hw_thermal_slowdown",
	128:  "hw_power_brake_slowdown",
	256:  "display_clock_setting",
	512:  "board_limit",
	1024: "reliability",
}

// ClockEventNames names the set bits of a clock-event reason mask, lowest
// first; an unknown bit is "bit_N".
func ClockEventNames(mask uint64) []string {
	out := []string{}
	for mask != 0 {
		b := uint64(1) << bits.TrailingZeros64(mask)
		mask &^= b
		if n, ok := clockEventNames[b]; ok {
			out = append(out, n)
		} else {
			out = append(out, "bit_"+strconv.Itoa(bits.TrailingZeros64(b)))
		}
	}
	return out
}
