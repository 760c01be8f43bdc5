package replay

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/sim"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/workload"
)

// genOpts shapes a workload generated in code.
type genOpts struct {
	trajectories int
	turns        int
	blockSize    int
	sharedBlocks int     // leading blocks every trajectory shares (a system prompt)
	firstBlocks  int     // each trajectory's own blocks in its first turn
	addBlocks    int     // blocks each later turn adds
	partial      int     // tokens missing from each turn's last block
	output       int     // output tokens per turn
	outputSpread int     // turn k asks for output + (k mod (2·spread+1)) − spread tokens
	think        float64 // think time before each later turn, seconds
	subagents    bool    // give every trajectory a two-turn sub-agent
	literal      bool    // add a literal-text trajectory with tool calls
}

// genWorkload builds a workload in code, writes it and reads it back (so
// that it is validated like a file).
func genWorkload(t testing.TB, o genOpts) *workload.Workload {
	t.Helper()
	h := workload.Header{
		Name: "replay-test", CreatedBy: "replay_test", Seed: 3,
		Sources: []workload.Source{
			{ID: "gen:0000000000000001", Format: "generated", File: "gen", Licence: "MIT", BlockSize: o.blockSize},
			{ID: "chat:0000000000000002", Format: "generated", File: "chat", Licence: "MIT"},
		},
	}
	var ts []*workload.Trajectory
	for i := range o.trajectories {
		all := make([]int64, 0, o.sharedBlocks+o.firstBlocks+o.turns*o.addBlocks)
		for b := range o.sharedBlocks {
			all = append(all, int64(b))
		}
		for b := range o.firstBlocks + o.turns*o.addBlocks {
			all = append(all, int64(1000*(i+1)+b))
		}
		tr := &workload.Trajectory{ID: fmt.Sprintf("t%02d", i), Source: 0, Scope: "", SharedPrefixTokens: o.sharedBlocks * o.blockSize}
		for k := range o.turns {
			m := o.sharedBlocks + o.firstBlocks + k*o.addBlocks
			out := o.output
			if o.outputSpread > 0 {
				out += (k+i)%(2*o.outputSpread+1) - o.outputSpread
			}
			turn := workload.Turn{
				T:            float64(k),
				Input:        []workload.Segment{{Blocks: all[:m:m], Tokens: m*o.blockSize - o.partial}},
				OutputTokens: out,
			}
			if k > 0 {
				turn.ThinkS = o.think
			}
			tr.Turns = append(tr.Turns, turn)
		}
		if o.subagents {
			sub := make([]int64, 4)
			for b := range sub {
				sub[b] = int64(100000*(i+1) + b)
			}
			tr.Subagents = []*workload.Trajectory{{
				ID: "sub", Source: 0, StartS: 0.05, AfterTurns: 1,
				Turns: []workload.Turn{
					{Input: []workload.Segment{{Blocks: sub[:2:2], Tokens: 2 * o.blockSize}}, OutputTokens: o.output},
					{T: 0.5, ThinkS: o.think, Input: []workload.Segment{{Blocks: sub[:4:4], Tokens: 4 * o.blockSize}}, OutputTokens: o.output},
				},
			}}
		}
		ts = append(ts, tr)
	}
	if o.literal {
		ts = append(ts, literalTrajectory(o))
	}
	var buf bytes.Buffer
	wr, err := workload.NewWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range ts {
		if err := wr.Write(tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := wr.Close(); err != nil {
		t.Fatal(err)
	}
	w, err := workload.LoadBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func message(role, text string) workload.Segment {
	s := workload.Segment{Role: role, Text: text}
	s.Tokens = workload.EstimateMessageTokens(&s)
	return s
}

// literalTrajectory is a chat with a system prompt, tool calls and tool
// results, each turn appending an assistant call and its result.
func literalTrajectory(o genOpts) *workload.Trajectory {
	sys := message("system", "You are a careful coding agent.\nUse the tools.")
	user := message("user", `Fix the "parser" bug, please.`)
	tr := &workload.Trajectory{ID: "chat", Source: 1, SharedPrefixTokens: sys.Tokens}
	hist := []workload.Segment{sys, user}
	for k := range max(o.turns, 2) {
		in := append([]workload.Segment(nil), hist...)
		turn := workload.Turn{T: float64(k), Input: in, OutputTokens: o.output}
		if k > 0 {
			turn.ThinkS = o.think
		}
		tr.Turns = append(tr.Turns, turn)
		call := workload.Segment{Role: "assistant", Text: "Let me look.",
			ToolCalls: []workload.ToolCall{{ID: fmt.Sprintf("c%d", k), Name: "open", Arguments: fmt.Sprintf(`{"path":"f%d.go"}`, k)}}}
		call.Tokens = workload.EstimateMessageTokens(&call)
		res := message("tool", fmt.Sprintf("package p\n\nfunc F%d() {}\n", k))
		res.ToolCallIDs = []string{fmt.Sprintf("c%d", k)}
		hist = append(hist, call, res)
	}
	return tr
}

// simTemplate is the simulated engine's chat-template overhead.
var simTemplate = workload.ChatTemplate{
	PerRequest:  sim.TemplateTokensPerRequest,
	PerMessage:  sim.TemplateTokensPerMessage,
	PerToolCall: sim.TemplateTokensPerToolCall,
}

// startSim starts the simulated engine on a loopback port.
func startSim(t testing.TB, profile string, mod func(*sim.Config)) string {
	t.Helper()
	p, err := sim.DefaultProfile(profile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.Config{Profile: p, Seed: 1}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := sim.NewServer(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	url, err := srv.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// testRules returns rules v1 and a copy of its test profile.
func testRules(t testing.TB) (*spec.Rules, *spec.Profile) {
	t.Helper()
	r, err := spec.LoadRules("v1")
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Profile(spec.ProfileTest)
	if err != nil {
		t.Fatal(err)
	}
	return r, p
}

// memRecorder keeps records in memory.
type memRecorder struct {
	mu   sync.Mutex
	recs []metrics.Request
}

func (m *memRecorder) Record(r *metrics.Request) error {
	m.mu.Lock()
	m.recs = append(m.recs, *r)
	m.mu.Unlock()
	return nil
}

func (m *memRecorder) all() []metrics.Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]metrics.Request(nil), m.recs...)
}
