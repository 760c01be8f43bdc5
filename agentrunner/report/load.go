package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/agentwatt/agentwatt/agentrunner/replay"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
)

// maxJSONBytes bounds probes.json and summary.json (a directory may come
// from elsewhere).
const maxJSONBytes = 64 << 20

// Report is what the files show.
type Report struct {
	// Kind is "bench" (an agentwatt bench output directory) or "bundle".
	Kind        string
	Model       string
	Workload    string
	Rules       string
	Profile     string
	Mode        string
	Simulated   bool
	Interrupted bool
	Error       string
	Tiers       []Tier
	Probes      []Probe
	// Records counts the request records read.
	Records int
}

// Tier is one tier's outcome and its confirmation window's statistics.
type Tier struct {
	ID           string
	MinDecodeTPS float64
	MaxTTFTS     float64
	MaxAgents    int
	Confirmed    bool
	ConfirmProbe int // -1: none
	Reason       string
	// Stats are the confirmation probe's (zero without one).
	Stats metrics.RequestStats
	// The bundle's energy figures of the confirmation window, as its
	// summary.json claims them (bundle.TierSummary; zero for a bench
	// directory or without power): `agentwatt verify` recomputes them.
	AvgPowerW, AgentsPerMW, JoulesPerToken float64
}

// HasEnergy reports whether any tier carries energy figures.
func (r *Report) HasEnergy() bool {
	for _, t := range r.Tiers {
		if t.AvgPowerW > 0 {
			return true
		}
	}
	return false
}

// Probe is one probe's window and its statistics.
type Probe struct {
	Index      int
	Agents     int
	Role       string
	Tier       string
	WindowS    float64
	HasWindow  bool
	Stats      metrics.RequestStats
	Valid      bool
	Conclusive bool
	// Reasons say why the probe is invalid or inconclusive.
	Reasons []string
	Tiers   []ProbeTier
}

// ProbeTier is one tier's verdict on a probe.
type ProbeTier struct {
	ID            string
	MetShare      float64
	MetShareLower float64
	Passed        bool
}

// Validity is "valid", "invalid: …" or "inconclusive: …".
func (p *Probe) Validity() string {
	switch {
	case !p.Valid:
		return "invalid: " + join(p.Reasons)
	case !p.Conclusive:
		return "inconclusive: " + join(p.Reasons)
	}
	return "valid"
}

func join(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(x)
	}
	return b.String()
}

// IsBundle reports whether dir is a bundle directory (it holds
// manifest.json).
func IsBundle(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, bundle.ManifestFile))
	return err == nil
}

// Load reads dir's probes.json, summary.json (when present) and
// requests.jsonl.zst, writing each record to csv as it goes when csv is
// not nil.
func Load(dir string, csv io.Writer) (*Report, error) {
	r := &Report{Kind: "bench"}
	if IsBundle(dir) {
		r.Kind = "bundle"
	}
	data, err := readFile(filepath.Join(dir, bundle.ProbesFile))
	if err != nil {
		return nil, err
	}
	pf, err := bundle.DecodeProbes(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, bundle.ProbesFile), err)
	}
	if err := r.loadSummary(filepath.Join(dir, replay.SummaryName)); err != nil {
		return nil, err
	}
	accs := r.addProbes(pf.Probes)
	if err := r.readRecords(filepath.Join(dir, bundle.RequestsFile), pf.Probes, accs, csv); err != nil {
		return nil, err
	}
	for i := range r.Probes {
		r.Probes[i].Stats = accs[i].Stats()
	}
	for i := range r.Tiers {
		t := &r.Tiers[i]
		for _, p := range r.Probes {
			if p.Index == t.ConfirmProbe {
				t.Stats = p.Stats
			}
		}
	}
	return r, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJSONBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxJSONBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, maxJSONBytes>>20)
	}
	return data, nil
}

// loadSummary reads the tiers from summary.json: the bench's format or a
// bundle's. A missing file leaves the tiers empty.
func (r *Report) loadSummary(path string) error {
	data, err := readFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var head struct {
		Format string `json:"format"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if head.Format == replay.SummaryFormat {
		var s replay.Summary
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		r.Model, r.Workload, r.Rules, r.Profile, r.Mode = s.Model, s.Workload.Name, s.Rules, s.Profile, s.Mode
		r.Interrupted, r.Error = s.Interrupted, s.Error
		for id, t := range s.Tiers {
			cp := -1
			if t.ConfirmationProbe != nil {
				cp = *t.ConfirmationProbe
			}
			r.Tiers = append(r.Tiers, Tier{ID: id, MinDecodeTPS: t.MinDecodeTPS, MaxTTFTS: t.MaxTTFTS, MaxAgents: t.MaxAgents,
				Confirmed: t.Confirmed, ConfirmProbe: cp, Reason: t.Reason})
		}
	} else {
		s, err := bundle.DecodeSummary(data)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		r.Profile, r.Simulated = s.Profile, s.Simulated
		for id, t := range s.Tiers {
			cp := -1
			if t.ConfirmProbe != nil {
				cp = *t.ConfirmProbe
			}
			r.Tiers = append(r.Tiers, Tier{ID: id, MinDecodeTPS: t.MinDecodeTPS, MaxTTFTS: t.MaxTTFTS, MaxAgents: t.MaxAgents,
				Confirmed: t.Confirmed, ConfirmProbe: cp, Reason: t.Reason,
				AvgPowerW: t.AvgPowerW, AgentsPerMW: t.AgentsPerMW, JoulesPerToken: t.JoulesPerToken})
		}
	}
	sort.Slice(r.Tiers, func(i, j int) bool {
		a, b := r.Tiers[i], r.Tiers[j]
		if a.MinDecodeTPS != b.MinDecodeTPS {
			return a.MinDecodeTPS < b.MinDecodeTPS
		}
		return a.ID < b.ID
	})
	return nil
}

// addProbes lists the probes and returns an accumulator per probe.
func (r *Report) addProbes(probes []bundle.ProbeRecord) []*metrics.RequestStatsAccumulator {
	accs := make([]*metrics.RequestStatsAccumulator, len(probes))
	for i, p := range probes {
		res := p.Result
		q := Probe{Index: p.Probe, Agents: p.Agents, Role: p.Purpose, Tier: p.Tier, WindowS: res.WindowS, HasWindow: p.HasWindow(),
			Valid: res.Valid, Conclusive: res.Conclusive}
		q.Reasons = append(append(q.Reasons, res.InvalidReasons...), res.InconclusiveReasons...)
		for _, t := range res.Tiers {
			q.Tiers = append(q.Tiers, ProbeTier{ID: t.Tier, MetShare: t.MetShare, MetShareLower: t.MetShareLower, Passed: t.Passed})
		}
		r.Probes = append(r.Probes, q)
		start, end := p.WindowStartNs, p.WindowEndNs
		if !p.HasWindow() {
			start, end = 0, 0
		}
		accs[i] = metrics.NewRequestStatsAccumulator(start, end)
	}
	return accs
}

// readRecords streams requests.jsonl.zst once: each record joins the
// accumulator of the probe whose window it was sent in, and csv.
func (r *Report) readRecords(path string, probes []bundle.ProbeRecord, accs []*metrics.RequestStatsAccumulator, out io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rr, err := metrics.NewRecordReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer rr.Close()
	// Windows in time order, to find a record's probe by binary search.
	order := make([]int, 0, len(probes))
	for i, p := range probes {
		if p.HasWindow() {
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(probes[a].WindowStartNs, probes[b].WindowStartNs) })
	var cw *csvWriter
	if out != nil {
		if cw, err = newCSVWriter(out); err != nil {
			return err
		}
	}
	var rec metrics.Request
	for {
		err := rr.Next(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: record %d: %w", path, r.Records+1, err)
		}
		r.Records++
		k := sort.Search(len(order), func(k int) bool { return probes[order[k]].WindowStartNs > rec.TSendNs }) - 1
		if k >= 0 {
			accs[order[k]].Add(&rec)
		}
		if cw != nil {
			if err := cw.write(&rec); err != nil {
				return err
			}
		}
	}
	if cw != nil {
		return cw.flush()
	}
	return nil
}
