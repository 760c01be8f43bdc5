package replay

import (
	"github.com/agentwatt/agentwatt/bundle"

	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/metrics"
)

func TestTimelineLabels(t *testing.T) {
	tl := newTimeline()
	tl.setWarmup(100)
	tl.setWindow(200)
	tl.endWindow(300) // probe 1 starts at 300
	tl.setWarmup(400)
	tl.skip(450) // probe 1 had no window; probe 2 starts at 450
	tl.setWarmup(500)
	tl.setWindow(600)
	tests := []struct {
		name  string
		t     int64
		probe int
		phase string
	}{
		{"first settle", 50, 0, metrics.PhaseSettle},
		{"first warm-up", 150, 0, metrics.PhaseWarmup},
		{"first window start is inside", 200, 0, metrics.PhaseWindow},
		{"window end is outside", 300, 1, metrics.PhaseSettle},
		{"skipped probe's warm-up", 420, 1, metrics.PhaseWarmup},
		{"next probe", 460, 2, metrics.PhaseSettle},
		{"open window", 10_000, 2, metrics.PhaseWindow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, ph := tl.label(tc.t)
			if p != tc.probe || ph != tc.phase {
				t.Errorf("label(%d) = %d %s, want %d %s", tc.t, p, ph, tc.probe, tc.phase)
			}
		})
	}
	if !tl.inWindow(650) || tl.inWindow(550) {
		t.Error("inWindow is wrong about the open window")
	}
	if got := tl.current(); got != 2 {
		t.Errorf("current probe %d, want 2", got)
	}
}

func TestProgressString(t *testing.T) {
	p := Progress{Probe: 3, Phase: "window", Agents: 16, InFlight: 12, Requests: 80, Tier: "t20", PassShare: 0.975,
		Search: "t20: 8 ≤ N_max < 32", ProbesDone: 3, Elapsed: 95 * time.Second, ETA: 4 * time.Minute}
	got := p.String()
	for _, want := range []string{"probe 3", "window", "N=16", "in-flight=12", "requests=80", "t20-pass=97.5%", "8 ≤ N_max < 32", "3 probes", "1m35s", "ETA 4m0s"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	if s := (Progress{Phase: "settle", Requests: 5, Tier: "t20"}).String(); strings.Contains(s, "requests") {
		t.Errorf("settle line %q shows window requests", s)
	}
}

func TestOutput(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	o, err := CreateOutput(dir)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for a := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 50 {
				if err := o.Record(&metrics.Request{Agent: a, Turn: k, Status: metrics.StatusOK}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if _, err := os.Stat(filepath.Join(dir, RequestsFile)); !os.IsNotExist(err) {
		t.Errorf("requests file visible before Finish: %v", err)
	}
	sum := &Summary{Format: SummaryFormat, Tiers: map[string]TierSummary{"t20": {MaxAgents: 3}}}
	if err := o.Finish(&bundle.Probes{Format: bundle.ProbesFormat}, sum); err != nil {
		t.Fatal(err)
	}
	if n := readRecords(t, filepath.Join(dir, RequestsFile)); n != 400 {
		t.Errorf("%d records, want 400", n)
	}
	var back Summary
	b, err := os.ReadFile(filepath.Join(dir, SummaryName))
	if err != nil || json.Unmarshal(b, &back) != nil || back.Tiers["t20"].MaxAgents != 3 {
		t.Errorf("summary.json: %v %s", err, b)
	}
	if err := o.Record(&metrics.Request{}); !errors.Is(err, ErrOutputClosed) {
		t.Errorf("record after Finish: %v, want ErrOutputClosed", err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".*")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}

	// Abort leaves nothing.
	dir2 := filepath.Join(t.TempDir(), "aborted")
	o2, err := CreateOutput(dir2)
	if err != nil {
		t.Fatal(err)
	}
	_ = o2.Record(&metrics.Request{})
	o2.Abort()
	if ents, _ := os.ReadDir(dir2); len(ents) != 0 {
		t.Errorf("aborted output left %d files", len(ents))
	}
}

func readRecords(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rr, err := metrics.NewRecordReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	n := 0
	var r metrics.Request
	for rr.Next(&r) == nil {
		n++
	}
	return n
}

// TestSeededChoices: the trajectory order is a permutation, sessions differ
// per agent and trajectory, and the chunk-timing sample is near its share.
func TestSeededChoices(t *testing.T) {
	p := permutation(100, 7)
	seen := map[int]bool{}
	for _, v := range p {
		seen[v] = true
	}
	if len(seen) != 100 {
		t.Errorf("permutation has %d distinct values", len(seen))
	}
	if q := permutation(100, 7); !equalInts(p, q) {
		t.Error("permutation is not a function of the seed")
	}
	if q := permutation(100, 8); equalInts(p, q) {
		t.Error("another seed gives the same order")
	}
	ids := map[uint64]bool{}
	for a := range 100 {
		for s := range 10 {
			ids[sessionID(7, a, s)] = true
		}
	}
	if len(ids) != 1000 {
		t.Errorf("%d distinct sessions of 1000", len(ids))
	}
	n := 0
	for i := range 100_000 {
		if sampled(7, uint64(i), i%13, 0.02) {
			n++
		}
	}
	if n < 1800 || n > 2200 {
		t.Errorf("%d of 100000 requests sampled, want about 2%%", n)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
