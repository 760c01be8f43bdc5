package metrics

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// PowerSample is one reading of one GPU's power sensors, as the runner's
// sampler writes it to power.jsonl.zst.
type PowerSample struct {
	GPU      int     `json:"gpu"`       // device index
	TMonoNs  int64   `json:"t_mono_ns"` // the run's monotonic clock, like request records
	EnergyMJ float64 `json:"energy_mj"` // cumulative energy counter, millijoules (NVML TotalEnergyConsumption)
	PowerW   float64 `json:"power_w"`   // instantaneous power, watts
}

// CounterReset is a decrease of a GPU's cumulative energy counter between two
// consecutive samples (driver reload, GPU reset, wrap).
type CounterReset struct {
	GPU     int   `json:"gpu"`
	TMonoNs int64 `json:"t_mono_ns"` // time of the first sample after the decrease
}

// Energy is the energy drawn in a window, summed over GPUs.
type Energy struct {
	Joules float64         `json:"joules"`
	PerGPU map[int]float64 `json:"per_gpu"` // joules by GPU index
	Resets []CounterReset  `json:"resets"`  // counter resets inside or at the edges of the window
}

// EnergyFromCounters is Σ over GPUs of the change of the cumulative energy
// counter across [start, end). Per GPU, every sample interval [tᵢ, tᵢ₊₁]
// holds the increment dᵢ = eᵢ₊₁ − eᵢ, spread evenly over the interval, so the
// window's edges are linearly interpolated; an interval that overlaps the
// window contributes dᵢ·|[tᵢ, tᵢ₊₁] ∩ [start, end)| / (tᵢ₊₁ − tᵢ). A decrease
// (dᵢ < 0) is a counter reset: the counter restarted from zero, the interval
// is taken to hold eᵢ₊₁, and the reset is reported. Every GPU must have
// samples at or before start and at or after end, or ErrNotBracketed.
func EnergyFromCounters(samples []PowerSample, start, end int64) (Energy, error) {
	return integrate(samples, start, end, func(a, b PowerSample) (float64, bool) {
		d := b.EnergyMJ - a.EnergyMJ
		if d < 0 {
			return b.EnergyMJ / 1000, true
		}
		return d / 1000, false
	})
}

// EnergyFromPowerIntegral is Σ over GPUs of the trapezoid integral of
// instantaneous power over [start, end), with power linearly interpolated at
// the window's edges. It is the cross-check of EnergyFromCounters. Every GPU
// must have samples at or before start and at or after end, or
// ErrNotBracketed.
func EnergyFromPowerIntegral(samples []PowerSample, start, end int64) (Energy, error) {
	if end <= start {
		return Energy{}, ErrEmptyWindow
	}
	e, err := integrate(samples, start, end, nil)
	return e, err
}

// integrate walks each GPU's samples over the window. With counter == nil it
// integrates power by trapezoids on the clipped interval; otherwise counter
// gives the energy (J) of a whole sample interval, spread evenly over it.
func integrate(samples []PowerSample, start, end int64, counter func(a, b PowerSample) (float64, bool)) (Energy, error) {
	if end <= start {
		return Energy{}, ErrEmptyWindow
	}
	out := Energy{PerGPU: map[int]float64{}, Resets: []CounterReset{}}
	for _, gs := range byGPU(samples) {
		gpu := gs[0].GPU
		if gs[0].TMonoNs > start || gs[len(gs)-1].TMonoNs < end {
			return Energy{}, fmt.Errorf("gpu %d samples span [%d, %d], window [%d, %d): %w",
				gpu, gs[0].TMonoNs, gs[len(gs)-1].TMonoNs, start, end, ErrNotBracketed)
		}
		var joules float64
		for i := 0; i+1 < len(gs); i++ {
			a, b := gs[i], gs[i+1]
			lo, hi := max(a.TMonoNs, start), min(b.TMonoNs, end)
			if hi <= lo || b.TMonoNs <= a.TMonoNs {
				continue
			}
			span := float64(b.TMonoNs - a.TMonoNs)
			if counter != nil {
				j, reset := counter(a, b)
				if reset {
					out.Resets = append(out.Resets, CounterReset{GPU: gpu, TMonoNs: b.TMonoNs})
				}
				joules += j * float64(hi-lo) / span
				continue
			}
			pLo := a.PowerW + (b.PowerW-a.PowerW)*float64(lo-a.TMonoNs)/span
			pHi := a.PowerW + (b.PowerW-a.PowerW)*float64(hi-a.TMonoNs)/span
			joules += (pLo + pHi) / 2 * float64(hi-lo) / 1e9
		}
		out.PerGPU[gpu] = joules
		out.Joules += joules
	}
	if len(out.PerGPU) == 0 {
		return Energy{}, ErrNoSamples
	}
	return out, nil
}

// MaxGap is the longest time between consecutive samples of one GPU whose
// interval overlaps [start, end), so the gaps that bracket the window's edges
// count in full. Where a GPU has no sample at or before start (or at or after
// end), the span from that edge to its nearest sample inside the window (the
// whole window if none) counts as a gap too.
func MaxGap(samples []PowerSample, start, end int64) time.Duration {
	var worst int64
	for _, gs := range byGPU(samples) {
		first, last := gs[0].TMonoNs, gs[len(gs)-1].TMonoNs
		if first > start {
			worst = max(worst, min(first, end)-start)
		}
		if last < end {
			worst = max(worst, end-max(last, start))
		}
		for i := 0; i+1 < len(gs); i++ {
			a, b := gs[i].TMonoNs, gs[i+1].TMonoNs
			if a < end && b > start {
				worst = max(worst, b-a)
			}
		}
	}
	return time.Duration(worst)
}

// AveragePower is energy / window length, in watts; 0 for an empty window.
func AveragePower(energyJ float64, window time.Duration) float64 {
	if window <= 0 {
		return 0
	}
	return energyJ / window.Seconds()
}

// AgentsPerMW is N_max × 10⁶ / average watts; 0 without power.
func AgentsPerMW(nMax int, avgWatts float64) float64 {
	if avgWatts <= 0 {
		return 0
	}
	return float64(nMax) * 1e6 / avgWatts
}

// JoulesPerToken is energy / output tokens; 0 without tokens.
func JoulesPerToken(energyJ, outputTokens float64) float64 {
	if outputTokens <= 0 {
		return 0
	}
	return energyJ / outputTokens
}

// RelativeDifference is |got − ref| / |ref|; 0 when both are 0 and +Inf when
// only ref is. It is how the verifier compares a claim with its
// recomputation and how counter energy is cross-checked with the power
// integral.
func RelativeDifference(got, ref float64) float64 {
	if got == ref {
		return 0
	}
	if ref == 0 {
		return math.Inf(1)
	}
	return math.Abs(got-ref) / math.Abs(ref)
}

// byGPU groups samples by GPU, each group sorted by time, groups by index.
func byGPU(samples []PowerSample) [][]PowerSample {
	m := map[int][]PowerSample{}
	for _, s := range samples {
		m[s.GPU] = append(m[s.GPU], s)
	}
	gpus := make([]int, 0, len(m))
	for g := range m {
		gpus = append(gpus, g)
	}
	slices.Sort(gpus)
	out := make([][]PowerSample, 0, len(gpus))
	for _, g := range gpus {
		gs := m[g]
		slices.SortStableFunc(gs, func(a, b PowerSample) int { return cmp.Compare(a.TMonoNs, b.TMonoNs) })
		out = append(out, gs)
	}
	return out
}
