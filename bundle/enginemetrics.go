package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// Where an EngineMetricsLine was scraped: at its probe's window start or end.
const (
	ScrapeStart = "start"
	ScrapeEnd   = "end"
)

// Bounds of engine-metrics.jsonl.zst.
const (
	maxEngineMetricsLine     = 16 << 10
	maxEngineMetricsLines    = 10_000
	maxEngineMetricsCounters = 32
	maxEngineMetricName      = 200
)

// ErrBadEngineMetrics: an engine-metrics.jsonl line that is not a scrape.
var ErrBadEngineMetrics = errors.New("bad engine metrics line")

// EngineMetricsLine is one scrape of the engine's Prometheus /metrics at a
// probe's window start or end: a line of engine-metrics.jsonl.zst. Counters
// holds the wanted names present (summed over label sets); a failed scrape
// has Err set and no counters. The file is optional (older bundles, engines
// without such metrics) and what it holds is the engine's own account: the
// verifier reports figures from it and judges nothing by them.
type EngineMetricsLine struct {
	Probe    int                `json:"probe"`
	At       string             `json:"at"` // ScrapeStart or ScrapeEnd
	TMonoNs  int64              `json:"t_mono_ns"`
	Counters map[string]float64 `json:"counters,omitempty"`
	Err      string             `json:"err,omitempty"`
}

// AppendEngineMetricsLine appends l as one line (JSON and '\n').
func AppendEngineMetricsLine(dst []byte, l *EngineMetricsLine) ([]byte, error) {
	b, err := json.Marshal(l)
	if err != nil {
		return dst, err
	}
	return append(append(dst, b...), '\n'), nil
}

// ReadEngineMetrics decodes engine-metrics.jsonl.zst from a line source
// (LimitedZstdReader.ReadLine): strictly (unknown fields, a bad "at", a
// negative or non-finite counter, too many counters or lines are errors
// naming FILE:LINE).
func ReadEngineMetrics(next func() ([]byte, error)) ([]EngineMetricsLine, error) {
	var out []EngineMetricsLine
	for line := 1; ; line++ {
		b, err := next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EngineMetricsFile, err)
		}
		if line > maxEngineMetricsLines {
			return nil, fmt.Errorf("%s:%d: %w: more than %d lines", EngineMetricsFile, line, ErrBadEngineMetrics, maxEngineMetricsLines)
		}
		l, err := decodeEngineMetricsLine(b)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w: %v", EngineMetricsFile, line, ErrBadEngineMetrics, err)
		}
		out = append(out, l)
	}
}

func decodeEngineMetricsLine(b []byte) (EngineMetricsLine, error) {
	var l EngineMetricsLine
	if len(b) > maxEngineMetricsLine {
		return l, fmt.Errorf("line over %d bytes", maxEngineMetricsLine)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return l, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return l, errors.New("trailing data after the JSON value")
	}
	if l.At != ScrapeStart && l.At != ScrapeEnd {
		return l, fmt.Errorf("at %q: want %q or %q", l.At, ScrapeStart, ScrapeEnd)
	}
	if l.Probe < 0 || l.TMonoNs < 0 {
		return l, fmt.Errorf("probe %d, t_mono_ns %d: must not be negative", l.Probe, l.TMonoNs)
	}
	if len(l.Counters) > maxEngineMetricsCounters {
		return l, fmt.Errorf("%d counters, at most %d", len(l.Counters), maxEngineMetricsCounters)
	}
	for k, v := range l.Counters {
		if k == "" || len(k) > maxEngineMetricName {
			return l, fmt.Errorf("counter name of %d bytes", len(k))
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return l, fmt.Errorf("counter %s = %g: want a finite non-negative value", k, v)
		}
	}
	return l, nil
}
