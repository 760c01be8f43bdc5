package workload_test

import (
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/workload"
	"github.com/agentwatt/agentwatt/workload/internal/wltest"
)

const blockVector = " static reading pen planet ox so sole compound animal safe quit assets"

func TestBlockTextVector(t *testing.T) {
	// A fixed vector: any implementation of docs/workload-format.md's block
	// synthesis must produce it. It changes only with the word list or the
	// algorithm, both of which change every workload's prompts.
	got := workload.BlockText("mooncake:b8cbb061a85206d7", "", 0, 12, 0)
	if got != blockVector {
		t.Errorf("BlockText = %q\nwant %q", got, blockVector)
	}
}

func TestBlockText(t *testing.T) {
	words := map[string]bool{}
	for _, w := range workload.Words() {
		words[w] = true
	}
	if len(words) != 2048 {
		t.Fatalf("word list has %d distinct words, want 2048", len(words))
	}
	full := workload.BlockText("src", "scope", 42, 512, 1)
	tests := []struct {
		name   string
		text   string
		tokens int
	}{
		{"full block", full, 512},
		{"partial block", workload.BlockText("src", "scope", 42, 37, 1), 37},
		{"one token", workload.BlockText("src", "scope", 42, 1, 1), 1},
		{"empty", workload.BlockText("src", "scope", 42, 0, 1), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.tokens > 0 && (!strings.HasPrefix(tc.text, " ") || strings.HasSuffix(tc.text, " ") || strings.Contains(tc.text, "  ")) {
				t.Errorf("text is not single-space-separated words each after one space: %q", tc.text[:min(40, len(tc.text))])
			}
			fields := strings.Fields(tc.text)
			if len(fields) != tc.tokens {
				t.Errorf("got %d words, want %d", len(fields), tc.tokens)
			}
			for _, f := range fields {
				if !words[f] {
					t.Errorf("word %q is not in the list", f)
				}
			}
			if !strings.HasPrefix(full, tc.text) {
				t.Errorf("a %d-token block is not a prefix of the full block with the same id", tc.tokens)
			}
		})
	}
	if again := workload.BlockText("src", "scope", 42, 512, 1); again != full {
		t.Errorf("BlockText is not deterministic")
	}
	others := map[string]string{
		"other source": workload.BlockText("src2", "scope", 42, 512, 1),
		"other scope":  workload.BlockText("src", "scope2", 42, 512, 1),
		"other id":     workload.BlockText("src", "scope", 43, 512, 1),
		"other seed":   workload.BlockText("src", "scope", 42, 512, 2),
		// length-prefixed fields: moving a byte between source and scope
		// must not give the same key
		"shifted fields": workload.BlockText("srcs", "cope", 42, 512, 1),
	}
	for name, txt := range others {
		if txt == full {
			t.Errorf("%s gives the same text", name)
		}
	}
}

func TestAppendBlockTextDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 64<<10)
	allocs := testing.AllocsPerRun(100, func() {
		buf = workload.AppendBlockText(buf[:0], "src", "scope", 7, 512, 0)
	})
	if allocs > 1 { // the sha256 state may escape
		t.Errorf("AppendBlockText allocates %.0f times per call, want at most 1", allocs)
	}
}

func TestAppendSegmentText(t *testing.T) {
	h := wltest.Header()
	tr := &workload.Trajectory{ID: "x", Source: 0, Scope: "conv"}
	seg := workload.Segment{Blocks: []int64{5, 6, -1}, Tokens: 10} // 4 + 4 + 2
	got := string(h.AppendSegmentText(nil, tr, &seg))
	want := workload.BlockText("blocks:0000", "conv", 5, 4, 7) +
		workload.BlockText("blocks:0000", "conv", 6, 4, 7) +
		workload.BlockText("blocks:0000", "conv", -1, 2, 7)
	if got != want {
		t.Errorf("AppendSegmentText = %q, want %q", got, want)
	}
	if n := len(strings.Fields(got)); n != 10 {
		t.Errorf("got %d words, want 10 (one per token)", n)
	}
	msg := workload.Segment{Role: "user", Text: "hello there"}
	if got := string(h.AppendSegmentText([]byte("> "), tr, &msg)); got != "> hello there" {
		t.Errorf("message text = %q", got)
	}
}

func TestEstimateTokens(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"hello", 1},
		{"hello world", 2},          // " world" joins its space
		{"internationalization", 3}, // 20 letters: one token per started 8
		{"12345", 2},                // digits: per started 3
		{"a  b", 3},                 // a, "  " (not a single space), b
		{"x = 1;\n", 6},             // x, " =", " " (a space before a digit stands alone), 1, ;, newline
		{"foo(bar)", 4},             // foo ( bar )
		{"\n\n\n", 1},               // one whitespace run
		{"héllo wörld", 2},          // letters are Unicode letters
	}
	for _, tc := range tests {
		if got := workload.EstimateTokens(tc.in); got != tc.want {
			t.Errorf("EstimateTokens(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
