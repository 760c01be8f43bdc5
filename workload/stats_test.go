package workload_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/workload"
	"github.com/agentwatt/agentwatt/workload/internal/wltest"
)

func TestComputeStats(t *testing.T) {
	path, d := wltest.WriteFile(t)
	r, err := workload.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	st, err := workload.ComputeStats(r)
	if err != nil {
		t.Fatal(err)
	}
	tr := wltest.Trajectories()
	chat := tr[2]
	chat0, chat1 := chat.Turns[0].InputTokens(), chat.Turns[1].InputTokens()
	sysUser := chat0
	totalIn := int64(10 + 15 + 17 + 5 + 6 + 12 + 20 + chat0 + chat1)

	// Hits, worked by hand (block size 4):
	//   conv-a: turn 1 re-sends blocks 1,2 (8); turn 2 blocks 1,2,4 (12;
	//           block 5 was partial before); turn 3 block 1 (4) → 24
	//   sub-1:  turn 1 re-sends block 100 (4; 101 was partial) → 4
	//   fork:   its own cache is empty, but its 4-token shared prefix is
	//           conv-a's → 4 across trajectories
	//   chat:   turn 1 re-sends system and user
	within := int64(24 + 4 + sysUser)
	across := int64(4)

	want := map[string]any{
		"digest": d, "trajectories": 3, "subagents": 1, "forks": 1, "turns": 9,
		"trajectories_with_subagents": 1, "max_subagents_per_trajectory": 1,
		"turns_per_trajectory":   workload.Spread{P50: 2, P90: 4, Max: 4},
		"think_time_s":           workload.ThinkStats{P50: 1.25, P90: 8, Max: 8},
		"estimated_output_turns": 1,
		"input_total":            totalIn,
		"within":                 within,
		"across":                 across,
		"max_context":            max(24, chat1+12),
	}
	got := map[string]any{
		"digest": st.Digest, "trajectories": st.Trajectories, "subagents": st.Subagents, "forks": st.Forks, "turns": st.Turns,
		"trajectories_with_subagents": st.TrajectoriesWithSubagents, "max_subagents_per_trajectory": st.MaxSubagentsPerTrajectory,
		"turns_per_trajectory":   st.TurnsPerTrajectory,
		"think_time_s":           st.ThinkTimeS,
		"estimated_output_turns": st.EstimatedOutputTurns,
		"input_total":            st.InputTokens.Total,
		"within":                 st.PrefixHit.WithinTrajectory,
		"across":                 st.PrefixHit.AcrossTrajectory,
		"max_context":            st.MaxContextTokens,
	}
	for k, w := range want {
		if g := got[k]; g != w {
			t.Errorf("%s = %v, want %v", k, g, w)
		}
	}
	if rate := float64(within+across) / float64(totalIn); st.PrefixHitRate != rate {
		t.Errorf("prefix_hit_rate = %v, want %v", st.PrefixHitRate, rate)
	}
	// Output tokens per turn, nearest rank over 9 turns.
	outs := []int{5, 6, 7, 1, 3, 4, 2, chat.Turns[0].OutputTokens, 12}
	sortInts(outs)
	wantOut := workload.TokenStats{Total: int64(sum(outs)), P50: int64(outs[4]), P90: int64(outs[8]), P99: int64(outs[8]), Max: int64(outs[8])}
	if st.OutputTokens != wantOut {
		t.Errorf("output_tokens = %+v, want %+v", st.OutputTokens, wantOut)
	}
	var binned int64
	for _, b := range st.InputHistogram {
		binned += b.Count
	}
	if binned != 9 {
		t.Errorf("input histogram counts %d turns, want 9", binned)
	}

	// The JSON form has the fields the CLI documents.
	js, _ := json.Marshal(st)
	var m map[string]any
	json.Unmarshal(js, &m)
	for _, k := range []string{"trajectories", "subagents", "turns", "input_tokens", "output_tokens", "max_context_tokens", "think_time_s", "prefix_hit_rate"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	for _, k := range []string{"total", "p50", "p90", "p99", "max"} {
		if _, ok := m["input_tokens"].(map[string]any)[k]; !ok {
			t.Errorf("input_tokens lacks %q", k)
		}
	}
}

func TestStatsRender(t *testing.T) {
	path, _ := wltest.WriteFile(t)
	w, err := workload.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	st := workload.StatsOf(w)
	var buf bytes.Buffer
	if err := st.WriteText(&buf, true); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"trajectories         3 (forks 1)", "input tokens per turn (bins [lo, hi))", "█", "prefix-cache hits"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	dir := filepath.Join(t.TempDir(), "svg")
	paths, err := st.WriteSVG(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 {
		t.Fatalf("wrote %d files, want 2", len(paths))
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("<svg")) || !bytes.Contains(b, []byte("<rect")) {
			t.Errorf("%s is not an SVG bar chart", p)
		}
	}
}

func sortInts(v []int) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

func sum(v []int) int {
	n := 0
	for _, x := range v {
		n += x
	}
	return n
}

func TestThousands(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {98304, "98,304"}, {1234567, "1,234,567"}, {-1234, "-1,234"}, {-12, "-12"}} {
		if got := workload.Thousands(tc.in); got != tc.want {
			t.Errorf("Thousands(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
