package engine

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// simConfig is a process-mode config that runs this test binary in role.
func simConfig(t *testing.T, role string, args ...string) Config {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return Config{
		JobID:        "test-job",
		Command:      []string{self},
		Args:         append([]string{"-port", PortPlaceholder}, args...),
		Env:          map[string]string{roleEnv: role},
		HealthPath:   "/health",
		ReadyTimeout: 20 * time.Second,
		Port:         port,
		LogPath:      filepath.Join(dir, "engine.log"),
		GracePeriod:  2 * time.Second,
		StateDir:     filepath.Join(dir, "state"),
	}
}

func startEngine(t *testing.T, cfg Config) *Engine {
	t.Helper()
	e, err := Start(t.Context(), cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(t.Context()); err != nil {
			t.Errorf("cleanup stop: %v", err)
		}
	})
	return e
}

func procStatus(t *testing.T, pid int, field string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + field + `:\s*(.*)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("/proc/%d/status: no %s", pid, field)
	}
	return string(m[1])
}

func TestProcessLifecycle(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "runner-secret")
	t.Setenv("NATS_URL", "nats://secret:4222")
	cfg := simConfig(t, "sim")
	cfg.CPUs = firstAllowedCPU(t)
	before := procStatus(t, os.Getpid(), "Cpus_allowed_list")
	e := startEngine(t, cfg)
	if err := e.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(e.URL() + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/models: %s", resp.Status)
	}

	pid := e.PID()
	st, err := readStat(pid)
	if err != nil || st.PGID != pid {
		t.Fatalf("engine pgid = %d, %v; want its own group %d", st.PGID, err, pid)
	}
	if got := procStatus(t, pid, "Cpus_allowed_list"); got != cfg.CPUs {
		t.Errorf("engine cpus = %s, want %s", got, cfg.CPUs)
	}
	tasks, _ := filepath.Glob("/proc/self/task/*/status")
	for _, task := range tasks {
		b, _ := os.ReadFile(task)
		if !strings.Contains(string(b), "Cpus_allowed_list:\t"+before+"\n") {
			t.Errorf("%s: runner thread affinity not restored to %s", task, before)
		}
	}
	env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	for _, leak := range []string{"runner-secret", "NATS_URL", "AWS_"} {
		if strings.Contains(string(env), leak) {
			t.Errorf("engine environment holds %q", leak)
		}
	}
	if !strings.Contains(string(env), roleEnv+"=sim") || !strings.Contains(string(env), "PATH=") {
		t.Errorf("engine environment lacks the spec's env or PATH: %q", env)
	}
	argv, _ := readCmdline(pid)
	if !slices.Equal(argv, e.Argv()) || argv[2] != strconv.Itoa(cfg.Port) {
		t.Errorf("cmdline = %q, want %q with the port filled in", argv, e.Argv())
	}
	records, _ := filepath.Glob(filepath.Join(cfg.StateDir, "engine-*.json"))
	if len(records) != 1 {
		t.Fatalf("state records = %v, want one", records)
	}
	if info, _ := os.Stat(cfg.LogPath); info.Mode().Perm() != 0o600 {
		t.Errorf("log mode = %04o, want 0600", info.Mode().Perm())
	}

	if err := e.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if err := e.Err(); err != nil {
		t.Errorf("Err after Stop = %v, want nil", err)
	}
	if alive(pid, st.StartTime) {
		t.Error("engine process alive after Stop")
	}
	if records, _ := filepath.Glob(filepath.Join(cfg.StateDir, "engine-*.json")); len(records) != 0 {
		t.Errorf("state records after Stop = %v", records)
	}
	if tail := e.LogTail(1 << 10); !strings.Contains(tail, "listening on") {
		t.Errorf("log tail = %q, want the engine's output", tail)
	}
}

func TestNeverHealthy(t *testing.T) {
	cfg := simConfig(t, "sim", "-slow-start", "1h")
	cfg.ReadyTimeout = 1500 * time.Millisecond
	e := startEngine(t, cfg)
	err := e.WaitReady(t.Context())
	var re *ReadyError
	if !errors.As(err, &re) || !errors.Is(err, ErrNotReady) {
		t.Fatalf("WaitReady = %v, want a ReadyError with ErrNotReady", err)
	}
	if !strings.Contains(re.Last, "503") {
		t.Errorf("last answer = %q, want the 503 of the slow start", re.Last)
	}
	if !strings.Contains(err.Error(), "listening on") || !strings.Contains(err.Error(), "/health") {
		t.Errorf("error does not show the health URL and the log tail:\n%v", err)
	}
	if e.Err() != nil {
		t.Errorf("Err = %v while the engine still runs", e.Err())
	}
}

func TestExitBeforeReady(t *testing.T) {
	e := startEngine(t, simConfig(t, "exit"))
	err := e.WaitReady(t.Context())
	var xe *ExitError
	if !errors.Is(err, ErrExited) || !errors.As(err, &xe) || xe.Code != 7 {
		t.Fatalf("WaitReady = %v, want ErrExited with status 7", err)
	}
	if !strings.Contains(err.Error(), "cannot load the model") {
		t.Errorf("error lacks the engine's last words:\n%v", err)
	}
}

func TestCrashMidRun(t *testing.T) {
	e := startEngine(t, simConfig(t, "sim", "-crash-after", "1"))
	if err := e.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	body := `{"model":"x","messages":[{"role":"user","content":"hi"}],"max_tokens":1}`
	for range 2 {
		resp, err := http.Post(e.URL()+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err == nil {
			resp.Body.Close()
		}
	}
	select {
	case <-e.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("crash not detected")
	}
	var xe *ExitError
	if err := e.Err(); !errors.As(err, &xe) || xe.Code != 3 {
		t.Fatalf("Err = %v, want the sim's crash status 3", err)
	}
	if err := e.Stop(t.Context()); err != nil {
		t.Fatalf("Stop after a crash: %v", err)
	}
}

// waitChild returns the pid the spawner printed to its log.
func waitChild(t *testing.T, logPath string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		f, err := os.Open(logPath)
		if err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if s, ok := strings.CutPrefix(sc.Text(), "child "); ok {
					f.Close()
					pid, _ := strconv.Atoi(s)
					return pid
				}
			}
			f.Close()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("spawner printed no child pid")
	return 0
}

func TestStopKillsTheGroup(t *testing.T) {
	cfg := simConfig(t, "spawner", "-child", "stubborn")
	cfg.GracePeriod = 500 * time.Millisecond
	e := startEngine(t, cfg)
	if err := e.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	child := waitChild(t, cfg.LogPath)
	cst, err := readStat(child)
	if err != nil || cst.PGID != e.PID() {
		t.Fatalf("grandchild %d: pgid %d, %v; want the engine's group %d", child, cst.PGID, err, e.PID())
	}
	start := time.Now()
	if err := e.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < cfg.GracePeriod {
		t.Errorf("Stop took %v: the SIGTERM-ignoring child was killed before the grace period", took)
	}
	if alive(child, cst.StartTime) {
		t.Error("grandchild survived Stop")
	}
	if m, _ := groupMembers(e.PID()); len(m) != 0 {
		t.Errorf("group members after Stop: %v", m)
	}
}

// TestReapAfterRunnerKilled: a runner (a child process) starts an engine
// that starts a child, and is SIGKILLed. The parent-death signal takes the
// engine; ReapOrphans, as the next runner would, takes the rest.
func TestReapAfterRunnerKilled(t *testing.T) {
	dir := t.TempDir()
	state, logPath := filepath.Join(dir, "state"), filepath.Join(dir, "engine.log")
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	runner := exec.Command(self)
	runner.Env = append(os.Environ(), roleEnv+"=runner", "TEST_ENGINE_PORT="+strconv.Itoa(port),
		"TEST_ENGINE_LOG="+logPath, "TEST_ENGINE_STATE="+state)
	out, err := runner.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runner.Process.Kill(); runner.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("runner: %v", err)
	}
	var pgid int
	if _, err := fmt.Sscanf(line, "pgid %d", &pgid); err != nil {
		t.Fatalf("runner said %q", line)
	}
	child := waitChild(t, logPath)
	cst, _ := readStat(child)
	lst, _ := readStat(pgid)

	if err := runner.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	runner.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pgid, lst.StartTime) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(pgid, lst.StartTime) {
		t.Fatal("engine survived its runner: no parent-death signal")
	}
	if !alive(child, cst.StartTime) {
		t.Fatal("the engine's child died with the engine: nothing left to reap, the test proves nothing")
	}

	n, err := ReapOrphans(t.Context(), state, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("reaped %d groups, want 1", n)
	}
	if alive(child, cst.StartTime) {
		t.Error("orphan survived ReapOrphans")
	}
	if m, _ := groupMembers(pgid); len(m) != 0 {
		t.Errorf("group %d still has %v", pgid, m)
	}
	if records, _ := filepath.Glob(filepath.Join(state, "*")); len(records) != 0 {
		t.Errorf("records left: %v", records)
	}
}

// TestReapSparesOthers: records that do not match what runs now kill
// nothing.
func TestReapSparesOthers(t *testing.T) {
	self, _ := os.Executable()
	// An unrelated process group, leader alive.
	other := exec.Command(self)
	other.Env = append(os.Environ(), roleEnv+"=sleeper")
	other.SysProcAttr = &syscallSetpgid
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Process.Kill(); other.Wait() })
	ost, _ := readStat(other.Process.Pid)
	// A live engine of this process: its runner (us) is alive.
	e := startEngine(t, simConfig(t, "sim"))

	state := t.TempDir()
	dead := record{Version: recordVersion, Mode: "process", Job: "j", RunnerPID: 1 << 22, RunnerStart: 1}
	wrongCmd := dead
	wrongCmd.PID, wrongCmd.PGID, wrongCmd.StartTime = other.Process.Pid, other.Process.Pid, ost.StartTime
	wrongCmd.Argv, wrongCmd.Mark = []string{"/usr/bin/something-else"}, "nope"
	wrongStart := wrongCmd
	wrongStart.Argv, wrongStart.StartTime = other.Args, ost.StartTime+1
	ours := dead
	ours.PID, ours.PGID = e.PID(), e.PID()
	est, _ := readStat(e.PID())
	ours.StartTime, ours.Argv = est.StartTime, e.Argv()
	selfStat, _ := readStat(os.Getpid())
	ours.RunnerPID, ours.RunnerStart = os.Getpid(), selfStat.StartTime
	files := map[string][]byte{
		"engine-wrong-cmd.json":   mustJSON(t, wrongCmd),
		"engine-wrong-start.json": mustJSON(t, wrongStart),
		"engine-live.json":        mustJSON(t, ours),
		"engine-junk.json":        []byte("{"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(state, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	n, err := ReapOrphans(t.Context(), state, zerolog.Nop())
	if err != nil || n != 0 {
		t.Fatalf("ReapOrphans = %d, %v; want 0, nil", n, err)
	}
	if !alive(other.Process.Pid, ost.StartTime) {
		t.Error("killed an unrelated process group")
	}
	if !alive(e.PID(), est.StartTime) {
		t.Error("killed the engine of a live runner")
	}
	left, _ := filepath.Glob(filepath.Join(state, "*"))
	if len(left) != 1 || filepath.Base(left[0]) != "engine-live.json" {
		t.Errorf("records left = %v, want only the live runner's", left)
	}
}
