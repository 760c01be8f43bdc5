package replay

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/agentwatt/agentwatt/sim"
	"github.com/agentwatt/agentwatt/workload"
)

// decodeMessages joins rendered pieces and decodes them as the simulated
// engine does.
func decodeMessages(t *testing.T, pieces [][]byte) []sim.Message {
	t.Helper()
	raw := bytes.Join(pieces, nil)
	var msgs []sim.Message
	if err := json.Unmarshal(raw, &msgs); err != nil {
		t.Fatalf("rendered messages are not valid JSON: %v\n%s", err, raw[:min(len(raw), 400)])
	}
	return msgs
}

// TestRenderedPromptMatchesTarget: for block sources the simulated engine's
// prompt_tokens equals workload.TargetPromptTokens exactly, for every turn
// of every trajectory and sub-agent, multi-segment and partial blocks
// included.
func TestRenderedPromptMatchesTarget(t *testing.T) {
	w := genWorkload(t, genOpts{trajectories: 3, turns: 4, blockSize: 16, sharedBlocks: 2, firstBlocks: 3, addBlocks: 2, partial: 5, output: 4, subagents: true})
	r := newRenderer(w)
	s := newSalt(42)
	checked := 0
	for _, root := range w.Trajectories {
		root.Walk(func(tr *workload.Trajectory, _ int) {
			for k := range tr.Turns {
				msgs := decodeMessages(t, r.messages(nil, tr, k, s, nil))
				got := sim.PromptTokens(msgs)
				want := workload.TargetPromptTokens(&tr.Turns[k], simTemplate)
				if got != want {
					t.Errorf("%s turn %d: sim counts %d prompt tokens, target %d", tr.ID, k, got, want)
				}
				checked++
			}
		})
	}
	if checked < 12 {
		t.Fatalf("checked %d turns", checked)
	}
}

// TestSaltFollowsSharedPrefix: the first SharedPrefixTokens words of every
// session's prompt are the same, the salt's words come right after them,
// and two sessions differ from there on.
func TestSaltFollowsSharedPrefix(t *testing.T) {
	const bs, shared = 16, 2
	w := genWorkload(t, genOpts{trajectories: 2, turns: 3, blockSize: bs, sharedBlocks: shared, firstBlocks: 2, addBlocks: 1, output: 4})
	r := newRenderer(w)
	words := func(tr *workload.Trajectory, k int, session uint64) []string {
		msgs := decodeMessages(t, r.messages(nil, tr, k, newSalt(session), nil))
		if len(msgs) != 1 || msgs[0].Role != workload.DefaultRole {
			t.Fatalf("got %d messages (%+v), want one %s message", len(msgs), msgs, workload.DefaultRole)
		}
		return strings.Fields(msgs[0].Content)
	}
	a := words(w.Trajectories[0], 1, 1)
	b := words(w.Trajectories[0], 1, 2)
	c := words(w.Trajectories[1], 2, 3)
	n := shared * bs
	if !slices.Equal(a[:n], b[:n]) || !slices.Equal(a[:n], c[:n]) {
		t.Error("the shared prefix differs between sessions")
	}
	for _, tc := range []struct {
		name    string
		got     []string
		session uint64
	}{{"a", a, 1}, {"b", b, 2}, {"c", c, 3}} {
		want := strings.Fields(workload.SaltText(tc.session))
		if len(want) != workload.SaltTokens || !slices.Equal(tc.got[n:n+workload.SaltTokens], want) {
			t.Errorf("session %s: words after the shared prefix %q, want the salt %q", tc.name, tc.got[n:n+workload.SaltTokens], want)
		}
	}
	if slices.Equal(a[n:], b[n:]) {
		t.Error("two sessions of the same turn have the same content after the shared prefix")
	}
	if !slices.Equal(a[n+workload.SaltTokens:], b[n+workload.SaltTokens:]) {
		t.Error("the same turn differs beyond the salt")
	}
}

// TestLaterTurnExtendsEarlier: a growing history renders so that a turn's
// prompt is a prefix of the next turn's (apart from the closing of the
// last message), which is what keeps prefix caches effective.
func TestLaterTurnExtendsEarlier(t *testing.T) {
	w := genWorkload(t, genOpts{trajectories: 1, turns: 3, blockSize: 16, sharedBlocks: 1, firstBlocks: 2, addBlocks: 2, output: 4})
	r := newRenderer(w)
	s := newSalt(9)
	tr := w.Trajectories[0]
	prev := ""
	for k := range tr.Turns {
		msgs := decodeMessages(t, r.messages(nil, tr, k, s, nil))
		cur := msgs[0].Content
		if !strings.HasPrefix(cur, prev) {
			t.Errorf("turn %d does not extend turn %d", k, k-1)
		}
		prev = cur
	}
}

// TestLiteralMessages: literal segments become one message each with their
// role, tool calls and tool_call_id; the salt follows the shared system
// prompt.
func TestLiteralMessages(t *testing.T) {
	w := genWorkload(t, genOpts{trajectories: 0, turns: 3, blockSize: 16, output: 4, literal: true})
	tr := w.Trajectories[0]
	r := newRenderer(w)
	k := len(tr.Turns) - 1
	msgs := decodeMessages(t, r.messages(nil, tr, k, newSalt(5), nil))
	in := tr.Turns[k].Input
	if len(msgs) != len(in) {
		t.Fatalf("got %d messages, want %d", len(msgs), len(in))
	}
	for i, m := range msgs {
		seg := &in[i]
		if m.Role != seg.Role {
			t.Errorf("message %d: role %q, want %q", i, m.Role, seg.Role)
		}
		want := seg.Text
		if i == 0 {
			want += workload.SaltText(5)
		}
		if m.Content != want {
			t.Errorf("message %d: content %q, want %q", i, m.Content, want)
		}
		if len(m.ToolCalls) != len(seg.ToolCalls) {
			t.Fatalf("message %d: %d tool calls, want %d", i, len(m.ToolCalls), len(seg.ToolCalls))
		}
		for j, c := range m.ToolCalls {
			if c.ID != seg.ToolCalls[j].ID || c.Function.Name != seg.ToolCalls[j].Name || c.Function.Arguments != seg.ToolCalls[j].Arguments || c.Type != "function" {
				t.Errorf("message %d tool call %d: %+v, want %+v", i, j, c, seg.ToolCalls[j])
			}
		}
		if len(seg.ToolCallIDs) > 0 && m.ToolCallID != seg.ToolCallIDs[0] {
			t.Errorf("message %d: tool_call_id %q, want %q", i, m.ToolCallID, seg.ToolCallIDs[0])
		}
	}
	// The literal rendering of a kept message is shared between turns.
	p := r.plan(tr)
	if p.literals[1][0] != p.literals[2][0] || p.literals[1][1] != p.literals[2][1] {
		t.Error("a history message kept from the previous turn was rendered again")
	}
}

// TestSaltBeforeLiteralText: with no shared prefix the salt leads the first
// message, separated from its text.
func TestSaltBeforeLiteralText(t *testing.T) {
	tr := &workload.Trajectory{ID: "x", Source: 1, Turns: []workload.Turn{{Input: []workload.Segment{message("user", "hello there")}, OutputTokens: 1}}}
	w := &workload.Workload{Header: workload.Header{Sources: []workload.Source{{ID: "a"}, {ID: "b"}}}, Trajectories: []*workload.Trajectory{tr}}
	msgs := decodeMessages(t, newRenderer(w).messages(nil, tr, 0, newSalt(1), nil))
	want := workload.SaltText(1) + " hello there"
	if msgs[0].Content != want {
		t.Errorf("content %q, want %q", msgs[0].Content, want)
	}
	if got := sim.CountTokens(msgs[0].Content); got != workload.SaltTokens+2 {
		t.Errorf("%d tokens, want %d", got, workload.SaltTokens+2)
	}
}

// TestPiecesAreShared: two sessions replaying the same turn send the same
// block text memory; nothing but the salt is per session.
func TestPiecesAreShared(t *testing.T) {
	w := genWorkload(t, genOpts{trajectories: 1, turns: 2, blockSize: 16, sharedBlocks: 1, firstBlocks: 20, addBlocks: 5, output: 4})
	r := newRenderer(w)
	tr := w.Trajectories[0]
	a := r.messages(nil, tr, 1, newSalt(1), nil)
	b := r.messages(nil, tr, 1, newSalt(2), nil)
	if len(a) != len(b) {
		t.Fatalf("%d and %d pieces", len(a), len(b))
	}
	differ := 0
	for i := range a {
		if unsafe.SliceData(a[i]) != unsafe.SliceData(b[i]) {
			differ++
		}
	}
	if differ != 1 {
		t.Errorf("%d pieces differ between two sessions, want 1 (the salt)", differ)
	}
	before := r.texts.Bytes()
	r.messages(nil, tr, 0, newSalt(3), nil)
	if r.texts.Bytes() != before {
		t.Error("rendering an earlier turn synthesised its blocks again")
	}
}
