package verifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
)

// powerLine is one line of power.jsonl.zst: the runner's power.Sample (the
// verifier may not import the runner; the field names are the same). A
// sample with err set failed: its energy and power are not valid and it is
// left out, as power.ValidPowerSamples does, so that it is not mistaken for
// a counter reset.
type powerLine struct {
	metrics.PowerSample
	Err string `json:"err,omitempty"`
}

// powerSamples are the decoded samples of a bundle.
type powerSamples struct {
	valid  []metrics.PowerSample
	failed int // reads that failed (err set)
}

// readPowerSamples decodes a power.jsonl.zst stream, line by line within
// the limits.
func readPowerSamples(r io.Reader, lim bundle.ZstdLimits) (*powerSamples, error) {
	if lim.MaxLine <= 0 || lim.MaxLine > maxPowerLine {
		lim.MaxLine = maxPowerLine
	}
	z, err := bundle.NewLimitedZstdReader(r, lim)
	if err != nil {
		return nil, err
	}
	defer z.Close()
	return decodePowerLines(z.ReadLine)
}

// decodePowerLines decodes power samples from a line source.
func decodePowerLines(next func() ([]byte, error)) (*powerSamples, error) {
	ps := &powerSamples{}
	for line := 1; ; line++ {
		b, err := next()
		if errors.Is(err, io.EOF) {
			return ps, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", bundle.PowerFile, err)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return nil, fmt.Errorf("%s:%d: blank line", bundle.PowerFile, line)
		}
		var s powerLine
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", bundle.PowerFile, line, err)
		}
		if s.Err != "" {
			ps.failed++
			continue
		}
		if s.GPU < 0 {
			return nil, fmt.Errorf("%s:%d: gpu %d negative", bundle.PowerFile, line, s.GPU)
		}
		ps.valid = append(ps.valid, s.PowerSample)
	}
}
