package bundle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/agentwatt/agentwatt/metrics"
)

// ProbesFormat and ProbesVersion name probes.json's schema.
const (
	ProbesFormat  = "agentwatt-probes"
	ProbesVersion = 1
)

// Probe purposes, as written in probes.json.
const (
	PurposeSearch  = "search"  // a step of the capacity search
	PurposeConfirm = "confirm" // a further window at a candidate N_max
	PurposeFixed   = "fixed"   // a window at the N the caller chose
	// PurposeRepeat is a further window at a tier's confirmed N_max
	// (benchmark.repeats): it measures the spread and is no step of any
	// tier's search.
	PurposeRepeat = "repeat"
)

// Histories of probes.json: how the assistant turns were replayed.
const (
	// HistoryRecorded replays the workload's recorded answers; the
	// verifier recomputes every target_prompt_tokens from the workload.
	HistoryRecorded = "recorded"
	// HistoryLive feeds the server's own answers back; turns after a
	// session's first carry targets counted from the request sent.
	HistoryLive = "live"
)

// Probes is probes.json: the clock anchor and every probe. The runner
// writes all of it; the verifier reads the schedule (agents, phases,
// client health) and recomputes every result.
type Probes struct {
	Format  string      `json:"format"`
	Version int         `json:"version"`
	Clock   ClockAnchor `json:"clock"`
	// History is HistoryRecorded (or absent, the same) or HistoryLive.
	History string        `json:"history"`
	Probes  []ProbeRecord `json:"probes"`
}

// ClockAnchor ties the run clock (nanoseconds since the run's start, every
// t_*_ns of a record) to wall-clock time and to the host's CLOCK_MONOTONIC.
type ClockAnchor struct {
	Wall time.Time `json:"run_start"`
	// MonotonicNs is CLOCK_MONOTONIC at the run clock's zero, in ns, read
	// next to Wall; add a record's t_*_ns to get the host's monotonic time
	// (the clock the sim's power samples and NVML sampler use).
	MonotonicNs int64 `json:"run_start_monotonic_ns"`
}

// ProbeRecord is one probe as written in probes.json: N, its phases on the
// run clock (nanoseconds since the run's start), its window in wall-clock
// and CLOCK_MONOTONIC time, the client's health over the window, and the
// runner's evaluation (metrics.EvaluateProbe) of every tier, which the
// verifier ignores.
type ProbeRecord struct {
	Probe   int    `json:"probe"`
	Agents  int    `json:"agents"`
	Purpose string `json:"purpose"`
	// Tier is the tier whose search asked for the probe; every tier is
	// evaluated on it.
	Tier string `json:"tier,omitempty"`

	StartNs       int64 `json:"start_ns"`        // previous window's end (run start for the first)
	WarmupStartNs int64 `json:"warmup_start_ns"` // after ramp and settle
	WindowStartNs int64 `json:"window_start_ns"` // -1 when warm-up never finished
	WindowEndNs   int64 `json:"window_end_ns"`
	DoneNs        int64 `json:"done_ns"` // the last window request finished

	WindowStart            time.Time `json:"window_start"`
	WindowEnd              time.Time `json:"window_end"`
	WindowStartMonotonicNs int64     `json:"window_start_monotonic_ns"`
	WindowEndMonotonicNs   int64     `json:"window_end_monotonic_ns"`

	Client metrics.ClientHealth `json:"client"`
	Result metrics.ProbeResult  `json:"result"`
}

// HasWindow reports whether the probe reached a measurement window.
func (p *ProbeRecord) HasWindow() bool {
	return p.WindowStartNs >= 0 && p.WindowEndNs > p.WindowStartNs
}

// Unserved reports a probe in which the engine did not serve the agents
// by the runner's account: a warm-up that never completed, or a window
// without one request.
func (p *ProbeRecord) Unserved() bool {
	return p.WindowStartNs < 0 || p.Result.Requests == 0
}

// DecodeProbes reads probes.json. Unknown fields are allowed; the format,
// version and schedule must be well formed: each probe listed once, no
// negative N, a window inside its probe's phases.
func DecodeProbes(data []byte) (*Probes, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var pf Probes
	if err := dec.Decode(&pf); err != nil {
		return nil, fmt.Errorf("%s: %w", ProbesFile, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: trailing data after the JSON value", ProbesFile)
	}
	if pf.Format != ProbesFormat {
		return nil, fmt.Errorf("%s: format %q, want %q", ProbesFile, pf.Format, ProbesFormat)
	}
	if pf.Version != ProbesVersion {
		return nil, fmt.Errorf("%s: version %d, want %d", ProbesFile, pf.Version, ProbesVersion)
	}
	seen := map[int]bool{}
	for i, p := range pf.Probes {
		if seen[p.Probe] {
			return nil, fmt.Errorf("%s: probes[%d]: probe %d listed twice", ProbesFile, i, p.Probe)
		}
		seen[p.Probe] = true
		if p.Agents < 0 {
			return nil, fmt.Errorf("%s: probes[%d]: agents %d negative", ProbesFile, i, p.Agents)
		}
		if p.HasWindow() && (p.WindowStartNs < p.StartNs || p.DoneNs < p.WindowEndNs) {
			return nil, fmt.Errorf("%s: probes[%d]: phases out of order (start %d, window [%d, %d), done %d)",
				ProbesFile, i, p.StartNs, p.WindowStartNs, p.WindowEndNs, p.DoneNs)
		}
	}
	return &pf, nil
}
