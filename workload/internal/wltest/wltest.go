// Package wltest holds workload fixtures shared by the tests of workload and
// workload/blobstore.
package wltest

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/agentwatt/agentwatt/workload"
)

// Header has a block source (block size 4) and a text source.
func Header() workload.Header {
	return workload.Header{
		Name: "test-workload", CreatedBy: "workload_test", Seed: 7,
		Sources: []workload.Source{
			{ID: "blocks:0000", Format: "test", File: "blocks", Licence: "MIT", BlockSize: 4},
			{ID: "chat:0000", Format: "test", File: "chat", Licence: "unknown"},
		},
	}
}

func run(ids []int64, tokens int) workload.Segment {
	return workload.Segment{Blocks: ids, Tokens: tokens}
}

func msg(role, text string) workload.Segment {
	s := workload.Segment{Role: role, Text: text}
	s.Tokens = workload.EstimateMessageTokens(&s)
	return s
}

// Trajectories covers block runs that grow, a context reset, a fork, a
// sub-agent, and literal chat with tool calls.
func Trajectories() []*workload.Trajectory {
	sub := &workload.Trajectory{ID: "sub-1", Source: 0, Scope: "conv-a", StartS: 2.5, AfterTurns: 1, Agent: "Explore", DurationS: 9,
		Turns: []workload.Turn{
			{Input: []workload.Segment{run([]int64{100, 101}, 6)}, OutputTokens: 3},
			{ThinkS: 1, T: 2, Input: []workload.Segment{run([]int64{100, 101, 102}, 12)}, OutputTokens: 4},
		}}
	blocks := &workload.Trajectory{ID: "conv-a", Source: 0, Scope: "conv-a", SharedPrefixTokens: 4,
		Turns: []workload.Turn{
			{Input: []workload.Segment{run([]int64{1, 2, 3}, 10)}, OutputTokens: 5, APIS: 1.5, Model: "m"},
			{T: 3, ThinkS: 1.25, Input: []workload.Segment{run([]int64{1, 2, 4, 5}, 15)}, OutputTokens: 6},
			{T: 9, ThinkS: 4, Input: []workload.Segment{run([]int64{1, 2, 4, 5, 6}, 17)}, OutputTokens: 7},
			// a reset: only block 1 survives
			{T: 20, ThinkS: 8, Input: []workload.Segment{run([]int64{1, 9}, 5)}, OutputTokens: 1},
		},
		Subagents: []*workload.Trajectory{sub}}
	fork := &workload.Trajectory{ID: "conv-a-fork", Source: 0, Scope: "conv-a", SharedPrefixTokens: 4,
		ForkOf: &workload.ForkRef{Trajectory: "conv-a", Turn: 1},
		Turns:  []workload.Turn{{Input: []workload.Segment{run([]int64{1, 2, 4, 5, 7}, 20)}, OutputTokens: 2}}}
	sys := msg("system", "You are a careful agent.")
	user := msg("user", "Fix the failing test in parser.go, please.")
	a1 := workload.Segment{Role: "assistant", Text: "Let me look.", ToolCalls: []workload.ToolCall{{ID: "c1", Name: "open", Arguments: `{"path":"parser.go"}`}}}
	a1.Tokens = workload.EstimateMessageTokens(&a1)
	tool := workload.Segment{Role: "tool", Text: "package parser\n\nfunc Parse() {}\n", ToolCallIDs: []string{"c1"}}
	tool.Tokens = workload.EstimateMessageTokens(&tool)
	a2 := msg("assistant", "Done: the parser now handles empty input.")
	history := []workload.Segment{sys, user, a1, tool}
	chat := &workload.Trajectory{ID: "chat-1", Source: 1, SharedPrefixTokens: sys.Tokens,
		Turns: []workload.Turn{
			{Input: history[:2:2], OutputTokens: a1.Tokens, OutputEstimated: true, Output: &a1},
			{ThinkS: 0.3, Input: history[:4:4], OutputTokens: 12, Output: &a2},
		}}
	return []*workload.Trajectory{blocks, fork, chat}
}

// WriteFile writes Header and Trajectories to a temporary file.
func WriteFile(t testing.TB) (string, workload.Digest) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "w.jsonl.zst")
	d, err := workload.WriteFile(path, Header(), func(write func(*workload.Trajectory) error) error {
		for _, tr := range Trajectories() {
			if err := write(tr); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	return path, d
}

// Decompress returns the uncompressed bytes of a workload file.
func Decompress(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
