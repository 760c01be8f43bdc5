package power

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/agentwatt/agentwatt/metrics"
)

// WindowReport is the energy of a window, the way a bundle's summary states
// it. Energy is in joules, power in watts, times on the run clock (ns).
type WindowReport struct {
	StartNs int64 `json:"start_ns"`
	EndNs   int64 `json:"end_ns"`
	// CounterJ is Σ over GPUs of the energy counters' change
	// (metrics.EnergyFromCounters): the measurement.
	CounterJ float64 `json:"counter_j"`
	// IntegralJ is Σ over GPUs of the integral of instantaneous power
	// (metrics.EnergyFromPowerIntegral): the cross-check.
	IntegralJ float64 `json:"integral_j"`
	// RelDiff is |IntegralJ − CounterJ| / CounterJ
	// (metrics.RelativeDifference); 1 when the counters show no energy and
	// the integral does (JSON has no infinity).
	RelDiff float64 `json:"rel_diff"`
	// AvgW is CounterJ over the window's length.
	AvgW float64 `json:"avg_w"`
	// MaxGap is the longest time between two valid samples of a GPU that
	// overlaps the window (metrics.MaxGap).
	MaxGap time.Duration `json:"max_gap_ns"`
	// Resets are the energy-counter decreases inside the window.
	Resets []metrics.CounterReset `json:"resets"`
	// Samples and Errors count the window's valid and failed samples.
	Samples int `json:"samples"`
	Errors  int `json:"errors"`
	// PowerSources lists the power sources of the window's samples.
	PowerSources []string    `json:"power_sources"`
	PerGPU       []GPUWindow `json:"per_gpu"`
}

// GPUWindow is one GPU's share of a WindowReport.
type GPUWindow struct {
	GPU         int           `json:"gpu"`
	CounterJ    float64       `json:"counter_j"`
	IntegralJ   float64       `json:"integral_j"`
	RelDiff     float64       `json:"rel_diff"`
	AvgW        float64       `json:"avg_w"`
	MaxGap      time.Duration `json:"max_gap_ns"`
	Resets      int           `json:"resets"`
	Samples     int           `json:"samples"`
	Errors      int           `json:"errors"`
	PowerSource string        `json:"power_source"`
}

// WindowEnergy computes the energy of [start, end) from samples (any
// order, any GPUs; failed samples are counted and left out). Every GPU must
// have valid samples at or before start and at or after end, or it returns
// metrics.ErrNotBracketed.
func WindowEnergy(samples []Sample, start, end int64) (WindowReport, error) {
	if end <= start {
		return WindowReport{}, metrics.ErrEmptyWindow
	}
	valid := ValidPowerSamples(samples)
	if len(valid) == 0 {
		return WindowReport{}, metrics.ErrNoSamples
	}
	byGPU := map[int][]metrics.PowerSample{}
	for _, v := range valid {
		byGPU[v.GPU] = append(byGPU[v.GPU], v)
	}
	for i := range samples {
		if g := samples[i].GPU; len(byGPU[g]) == 0 {
			return WindowReport{}, fmt.Errorf("gpu %d has no valid sample: %w", g, metrics.ErrNotBracketed)
		}
	}
	counter, err := metrics.EnergyFromCounters(valid, start, end)
	if err != nil {
		return WindowReport{}, err
	}
	integral, err := metrics.EnergyFromPowerIntegral(valid, start, end)
	if err != nil {
		return WindowReport{}, err
	}
	window := time.Duration(end - start)
	r := WindowReport{
		StartNs: start, EndNs: end,
		CounterJ: counter.Joules, IntegralJ: integral.Joules,
		RelDiff: relDiff(integral.Joules, counter.Joules),
		AvgW:    metrics.AveragePower(counter.Joules, window),
		MaxGap:  metrics.MaxGap(valid, start, end),
		Resets:  counter.Resets,
	}
	per := map[int]*GPUWindow{}
	sources := map[string]bool{}
	for i := range samples {
		x := &samples[i]
		g := per[x.GPU]
		if g == nil {
			g = &GPUWindow{GPU: x.GPU}
			per[x.GPU] = g
		}
		if x.TMonoNs < start || x.TMonoNs >= end {
			continue
		}
		if !x.Valid() {
			g.Errors++
			r.Errors++
			continue
		}
		g.Samples++
		r.Samples++
		if x.PowerSource != "" {
			sources[x.PowerSource] = true
			g.PowerSource = x.PowerSource
		}
	}
	for _, gpu := range slices.Sorted(maps.Keys(per)) {
		g := per[gpu]
		g.CounterJ, g.IntegralJ = counter.PerGPU[gpu], integral.PerGPU[gpu]
		g.RelDiff = relDiff(g.IntegralJ, g.CounterJ)
		g.AvgW = metrics.AveragePower(g.CounterJ, window)
		g.MaxGap = metrics.MaxGap(byGPU[gpu], start, end)
		for _, rs := range counter.Resets {
			if rs.GPU == gpu {
				g.Resets++
			}
		}
		r.PerGPU = append(r.PerGPU, *g)
	}
	r.PowerSources = slices.Sorted(maps.Keys(sources))
	return r, nil
}

func relDiff(got, ref float64) float64 {
	d := metrics.RelativeDifference(got, ref)
	if math.IsInf(d, 0) || math.IsNaN(d) {
		return 1
	}
	return d
}
