package ingest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/ingest"
	"github.com/agentwatt/agentwatt/workload"
)

const wekaOK = `{
  "id": "c1",
  "block_size": 4,
  "requests": [
    {"t": 0, "type": "n", "in": 9, "out": 2, "hash_ids": [1, 2]},
    {"t": 5, "type": "s", "in": 13, "out": 2, "hash_ids": [1, 2, 3], "think_time": 1}
  ]
}`

func TestMalformedInputs(t *testing.T) {
	tests := []struct {
		name, format, file, content string
		want                        string // the located message
	}{
		// weka: pretty-printed JSON, errors point into the file
		{"weka syntax", "weka", "t.json", strings.Replace(wekaOK, `"out": 2, "hash`, `"out": 2 "hash`, 1), "t.json:5:45: invalid JSON"},
		{"weka type", "weka", "t.json", strings.Replace(wekaOK, `"in": 13`, `"in": "13"`, 1), "t.json:6:36: requests.in: want int"},
		{"weka missing in", "weka", "t.json", strings.Replace(wekaOK, `"in": 13, `, ``, 1), "t.json:6:5: requests[1].in: missing"},
		{"weka too many hash ids", "weka", "t.json", strings.Replace(wekaOK, `[1, 2, 3]`, `[1, 2, 3, 4]`, 1), "t.json:6:59: requests[1].hash_ids: 4 full blocks of 4 tokens exceed in = 13"},
		{"weka bad type", "weka", "t.json", strings.Replace(wekaOK, `"type": "s"`, `"type": "x"`, 1), `t.json:6:22: requests[1].type: "x": want "n", "s" or "subagent"`},
		{"weka negative think", "weka", "t.json", strings.Replace(wekaOK, `"think_time": 1`, `"think_time": -1`, 1), "t.json:6:84: requests[1].think_time: -1 is not a time"},
		{"weka no block size", "weka", "t.json", strings.Replace(wekaOK, `"block_size": 4,`, ``, 1), "t.json:1:1: block_size: missing"},
		{"weka empty sub-agent", "weka", "t.json", strings.Replace(wekaOK, `{"t": 5, "type": "s"`, `{"t": 3, "type": "subagent", "requests": []}, {"t": 5, "type": "s"`, 1), "t.json:6:46: requests[1].requests: a sub-agent with no requests"},
		{"weka trailing data", "weka", "t.json", wekaOK + "\n{}", "t.json:9:1: invalid JSON: invalid character '{' after top-level value"},
		{"weka empty file", "weka", "t.json", "", "t.json:1: empty input"},
		{"weka truncated", "weka", "t.json", wekaOK[:60], "t.json:5:9: invalid JSON: unexpected end of JSON input"},
		// mooncake: one record per line
		{"mooncake syntax", "mooncake", "m.jsonl", "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 1, \"hash_ids\": [0]}\n{\"timestamp\": 1,, }\n", "m.jsonl:2:17: invalid JSON"},
		{"mooncake missing field", "mooncake", "m.jsonl", `{"timestamp": 0, "input_length": 5, "hash_ids": [0]}`, "m.jsonl:1:1: output_length: missing"},
		{"mooncake too many ids", "mooncake", "m.jsonl", `{"timestamp": 0, "input_length": 5, "output_length": 1, "hash_ids": [0, 1, 2]}`, "m.jsonl:1:69: hash_ids: 3 blocks of 512 tokens need more than input_length 5"},
		{"mooncake negative id", "mooncake", "m.jsonl", `{"timestamp": 0, "input_length": 5, "output_length": 1, "hash_ids": [-3]}`, "m.jsonl:1:70: hash_ids[0]: -3 is negative"},
		{"mooncake zero input", "mooncake", "m.jsonl", `{"timestamp": 0, "input_length": 0, "output_length": 1, "hash_ids": []}`, "m.jsonl:1:34: input_length: 0: want 1..4194304"},
		{"mooncake not an object", "mooncake", "m.jsonl", `[1, 2]`, "m.jsonl:1:1: want ingest.mooncakeRecord, got JSON array"},
		{"mooncake no records", "mooncake", "m.jsonl", "\n\n", "m.jsonl: no requests in this file"},
		// openai-chat
		{"chat unknown role", "openai-chat", "c.jsonl", `{"messages": [{"role": "robot", "content": "x"}]}`, `c.jsonl:1:24: messages[0].role: "robot": want system`},
		{"chat no assistant", "openai-chat", "c.jsonl", `{"messages": [{"role": "user", "content": "x"}]}`, "c.jsonl:1:14: messages: no assistant message"},
		{"chat assistant first", "openai-chat", "c.jsonl", `{"messages": [{"role": "assistant", "content": "x"}]}`, "c.jsonl:1:15: messages[0]: an assistant message with no messages before it"},
		{"chat both tool ids", "openai-chat", "c.jsonl", `{"messages": [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "a", "tool_call_ids": ["a"], "content": ""}, {"role": "assistant", "content": "y"}]}`, "c.jsonl:1:104: messages[1].tool_call_ids: both tool_call_id and tool_call_ids are set"},
		{"chat tool call without name", "openai-chat", "c.jsonl", `{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "", "tool_calls": [{"id": "a", "function": {"arguments": "{}"}}]}]}`, "c.jsonl:1:125: messages[1].tool_calls[0].function.name: missing"},
		{"chat bad content", "openai-chat", "c.jsonl", `{"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "y"}]}`, "c.jsonl:1:43: messages[0].content: want a string or an array of text parts"},
		{"chat second line broken", "openai-chat", "c.jsonl", `{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}` + "\n" + `{"messages": [}`, "c.jsonl:2:15: invalid JSON"},
		{"chat neither history nor messages", "openai-chat", "c.traj", `{"trajectory": []}`, "c.traj:1:1: neither \"history\" (SWE-agent) nor \"messages\" is present"},
		{"chat nested too deep", "openai-chat", "c.jsonl", `{"messages": ` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, "c.jsonl:1:77: JSON nested deeper than 64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, tc.file)
			if err := os.WriteFile(in, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			outDir := t.TempDir()
			out := filepath.Join(outDir, "out.jsonl.zst")
			_, err := ingest.Run(context.Background(), []ingest.Input{{Format: tc.format, Path: in}}, out, ingest.Options{Name: "bad"})
			if err == nil {
				t.Fatalf("Run succeeded, want %q", tc.want)
			}
			want := filepath.Join(dir, tc.want)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error = %q\nwant it to contain %q", err, want)
			}
			if !errors.Is(err, workload.ErrFormat) {
				t.Errorf("error does not match workload.ErrFormat")
			}
			if entries, _ := os.ReadDir(outDir); len(entries) != 0 {
				t.Errorf("left %s behind, want nothing", entries[0].Name())
			}
		})
	}
}

func TestInputLimits(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "big.jsonl")
	line := `{"timestamp": 0, "input_length": 5, "output_length": 1, "hash_ids": [0]}` + "\n"
	os.WriteFile(in, []byte(strings.Repeat(line, 100)), 0o644)
	tests := []struct {
		name   string
		limits ingest.Limits
		want   string
	}{
		{"file", ingest.Limits{MaxFileBytes: 1000, MaxLineBytes: 1 << 20, MaxNesting: 64}, "big.jsonl: 7300 bytes is over the 1000-byte limit"},
		{"line", ingest.Limits{MaxFileBytes: 1 << 20, MaxLineBytes: 50, MaxNesting: 64}, "big.jsonl:1: line longer than 50 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ingest.Run(context.Background(), []ingest.Input{{Format: "mooncake", Path: in}},
				filepath.Join(t.TempDir(), "o.jsonl.zst"), ingest.Options{Name: "x", Limits: tc.limits})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, workload.ErrTooLarge) {
				t.Errorf("err = %v, want %q (ErrTooLarge)", err, tc.want)
			}
		})
	}
}

func TestUnknownFormat(t *testing.T) {
	_, err := ingest.Run(context.Background(), []ingest.Input{{Format: "csv", Path: wekaParent}}, filepath.Join(t.TempDir(), "o"), ingest.Options{Name: "x"})
	if !errors.Is(err, ingest.ErrUnknownFormat) {
		t.Errorf("err = %v, want ErrUnknownFormat", err)
	}
}
