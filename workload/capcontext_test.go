package workload_test

import (
	"testing"

	"github.com/agentwatt/agentwatt/workload"
)

func turn(in, out int) workload.Turn {
	return workload.Turn{Input: []workload.Segment{{Blocks: []int64{1}, Tokens: in}}, OutputTokens: out}
}

// TestCapContext: the cut falls before the first turn over the cap (later
// turns go too, even small ones); a sub-agent started after the cut, or
// whose own first turn is over the cap, is dropped; one started before it is
// cut by the same rule.
func TestCapContext(t *testing.T) {
	tr := &workload.Trajectory{ID: "p", Turns: []workload.Turn{turn(50, 10), turn(80, 20), turn(120, 1), turn(10, 1)},
		Subagents: []*workload.Trajectory{
			{ID: "early", AfterTurns: 1, Turns: []workload.Turn{turn(10, 1), turn(200, 1)}},
			{ID: "at-cut", AfterTurns: 2, Turns: []workload.Turn{turn(10, 1)}},
			{ID: "late", AfterTurns: 3, Turns: []workload.Turn{turn(10, 1)}},
			{ID: "big", AfterTurns: 0, Turns: []workload.Turn{turn(101, 0)}},
		}}
	cut := workload.CapContext(tr, 100)
	if len(tr.Turns) != 2 || cut != 2+1+1+1 {
		t.Fatalf("kept %d turns, cut %d; want 2 kept, 5 cut", len(tr.Turns), cut)
	}
	var ids []string
	for _, s := range tr.Subagents {
		ids = append(ids, s.ID)
	}
	if len(ids) != 2 || ids[0] != "early" || ids[1] != "at-cut" || len(tr.Subagents[0].Turns) != 1 {
		t.Errorf("sub-agents kept %v, want [early (1 turn) at-cut]", ids)
	}
	whole := &workload.Trajectory{ID: "w", Turns: []workload.Turn{turn(500, 1), turn(1, 1)}}
	if cut := workload.CapContext(whole, 100); cut != 2 || len(whole.Turns) != 0 {
		t.Errorf("first turn over the cap: cut %d, %d turns left", cut, len(whole.Turns))
	}
	if cut := workload.CapContext(tr, 0); cut != 0 {
		t.Errorf("no cap cut %d", cut)
	}
}
