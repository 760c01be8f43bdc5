package ingest_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/ingest"
	"github.com/agentwatt/agentwatt/workload"
)

const (
	wekaSub     = "testdata/weka/sample_trace_with_subagent.json"
	wekaParent  = "testdata/weka/sample_trace.json"
	mooncakeCv  = "testdata/mooncake/conversation_trace.jsonl"
	mooncakeSyn = "testdata/mooncake/synthetic_trace.jsonl"
	sweTraj     = "testdata/openai-chat/marshmallow-code__marshmallow-1867.traj"
)

// convert runs the whole pipeline (convert, write, read back) on inputs.
func convert(t *testing.T, opts ingest.Options, inputs ...ingest.Input) (*workload.Workload, *ingest.Report) {
	t.Helper()
	if opts.Name == "" {
		opts.Name = "test"
	}
	out := filepath.Join(t.TempDir(), "out.jsonl.zst")
	rep, err := ingest.Run(context.Background(), inputs, out, opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	w, err := workload.Load(out)
	if err != nil {
		t.Fatalf("Load %s: %v", out, err)
	}
	if w.Digest != rep.Digest {
		t.Errorf("report digest %s, file digest %s", rep.Digest, w.Digest)
	}
	if rep.Turns != rep.Records-rep.CutTurns {
		t.Errorf("turns %d != records %d - %d cut", rep.Turns, rep.Records, rep.CutTurns)
	}
	st := workload.StatsOf(w)
	if st.Turns != rep.Turns {
		t.Errorf("the written workload has %d turns, the report %d", st.Turns, rep.Turns)
	}
	return w, rep
}

// wekaFile is the part of a Weka trace the tests check against.
type wekaFile struct {
	ID           string `json:"id"`
	BlockSize    int    `json:"block_size"`
	SystemTokens int    `json:"system_tokens"`
	ToolTokens   int    `json:"tool_tokens"`
	Requests     []struct {
		T         float64  `json:"t"`
		Type      string   `json:"type"`
		In        int      `json:"in"`
		Out       int      `json:"out"`
		HashIDs   []int64  `json:"hash_ids"`
		ThinkTime *float64 `json:"think_time"`
		AgentID   string   `json:"agent_id"`
		Duration  float64  `json:"duration_ms"`
		Requests  []struct {
			In        int      `json:"in"`
			Out       int      `json:"out"`
			HashIDs   []int64  `json:"hash_ids"`
			ThinkTime *float64 `json:"think_time"`
		} `json:"requests"`
	} `json:"requests"`
	Totals *struct {
		Parent   struct{ Input, Output int } `json:"parent_tokens"`
		Subagent struct{ Input, Output int } `json:"subagent_tokens"`
		Count    int                         `json:"subagent_count"`
	} `json:"totals"`
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestWekaWithSubagents(t *testing.T) {
	var f wekaFile
	readJSON(t, wekaSub, &f)
	w, rep := convert(t, ingest.Options{}, ingest.Input{Format: "weka", Path: wekaSub})
	if len(w.Trajectories) != 1 || rep.Trajectories != 1 {
		t.Fatalf("got %d trajectories, want 1 conversation", len(w.Trajectories))
	}
	conv := w.Trajectories[0]
	src := w.Header.Sources[0]
	if src.BlockSize != f.BlockSize || src.Licence != "MIT" || src.LicenceFile != "LICENSE" {
		t.Errorf("source = %+v, want block size %d, MIT from LICENSE", src, f.BlockSize)
	}
	if got, want := len(conv.Subagents), f.Totals.Count; got != want || rep.Subagents != want {
		t.Fatalf("got %d sub-agents, want %d", got, want)
	}
	// Token sums match the file's own totals: in is the whole prompt,
	// counted once (system and tool tokens are not added again).
	sumTurns := func(tr *workload.Trajectory) (in, out int) {
		for _, tu := range tr.Turns {
			in += tu.InputTokens()
			out += tu.OutputTokens
		}
		return in, out
	}
	in, out := sumTurns(conv)
	if in != f.Totals.Parent.Input || out != f.Totals.Parent.Output {
		t.Errorf("parent tokens %d/%d, file totals %d/%d", in, out, f.Totals.Parent.Input, f.Totals.Parent.Output)
	}
	var subIn, subOut int
	for _, s := range conv.Subagents {
		i, o := sumTurns(s)
		subIn, subOut = subIn+i, subOut+o
	}
	if subIn != f.Totals.Subagent.Input || subOut != f.Totals.Subagent.Output {
		t.Errorf("sub-agent tokens %d/%d, file totals %d/%d", subIn, subOut, f.Totals.Subagent.Input, f.Totals.Subagent.Output)
	}
	// Request by request: hash ids kept in order, the unhashed tail one
	// fresh (negative) block, think time as recorded.
	parentTurn, sub := 0, 0
	for i, r := range f.Requests {
		if r.Type == "subagent" {
			s := conv.Subagents[sub]
			if s.StartS != r.T || s.AfterTurns != parentTurn || s.ID != r.AgentID || s.DurationS != r.Duration/1000 {
				t.Errorf("request %d: sub-agent %+v, want start %v after %d turns, id %s", i, *s, r.T, parentTurn, r.AgentID)
			}
			if len(s.Turns) != len(r.Requests) {
				t.Errorf("sub-agent %s: %d turns, want %d", s.ID, len(s.Turns), len(r.Requests))
			}
			for k, q := range r.Requests {
				checkWekaTurn(t, s.ID, k, &s.Turns[k], q.In, q.Out, q.HashIDs, q.ThinkTime, f.BlockSize)
			}
			sub++
			continue
		}
		checkWekaTurn(t, conv.ID, parentTurn, &conv.Turns[parentTurn], r.In, r.Out, r.HashIDs, r.ThinkTime, f.BlockSize)
		parentTurn++
	}
	// Shared prefix: the declared system + tool tokens, in whole blocks.
	if want := (f.SystemTokens + f.ToolTokens) / f.BlockSize * f.BlockSize; conv.SharedPrefixTokens != want {
		t.Errorf("parent shared prefix = %d, want %d", conv.SharedPrefixTokens, want)
	}
	// Sub-agents share their system prompt with each other.
	for _, s := range conv.Subagents {
		if s.SharedPrefixTokens < 10000 || s.Scope != conv.Scope {
			t.Errorf("sub-agent %s: shared prefix %d, scope %q", s.ID, s.SharedPrefixTokens, s.Scope)
		}
	}
}

func checkWekaTurn(t *testing.T, traj string, k int, tu *workload.Turn, in, out int, ids []int64, think *float64, bs int) {
	t.Helper()
	if tu.InputTokens() != in || tu.OutputTokens != out {
		t.Errorf("%s turn %d: %d/%d tokens, want %d/%d", traj, k, tu.InputTokens(), tu.OutputTokens, in, out)
	}
	var blocks []int64
	for _, s := range tu.Input {
		blocks = append(blocks, s.Blocks...)
	}
	if !slices.Equal(blocks[:min(len(ids), len(blocks))], ids) {
		t.Errorf("%s turn %d: blocks do not start with the trace's hash ids", traj, k)
	}
	if tail := in - len(ids)*bs; (tail > 0) != (len(blocks) == len(ids)+1) || (tail > 0 && blocks[len(blocks)-1] >= 0) {
		t.Errorf("%s turn %d: %d tail tokens, blocks %d for %d ids", traj, k, tail, len(blocks), len(ids))
	}
	if think != nil && k > 0 && tu.ThinkS != *think {
		t.Errorf("%s turn %d: think %v, want %v", traj, k, tu.ThinkS, *think)
	}
}

func TestWekaParentOnly(t *testing.T) {
	var f wekaFile
	readJSON(t, wekaParent, &f)
	w, rep := convert(t, ingest.Options{}, ingest.Input{Format: "weka", Path: wekaParent})
	if rep.Records != len(f.Requests) || len(w.Trajectories[0].Subagents) != 0 {
		t.Errorf("records %d (want %d), sub-agents %d", rep.Records, len(f.Requests), len(w.Trajectories[0].Subagents))
	}
	for k, r := range f.Requests {
		checkWekaTurn(t, "parent", k, &w.Trajectories[0].Turns[k], r.In, r.Out, r.HashIDs, r.ThinkTime, f.BlockSize)
	}
}

func TestSWEAgentTrajectory(t *testing.T) {
	var f struct {
		History []struct {
			Role        string   `json:"role"`
			Content     string   `json:"content"`
			ToolCallIDs []string `json:"tool_call_ids"`
			ToolCalls   []struct {
				ID string `json:"id"`
			} `json:"tool_calls"`
		} `json:"history"`
		Trajectory []struct {
			ExecutionTime float64 `json:"execution_time"`
		} `json:"trajectory"`
	}
	readJSON(t, sweTraj, &f)
	w, rep := convert(t, ingest.Options{}, ingest.Input{Format: "openai-chat", Path: sweTraj})
	tr := w.Trajectories[0]
	var assistants []int
	for i, m := range f.History {
		if m.Role == "assistant" {
			assistants = append(assistants, i)
		}
	}
	if len(tr.Turns) != len(assistants) || rep.Records != len(assistants) || rep.EstimatedOutputTurns != len(assistants) {
		t.Fatalf("%d turns, %d records, %d estimated; want %d assistant messages, all estimated (no usage)",
			len(tr.Turns), rep.Records, rep.EstimatedOutputTurns, len(assistants))
	}
	for k, ai := range assistants {
		tu := &tr.Turns[k]
		if len(tu.Input) != ai {
			t.Errorf("turn %d: %d input messages, want the %d before it", k, len(tu.Input), ai)
		}
		for j, seg := range tu.Input {
			m := f.History[j]
			if seg.Role != m.Role || seg.Text != m.Content || !slices.Equal(seg.ToolCallIDs, m.ToolCallIDs) || len(seg.ToolCalls) != len(m.ToolCalls) {
				t.Errorf("turn %d input %d: %s %q…, want %s %q…", k, j, seg.Role, trunc(seg.Text), m.Role, trunc(m.Content))
				break
			}
		}
		if tu.Output == nil || tu.Output.Text != f.History[ai].Content || !tu.OutputEstimated || tu.OutputTokens != workload.EstimateMessageTokens(tu.Output) {
			t.Errorf("turn %d: output %+v (estimated %v, %d tokens)", k, tu.Output, tu.OutputEstimated, tu.OutputTokens)
		}
		if k > 0 {
			if want := f.Trajectory[k-1].ExecutionTime; tu.ThinkS < want-0.001 || tu.ThinkS > want+0.001 {
				t.Errorf("turn %d: think %v, want the previous step's execution_time %v", k, tu.ThinkS, want)
			}
		}
	}
	if sys := tr.Turns[0].Input[0]; tr.SharedPrefixTokens != sys.Tokens || sys.Role != "system" {
		t.Errorf("shared prefix %d, want the system prompt's %d tokens", tr.SharedPrefixTokens, sys.Tokens)
	}
}

func trunc(s string) string { return s[:min(len(s), 30)] }

func TestOpenAIChatJSONL(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "chats.jsonl")
	lines := []string{
		`{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"List files"}]},` +
			`{"role":"assistant","content":null,"tool_calls":[{"id":"t1","type":"function","function":{"name":"ls","arguments":{"dir":"."}}}],"usage":{"completion_tokens":9}},` +
			`{"role":"tool","tool_call_id":"t1","content":"a.go b.go"},{"role":"assistant","content":"Two files."}],"usage":{"prompt_tokens":50,"completion_tokens":4}}`,
		``,
		`{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello!"}]}`,
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, rep := convert(t, ingest.Options{}, ingest.Input{Format: "openai-chat", Path: path})
	if len(w.Trajectories) != 2 || rep.Records != 3 || rep.EstimatedOutputTurns != 1 {
		t.Fatalf("%d trajectories, %d records, %d estimated; want 2, 3, 1", len(w.Trajectories), rep.Records, rep.EstimatedOutputTurns)
	}
	a := w.Trajectories[0]
	tests := []struct {
		name      string
		got, want any
	}{
		{"turn 0 output from message usage", a.Turns[0].OutputTokens, 9},
		{"turn 1 output from record usage", a.Turns[1].OutputTokens, 4},
		{"content parts joined", a.Turns[0].Input[1].Text, "List files"},
		{"object arguments kept as JSON", a.Turns[1].Input[2].ToolCalls[0].Arguments, `{"dir":"."}`},
		{"tool_call_id", strings.Join(a.Turns[1].Input[3].ToolCallIDs, ","), "t1"},
		{"second record estimated", w.Trajectories[1].Turns[0].OutputEstimated, true},
		{"ids name the line", w.Trajectories[1].ID, w.Header.Sources[0].ID + "/chats:3"},
		{"shared system prompt across records", w.Trajectories[1].SharedPrefixTokens, a.Turns[0].Input[0].Tokens},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestMixedFormats(t *testing.T) {
	_, rep := convert(t, ingest.Options{},
		ingest.Input{Format: "weka", Path: wekaParent},
		ingest.ParseInput("openai-chat:"+sweTraj, "weka"),
	)
	if rep.Format != "openai-chat+weka" || len(rep.Inputs) != 2 || rep.Records != 6+11 {
		t.Errorf("report = %+v", rep)
	}
}

func TestSameInputTwiceIsRefused(t *testing.T) {
	_, err := ingest.Run(context.Background(), []ingest.Input{{Format: "weka", Path: wekaParent}, {Format: "weka", Path: wekaParent}},
		filepath.Join(t.TempDir(), "o.jsonl.zst"), ingest.Options{Name: "x"})
	if err == nil || !strings.Contains(err.Error(), "same content") {
		t.Errorf("err = %v, want a refusal of the duplicate input", err)
	}
}

// TestBuiltinsAreReproducible: each built-in workload is what
// workload/defaultdata/build.sh makes of its inputs (the description and
// origins are taken from the embedded header). The two built from the
// whole corpus take about a minute each; they are rebuilt with
// AGENTWATT_TEST_CORPUS=1, else only their input's sha256 is checked.
func TestBuiltinsAreReproducible(t *testing.T) {
	const kvt = "testdata/kv-cache-tester/traces.tar.zst"
	weka := func(p string) ingest.Input { return ingest.Input{Format: ingest.FormatWeka, Path: p} }
	swe := ingest.Input{Format: ingest.FormatOpenAIChat, Path: sweTraj}
	moon := ingest.Input{Format: ingest.FormatMooncake, Path: mooncakeCv}
	tests := []struct {
		name   string
		inputs []ingest.Input
		opts   ingest.Options
		corpus bool
	}{
		{workload.DefaultName, []ingest.Input{weka("testdata/kv-cache-tester/mini")}, ingest.Options{}, false},
		{workload.ChatMooncakeName, []ingest.Input{moon}, ingest.Options{Mooncake: ingest.MooncakeOptions{Limit: 2000}}, false},
		{workload.LegacySampleName, []ingest.Input{weka(wekaSub), swe, moon}, ingest.Options{Mooncake: ingest.MooncakeOptions{Limit: 2000}}, false},
		{workload.CorpusName, []ingest.Input{weka(kvt)}, ingest.Options{}, true},
		{workload.Corpus256KName, []ingest.Input{weka(kvt)}, ingest.Options{MaxContext: 262144}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := workload.OpenBuiltin(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			hdr := r.Header()
			r.Close()
			if len(hdr.Sources) != len(tc.inputs) {
				t.Fatalf("the embedded header has %d sources, want %d", len(hdr.Sources), len(tc.inputs))
			}
			for i := range tc.inputs {
				tc.inputs[i].Origin = hdr.Sources[i].Origin
			}
			if tc.corpus && os.Getenv("AGENTWATT_TEST_CORPUS") == "" {
				raw, err := os.ReadFile(kvt)
				if err != nil {
					t.Fatal(err)
				}
				if sum := sha256.Sum256(raw); hdr.Sources[0].SHA256 != hex.EncodeToString(sum[:]) {
					t.Errorf("built from sha256 %s, not %s", hdr.Sources[0].SHA256, kvt)
				}
				t.Skip("rebuilding the corpus takes minutes: AGENTWATT_TEST_CORPUS=1 does it")
			}
			tc.opts.Name, tc.opts.Description = tc.name, hdr.Description
			w, _, err := ingest.Convert(context.Background(), tc.inputs, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			d, err := w.Write(io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := workload.BuiltinDigest(tc.name); d != want {
				t.Errorf("a fresh build has digest %s, the embedded one %s: run 'go generate ./workload'", d, want)
			}
		})
	}
	if b, _ := workload.BuiltinBytes(workload.DefaultName); len(b) > 300<<10 {
		t.Errorf("the embedded default workload is %d bytes, keep it under 300 KiB", len(b))
	}
}

// countLines counts non-empty lines.
func countLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			n++
		}
	}
	return n
}
