package agentrunner

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/agentwatt/agentwatt/bundle"
)

// checkAgentsPerMW recomputes each tier's Agents per Megawatt from the
// bundle's raw files and compares it with the summary. The derivation is
// written here from the rules' definition and shares no code with metrics
// or bundle's energy helpers: decode power.jsonl.zst and probes.json with
// encoding/json, take the confirmation probe's window [start, end), sum over
// GPUs the change of each GPU's energy counter across it (each sample
// interval's increment spread evenly over the interval, so the edges are
// interpolated), divide by the window's length for the average power, and
// Agents/MW = max agents × 10⁶ / average watts.
func checkAgentsPerMW(t *testing.T, dir string, sum *bundle.Summary) {
	t.Helper()
	type sample struct {
		GPU      int     `json:"gpu"`
		TMonoNs  int64   `json:"t_mono_ns"`
		EnergyMJ float64 `json:"energy_mj"`
	}
	f, err := os.Open(filepath.Join(dir, bundle.PowerFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	byGPU := map[int][]sample{}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var s sample
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("power line %q: %v", sc.Bytes(), err)
		}
		byGPU[s.GPU] = append(byGPU[s.GPU], s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}

	raw, err := os.ReadFile(filepath.Join(dir, bundle.ProbesFile))
	if err != nil {
		t.Fatal(err)
	}
	var probes struct {
		Probes []struct {
			Probe         int   `json:"probe"`
			WindowStartNs int64 `json:"window_start_ns"`
			WindowEndNs   int64 `json:"window_end_ns"`
		} `json:"probes"`
	}
	if err := json.Unmarshal(raw, &probes); err != nil {
		t.Fatal(err)
	}

	checked := 0
	for name, tier := range sum.Tiers {
		if tier.ConfirmProbe == nil || tier.MaxAgents == 0 {
			continue
		}
		var start, end int64
		for _, p := range probes.Probes {
			if p.Probe == *tier.ConfirmProbe {
				start, end = p.WindowStartNs, p.WindowEndNs
			}
		}
		if end <= start {
			t.Fatalf("tier %s: confirmation probe %d has no window in probes.json", name, *tier.ConfirmProbe)
		}
		var joules float64
		for gpu, ss := range byGPU {
			sort.Slice(ss, func(i, j int) bool { return ss[i].TMonoNs < ss[j].TMonoNs })
			if ss[0].TMonoNs > start || ss[len(ss)-1].TMonoNs < end {
				t.Fatalf("tier %s: gpu %d samples do not bracket the window", name, gpu)
			}
			for i := 1; i < len(ss); i++ {
				a, b := ss[i-1], ss[i]
				lo, hi := max(a.TMonoNs, start), min(b.TMonoNs, end)
				if hi <= lo {
					continue
				}
				if b.EnergyMJ < a.EnergyMJ {
					t.Fatalf("tier %s: gpu %d energy counter went back", name, gpu)
				}
				joules += (b.EnergyMJ - a.EnergyMJ) / 1000 * float64(hi-lo) / float64(b.TMonoNs-a.TMonoNs)
			}
		}
		watts := joules / (float64(end-start) / 1e9)
		want := float64(tier.MaxAgents) * 1e6 / watts
		if rel := (tier.AgentsPerMW - want) / want; rel > 1e-9 || rel < -1e-9 {
			t.Errorf("tier %s: summary says %.6f Agents/MW, the raw samples give %.6f (%d agents at %.3f W)",
				name, tier.AgentsPerMW, want, tier.MaxAgents, watts)
		}
		checked++
	}
	if checked == 0 {
		t.Fatalf("no tier with a confirmed maximum to check: %+v", sum.Tiers)
	}
}
