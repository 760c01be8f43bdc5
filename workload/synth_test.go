package workload_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/agentwatt/agentwatt/sim"
	"github.com/agentwatt/agentwatt/workload"
	"github.com/agentwatt/agentwatt/workload/internal/wltest"
)

const blockVector = " [ Merge With Legacy ] option // controls this behavior difference ."

func TestBlockTextVector(t *testing.T) {
	// A fixed vector: any implementation of docs/workload-format.md's block
	// synthesis must produce it. It changes only with the word list or the
	// algorithm, both of which change every workload's prompts.
	got := workload.BlockText("mooncake:b8cbb061a85206d7", "", 0, 12, 0)
	if got != blockVector {
		t.Errorf("BlockText = %q\nwant %q", got, blockVector)
	}
}

// blocksDigest pins the text of 2,000 blocks of 512 tokens (about a
// million tokens, some 1.6 times the filler text): any change to the filler
// or to how it is sliced changes it.
const blocksDigest = "b124388b395e41fc87a6dec5db305e5e74c384fb4587e724234928e208550a46"

func TestBlockTextDigest(t *testing.T) {
	h := sha256.New()
	buf := make([]byte, 0, 64<<10)
	for id := range int64(2000) {
		buf = workload.AppendBlockText(buf[:0], "weka:abc", "conv-1", id, 512, 3)
		h.Write(buf)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != blocksDigest {
		t.Errorf("digest of 2,000 blocks = %s, want %s", got, blocksDigest)
	}
}

// checkBlock checks what every block must be: printable ASCII pieces, each
// after exactly one space, tokens of them under the sim's tokenizer.
func checkBlock(t *testing.T, text string, tokens int) {
	t.Helper()
	if !utf8.ValidString(text) {
		t.Fatalf("block text is not UTF-8")
	}
	for i := 0; i < len(text); i++ {
		if c := text[i]; c != ' ' && (c < 0x21 || c > 0x7e || c == '"' || c == '\\') {
			t.Fatalf("byte %#x at %d of a block", c, i)
		}
	}
	// The replay renderer writes block text into a JSON string unescaped.
	var back string
	if err := json.Unmarshal([]byte(`"`+text+`"`), &back); err != nil || back != text {
		t.Errorf("block text is not a JSON string body as is (%v)", err)
	}
	if tokens > 0 && (!strings.HasPrefix(text, " ") || strings.HasSuffix(text, " ") || strings.Contains(text, "  ")) {
		t.Errorf("text is not pieces each after one space: %q", text[:min(40, len(text))])
	}
	if n := sim.CountTokens(text); n != tokens {
		t.Errorf("the sim counts %d tokens, want %d", n, tokens)
	}
	if n := len(strings.Fields(text)); n != tokens {
		t.Errorf("got %d pieces, want %d", n, tokens)
	}
}

func TestBlockText(t *testing.T) {
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
			checkBlock(t, tc.text, tc.tokens)
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

// TestBlockTextTokens checks the token count of many blocks of the sizes
// workloads use, and of a block longer than the whole filler (it wraps).
func TestBlockTextTokens(t *testing.T) {
	for id := range int64(300) {
		for _, n := range []int{16, 64, 512, 1000} {
			checkBlock(t, workload.BlockText("weka:x", "s", id*7919, n, 0), n)
		}
	}
	n := workload.FillerPieces() + 100
	checkBlock(t, workload.BlockText("weka:x", "s", 1, n, 0), n)
	if b := workload.MaxBlockTokenBytes(); b < 2 || b > 64 {
		t.Errorf("MaxBlockTokenBytes = %d", b)
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
	if n := sim.CountTokens(got); n != 10 {
		t.Errorf("the sim counts %d tokens, want 10", n)
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
