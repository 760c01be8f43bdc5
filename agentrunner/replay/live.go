package replay

import (
	"fmt"
	"strings"

	"github.com/agentwatt/agentwatt/agentrunner/loadgen"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/workload"
)

// Live history (Config.History = HistoryLive): a literal-text trajectory's
// later turns carry the server's own answers in place of the recorded
// assistant messages.
//
//   - The answer to turn j stands in for the assistant message that turn
//     j+1 appends right after turn j's input (segment len(input_j)), when
//     turn j+1 keeps all of turn j's input and that segment is a literal
//     assistant message; it stays for as long as later turns keep it.
//   - Only the answer's content text replaces the recorded text. The
//     recorded tool calls stay (the recorded tool results that follow
//     answer them); reasoning is never history (loadgen.Answer).
//   - Only an answer whose request ended ok is used; after an error or a
//     truncated answer the recorded message stays.
//   - A warm start's history (the turns before the stream's first request)
//     is the recorded one: those answers were never asked for.
//   - target_prompt_tokens of a turn that carries live answers is the
//     request actually built: workload.TargetPromptTokens with each live
//     message counted like any literal text, by workload.EstimateTokens of
//     the live text in place of the recorded text's. It cannot be
//     recomputed from the workload alone; results say history "live".

// liveMessage is a live answer standing in for the recorded literal message
// at input segment seg.
type liveMessage struct {
	seg int
	lit *literal // the recorded message's role and tool calls, the live text
	// delta is EstimateTokens(live text) − EstimateTokens(recorded text).
	delta int
}

// liveHistory is one stream's live answers.
type liveHistory struct {
	answer  loadgen.Answer // the capture of the request in flight
	msgs    []liveMessage  // by segment
	pending int            // turn whose answer is in answer and not yet placed; -1 none
}

func newLiveHistory() *liveHistory { return &liveHistory{pending: -1} }

// prepare updates the live messages for sending turn k of t: messages turn
// k no longer keeps are dropped, and the answer to turn k-1 takes the place
// of the recorded assistant message that follows turn k-1's input.
func (h *liveHistory) prepare(t *workload.Trajectory, plan *trajPlan, k int) {
	kept := plan.kept[k]
	n := 0
	for n < len(h.msgs) && h.msgs[n].seg < kept {
		n++
	}
	h.msgs = h.msgs[:n]
	if h.pending != k-1 || k == 0 {
		h.pending = -1
		return
	}
	h.pending = -1
	in := t.Turns[k].Input
	p := len(t.Turns[k-1].Input)
	if kept < p || p >= len(in) || in[p].IsBlocks() || in[p].Role != "assistant" || plan.literals[k][p] == nil {
		return
	}
	rec := plan.literals[k][p]
	text := string(h.answer.Content)
	h.msgs = append(h.msgs, liveMessage{
		seg:   p,
		lit:   &literal{open: rec.open, text: metrics.AppendJSONString(nil, h.answer.Content, false), close: rec.close},
		delta: workload.EstimateTokens(text) - workload.EstimateTokens(in[p].Text),
	})
}

// delta is the live messages' change to the turn's prompt tokens.
func (h *liveHistory) delta() int {
	d := 0
	for _, m := range h.msgs {
		d += m.delta
	}
	return d
}

// answered records the end of turn k's request: its answer is used for the
// next turn only when the request ended ok.
func (h *liveHistory) answered(k int, ok bool) {
	h.pending = -1
	if ok {
		h.pending = k
	}
}

// checkLiveHistory refuses live history for any trajectory (sub-agents
// included) that is not literal text: its source is hashed blocks, or a
// turn holds a block run. It names the first offender of each top-level
// trajectory.
func checkLiveHistory(w *workload.Workload) error {
	var bad []string
	for _, root := range w.Trajectories {
		found := ""
		root.Walk(func(t *workload.Trajectory, _ int) {
			if found != "" {
				return
			}
			name := root.ID
			if t != root {
				name += " sub-agent " + t.ID
			}
			src := w.Source(t)
			switch {
			case src.BlockSize > 0:
				found = fmt.Sprintf("trajectory %s (source %s: hashed blocks of %d tokens)", name, src.ID, src.BlockSize)
			case hasBlocks(t):
				found = fmt.Sprintf("trajectory %s (source %s: block runs in its turns)", name, src.ID)
			}
		})
		if found != "" {
			bad = append(bad, found)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	more := ""
	if len(bad) > 3 {
		more = fmt.Sprintf(" and %d more trajectories", len(bad)-3)
		bad = bad[:3]
	}
	return fmt.Errorf("history %q needs literal-text sources (the server's answers replace recorded text; hashed blocks have none): %s%s",
		HistoryLive, strings.Join(bad, ", "), more)
}

func hasBlocks(t *workload.Trajectory) bool {
	for k := range t.Turns {
		for i := range t.Turns[k].Input {
			if t.Turns[k].Input[i].IsBlocks() {
				return true
			}
		}
	}
	return false
}
