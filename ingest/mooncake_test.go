package ingest_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/ingest"
	"github.com/agentwatt/agentwatt/workload"
)

type mcReq struct {
	Timestamp    float64 `json:"timestamp"`
	InputLength  int     `json:"input_length"`
	OutputLength int     `json:"output_length"`
	HashIDs      []int64 `json:"hash_ids"`
}

func readMooncake(t *testing.T, path string) []mcReq {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []mcReq
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r mcReq
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// referenceSessions applies the documented rule directly, comparing every
// pair of requests (quadratic, obviously right): it returns, per request,
// the index of the request it continues (-1 for none) and whether that makes
// it a fork. The requests are in timestamp order already.
func referenceSessions(reqs []mcReq) (parent []int, fork []bool) {
	parent = make([]int, len(reqs))
	fork = make([]bool, len(reqs))
	continued := make([]bool, len(reqs))
	for i, r := range reqs {
		best, bestM := -1, -1
		for j := 0; j < i; j++ {
			a := reqs[j]
			if r.InputLength <= a.InputLength || len(a.HashIDs)-1 > len(r.HashIDs) ||
				!slices.Equal(a.HashIDs[:len(a.HashIDs)-1], r.HashIDs[:len(a.HashIDs)-1]) {
				continue
			}
			m := 0
			for m < len(a.HashIDs) && m < len(r.HashIDs) && a.HashIDs[m] == r.HashIDs[m] {
				m++
			}
			if m >= 2 && m >= bestM { // ties: the most recent
				best, bestM = j, m
			}
		}
		parent[i] = best
		if best >= 0 {
			fork[i] = continued[best]
			continued[best] = true
		}
	}
	return parent, fork
}

func TestMooncakeConversationTrace(t *testing.T) {
	reqs := readMooncake(t, mooncakeCv)
	if len(reqs) != 12031 {
		t.Fatalf("the conversation trace has %d requests, want 12031", len(reqs))
	}
	w, rep := convert(t, ingest.Options{}, ingest.Input{Format: "mooncake", Path: mooncakeCv})
	if rep.Records != 12031 || rep.Turns != 12031 {
		t.Fatalf("records %d, turns %d; want all 12031 requests as turns", rep.Records, rep.Turns)
	}

	// Every request is exactly one turn: map turns back to lines (a
	// trajectory's id names its first line, turns follow in order).
	parent, fork := referenceSessions(reqs)
	lineOf := map[*workload.Turn]int{}
	seen := make([]bool, len(reqs))
	byID := map[string]*workload.Trajectory{}
	for _, tr := range w.Trajectories {
		byID[tr.ID] = tr
	}
	var sessions, forks, single int
	for _, tr := range w.Trajectories {
		_, l, _ := strings.Cut(tr.ID, "/r")
		first, err := strconv.Atoi(l)
		if err != nil {
			t.Fatalf("trajectory id %q does not name a line", tr.ID)
		}
		i := first - 1
		for k := range tr.Turns {
			tu := &tr.Turns[k]
			if seen[i] {
				t.Fatalf("request on line %d is in two turns", i+1)
			}
			seen[i] = true
			lineOf[tu] = i + 1
			r := reqs[i]
			var blocks []int64
			for _, s := range tu.Input {
				blocks = append(blocks, s.Blocks...)
			}
			if tu.InputTokens() != r.InputLength || tu.OutputTokens != r.OutputLength || !slices.Equal(blocks, r.HashIDs) {
				t.Fatalf("line %d: turn has %d/%d tokens, want %d/%d and the line's hash ids", i+1, tu.InputTokens(), tu.OutputTokens, r.InputLength, r.OutputLength)
			}
			if k == 0 {
				// a session start, or a fork of the reference's parent
				switch {
				case parent[i] < 0:
					sessions++
					if tr.ForkOf != nil {
						t.Errorf("line %d starts a session but is marked a fork", i+1)
					}
				case fork[i]:
					forks++
					pt := byID[tr.ForkOf.Trajectory]
					if pt == nil || lineOf[&pt.Turns[tr.ForkOf.Turn]] != parent[i]+1 {
						t.Errorf("line %d: fork of %+v, want a fork of line %d", i+1, tr.ForkOf, parent[i]+1)
					}
				default:
					t.Errorf("line %d continues line %d but starts a trajectory", i+1, parent[i]+1)
				}
			} else {
				prev := lineOf[&tr.Turns[k-1]]
				if parent[i] != prev-1 || fork[i] {
					t.Errorf("line %d follows line %d, the rule says it continues line %d (fork %v)", i+1, prev, parent[i]+1, fork[i])
				}
				gap := (r.Timestamp - reqs[prev-1].Timestamp) / 1000
				want := min(max(gap-float64(reqs[prev-1].OutputLength)/50, 0), 600)
				if d := tu.ThinkS - want; d > 0.001 || d < -0.001 {
					t.Errorf("line %d: think %v, want %v", i+1, tu.ThinkS, want)
				}
			}
			if k < len(tr.Turns)-1 {
				i = nextTurnLine(t, reqs, parent, fork, i)
			}
		}
		if len(tr.Turns) == 1 && tr.ForkOf == nil {
			single++
		}
	}
	for i, ok := range seen {
		if !ok {
			t.Fatalf("request on line %d is in no turn", i+1)
		}
	}
	if rep.Sessions != sessions || rep.Forks != forks || rep.Sessions+rep.Forks != len(w.Trajectories) {
		t.Errorf("report: %d sessions, %d forks, %d trajectories; reference %d sessions, %d forks", rep.Sessions, rep.Forks, len(w.Trajectories), sessions, forks)
	}
	if rep.SingleTurn > single || rep.SingleTurn == 0 {
		t.Errorf("single-turn requests %d, want ≤ %d single-turn sessions", rep.SingleTurn, single)
	}
	t.Logf("conversation trace: %d requests → %d sessions, %d forks, %d single-turn requests, turns per trajectory %+v",
		rep.Records, rep.Sessions, rep.Forks, rep.SingleTurn, *rep.TurnsPerSession)
	// Every request starts with block 0, a shared system prompt.
	for _, tr := range w.Trajectories {
		if tr.SharedPrefixTokens < 512 {
			t.Fatalf("%s: shared prefix %d, want at least block 0 (512)", tr.ID, tr.SharedPrefixTokens)
		}
	}
}

// nextTurnLine finds the request that continues line i+1 without forking.
func nextTurnLine(t *testing.T, reqs []mcReq, parent []int, fork []bool, i int) int {
	for j := i + 1; j < len(reqs); j++ {
		if parent[j] == i && !fork[j] {
			return j
		}
	}
	t.Fatalf("no request continues line %d", i+1)
	return -1
}

func TestMooncakeSyntheticTrace(t *testing.T) {
	want := countLines(t, mooncakeSyn)
	_, rep := convert(t, ingest.Options{}, ingest.Input{Format: "mooncake", Path: mooncakeSyn})
	if rep.Records != want || rep.Turns != want || want != 3993 {
		t.Errorf("records %d, turns %d, lines %d; want 3993 each", rep.Records, rep.Turns, want)
	}
}

// TestMooncakeSessionRule walks the rule's cases on a small trace
// (block size 4).
func TestMooncakeSessionRule(t *testing.T) {
	lines := []string{
		`{"timestamp": 0, "input_length": 10, "output_length": 5, "hash_ids": [0, 1, 2]}`,             // 1: session A
		`{"timestamp": 1000, "input_length": 14, "output_length": 5, "hash_ids": [0, 1, 2, 3]}`,       // 2: continues 1
		`{"timestamp": 2000, "input_length": 9, "output_length": 1, "hash_ids": [0, 9, 8]}`,           // 3: shares block 0 only: session B
		`{"timestamp": 3000, "input_length": 18, "output_length": 1, "hash_ids": [0, 1, 2, 3, 4]}`,    // 4: continues 2
		`{"timestamp": 4000, "input_length": 17, "output_length": 1, "hash_ids": [0, 1, 2, 3, 5]}`,    // 5: 2 was continued: fork of A at turn 1
		`{"timestamp": 5000, "input_length": 21, "output_length": 1, "hash_ids": [0, 1, 2, 3, 5, 6]}`, // 6: continues 5 (in the fork)
		`{"timestamp": 6000, "input_length": 8, "output_length": 1, "hash_ids": [0, 1]}`,              // 7: not longer than anything sharing 2 blocks: session C
		`{"timestamp": 7000, "input_length": 13, "output_length": 1, "hash_ids": [0, 1, 7, 7]}`,       // 8: longest match is 7 ([0,1]), most recent: continues 7
	}
	path := filepath.Join(t.TempDir(), "trace.jsonl")
	os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	w, rep := convert(t, ingest.Options{Mooncake: ingest.MooncakeOptions{BlockSize: 4}}, ingest.Input{Format: "mooncake", Path: path})
	got := map[string][]int{}
	forkOf := map[string]string{}
	for _, tr := range w.Trajectories {
		_, l, _ := strings.Cut(tr.ID, "/")
		var ls []int
		for _, tu := range tr.Turns {
			ls = append(ls, tu.OutputTokens*0+tu.InputTokens())
		}
		got[l] = ls
		if tr.ForkOf != nil {
			_, p, _ := strings.Cut(tr.ForkOf.Trajectory, "/")
			forkOf[l] = fmt.Sprintf("%s turn %d", p, tr.ForkOf.Turn)
		}
	}
	want := map[string][]int{"r1": {10, 14, 18}, "r3": {9}, "r5": {17, 21}, "r7": {8, 13}}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Errorf("trajectory %s: input lengths %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("trajectories %v, want %v", got, want)
	}
	if forkOf["r5"] != "r1 turn 1" || len(forkOf) != 1 {
		t.Errorf("forks %v, want r5 forked from r1 turn 1", forkOf)
	}
	if rep.Sessions != 3 || rep.Forks != 1 || rep.SingleTurn != 1 {
		t.Errorf("sessions %d, forks %d, single-turn %d; want 3, 1, 1", rep.Sessions, rep.Forks, rep.SingleTurn)
	}
	// Think time: 1 s gap − 5 tokens at 50 tok/s = 0.9 s.
	if th := w.Trajectories[0].Turns[1].ThinkS; th != 0.9 {
		t.Errorf("think = %v, want 0.9", th)
	}
}
