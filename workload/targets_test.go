package workload_test

import (
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/workload"
)

func blocks(role string, tokens int, ids ...int64) workload.Segment {
	return workload.Segment{Role: role, Blocks: ids, Tokens: tokens}
}

func literal(role, text string, calls int) workload.Segment {
	s := workload.Segment{Role: role, Text: text}
	for i := range calls {
		s.ToolCalls = append(s.ToolCalls, workload.ToolCall{Name: "f", Arguments: strings.Repeat("x", i)})
	}
	s.Tokens = workload.EstimateMessageTokens(&s)
	return s
}

func TestMessageCount(t *testing.T) {
	tests := []struct {
		name            string
		input           []workload.Segment
		msgs, toolCalls int
	}{
		{"one block run", []workload.Segment{blocks("", 10, 1, 2, 3)}, 1, 0},
		{"runs without role merge", []workload.Segment{blocks("", 8, 1, 2), blocks("", 3, 5)}, 1, 0},
		{"empty role merges with user", []workload.Segment{blocks("", 8, 1, 2), blocks("user", 3, 5)}, 1, 0},
		{"different roles do not merge", []workload.Segment{blocks("system", 8, 1, 2), blocks("", 3, 5)}, 2, 0},
		{"a literal splits runs", []workload.Segment{blocks("", 4, 1), literal("user", "hi", 0), blocks("", 4, 2)}, 3, 0},
		{"literals never merge", []workload.Segment{literal("user", "a", 0), literal("user", "b", 0)}, 2, 0},
		{"tool calls count", []workload.Segment{literal("assistant", "", 2), literal("tool", "ok", 0)}, 2, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msgs, calls := workload.MessageCount(tc.input)
			if msgs != tc.msgs || calls != tc.toolCalls {
				t.Errorf("got %d messages, %d tool calls; want %d, %d", msgs, calls, tc.msgs, tc.toolCalls)
			}
		})
	}
}

func TestTargetPromptTokens(t *testing.T) {
	tpl := workload.ChatTemplate{PerRequest: 3, PerMessage: 4, PerToolCall: 2}
	turn := workload.Turn{Input: []workload.Segment{
		literal("system", "be brief", 0), // 2 tokens
		blocks("", 20, 1, 2),             // 20
		literal("assistant", "ok", 1),    // "ok" + f → 2
		blocks("", 4, 9),                 // 4
	}}
	got := workload.TargetPromptTokens(&turn, tpl)
	want := 3 + 4*4 + 2*1 + turn.InputTokens() + workload.SaltTokens
	if got != want {
		t.Errorf("TargetPromptTokens = %d, want %d", got, want)
	}
}

func TestSaltPosition(t *testing.T) {
	in := []workload.Segment{literal("system", "one two three", 0), blocks("", 10, 1, 2, 3)} // block size 4: 4+4+2
	sys := in[0].Tokens
	tests := []struct {
		name   string
		shared int
		want   workload.SaltPoint
	}{
		{"no shared prefix", 0, workload.SaltPoint{Seg: -1}},
		{"after the system prompt", sys, workload.SaltPoint{Seg: 0}},
		{"after the first block", sys + 4, workload.SaltPoint{Seg: 1, Unit: 0}},
		{"after the second block", sys + 8, workload.SaltPoint{Seg: 1, Unit: 1}},
		{"inside a block: after it", sys + 5, workload.SaltPoint{Seg: 1, Unit: 1}},
		{"longer than the input: at its end", sys + 100, workload.SaltPoint{Seg: 1, Unit: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := workload.SaltPosition(in, tc.shared, 4); got != tc.want {
				t.Errorf("SaltPosition(%d) = %+v, want %+v", tc.shared, got, tc.want)
			}
		})
	}
}

func TestSaltText(t *testing.T) {
	words := map[string]bool{}
	for _, w := range workload.Words() {
		words[w] = true
	}
	a, b := workload.SaltText(1), workload.SaltText(2)
	if a == b {
		t.Error("two sessions got the same salt")
	}
	if a != workload.SaltText(1) {
		t.Error("the salt is not a function of the session")
	}
	for _, s := range []string{a, b} {
		f := strings.Fields(s)
		if len(f) != workload.SaltTokens || !strings.HasPrefix(s, " ") || strings.Contains(s, "  ") {
			t.Errorf("salt %q: want %d single-space-separated words after a space", s, workload.SaltTokens)
		}
		for _, w := range f {
			if !words[w] {
				t.Errorf("salt word %q is not in the word list", w)
			}
		}
	}
	// A fixed vector: the verifier and other implementations must agree.
	if got, want := workload.SaltText(0x0123456789abcdef), " routine sets hill rank fit such ax ounce"; got != want {
		t.Errorf("SaltText = %q, want %q", got, want)
	}
}
