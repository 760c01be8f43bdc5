package verifier

import (
	"context"
	"fmt"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
)

// maxEngineMetricsLine bounds one engine-metrics.jsonl line.
const maxEngineMetricsLine = 16 << 10

// specDecoding reports the speculative-decoding acceptance of each window
// from engine-metrics.jsonl.zst (metrics.SpecAcceptance over the scrapes
// at its start and end). The file is optional: absent, or without the
// counters, there is no figure and no check. The counters are the
// engine's own account, so the figures are reported, never judged; a file
// that does not decode fails the check, since the runner signed it.
func (r *run) specDecoding(ctx context.Context, res *bundle.Results) error {
	if _, ok := r.b.Manifest().File(bundle.EngineMetricsFile); !ok {
		return nil
	}
	lim := r.opts.ZstdLimits
	if lim.MaxLine <= 0 || lim.MaxLine > maxEngineMetricsLine {
		lim.MaxLine = maxEngineMetricsLine
	}
	z, err := r.b.OpenZstd(ctx, bundle.EngineMetricsFile, lim)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	defer z.Close()
	lines, err := bundle.ReadEngineMetrics(z.ReadLine)
	if err != nil {
		r.cl.add(CheckEngineMetrics, []string{err.Error()}, "")
		return nil
	}
	type pair struct{ start, end map[string]float64 }
	var order []int
	windows := map[int]*pair{}
	for _, l := range lines {
		if l.Err != "" {
			continue
		}
		p := windows[l.Probe]
		if p == nil {
			p = &pair{}
			windows[l.Probe] = p
			order = append(order, l.Probe)
		}
		if l.At == bundle.ScrapeStart {
			p.start = l.Counters
		} else {
			p.end = l.Counters
		}
	}
	var parts []string
	for _, probe := range order {
		p := windows[probe]
		rate, ok := metrics.SpecAcceptance(p.start, p.end)
		if !ok {
			continue
		}
		res.SpecDecoding = append(res.SpecDecoding, bundle.SpecWindow{Probe: probe, Acceptance: rate,
			DraftTokens: p.end[metrics.SpecDraftTokens] - p.start[metrics.SpecDraftTokens]})
		parts = append(parts, fmt.Sprintf("probe %d: %.4f", probe, rate))
	}
	if len(parts) == 0 {
		r.cl.info(CheckEngineMetrics, fmt.Sprintf("%d engine metrics scrapes, no speculative-decoding counters", len(lines)))
		return nil
	}
	r.cl.info(CheckEngineMetrics, fmt.Sprintf("speculative decoding acceptance (Δaccepted/Δdraft tokens, the engine's own counters; reported, not judged): %s",
		joinCapped(parts, 20)))
	return nil
}
