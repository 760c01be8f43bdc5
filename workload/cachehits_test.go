package workload_test

import (
	"slices"
	"testing"

	"github.com/agentwatt/agentwatt/workload"
)

func TestTurnCacheHits(t *testing.T) {
	h := workload.Header{Sources: []workload.Source{{ID: "s", BlockSize: 4}}}
	first := blocks("user", 12, 1, 2, 3)
	sub := &workload.Trajectory{ID: "a", Turns: []workload.Turn{
		{Input: []workload.Segment{blocks("user", 8, 1, 2)}, OutputTokens: 1},
		{Input: []workload.Segment{blocks("user", 8, 1, 2), blocks("user", 4, 7)}, Keep: 2, OutputTokens: 1},
	}}
	tr := &workload.Trajectory{ID: "r", SharedPrefixTokens: 4, Subagents: []*workload.Trajectory{sub}, Turns: []workload.Turn{
		// The shared prefix (block 1) is in every session's cache.
		{Input: []workload.Segment{first}, OutputTokens: 1},
		// The history: the three kept blocks were sent by turn 0.
		{Input: []workload.Segment{first, blocks("user", 6, 4, 5)}, Keep: 3, OutputTokens: 1},
		// A context reset that starts with a block sent before, then a new one.
		{Input: []workload.Segment{blocks("user", 8, 1, 9)}, OutputTokens: 1},
		// The same block id with another role is other text: a miss.
		{Input: []workload.Segment{blocks("tool", 4, 8)}, OutputTokens: 1},
	}}
	if got, want := workload.TurnCacheHits(&h, tr), []int64{4, 12, 4, 0}; !slices.Equal(got, want) {
		t.Errorf("root hits: got %v, want %v", got, want)
	}
	// A sub-agent has its own cache and no shared prefix.
	if got, want := workload.TurnCacheHits(&h, sub), []int64{0, 8}; !slices.Equal(got, want) {
		t.Errorf("sub-agent hits: got %v, want %v", got, want)
	}

	w := &workload.Workload{Header: h, Trajectories: []*workload.Trajectory{tr}}
	tpl := workload.ChatTemplate{PerRequest: 3, PerMessage: 2}
	ct := workload.NewCacheTable(w, tpl)
	hit, prompt, ok := ct.Turn("r", "", 1)
	if !ok || hit != 12 || prompt != int64(workload.TargetPromptTokens(&tr.Turns[1], tpl)) {
		t.Errorf("table r turn 1: got %d/%d ok=%v", hit, prompt, ok)
	}
	if hit, _, ok := ct.Turn("r", "a", 1); !ok || hit != 8 {
		t.Errorf("table r/a turn 1: got %d ok=%v, want 8", hit, ok)
	}
	for _, q := range []struct {
		root, path string
		turn       int
	}{{"x", "", 0}, {"r", "b", 0}, {"r", "", 4}, {"r", "", -1}, {"r", "a/a", 0}} {
		if _, _, ok := ct.Turn(q.root, q.path, q.turn); ok {
			t.Errorf("table %+v: found a turn the workload does not have", q)
		}
	}
}
