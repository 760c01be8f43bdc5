package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// freeLoopbackAddr returns a loopback address that was free a moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runChild runs agentwatt with args in a child process and returns its stdout,
// stderr and exit code.
func runChild(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	raw, _ := json.Marshal(args)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(raw))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run()
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

func TestServerAndSubmit(t *testing.T) {
	f := newQueueFixture(t)
	addr := freeLoopbackAddr(t)
	raw, _ := json.Marshal([]string{"server", "--nats", f.url, "--listen", addr, "--log-level", "warn"})
	server := exec.Command(os.Args[0])
	server.Env = append(os.Environ(), childArgsEnv+"="+string(raw))
	var serverOut bytes.Buffer
	server.Stdout, server.Stderr = &serverOut, &serverOut
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Process.Kill(); _ = server.Wait() })
	url := "http://" + addr
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(url + "/v1/jobs")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not answering after 1 min: %v\n%s", err, serverOut.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	tokenOut, _ := f.run(t, "vendor", "add", "demo")
	token := lastField(tokenOut)
	example := "../../examples/submissions/sim.yaml"

	out, errOut, code := runChild(t, "submit", example, "--server", url, "--token", token, "-o", "json")
	if code != 0 {
		t.Fatalf("submit exit %d: %s", code, errOut)
	}
	var resp struct {
		ID      string `json:"id"`
		Created bool   `json:"created"`
		Pool    string `json:"pool"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil || !resp.Created || resp.Pool != "sim" {
		t.Fatalf("submit output %q (%v)", out, err)
	}
	out, _, code = runChild(t, "submit", example, "--server", url, "--token", token)
	if code != 0 || !strings.Contains(out, resp.ID) || !strings.Contains(out, "already submitted") {
		t.Errorf("resubmit: exit %d, output %q; want the same job, already submitted", code, out)
	}
	// A broken file: the server's LINE:COL problems reach the user.
	broken := t.TempDir() + "/broken.yaml"
	b, _ := os.ReadFile(example)
	_ = os.WriteFile(broken, bytes.Replace(b, []byte("accelerators: 8"), []byte("acelerators: 8"), 1), 0o600)
	_, errOut, code = runChild(t, "submit", broken, "--server", url, "--token", token)
	if code != 1 || !strings.Contains(errOut, "acelerators") || !strings.Contains(errOut, "400") {
		t.Errorf("submit broken: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runChild(t, "submit", example, "--server", url, "--token", "wrong")
	if code != 1 || !strings.Contains(errOut, "401") {
		t.Errorf("submit with a wrong token: exit %d, stderr %q", code, errOut)
	}
	// The job is in the queue, queued for the sim pool.
	out, _ = f.run(t, "status", resp.ID)
	if !strings.Contains(out, "queued") {
		t.Errorf("status %s: %q", resp.ID, out)
	}

	// The job API: the vendor's token or a maintainer's, nothing without one.
	maintOut, code := f.run(t, "maintainer", "add", "alice")
	maint := strings.TrimSpace(maintOut)
	if code != 0 || !strings.HasPrefix(maint, "awm_") {
		t.Fatalf("maintainer add: exit %d, %q", code, maintOut)
	}
	if out, code := f.run(t, "maintainer", "list", "-o", "json"); code != 0 || !strings.Contains(out, `"alice"`) {
		t.Errorf("maintainer list: exit %d, %q", code, out)
	}
	otherOut, _ := f.run(t, "vendor", "add", "globex")
	for _, tt := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"the vendor", token, http.StatusOK},
		{"another vendor", lastField(otherOut), http.StatusNotFound},
		{"a maintainer", maint, http.StatusOK},
	} {
		req, _ := http.NewRequest(http.MethodGet, url+"/v1/jobs/"+resp.ID, nil)
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tt.want {
			t.Errorf("GET /v1/jobs/%s as %s: %d, want %d", resp.ID, tt.name, res.StatusCode, tt.want)
		}
	}
}

// lastField is the last whitespace-separated field of s.
func lastField(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}
