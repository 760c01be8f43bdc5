package loadgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/metrics"
)

func TestParseChunk(t *testing.T) {
	known := metrics.Int
	tests := []struct {
		name string
		data string
		want Chunk
	}{
		{"role-only first chunk (vLLM)", `{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`, Chunk{}},
		{"role-only first chunk (TensorRT-LLM nulls)", `{"choices":[{"delta":{"role":"assistant","content":null,"reasoning_content":null,"reasoning":null,"tool_calls":null}}],"usage":null} `, Chunk{}},
		{"content", `{"choices":[{"delta":{"content":"Hi"}}]}`, Chunk{Output: true, Content: text("Hi")}},
		{"content of one escaped newline", `{"choices":[{"delta":{"content":"\n"}}]}`, Chunk{Output: true, Content: text("\n")}},
		{"content with escapes", `{"choices":[{"delta":{"content":"a\"\u00e9\ud83d\ude00\/\t"}}]}`, Chunk{Output: true, Content: text("a\"é😀/\t")}},
		{"content as parts carries output, no text", `{"choices":[{"delta":{"content":[{"type":"text","text":"x"}]}}]}`, Chunk{Output: true}},
		{"repeated content key: the last wins", `{"choices":[{"delta":{"content":"a","content":null}}]}`, Chunk{}},
		{"reasoning_content", `{"choices":[{"delta":{"reasoning_content":"hmm","content":null}}]}`, Chunk{Output: true, Reasoning: true}},
		{"reasoning", `{"choices":[{"delta":{"reasoning":"hmm"}}]}`, Chunk{Output: true, Reasoning: true}},
		{"reasoning and content", `{"choices":[{"delta":{"reasoning":"hmm","content":"ok"}}]}`, Chunk{Output: true, Reasoning: true, Content: text("ok")}},
		{"tool_calls", `{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{"}}]}}]}`, Chunk{Output: true, ToolCalls: true}},
		{"empty tool_calls", `{"choices":[{"delta":{"tool_calls":[]}}]}`, Chunk{}},
		{"finish reason length", `{"choices":[{"delta":{},"finish_reason":"length"}]}`, Chunk{FinishReason: "length"}},
		{"other finish reason", `{"choices":[{"delta":{},"finish_reason":"eos\u0021"}]}`, Chunk{FinishReason: "eos!"}},
		{"usage chunk with empty choices, cached present",
			`{"id":"x","choices":[],"usage":{"prompt_tokens":120,"completion_tokens":50,"total_tokens":170,"prompt_tokens_details":{"cached_tokens":64}}}`,
			Chunk{Usage: true, PromptTokens: 120, CompletionTokens: 50, CachedTokens: known(64)}},
		{"cached_tokens null", `{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":null}}}`,
			Chunk{Usage: true, PromptTokens: 1, CompletionTokens: 2}},
		{"prompt_tokens_details null", `{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"prompt_tokens_details":null}}`,
			Chunk{Usage: true, PromptTokens: 1, CompletionTokens: 2}},
		{"cached_tokens absent", `{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}`,
			Chunk{Usage: true, PromptTokens: 1, CompletionTokens: 2}},
		{"cached_tokens zero is known", `{"usage":{"prompt_tokens":1,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":0}}}`,
			Chunk{Usage: true, PromptTokens: 1, CompletionTokens: 2, CachedTokens: known(0)}},
		{"usage null", `{"choices":[{"delta":{"content":"a"}}],"usage":null}`, Chunk{Output: true, Content: text("a")}},
		{"usage on a content chunk", `{"choices":[{"delta":{"content":"a"},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":9}}`,
			Chunk{Output: true, Content: text("a"), FinishReason: "length", Usage: true, PromptTokens: 3, CompletionTokens: 9}},
		{"error object", `{"error":{"message":"CUDA out of memory","type":"InternalServerError","code":500}}`,
			Chunk{Error: true, ErrorMessage: "CUDA out of memory"}},
		{"error string", `{"error":"overloaded \"now\""}`, Chunk{Error: true, ErrorMessage: `overloaded "now"`}},
		{"error null is no error", `{"error":null,"choices":[]}`, Chunk{}},
		{"object error (older vLLM)", `{"object":"error","message":"bad request","type":"BadRequestError","code":400}`,
			Chunk{Error: true, ErrorMessage: "bad request"}},
		{"unknown fields skipped", `{"sglext":{"a":[1,2,{"b":null}],"c":-1.5e+3},"choices":[{"delta":{"content":"x","x":true},"avg_decoded_tokens_per_iter":2.0}]}`,
			Chunk{Output: true, Content: text("x")}},
		{"duplicate key: the last wins", `{"choices":[{"delta":{"content":"x"}}],"choices":[]}`, Chunk{}},
		{"several choices", `{"choices":[{"delta":{"content":""}},{"delta":{"content":"y"},"finish_reason":"stop"}]}`,
			Chunk{Output: true, Content: text("y"), FinishReason: "stop"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got Chunk
			if err := ParseChunk([]byte(tc.data), &got); err != nil {
				t.Fatal(err)
			}
			if g, w := fieldsOf(got), fieldsOf(tc.want); g != w {
				t.Fatalf("got %+v\nwant %+v", g, w)
			}
			ref, err := referenceChunk([]byte(tc.data))
			if err != nil || !sameChunk(ref, got) {
				t.Fatalf("reference %+v (%v) disagrees with %+v", ref, err, got)
			}
		})
	}
}

func TestParseChunkRejects(t *testing.T) {
	for _, data := range []string{
		``, `[]`, `"x"`, `{`, `{"choices":}`, `{"choices":[{"delta":{"content":"x}}]}`,
		`{"choices":{}}`, `{"usage":{"prompt_tokens":1.5}}`, `{"usage":{"completion_tokens":-1}}`,
		`{"usage":{"completion_tokens":"7"}}`, `{"a":tru}`, `{"a":01}`, `{"a":"\x"}`, "{\"a\":\"\x01\"}",
		`{"a":1} x`, `{"a":1,}`, strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100),
	} {
		var c Chunk
		if err := ParseChunk([]byte(data), &c); !errors.Is(err, ErrMalformedChunk) {
			t.Errorf("ParseChunk(%q) = %v, want ErrMalformedChunk", data, err)
		}
	}
}

// referenceChunk extracts a Chunk with encoding/json, the oracle for
// ParseChunk on input both accept.
func referenceChunk(data []byte) (Chunk, error) {
	var c Chunk
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return c, err
	}
	if dec.More() {
		return c, errors.New("trailing data")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return c, errors.New("not an object")
	}
	if choices, ok := m["choices"].([]any); ok {
		for _, ch := range choices {
			cm, ok := ch.(map[string]any)
			if !ok {
				continue
			}
			if d, ok := cm["delta"].(map[string]any); ok {
				for _, k := range []string{"reasoning_content", "reasoning"} {
					if s, ok := d[k].(string); ok && s != "" {
						c.Output, c.Reasoning = true, true
					}
				}
				switch v := d["content"].(type) {
				case string:
					if v != "" {
						c.Output, c.Content = true, []byte(v)
					}
				case []any:
					c.Output = c.Output || len(v) > 0
				}
				if tc, ok := d["tool_calls"].([]any); ok && len(tc) > 0 {
					c.Output, c.ToolCalls = true, true
				}
			}
			if f, ok := cm["finish_reason"].(string); ok {
				c.FinishReason = f
			}
		}
	}
	count := func(x any) (int, error) {
		if x == nil {
			return 0, nil
		}
		n, ok := x.(json.Number)
		if !ok || strings.ContainsAny(string(n), "-.eE") || len(n) > 16 {
			return 0, errors.New("bad count")
		}
		var v int
		for _, d := range n {
			v = v*10 + int(d-'0')
		}
		return v, nil
	}
	if u, ok := m["usage"].(map[string]any); ok {
		c.Usage = true
		var err error
		if c.PromptTokens, err = count(u["prompt_tokens"]); err != nil {
			return c, err
		}
		if c.CompletionTokens, err = count(u["completion_tokens"]); err != nil {
			return c, err
		}
		if d, ok := u["prompt_tokens_details"].(map[string]any); ok && d["cached_tokens"] != nil {
			v, err := count(d["cached_tokens"])
			if err != nil {
				return c, err
			}
			c.CachedTokens = metrics.Int(v)
		}
	}
	switch e := m["error"].(type) {
	case nil:
	case string:
		c.Error, c.ErrorMessage = true, e
	case map[string]any:
		c.Error = true
		c.ErrorMessage, _ = e["message"].(string)
	default:
		c.Error, c.ErrorMessage = true, "\x00raw"
	}
	if o, _ := m["object"].(string); o == "error" && !c.Error {
		c.Error = true
		c.ErrorMessage, _ = m["message"].(string)
	}
	return c, nil
}

// sameChunk compares chunks, ignoring the message of an error given as a
// raw non-string value (the reference cannot reproduce its bytes). The
// reference's Content is decoded text, got's the raw string body.
func sameChunk(ref, got Chunk) bool {
	if ref.ErrorMessage == "\x00raw" {
		ref.ErrorMessage = got.ErrorMessage
	}
	want := fieldsOf(ref)
	want.Content = string(ref.Content)
	return want == fieldsOf(got)
}

// text is a Chunk.Content as ParseChunk leaves it: the raw JSON string
// body of s.
func text(s string) []byte { return metrics.AppendJSONString(nil, s, false) }

// chunkFields is a comparable view of a Chunk, its Content decoded.
type chunkFields struct {
	Output, Reasoning, ToolCalls bool
	Content, FinishReason        string
	Usage                        bool
	PromptTokens, Completion     int
	Cached                       metrics.OptionalInt
	Error                        bool
	ErrorMessage                 string
}

func fieldsOf(c Chunk) chunkFields {
	return chunkFields{
		Output: c.Output, Reasoning: c.Reasoning, ToolCalls: c.ToolCalls,
		Content: unescaped(c.Content), FinishReason: c.FinishReason,
		Usage: c.Usage, PromptTokens: c.PromptTokens, Completion: c.CompletionTokens, Cached: c.CachedTokens,
		Error: c.Error, ErrorMessage: c.ErrorMessage,
	}
}

// unescaped is the text of a JSON string body.
func unescaped(raw []byte) string {
	out, _ := metrics.AppendJSONStringText(nil, raw)
	return string(out)
}
