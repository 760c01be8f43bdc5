package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/agentrunner/hardware"
	"github.com/agentwatt/agentwatt/agentrunner/power"
	"github.com/agentwatt/agentwatt/sim"
)

// runGPUChild runs agentwatt with args in a child process and returns its
// stdout, stderr and exit status.
func runGPUChild(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	raw, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(raw))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	}
	t.Fatal(err)
	return "", "", 0
}

func TestGPUCommandsWithoutDriver(t *testing.T) {
	if n, err := hardware.Open(); err == nil {
		_ = n.Close()
		t.Skip("this machine has an NVIDIA driver")
	}
	for _, args := range [][]string{{"gpu", "info"}, {"gpu", "info", "-o", "json"}, {"gpu", "sample", "--seconds", "1"}} {
		stdout, stderr, code := runGPUChild(t, args...)
		if code != 1 || !strings.Contains(stderr, hardware.ErrNoNVML.Error()) || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 1 and the NVML message", args, code, stdout, stderr)
		}
	}
}

func TestGPUSampleSim(t *testing.T) {
	p, err := sim.DefaultProfile("h200x8-like")
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
	out := filepath.Join(t.TempDir(), power.FileName)
	stdout, stderr, code := runGPUChild(t, "gpu", "sample", "--seconds", "1", "--hz", "20", "--sim", url, "--out", out, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var m power.Measurement
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatalf("decode %q: %v", stdout, err)
	}
	if m.Source != "sim" || len(m.GPUs) != 8 || m.GPUs[0].Samples == 0 || m.GPUs[0].PowerSource != power.SourceSim {
		t.Errorf("measurement = %+v", m)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	samples, err := power.ReadSamples(out, f)
	if err != nil {
		t.Fatal(err)
	}
	if want := 8 * m.GPUs[0].Samples; len(samples) != want {
		t.Errorf("file holds %d samples, want %d", len(samples), want)
	}

	text, stderr, code := runGPUChild(t, "gpu", "sample", "--seconds", "0.3", "--sim", url)
	if code != 0 || !strings.Contains(text, "source sim (simulated)") || !strings.Contains(text, "COUNTER J") {
		t.Errorf("text output: exit %d, %q, %q", code, text, stderr)
	}
	if _, stderr, code := runGPUChild(t, "gpu", "sample", "--hz", "0", "--sim", url); code != 1 || !strings.Contains(stderr, "--hz 0") {
		t.Errorf("--hz 0: exit %d, %q", code, stderr)
	}
}
