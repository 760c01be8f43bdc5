package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/spec"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func containerConfig() Config {
	return Config{
		JobID:        "0123456789abcdef0123456789abcdef",
		Image:        "vllm/vllm-openai:v0.9.0@" + testDigest,
		Args:         []string{"--model", "/models/llama", "--port", "{port}", "--served-model-name", "m"},
		Env:          map[string]string{"VLLM_USE_V1": "1", "HF_HUB_OFFLINE": "1"},
		HealthPath:   "/health",
		ReadyTimeout: time.Minute,
		Port:         41234,
		CPUs:         "2-15",
		LogPath:      "/var/lib/agentwatt/jobs/x/engine.log",
		GracePeriod:  30 * time.Second,
		ModelCache:   "/var/cache/agentwatt/models",
	}
}

// flagValues returns every value given to flag in args (before the image).
func flagValues(args []string, flag string) []string {
	var out []string
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			out = append(out, args[i+1])
		}
	}
	return out
}

// allowedFlags is every runtime flag the engine container may be given:
// adding one is a decision about the threat model, made here.
var allowedFlags = []string{
	"--rm", "--init", "--name", "--label", "--pull", "--gpus", "--network", "--publish", "--user", "--read-only",
	"--tmpfs", "--cap-drop", "--security-opt", "--pids-limit", "--shm-size", "--cpuset-cpus", "--env", "--mount",
	// A role replica's name on its job's own network (JobNetwork).
	"--network-alias",
}

func TestContainerArgs(t *testing.T) {
	// The runner's own secrets sit in its environment; none may reach the
	// container's command line.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIARUNNER")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "runner-s3-secret")
	t.Setenv("NATS_URL", "nats://runner:4222")
	t.Setenv("AGENTWATT_KEY", "/etc/agentwatt/runner.key")
	cfg := containerConfig()
	args, err := ContainerArgs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	img := slices.Index(args, cfg.Image)
	if img < 0 {
		t.Fatalf("image missing: %q", args)
	}
	flags, tail := args[:img], args[img+1:]
	if want := []string{"--model", "/models/llama", "--port", "41234", "--served-model-name", "m"}; !slices.Equal(tail, want) {
		t.Errorf("engine args = %q, want %q", tail, want)
	}
	if flags[0] != "run" || !slices.Contains(flags, "--rm") {
		t.Errorf("want run --rm: %q", flags)
	}
	single := []struct{ flag, want string }{
		{"--name", "agentwatt-" + cfg.JobID},
		{"--gpus", "all"},
		{"--network", DefaultNetwork},
		{"--publish", "127.0.0.1:41234:41234"},
		{"--user", "65534:65534"},
		{"--cap-drop", "ALL"},
		{"--security-opt", "no-new-privileges"},
		{"--cpuset-cpus", "2-15"},
		{"--mount", "type=bind,src=/var/cache/agentwatt/models,dst=/models,readonly"},
		{"--tmpfs", "/tmp:rw,nosuid,nodev"},
		{"--shm-size", DefaultShmSize},
	}
	for _, s := range single {
		if got := flagValues(flags, s.flag); len(got) != 1 || got[0] != s.want {
			t.Errorf("%s = %q, want exactly [%s]", s.flag, got, s.want)
		}
	}
	if !slices.Contains(flags, "--read-only") {
		t.Error("root file system not read-only")
	}
	if got, want := flagValues(flags, "--env"), []string{"HOME=/tmp", "HF_HUB_OFFLINE=1", "VLLM_USE_V1=1"}; !slices.Equal(got, want) {
		t.Errorf("--env = %q, want exactly %q", got, want)
	}
	for _, f := range flags {
		if strings.HasPrefix(f, "-") && !slices.Contains(allowedFlags, f) {
			t.Errorf("unexpected flag %s in %q", f, flags)
		}
	}
	joined := strings.Join(args, " ")
	for _, banned := range []string{
		"host", "docker.sock", "AKIARUNNER", "runner-s3-secret", "nats://", "NATS", "AWS_", "runner.key", "0.0.0.0",
	} {
		if strings.Contains(joined, banned) {
			t.Errorf("container args hold %q: %s", banned, joined)
		}
	}
	for _, e := range flagValues(flags, "--env") {
		if !strings.Contains(e, "=") {
			t.Errorf("--env %q without a value would copy the runner's own variable", e)
		}
	}
}

// TestContainerSecrets: a secret reaches the container by name alone; its
// value is in the CLI's environment (beside nothing else of the runner's),
// never on the command line that ps, the state record and the bundle show.
func TestContainerSecrets(t *testing.T) {
	t.Setenv("AGENTWATT_S3_SECRET_KEY", "runner-s3-secret")
	cfg := containerConfig()
	cfg.Secrets = map[string]string{"HF_TOKEN": "hf_secretvalue0123456789"}
	args, err := ContainerArgs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := flagValues(args, "--env"), []string{"HOME=/tmp", "HF_HUB_OFFLINE=1", "VLLM_USE_V1=1", "HF_TOKEN"}; !slices.Equal(got, want) {
		t.Errorf("--env = %q, want %q", got, want)
	}
	if strings.Contains(strings.Join(args, " "), "hf_secretvalue") {
		t.Errorf("the secret's value is on the command line: %q", args)
	}
	env := runtimeEnv(os.Environ(), cfg.Secrets)
	if !slices.Contains(env, "HF_TOKEN=hf_secretvalue0123456789") || strings.Contains(strings.Join(env, " "), "runner-s3-secret") {
		t.Errorf("runtime CLI env = %q, want the secret and none of the runner's credentials", env)
	}
	for _, bad := range []string{"DOCKER_HOST", "PATH", markEnv, "1X"} {
		c := containerConfig()
		c.Secrets = map[string]string{bad: "x"}
		if _, err := ContainerArgs(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("secret %s: err = %v, want ErrInvalidConfig", bad, err)
		}
	}
}

func TestContainerArgsVariants(t *testing.T) {
	t.Run("podman uses CDI", func(t *testing.T) {
		cfg := containerConfig()
		cfg.Runtime = "/usr/bin/podman"
		args, err := ContainerArgs(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := flagValues(args, "--device"); !slices.Equal(got, []string{"nvidia.com/gpu=all"}) || slices.Contains(args, "--gpus") {
			t.Errorf("podman GPU flags: %q", args)
		}
	})
	t.Run("no cache, no cpus, spec sets HOME", func(t *testing.T) {
		cfg := containerConfig()
		cfg.ModelCache, cfg.CPUs = "", ""
		cfg.Env = map[string]string{"HOME": "/work"}
		args, err := ContainerArgs(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(args, "--mount") || slices.Contains(args, "--cpuset-cpus") {
			t.Errorf("unexpected mount or cpuset: %q", args)
		}
		if got := flagValues(args, "--env"); !slices.Equal(got, []string{"HOME=/work"}) {
			t.Errorf("--env = %q", got)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"image by tag", func(c *Config) { c.Image = "vllm/vllm-openai:latest" }, "pinned by digest"},
		{"image looks like a flag", func(c *Config) { c.Image = "--privileged@" + testDigest }, "pinned by digest"},
		{"host network", func(c *Config) { c.Network = "host" }, "network"},
		{"container network", func(c *Config) { c.Network = "container:other" }, "network"},
		{"relative cache", func(c *Config) { c.ModelCache = "models" }, "model cache"},
		{"cache injects mount options", func(c *Config) { c.ModelCache = "/m,dst=/etc" }, "model cache"},
		{"cache is root", func(c *Config) { c.ModelCache = "/" }, "model cache"},
		{"env key", func(c *Config) { c.Env = map[string]string{"A=B": "x"} }, "env"},
		{"env key flag", func(c *Config) { c.Env = map[string]string{"-e": "x"} }, "env"},
		{"job id", func(c *Config) { c.JobID = "../x" }, "job id"},
		{"both modes", func(c *Config) { c.Command = []string{"sim"} }, "both"},
		{"no mode", func(c *Config) { c.Image = "" }, "neither"},
		{"port", func(c *Config) { c.Port = 0 }, "port"},
		{"health path", func(c *Config) { c.HealthPath = "health" }, "health path"},
		{"ready timeout", func(c *Config) { c.ReadyTimeout = 0 }, "ready timeout"},
		{"cpus", func(c *Config) { c.CPUs = "3-1" }, "cpus"},
		{"runtime", func(c *Config) { c.Runtime = "sh" }, "runtime"},
		{"shm", func(c *Config) { c.ShmSize = "1; rm" }, "shm"},
		{"log", func(c *Config) { c.LogPath = "" }, "log path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := containerConfig()
			tc.mutate(&cfg)
			_, err := ContainerArgs(cfg)
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidConfig about %q", err, tc.want)
			}
		})
	}
}

func TestRuntimeEnv(t *testing.T) {
	in := []string{"PATH=/bin", "HOME=/root", "DOCKER_HOST=unix:///run/docker.sock", "AWS_SECRET_ACCESS_KEY=s",
		"NATS_URL=nats://x", "AGENTWATT_S3_SECRET=s", "XDG_RUNTIME_DIR=/run/user/0"}
	got := runtimeEnv(in, map[string]string{"HF_TOKEN": "hf_x"})
	want := []string{"PATH=/bin", "HOME=/root", "DOCKER_HOST=unix:///run/docker.sock", "XDG_RUNTIME_DIR=/run/user/0", "HF_TOKEN=hf_x"}
	if !slices.Equal(got, want) {
		t.Errorf("runtimeEnv = %q, want %q", got, want)
	}
	penv := processEnv(append(in, "LANG=C.UTF-8"), "/tmp/e", map[string]string{"B": "2", "A": "1"}, map[string]string{"S": "v"}, "m")
	if want := []string{"A=1", markEnv + "=m", "B=2", "HOME=/tmp/e", "LANG=C.UTF-8", "PATH=/bin", "S=v", "TMPDIR=/tmp/e"}; !slices.Equal(penv, want) {
		t.Errorf("processEnv = %q, want %q", penv, want)
	}
	if penv := processEnv(nil, "/d", nil, nil, "m"); !slices.Contains(penv, "PATH="+defaultPath) {
		t.Errorf("processEnv without a runner PATH = %q, want the default PATH", penv)
	}
}

func TestStopArgs(t *testing.T) {
	cfg := containerConfig()
	cfg.GracePeriod = 1500 * time.Millisecond
	if got, want := StopArgs(cfg), []string{"stop", "--time", "2", "agentwatt-" + cfg.JobID}; !slices.Equal(got, want) {
		t.Errorf("StopArgs = %q, want %q", got, want)
	}
	if got := RemoveArgs(ContainerName("j")); !slices.Equal(got, []string{"rm", "--force", "agentwatt-j"}) {
		t.Errorf("RemoveArgs = %q", got)
	}
	cfg.Replica = "decode-0"
	if got := StopArgs(cfg); got[len(got)-1] != "agentwatt-"+cfg.JobID+"-decode-0" {
		t.Errorf("StopArgs of a replica = %q", got)
	}
}

// fakeRuntime writes a "docker" that logs its arguments and, for run,
// serves the sim (this test binary) on port in the foreground, as the real
// CLI attaches to the container; stop ends it.
func fakeRuntime(t *testing.T, port int) (bin, calls string) {
	t.Helper()
	dir := t.TempDir()
	self, _ := os.Executable()
	bin, calls = filepath.Join(dir, "docker"), filepath.Join(dir, "calls")
	pidfile := filepath.Join(dir, "pid")
	script := fmt.Sprintf(`#!/bin/sh
echo "$*" >> %[1]q
case "$1" in
run) echo $$ > %[2]q; exec env %[3]s=sim %[4]q -port %[5]d ;;
stop) kill -TERM "$(cat %[2]q)" ;;
esac
exit 0
`, calls, pidfile, roleEnv, self, port)
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, calls
}

func TestContainerLifecycleWithFakeRuntime(t *testing.T) {
	cfg := containerConfig()
	port, _ := FreePort()
	cfg.Port, cfg.CPUs, cfg.ModelCache = port, "", ""
	cfg.LogPath = filepath.Join(t.TempDir(), "engine.log")
	cfg.StateDir = filepath.Join(t.TempDir(), "state")
	cfg.GracePeriod = 1 * time.Second
	cfg.ReadyTimeout = 20 * time.Second
	bin, calls := fakeRuntime(t, port)
	cfg.Runtime = bin
	e := startEngine(t, cfg)
	if err := e.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	records, _ := filepath.Glob(filepath.Join(cfg.StateDir, "engine-*.json"))
	if len(records) != 1 {
		t.Fatalf("records = %v", records)
	}
	if err := e.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if e.Err() != nil {
		t.Errorf("Err after Stop = %v", e.Err())
	}
	b, _ := os.ReadFile(calls)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || lines[0] != "network inspect "+DefaultNetwork ||
		!strings.HasPrefix(lines[1], "run --rm ") || lines[2] != "stop --time 1 agentwatt-"+cfg.JobID {
		t.Errorf("runtime calls:\n%s", b)
	}
	if m, _ := groupMembers(e.PID()); len(m) != 0 {
		t.Errorf("CLI group left: %v", m)
	}
}

// TestReapContainer: a container recorded by a dead runner is removed
// through the runtime.
func TestReapContainer(t *testing.T) {
	bin, calls := fakeRuntime(t, 1)
	state := t.TempDir()
	r := record{Version: recordVersion, Mode: "container", Job: "jobx", PID: 1 << 22, PGID: 1 << 22, StartTime: 1,
		Runtime: bin, Container: ContainerName("jobx"), RunnerPID: 1 << 22, RunnerStart: 1, Mark: "m"}
	if err := os.WriteFile(filepath.Join(state, "engine-1.json"), mustJSON(t, r), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := ReapOrphans(t.Context(), state, zerolog.Nop())
	if err != nil || n != 1 {
		t.Fatalf("ReapOrphans = %d, %v; want 1", n, err)
	}
	b, _ := os.ReadFile(calls)
	if strings.TrimSpace(string(b)) != "rm --force agentwatt-jobx" {
		t.Errorf("runtime calls = %q", b)
	}
}

// TestReapReplicaContainers: each role replica's container is removed by
// the name recorded; a record whose name is not an engine container's (a
// flag, another container) reaches no runtime command line.
func TestReapReplicaContainers(t *testing.T) {
	bin, calls := fakeRuntime(t, 1)
	state := t.TempDir()
	for i, name := range []string{ReplicaContainerName("jobx", "prefill-1"), "--all", "postgres"} {
		r := record{Version: recordVersion, Mode: "container", Job: "jobx", PID: 1<<22 + i, PGID: 1<<22 + i, StartTime: 1,
			Runtime: bin, Container: name, Network: JobNetwork("jobx"), RunnerPID: 1 << 22, RunnerStart: 1, Mark: "m"}
		if err := os.WriteFile(filepath.Join(state, fmt.Sprintf("engine-%d.json", i)), mustJSON(t, r), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n, err := ReapOrphans(t.Context(), state, zerolog.Nop())
	if n != 1 || err == nil || !strings.Contains(err.Error(), `"--all" is not an engine container's`) {
		t.Fatalf("ReapOrphans = %d, %v; want 1 and the two bad names refused", n, err)
	}
	b, _ := os.ReadFile(calls)
	if strings.TrimSpace(string(b)) != "rm --force agentwatt-jobx-prefill-1\nnetwork rm agentwatt-job-jobx" {
		t.Errorf("runtime calls = %q", b)
	}
}

func TestFromSpec(t *testing.T) {
	se := spec.Engine{
		Image: "img@" + testDigest, Args: []string{"--port", "{port}"}, Env: map[string]string{"A": "1"},
		HealthPath: "/ready", ReadyTimeout: spec.D(90 * time.Second),
	}
	cfg := FromSpec(se)
	cfg.JobID, cfg.Port, cfg.LogPath = "j", 8000, "/tmp/x.log"
	args, err := ContainerArgs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := args[len(args)-3:]; !slices.Equal(got, []string{"img@" + testDigest, "--port", "8000"}) {
		t.Errorf("tail = %q", got)
	}
	if cfg.ReadyTimeout != 90*time.Second || cfg.HealthPath != "/ready" {
		t.Errorf("config = %+v", cfg)
	}
	se.Env["A"] = "changed"
	if cfg.Env["A"] != "1" {
		t.Error("FromSpec shares the spec's env map")
	}
}
