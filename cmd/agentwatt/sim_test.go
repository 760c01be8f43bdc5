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
	raw, err := json.Marshal(append([]string{"sim", "serve", "--addr", "127.0.0.1:0"}, args...))
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
