package publish

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
)

// Bounds of the power file a result page reads: a published bundle passed
// verification, and the page still reads it as untrusted.
const (
	maxPowerStored       = 256 << 20 // power.jsonl.zst as stored
	maxPowerDecompressed = 2 << 30
	tracePoints          = 300 // points per GPU in the confirmation window's chart
)

// readPower reads a bundle's power samples within the bounds above.
func readPower(ctx context.Context, store PublishStore, job string, attempt int, m *bundle.Manifest) ([]metrics.PowerSample, error) {
	f, ok := m.File(bundle.PowerFile)
	if !ok {
		return nil, fmt.Errorf("not listed")
	}
	if f.Size > maxPowerStored {
		return nil, fmt.Errorf("%d bytes, more than the page reads (%d)", f.Size, maxPowerStored)
	}
	data, err := store.GetBytes(ctx, bundle.Key(job, attempt, bundle.PowerFile), maxPowerStored)
	if err != nil {
		return nil, err
	}
	zr, err := bundle.NewLimitedZstdReader(bytes.NewReader(data), bundle.ZstdLimits{MaxDecompressed: maxPowerDecompressed})
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	lines, err := bundle.ParsePowerLines(bundle.PowerFile, zr)
	if err != nil {
		return nil, err
	}
	out := make([]metrics.PowerSample, len(lines))
	for i, l := range lines {
		out[i] = l.PowerSample
	}
	return out, nil
}

// probePower is each windowed probe's average power over its window
// (bundle.WindowEnergyFrom, the verifier's own formula), by probe number.
func probePower(samples []metrics.PowerSample, probes []probeRow) map[int]float64 {
	out := map[int]float64{}
	for _, p := range probes {
		if !p.HasWindow() {
			continue
		}
		if e := bundle.WindowEnergyFrom(samples, p.WindowStartNs, p.WindowEndNs, 0); e != nil {
			out[p.Probe] = e.AvgPowerW
		}
	}
	return out
}

// powerTrace is the power of each GPU through a probe's window, averaged
// into at most tracePoints buckets: the confirmation window's chart.
func powerTrace(samples []metrics.PowerSample, p probeRow, title string) *lineChart {
	if !p.HasWindow() {
		return nil
	}
	start, end := p.WindowStartNs, p.WindowEndNs
	step := max((end-start)/tracePoints, 1)
	n := int((end-start)/step) + 1
	c := &lineChart{ID: "power", Title: title, XLabel: "seconds into the window", YLabel: "power (W)", X: make([]float64, n)}
	for i := range c.X {
		c.X[i] = float64(int64(i)*step) / 1e9
	}
	type acc struct{ sum, n float64 }
	gpus := map[int][]acc{}
	for _, s := range samples {
		if s.TMonoNs < start || s.TMonoNs > end {
			continue
		}
		if gpus[s.GPU] == nil {
			gpus[s.GPU] = make([]acc, n)
		}
		b := &gpus[s.GPU][(s.TMonoNs-start)/step]
		b.sum += s.PowerW
		b.n++
	}
	if len(gpus) == 0 {
		return nil
	}
	ids := make([]int, 0, len(gpus))
	for g := range gpus {
		ids = append(ids, g)
	}
	slices.Sort(ids)
	for _, g := range ids {
		s := lineSeries{Name: fmt.Sprintf("GPU %d", g), Values: make([]*float64, n)}
		for i, b := range gpus[g] {
			if b.n > 0 {
				v := b.sum / b.n
				s.Values[i] = &v
			}
		}
		c.Series = append(c.Series, s)
	}
	return c
}
