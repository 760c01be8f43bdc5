package verifier

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
)

// powerSamples are the decoded samples of a bundle.
type powerSamples struct {
	valid   []metrics.PowerSample
	failed  int            // reads that failed (err set)
	sources map[string]int // power_source → valid samples
}

// readPowerSamples decodes a power.jsonl.zst stream, line by line within
// the limits.
func readPowerSamples(r io.Reader, lim bundle.ZstdLimits) (*powerSamples, error) {
	return readPowerFile(bundle.PowerFile, r, lim)
}

// readPowerFile decodes the power lines of the file called name (power.jsonl.zst
// or a member's power/<member>.jsonl.zst); errors name it.
func readPowerFile(name string, r io.Reader, lim bundle.ZstdLimits) (*powerSamples, error) {
	if lim.MaxLine <= 0 || lim.MaxLine > maxPowerLine {
		lim.MaxLine = maxPowerLine
	}
	z, err := bundle.NewLimitedZstdReader(r, lim)
	if err != nil {
		return nil, err
	}
	defer z.Close()
	return decodePowerLinesOf(name, z.ReadLine)
}

// decodePowerLines decodes power samples from a line source.
func decodePowerLines(next func() ([]byte, error)) (*powerSamples, error) {
	return decodePowerLinesOf(bundle.PowerFile, next)
}

func decodePowerLinesOf(name string, next func() ([]byte, error)) (*powerSamples, error) {
	ps := &powerSamples{sources: map[string]int{}}
	for line := 1; ; line++ {
		b, err := next()
		if errors.Is(err, io.EOF) {
			return ps, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return nil, fmt.Errorf("%s:%d: blank line", name, line)
		}
		var s bundle.PowerReading
		if err := bundle.DecodePowerReading(b, &s); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		if !s.Valid() {
			ps.failed++
			continue
		}
		if s.GPU < 0 {
			return nil, fmt.Errorf("%s:%d: gpu %d negative", name, line, s.GPU)
		}
		if len(ps.sources) < maxPowerSources || ps.sources[s.PowerSource] > 0 {
			ps.sources[s.PowerSource]++
		} else {
			return nil, fmt.Errorf("%s:%d: more than %d power sources", name, line, maxPowerSources)
		}
		ps.valid = append(ps.valid, s.PowerSample)
	}
}

// maxPowerSources bounds the distinct power_source values of a bundle: a
// runner reads its GPUs one or two ways.
const maxPowerSources = 16

// powerIndex holds the valid samples by GPU, each GPU's in time order, so
// that a window's energy is computed from the samples around it rather
// than from every sample of the run.
type powerIndex struct {
	gpus [][]metrics.PowerSample
	buf  []metrics.PowerSample
}

func newPowerIndex(samples []metrics.PowerSample) *powerIndex {
	byGPU := map[int][]metrics.PowerSample{}
	for _, s := range samples {
		byGPU[s.GPU] = append(byGPU[s.GPU], s)
	}
	px := &powerIndex{}
	for _, g := range sortedIntKeys(byGPU) {
		gs := byGPU[g]
		slices.SortStableFunc(gs, func(a, b metrics.PowerSample) int { return cmp.Compare(a.TMonoNs, b.TMonoNs) })
		px.gpus = append(px.gpus, gs)
	}
	return px
}

// windowEnergy is bundle.WindowEnergyFrom over the samples that matter to
// [start, end): per GPU, from its last sample at or before start to its
// first at or after end. The energy formulas read nothing outside that
// range (intervals that do not overlap the window add nothing, and the
// gaps that count overlap it), so the result is the same as from every
// sample.
func (px *powerIndex) windowEnergy(start, end int64, outputTokens float64) *bundle.WindowEnergy {
	if len(px.gpus) == 0 {
		return nil
	}
	px.buf = px.buf[:0]
	for _, gs := range px.gpus {
		lo := sort.Search(len(gs), func(i int) bool { return gs[i].TMonoNs > start }) - 1
		hi := sort.Search(len(gs), func(i int) bool { return gs[i].TMonoNs >= end })
		px.buf = append(px.buf, gs[max(lo, 0):min(hi+1, len(gs))]...)
	}
	return bundle.WindowEnergyFrom(px.buf, start, end, outputTokens)
}

func sortedIntKeys[V any](m map[int]V) []int {
	ks := make([]int, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
