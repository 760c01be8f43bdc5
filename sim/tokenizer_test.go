package sim

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
)

func TestCountTokens(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{"empty", "", 0},
		{"spaces only", " \t\n ", 0},
		{"one word", "hello", 1},
		{"words", "the quick brown fox", 4},
		{"punctuation stays attached", "x=1; y=(2, 3).", 3},
		{"newlines and tabs", "a\nb\tc\r\nd", 4},
		{"leading and trailing space", "  a b  ", 2},
		{"unicode space", "a\u00a0b\u2003c", 3},
		{"non-ascii words", "héllo wörld 日本", 3},
		{"invalid utf8 is a word", "a \xff b", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CountTokens(tt.in); got != tt.want {
				t.Errorf("CountTokens(%q) = %d, want %d", tt.in, got, tt.want)
			}
			if got, want := CountTokens(tt.in), len(strings.Fields(tt.in)); got != want {
				t.Errorf("CountTokens(%q) = %d, strings.Fields gives %d", tt.in, got, want)
			}
		})
	}
}

func FuzzCountTokens(f *testing.F) {
	for _, s := range []string{"", "a b", " x\ty\n", "\u0085a\u00a0", "\xff\xfe", "tok tok tok"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := CountTokens(s), len(strings.Fields(s)); got != want {
			t.Fatalf("CountTokens(%q) = %d, strings.Fields gives %d", s, got, want)
		}
		n := 0
		forEachToken(s, func(string) { n++ })
		if n != CountTokens(s) {
			t.Fatalf("forEachToken saw %d tokens, CountTokens %d", n, CountTokens(s))
		}
		if got := strings.Join(pieces(s), ""); got != strings.TrimFunc(s, unicode.IsSpace) && len(strings.Fields(s)) > 0 {
			t.Fatalf("pieces(%q) joined = %q, want the trimmed text", s, got)
		}
	})
}

func TestIsOneToken(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{{"word", true}, {"x=1;", true}, {"", false}, {"two words", false}, {" lead", false}}
	for _, tt := range tests {
		if got := IsOneToken(tt.in); got != tt.want {
			t.Errorf("IsOneToken(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	for _, w := range outputWords {
		if !IsOneToken(w) {
			t.Errorf("output word %q is not one token", w)
		}
	}
}

func TestPromptTokens(t *testing.T) {
	tests := []struct {
		name string
		msgs string // JSON
		want int
	}{
		{"one user message", `[{"role":"user","content":"hello there"}]`, 3 + 3 + 2},
		{"system and user", `[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]`, 3 + (3 + 2) + (3 + 1)},
		{"null content", `[{"role":"assistant","content":null}]`, 3 + 3},
		{"content parts", `[{"role":"user","content":[{"type":"text","text":"a b"},{"type":"text","text":"c"}]}]`, 3 + 3 + 3},
		{"tool call and tool reply", `[{"role":"assistant","content":"ok","tool_calls":[{"id":"c1","type":"function","function":{"name":"read_file","arguments":"{\"path\": \"a.go\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"package main"}]`,
			3 + (3 + 1 + 1 + 1 + 2) + (3 + 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var msgs []Message
			if err := json.Unmarshal([]byte(tt.msgs), &msgs); err != nil {
				t.Fatal(err)
			}
			if got := PromptTokens(msgs); got != tt.want {
				t.Errorf("PromptTokens = %d, want %d", got, tt.want)
			}
			if got, _, _ := hashPrompt(msgs, 4, ""); got != tt.want {
				t.Errorf("hashPrompt counted %d tokens, PromptTokens %d", got, tt.want)
			}
		})
	}
}

func TestMessageContentErrors(t *testing.T) {
	tests := []struct{ name, in string }{
		{"image part", `{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}`},
		{"number content", `{"role":"user","content":3}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			if err := json.Unmarshal([]byte(tt.in), &m); err == nil {
				t.Errorf("Unmarshal(%s) succeeded, want an error", tt.in)
			}
		})
	}
}

func TestMessageRoundTrip(t *testing.T) {
	in := []Message{
		{Role: "user", Content: "hello world"},
		{Role: "user", Parts: []ContentPart{{Type: "text", Text: "part one"}}},
		{Role: "assistant", ToolCalls: []ToolCall{{ID: "x", Type: "function", Function: ToolFunction{Name: "f", Arguments: "{}"}}}},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out []Message
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if got, want := PromptTokens(out), PromptTokens(in); got != want {
		t.Errorf("PromptTokens after round trip = %d, want %d (%s)", got, want, b)
	}
}

func TestBlockHashesChain(t *testing.T) {
	msgs := func(texts ...string) []Message {
		var m []Message
		for _, s := range texts {
			m = append(m, Message{Role: "user", Content: s})
		}
		return m
	}
	long := strings.Repeat("alpha beta gamma delta ", 10) // 40 tokens
	_, a, _ := hashPrompt(msgs(long, "first question here"), 8, "")
	_, b, _ := hashPrompt(msgs(long, "second question entirely different words"), 8, "")
	_, c, _ := hashPrompt(msgs(long, "first question here"), 8, "salt-1")
	_, d, _ := hashPrompt(msgs("other "+long, "first question here"), 8, "")
	// The template adds 1 + 2 tokens before the long text, so the first five
	// blocks (40 tokens) lie inside the shared prefix.
	for i := 0; i < 5; i++ {
		if a[i] != b[i] {
			t.Errorf("block %d: shared prefix hashes differ", i)
		}
		if a[i] == c[i] {
			t.Errorf("block %d: a cache salt did not change the hash", i)
		}
		if a[i] == d[i] {
			t.Errorf("block %d: different earlier tokens gave the same hash (no chaining)", i)
		}
	}
	if a[len(a)-1] == b[len(b)-1] {
		t.Errorf("last blocks of different prompts have the same hash")
	}
}

// A conversation that grows by appending messages keeps its earlier blocks:
// the generation prompt "<|im_start|> assistant" is also how the next
// assistant message starts.
func TestBlockHashesGrowingConversation(t *testing.T) {
	turn1 := []Message{{Role: "system", Content: strings.Repeat("rule ", 30)}, {Role: "user", Content: "do the task now"}}
	turn2 := append(append([]Message{}, turn1...), Message{Role: "assistant", Content: "done it"}, Message{Role: "user", Content: "next"})
	n1, h1, _ := hashPrompt(turn1, 4, "")
	_, h2, _ := hashPrompt(turn2, 4, "")
	for i := range h1 {
		if h1[i] != h2[i] {
			t.Fatalf("block %d of %d (prompt %d tokens) changed when the conversation grew", i, len(h1), n1)
		}
	}
}
