package verifier

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/agentwatt/agentwatt/metrics"
)

// probesFormat is probes.json's format name (the runner's replay package
// writes it; the verifier may not import the runner, so the shape is
// repeated here with the same field names).
const probesFormat = "agentwatt-probes"

// probesFile is the part of probes.json the verifier reads: the schedule.
// The runner's own evaluation (result) is ignored; it is recomputed.
type probesFile struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// History is how the assistant turns were replayed: "recorded" (or
	// absent, the same) or "live".
	History string        `json:"history"`
	Probes  []probeRecord `json:"probes"`
}

// historyRecorded is the only history whose prompts the workload fixes.
const historyRecorded = "recorded"

// probeRecord is one probe of probes.json.
type probeRecord struct {
	Probe         int                  `json:"probe"`
	Agents        int                  `json:"agents"`
	Purpose       string               `json:"purpose"`
	Tier          string               `json:"tier"`
	StartNs       int64                `json:"start_ns"`
	WarmupStartNs int64                `json:"warmup_start_ns"`
	WindowStartNs int64                `json:"window_start_ns"`
	WindowEndNs   int64                `json:"window_end_ns"`
	DoneNs        int64                `json:"done_ns"`
	Client        metrics.ClientHealth `json:"client"`
}

// hasWindow reports whether the probe reached a measurement window.
func (p *probeRecord) hasWindow() bool {
	return p.WindowStartNs >= 0 && p.WindowEndNs > p.WindowStartNs
}

// decodeProbes reads probes.json. Unknown fields are allowed (the runner's
// evaluation and clock anchor are not the verifier's inputs); the schedule
// must be well formed.
func decodeProbes(data []byte) (*probesFile, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var pf probesFile
	if err := dec.Decode(&pf); err != nil {
		return nil, fmt.Errorf("probes.json: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("probes.json: trailing data after the JSON value")
	}
	if pf.Format != probesFormat {
		return nil, fmt.Errorf("probes.json: format %q, want %q", pf.Format, probesFormat)
	}
	if pf.Version != 1 {
		return nil, fmt.Errorf("probes.json: version %d, want 1", pf.Version)
	}
	seen := map[int]bool{}
	for i, p := range pf.Probes {
		if seen[p.Probe] {
			return nil, fmt.Errorf("probes.json: probes[%d]: probe %d listed twice", i, p.Probe)
		}
		seen[p.Probe] = true
		if p.Agents < 0 {
			return nil, fmt.Errorf("probes.json: probes[%d]: agents %d negative", i, p.Agents)
		}
		if p.hasWindow() && (p.WindowStartNs < p.StartNs || p.DoneNs < p.WindowEndNs) {
			return nil, fmt.Errorf("probes.json: probes[%d]: phases out of order (start %d, window [%d, %d), done %d)",
				i, p.StartNs, p.WindowStartNs, p.WindowEndNs, p.DoneNs)
		}
	}
	return &pf, nil
}
