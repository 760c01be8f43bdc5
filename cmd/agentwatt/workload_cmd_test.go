package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/agentwatt/agentwatt/blob/blobtest"
	"github.com/agentwatt/agentwatt/ingest"
	"github.com/agentwatt/agentwatt/workload"
)

// runAW runs agentwatt with args in a child process (through main, so exit
// codes are real) and returns stdout, stderr and the exit code.
func runAW(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	raw, _ := json.Marshal(args)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(raw))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("agentwatt %v: %v", args, err)
		}
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

const testdataTraces = "../../ingest/testdata"

func TestIngestMooncakeCmd(t *testing.T) {
	out := filepath.Join(t.TempDir(), "mooncake-conv.jsonl.zst")
	stdout, stderr, code := runAW(t, "ingest", "mooncake", testdataTraces+"/mooncake/conversation_trace.jsonl", "--out", out, "-o", "json", "--log-level", "error")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, stdout)
	}
	for _, k := range []string{"format", "records", "trajectories", "turns", "output", "digest", "sessions", "forks", "single_turn"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	if rep["format"] != "mooncake" || rep["records"] != 12031.0 || rep["turns"] != 12031.0 || rep["output"] != out || rep["name"] != "mooncake-conv" {
		t.Errorf("report = %v", rep)
	}
	w, err := workload.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(w.Digest) != rep["digest"] {
		t.Errorf("file digest %s, reported %v", w.Digest, rep["digest"])
	}

	// stats on what was written
	stdout, stderr, code = runAW(t, "workload", "stats", out, "-o", "json")
	if code != 0 {
		t.Fatalf("stats exit %d: %s", code, stderr)
	}
	var st workload.Stats
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatal(err)
	}
	if st.Turns != 12031 || st.Trajectories != int(rep["trajectories"].(float64)) || st.Digest != w.Digest || st.InputTokens.P99 == 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestIngestRejectsMalformedInput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(in, []byte("{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 1, \"hash_ids\": [0]}\n{\"timestamp\": 1, \"input_length\": -5, \"output_length\": 1, \"hash_ids\": [0]}\n"), 0o644)
	out := filepath.Join(dir, "out.jsonl.zst")
	_, stderr, code := runAW(t, "ingest", "mooncake", in, "--out", out)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if want := in + ":2:34: input_length: -5"; !strings.Contains(stderr, want) {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output exists after a failed ingest: %v", err)
	}
	if _, stderr, code := runAW(t, "ingest", "csv", in, "--out", out); code != 1 || !strings.Contains(stderr, "unknown input format") {
		t.Errorf("unknown format: exit %d, %s", code, stderr)
	}
}

func TestWorkloadStatsCmd(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "mix.jsonl.zst")
	_, stderr, code := runAW(t, "ingest", "weka", testdataTraces+"/weka/sample_trace_with_subagent.json",
		"openai-chat:"+testdataTraces+"/openai-chat/marshmallow-code__marshmallow-1867.traj", "--out", out, "--name", "mix")
	if code != 0 {
		t.Fatalf("ingest exit %d: %s", code, stderr)
	}
	svg := filepath.Join(dir, "svg")
	stdout, stderr, code := runAW(t, "workload", "stats", out, "--histograms", "--svg", svg)
	if code != 0 {
		t.Fatalf("stats exit %d: %s", code, stderr)
	}
	for _, want := range []string{"workload             mix", "sub-agents           4", "turns                101", "input tokens per turn", "█"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stats output lacks %q:\n%s", want, stdout)
		}
	}
	for _, f := range []string{"input_tokens.svg", "output_tokens.svg"} {
		if _, err := os.Stat(filepath.Join(svg, f)); err != nil {
			t.Errorf("--svg: %v", err)
		}
	}
	stdout, _, code = runAW(t, "workload", "stats", "--builtin", "-o", "json")
	var st workload.Stats
	if code != 0 || json.Unmarshal([]byte(stdout), &st) != nil || st.Name != workload.DefaultName || st.Digest != workload.DefaultDigest() {
		t.Errorf("stats --builtin: exit %d, %+v", code, st)
	}
}

func TestWorkloadPushListCmd(t *testing.T) {
	cfg := blobtest.Start(t)
	s3 := []string{"--s3-endpoint", cfg.Endpoint, "--s3-access-key", cfg.AccessKey, "--s3-secret-key", cfg.SecretKey, "--s3-bucket", cfg.Bucket, "--s3-region", cfg.Region}
	out := filepath.Join(t.TempDir(), "claude.jsonl.zst")
	if _, stderr, code := runAW(t, "ingest", "weka", testdataTraces+"/weka/sample_trace.json", "--out", out); code != 0 {
		t.Fatalf("ingest: %s", stderr)
	}
	w, err := workload.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runAW(t, append([]string{"workload", "push", out, "--name", "claude-sample", "--log-level", "error"}, s3...)...)
	if code != 0 {
		t.Fatalf("push exit %d: %s", code, stderr)
	}
	if got, want := strings.TrimSpace(stdout), "claude-sample@"+string(w.Digest); got != want {
		t.Errorf("push printed %q, want %q", got, want)
	}
	stdout, stderr, code = runAW(t, append([]string{"workload", "list", "-o", "json"}, s3...)...)
	if code != 0 {
		t.Fatalf("list exit %d: %s", code, stderr)
	}
	var entries []workload.Entry
	if err := json.Unmarshal([]byte(stdout), &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name != "claude-sample" || entries[0].Latest != w.Digest {
		t.Errorf("list = %+v", entries)
	}
	if _, stderr, code := runAW(t, "workload", "list", "--s3-endpoint", ""); code != 1 || !strings.Contains(stderr, "no S3 endpoint") {
		t.Errorf("list without endpoint: exit %d, %s", code, stderr)
	}
}

func TestWorkloadSynthCmd(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "tiny.jsonl.zst")
	stdout, stderr, code := runAW(t, "workload", "synth", "--out", out, "-o", "json", "--log-level", "error")
	if code != 0 {
		t.Fatalf("synth exit %d: %s", code, stderr)
	}
	var rep struct {
		Output       string          `json:"output"`
		Digest       workload.Digest `json:"digest"`
		Trajectories int             `json:"trajectories"`
		Turns        int             `json:"turns"`
		MaxContext   int             `json:"max_context_tokens"`
		Synthetic    bool            `json:"synthetic"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, stdout)
	}
	w, err := workload.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Output != out || rep.Digest != w.Digest || rep.Trajectories != 16 || rep.Turns != 96 || !rep.Synthetic ||
		rep.MaxContext <= 0 || rep.MaxContext > 8192 {
		t.Errorf("report = %+v (file digest %s)", rep, w.Digest)
	}

	// stats reads it like any workload and shows it is synthetic.
	stdout, stderr, code = runAW(t, "workload", "stats", out, "-o", "json")
	if code != 0 {
		t.Fatalf("stats exit %d: %s", code, stderr)
	}
	var st workload.Stats
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatal(err)
	}
	if st.Digest != w.Digest || st.Turns != 96 || st.MaxContextTokens != rep.MaxContext || len(st.Sources) != 1 ||
		st.Sources[0].Format != "synthetic" || st.Sources[0].Licence != "ISC" {
		t.Errorf("stats = %+v", st)
	}

	// Same options, same bytes; the text report names what it wrote.
	again := filepath.Join(dir, "again.jsonl.zst")
	stdout, stderr, code = runAW(t, "workload", "synth", "--out", again, "--log-level", "error")
	if code != 0 {
		t.Fatalf("synth again exit %d: %s", code, stderr)
	}
	for _, want := range []string{"SYNTHETIC workload synthetic@" + string(w.Digest), "16 trajectories", "longest request"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("text report lacks %q:\n%s", want, stdout)
		}
	}
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(again)
	if !bytes.Equal(a, b) {
		t.Error("the same options wrote different files")
	}

	// Options change the shape.
	lit := filepath.Join(dir, "lit.jsonl.zst")
	_, stderr, code = runAW(t, "workload", "synth", "--out", lit, "--literal", "--subagents", "1", "--trajectories", "4",
		"--turns", "3", "--think", "500ms", "--name", "chat-synth", "-o", "json", "--log-level", "error")
	if code != 0 {
		t.Fatalf("synth --literal exit %d: %s", code, stderr)
	}
	lw, err := workload.Load(lit)
	if err != nil {
		t.Fatal(err)
	}
	if st := workload.StatsOf(lw); lw.Header.Name != "chat-synth" || lw.Header.Sources[0].BlockSize != 0 ||
		st.Trajectories != 4 || st.Subagents != 4 || st.ThinkTimeS.Max != 0.5 {
		t.Errorf("--literal workload: header %+v, stats %+v", lw.Header, st)
	}

	// Bad options fail with the option named, and write nothing.
	bad := filepath.Join(dir, "bad.jsonl.zst")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"zero trajectories", []string{"--trajectories", "0", "--out", bad}, "trajectories: 0, want 1..100000"},
		{"past max context", []string{"--turns", "40", "--max-context", "8192", "--out", bad}, "more than max-context 8192"},
		{"no output", nil, "--out FILE is required"},
	}
	for _, tt := range tests {
		_, stderr, code := runAW(t, append([]string{"workload", "synth"}, tt.args...)...)
		if code != 1 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%s: exit %d, stderr %q, want 1 and %q", tt.name, code, stderr, tt.want)
		}
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("a failed synth left %s: %v", bad, err)
	}
}

// TestWorkloadStatsBuiltinCorpus: the official workload is the whole real
// corpus (the bar: ≥ 700 sessions, turns p50 ≥ 40 and max ≥ 500,
// contexts ≥ 800K), and its 256K variant never needs more than 256K.
func TestWorkloadStatsBuiltinCorpus(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		minTraj, minP50, minMax int
		minCtx, maxCtx          int
	}{
		{workload.CorpusName, 700, 40, 500, 800_000, 1 << 30},
		{workload.Corpus256KName, 600, 30, 300, 200_000, 262_144},
	} {
		stdout, stderr, code := runAW(t, "workload", "stats", "--builtin", tc.name, "-o", "json")
		var st workload.Stats
		if code != 0 || json.Unmarshal([]byte(stdout), &st) != nil {
			t.Fatalf("stats --builtin %s: exit %d: %s", tc.name, code, stderr)
		}
		if st.Name != tc.name || st.Trajectories < tc.minTraj || st.TurnsPerTrajectory.P50 < int64(tc.minP50) || st.TurnsPerTrajectory.Max < int64(tc.minMax) ||
			st.MaxContextTokens < tc.minCtx || st.MaxContextTokens > tc.maxCtx {
			t.Errorf("%s: %d trajectories, turns p50 %d max %d, max context %d", tc.name, st.Trajectories,
				st.TurnsPerTrajectory.P50, st.TurnsPerTrajectory.Max, st.MaxContextTokens)
		}
	}
}

// TestIngestCorpusCmd: a tar.zst of real sessions with one broken trace
// fails naming the trace and request; --skip-invalid writes the rest and
// counts it; --max-context reports its cuts and stats shows the cap.
func TestIngestCorpusCmd(t *testing.T) {
	dir := t.TempDir()
	names, _ := filepath.Glob(testdataTraces + "/kv-cache-tester/mini/trace_00*.json")
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	add := func(name string, body []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		add(filepath.Base(n), b)
	}
	add("broken.json", []byte(`{"id":"broken","block_size":64,"requests":[{"t":0,"type":"n","in":10,"out":1,"hash_ids":[]},{"t":1,"type":"n","out":1,"hash_ids":[]}]}`))
	tw.Close()
	enc, _ := zstd.NewWriter(nil)
	in := filepath.Join(dir, "traces.tar.zst")
	if err := os.WriteFile(in, enc.EncodeAll(tb.Bytes(), nil), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "c.jsonl.zst")
	_, stderr, code := runAW(t, "ingest", "weka", in, "--out", out)
	if code != 1 || !strings.Contains(stderr, `trace "broken" request 1`) || !strings.Contains(stderr, "traces.tar.zst[broken.json]") {
		t.Fatalf("exit %d, want 1 naming trace broken request 1: %s", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("output written after a failure")
	}
	stdout, stderr, code := runAW(t, "ingest", "weka", in, "--out", out, "--skip-invalid", "--max-context", "20000", "-o", "json")
	var rep ingest.Report
	if code != 0 || json.Unmarshal([]byte(stdout), &rep) != nil {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if rep.Traces != len(names)+1 || rep.Skipped != 1 || rep.MaxContext != 20000 || rep.CutTurns == 0 || rep.CutTrajectories == 0 ||
		rep.Trajectories+rep.DroppedTrajectories != len(names) {
		t.Errorf("report %+v", rep)
	}
	if !strings.Contains(stderr, "pass 2/2 done") {
		t.Errorf("no progress lines off a terminal: %q", stderr)
	}
	stdout, _, _ = runAW(t, "workload", "stats", out)
	if !strings.Contains(stdout, "(cut at 20,000)") {
		t.Errorf("stats does not show the cap:\n%s", stdout)
	}
}
