package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startSimChild runs `agentwatt sim serve ARGS` as a child process and
// returns it with the URL from its first stdout line.
func startSimChild(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	return startChild(t, append([]string{"sim", "serve", "--addr", "127.0.0.1:0"}, args...)...)
}

// startChild runs `agentwatt ARGS` as a child process and returns it with
// the URL from its first stdout line, "listening on URL".
func startChild(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	raw, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(raw))
	stdout, err := cmd.StdoutPipe()
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
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("read first line: %v", err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line %q, want \"listening on http://127.0.0.1:PORT\"", line)
	}
	return cmd, url
}

func TestSimServePrintsAddressAndStopsOnSIGTERM(t *testing.T) {
	cmd, url := startSimChild(t, "--profile", "tiny")
	resp, err := http.Get(url + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/health: HTTP %d", resp.StatusCode)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := exitStatus(t, cmd, 20*time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
}

func TestSimServeCrashExitsNonZero(t *testing.T) {
	cmd, url := startSimChild(t, "--fault-crash-after", "1")
	body := `{"messages":[{"role":"user","content":"hi"}],"max_tokens":2}`
	for i := range 2 {
		resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if i == 0 {
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			continue
		}
		if err == nil {
			resp.Body.Close()
			t.Errorf("request after the crash answered HTTP %d", resp.StatusCode)
		}
	}
	if code := exitStatus(t, cmd, 20*time.Second); code != 3 {
		t.Errorf("exit status %d after the crash fault, want 3", code)
	}
}

func TestSimServeRejectsUnknownProfile(t *testing.T) {
	raw, _ := json.Marshal([]string{"sim", "serve", "--profile", "nope"})
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(raw))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), `unknown sim profile "nope"`) {
		t.Errorf("exit %v, output %q; want status 1 naming the profile", err, out)
	}
}

// A rack: the frontend and a member node as child processes; the node serves
// its member's GPUs and overhead, and stops on SIGTERM.
func TestSimNodeServesItsMember(t *testing.T) {
	_, front := startSimChild(t, "--profile", "tiny-rack", "--seed", "5")
	node, url := startChild(t, "sim", "node", "--profile", "tiny-rack", "--member", "1", "--frontend", front,
		"--seed", "5", "--listen", "127.0.0.1:0", "--poll", "20ms")
	var r struct {
		Simulated bool `json:"simulated"`
		GPUs      []struct {
			EnergyMJ uint64 `json:"energy_mj"`
		} `json:"gpus"`
		Node *struct {
			Member     int    `json:"member"`
			Role       string `json:"role"`
			FrontendOK bool   `json:"frontend_ok"`
		} `json:"node"`
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(url + "/sim/v1/power")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if r.Node != nil && r.Node.FrontendOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node never read its frontend: %+v", r.Node)
		}
	}
	if !r.Simulated || len(r.GPUs) != 2 || r.Node.Member != 1 || r.Node.Role != "decode" || r.GPUs[0].EnergyMJ == 0 {
		t.Errorf("node reading %+v, node %+v", r, r.Node)
	}
	if err := node.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := exitStatus(t, node, 20*time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
}

func TestSimNodeRefusesAPublicFrontend(t *testing.T) {
	raw, _ := json.Marshal([]string{"sim", "node", "--profile", "tiny-rack", "--member", "0", "--frontend", "http://8.8.8.8:8000"})
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(raw))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "not a loopback or private address") {
		t.Errorf("exit %v, output %q; want status 1 refusing the address", err, out)
	}
}

// `agentwatt sim profiles` lists the racks with their layout.
func TestSimProfilesShowsTheRack(t *testing.T) {
	out, err := runApp(t, "text", func(a *app) func() error { return execCmd(a, newSimProfilesCmd) })
	if err != nil {
		t.Fatal(err)
	}
	var rack, host bool
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 6 && f[0] == "gb300-nvl72-like":
			rack = f[2] == "72" && f[6] == "4x18:1P+3D"
		case len(f) > 6 && f[0] == "tiny":
			host = f[6] == "-"
		}
	}
	if !rack || !host || !strings.Contains(out, "RACK") {
		t.Errorf("sim profiles:\n%s\nwant gb300-nvl72-like with 72 GPUs and rack 4x18:1P+3D, tiny with -", out)
	}
}
