package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/agentrunner/replay"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/sim"
	"github.com/agentwatt/agentwatt/workload"
)

// benchSim starts the tiny simulated engine in this process.
func benchSim(t *testing.T) string {
	t.Helper()
	p, err := sim.DefaultProfile("tiny")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sim.NewServer(sim.Config{Profile: p, Seed: 1}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	url, err := srv.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// benchWorkload writes a workload small enough for the tiny profile: four
// trajectories of growing block histories, four-token answers, 50 ms of
// think time.
func benchWorkload(t *testing.T) string {
	t.Helper()
	h := workload.Header{Name: "bench-test", CreatedBy: "bench_test", Seed: 1,
		Sources: []workload.Source{{ID: "gen:0000000000000001", Format: "generated", File: "gen", Licence: "MIT", BlockSize: 16}}}
	path := filepath.Join(t.TempDir(), "bench.jsonl.zst")
	_, err := workload.WriteFile(path, h, func(write func(*workload.Trajectory) error) error {
		for i := range 4 {
			ids := make([]int64, 8)
			for b := range ids {
				ids[b] = int64(b)
				if b >= 2 {
					ids[b] = int64(100*(i+1) + b)
				}
			}
			tr := &workload.Trajectory{ID: fmt.Sprintf("t%d", i), SharedPrefixTokens: 32}
			for k := range 4 {
				m := 4 + k
				turn := workload.Turn{T: float64(k), Input: []workload.Segment{{Blocks: ids[:m:m], Tokens: 16 * m}}, OutputTokens: 4}
				if k > 0 {
					turn.ThinkS = 0.05
				}
				tr.Turns = append(tr.Turns, turn)
			}
			if err := write(tr); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// benchChild starts `agentwatt bench ARGS` in a child process.
func benchChild(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer, io.Reader) {
	t.Helper()
	raw, _ := json.Marshal(append([]string{"bench"}, args...))
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(raw))
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, &stdout, stderr
}

// exitStatus waits up to timeout for a started child to exit and returns
// its exit code.
func exitStatus(t *testing.T, cmd *exec.Cmd, timeout time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(timeout):
		t.Fatalf("the agentwatt child process did not exit within %v", timeout)
		return -1
	}
}

// readJSON decodes a file into a generic value.
func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// hasKeys checks that m has every key; nested keys are "a.b".
func hasKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		v := any(m)
		for _, part := range strings.Split(k, ".") {
			obj, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			v, ok = obj[part]
			if !ok {
				v = nil
				break
			}
		}
		if v == nil && !strings.HasSuffix(k, "cached_token_share") {
			t.Errorf("%s: no %q", what, k)
		}
	}
}

func countRecords(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rr, err := metrics.NewRecordReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	n := 0
	var r metrics.Request
	for {
		err := rr.Next(&r)
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
}

// TestBenchWritesFiles: a fixed run writes the three files, prints the
// summary with -o json, and the summary has the documented shape.
func TestBenchWritesFiles(t *testing.T) {
	url := benchSim(t)
	dir := filepath.Join(t.TempDir(), "run")
	cmd, stdout, stderr := benchChild(t, "--endpoint", url, "--workload", benchWorkload(t), "--tiers", "t20,t50",
		"--agents", "3", "--profile", "test", "--out", dir, "-o", "json", "--log-level", "error")
	errText, _ := io.ReadAll(stderr)
	code := exitStatus(t, cmd, 2*time.Minute)
	if code != 0 && code != 1 {
		t.Fatalf("exit status %d: %s", code, errText)
	}
	var printed map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &printed); err != nil {
		t.Fatalf("stdout is not the summary: %v\n%s", err, stdout.String())
	}
	sum := readJSON(t, filepath.Join(dir, "summary.json"))
	if fmt.Sprint(printed) != fmt.Sprint(sum) {
		t.Error("-o json printed something other than summary.json")
	}
	// 0 when both tiers held N=3, 1 when one failed it (the tiny sim may
	// hold t20 and not t50).
	failed := sum["tiers"].(map[string]any)["t20"].(map[string]any)["max_agents"] == float64(0) ||
		sum["tiers"].(map[string]any)["t50"].(map[string]any)["max_agents"] == float64(0)
	if failed != (code == 1) {
		t.Errorf("exit status %d with tiers %v: want 1 exactly when a tier failed", code, sum["tiers"])
	}
	hasKeys(t, "summary", sum, "tiers.t20.max_agents", "tiers.t20.confirmed", "tiers.t50.max_agents", "mode", "model", "workload.digest", "history")
	if sum["format"] != "agentwatt-bench-summary" || sum["version"] != float64(2) {
		t.Errorf("summary format %v version %v, want agentwatt-bench-summary 2", sum["format"], sum["version"])
	}
	probes, _ := sum["probes"].([]any)
	if len(probes) == 0 {
		t.Fatal("summary has no probes")
	}
	for i, p := range probes {
		hasKeys(t, fmt.Sprintf("summary probe %d", i), p.(map[string]any), "index", "role", "agents", "window_start_ns", "window_end_ns", "window_s", "requests", "errors",
			"ttft_p50_s", "ttft_p90_s", "decode_tps_p10", "decode_tps_p50", "cached_token_share",
			"client.sched_lag_p99_ms", "client.cpu_share", "tiers.t20.met_share", "tiers.t20.met_share_lower99",
			"tiers.t20.passed", "valid", "invalid_reasons")
		if n := p.(map[string]any)["agents"].(float64); n != 3 {
			t.Errorf("probe %d at %v agents, want 3", i, n)
		}
	}
	pf := readJSON(t, filepath.Join(dir, "probes.json"))
	hasKeys(t, "probes.json", pf, "clock.run_start", "clock.run_start_monotonic_ns", "history")
	if sum["history"] != "recorded" || pf["history"] != "recorded" {
		t.Errorf("history: summary %v, probes.json %v; want recorded in both", sum["history"], pf["history"])
	}
	for i, p := range pf["probes"].([]any) {
		hasKeys(t, fmt.Sprintf("probes.json probe %d", i), p.(map[string]any), "agents", "window_start", "window_end",
			"window_start_ns", "window_end_ns", "window_start_monotonic_ns", "window_end_monotonic_ns",
			"client.sched_lag_p99_ns", "client.cpu_share", "client.cpu_set", "result.tiers")
	}
	if n := countRecords(t, filepath.Join(dir, "requests.jsonl.zst")); n < 50 {
		t.Errorf("%d request records, want at least a window's 50", n)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	// The report is written for every run, and bench report regenerates it.
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.html", "requests.csv"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	for _, want := range []string{"| t20 |", "| t50 |", "TTFT ms | ITL ms | E2E s | Decode tok/s"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	again := filepath.Join(t.TempDir(), "again")
	cmd, stdout, stderr = benchChild(t, "report", dir, "--out", again)
	errText, _ = io.ReadAll(stderr)
	if code := exitStatus(t, cmd, time.Minute); code != 0 {
		t.Fatalf("bench report: exit %d: %s", code, errText)
	}
	md2, err := os.ReadFile(filepath.Join(again, "report.md"))
	if err != nil || string(md2) != string(md) || stdout.String() != string(md) {
		t.Errorf("bench report wrote another report (%v) or printed another:\n%s", err, stdout.String())
	}
}

// TestBenchInterruptWritesWhatWasMeasured: Ctrl-C during a search stops the
// run at once; the files hold the probes measured so far and the summary
// says it was interrupted.
func TestBenchInterruptWritesWhatWasMeasured(t *testing.T) {
	url := benchSim(t)
	dir := filepath.Join(t.TempDir(), "run")
	cmd, _, stderr := benchChild(t, "--endpoint", url, "--workload", benchWorkload(t), "--tiers", "t20",
		"--search", "--profile", "test", "--out", dir)
	sc := bufio.NewScanner(stderr)
	evaluated := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), "probe evaluated") {
			evaluated = true
			break
		}
	}
	if !evaluated {
		t.Fatal("no probe was evaluated")
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := exitStatus(t, cmd, 30*time.Second); code != 130 {
		t.Errorf("exit status %d after Ctrl-C, want 130", code)
	}
	sum := readJSON(t, filepath.Join(dir, "summary.json"))
	if sum["interrupted"] != true {
		t.Errorf("summary interrupted = %v", sum["interrupted"])
	}
	if probes, _ := sum["probes"].([]any); len(probes) < 1 {
		t.Error("the measured probe is missing")
	}
	if n := countRecords(t, filepath.Join(dir, "requests.jsonl.zst")); n == 0 {
		t.Error("no request records")
	}
}

func TestBenchRejectsBadFlags(t *testing.T) {
	existing := t.TempDir()
	if err := os.WriteFile(filepath.Join(existing, "summary.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"agents and search", []string{"--agents", "2", "--search"}, "exclude each other"},
		{"no out", []string{"--agents", "2"}, "--out DIR is required"},
		{"bad template", []string{"--out", t.TempDir(), "--chat-template", "3,x,1"}, `"x" is not a token count`},
		{"unknown profile", []string{"--out", t.TempDir(), "--profile", "fast"}, `unknown profile "fast"`},
		{"existing run", []string{"--out", existing}, "already holds a run"},
		{"live history of blocks", []string{"--out", t.TempDir(), "--history", "live"}, `history "live" needs literal-text sources (`},
		{"unknown tier", []string{"--out", t.TempDir(), "--tiers", "t7"}, `tier "t7" is not in rules`},
		{"negative max agents", []string{"--out", t.TempDir(), "--max-agents", "-1"}, "max agents -1 must not be negative"},
		{"negative memory budget", []string{"--out", t.TempDir(), "--memory-budget-mib", "-5"}, "--memory-budget-mib -5: must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd, _, stderr := benchChild(t, append([]string{"--endpoint", "http://127.0.0.1:1"}, tc.args...)...)
			msg, _ := io.ReadAll(stderr)
			if code := exitStatus(t, cmd, 30*time.Second); code != 1 || !strings.Contains(string(msg), tc.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, msg, tc.want)
			}
		})
	}
}

// TestBenchRefusesWorkloadLongerThanContext: the built-in workload needs
// more context than the tiny sim's max_model_len; bench says so before
// sending any load and writes nothing.
func TestBenchRefusesWorkloadLongerThanContext(t *testing.T) {
	url := benchSim(t)
	dir := filepath.Join(t.TempDir(), "run")
	cmd, _, stderr := benchChild(t, "--endpoint", url, "--agents", "1", "--profile", "test", "--out", dir)
	msg, _ := io.ReadAll(stderr)
	if code := exitStatus(t, cmd, 30*time.Second); code != 1 {
		t.Fatalf("exit status %d, want 1: %s", code, msg)
	}
	w, err := workload.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	need := replay.LongestRequest(w, workload.ChatTemplate{
		PerRequest: sim.TemplateTokensPerRequest, PerMessage: sim.TemplateTokensPerMessage, PerToolCall: sim.TemplateTokensPerToolCall,
	})
	if need.Tokens() <= 8192 {
		t.Fatalf("the built-in workload's longest request (%d tokens) fits the tiny profile: the test needs a larger one", need.Tokens())
	}
	for _, want := range []string{
		"workload " + workload.DefaultName + " needs up to ",
		need.Where(),
		"the server's max_model_len for sim-tiny is 8,192",
		"agentwatt workload synth",
	} {
		if !strings.Contains(string(msg), want) {
			t.Errorf("stderr %q does not say %q", msg, want)
		}
	}
	var stats sim.Stats
	resp, err := http.Get(url + "/sim/v1/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	if stats.Requests != 0 {
		t.Errorf("the sim received %d chat requests before the refusal", stats.Requests)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s was created (%v)", dir, err)
	}
}
