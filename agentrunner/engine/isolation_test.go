package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The attack: a process-mode engine (the sim, or an engine that a hostile
// submission managed to control) tries to take the runner's signing key and
// credentials. It must not see the runner's environment, start in the
// runner's work dir, inherit its descriptors, or, when the runner runs as
// root, read the 0600 key or /proc/<runner>/environ.

// runnerSecretEnv is a credential in the runner's environment, as the S3
// flags put it there.
const runnerSecretEnv = "AGENTWATT_S3_SECRET_KEY"

// probeEngine starts this test binary as a probe engine as u and returns
// its report, with the runner's key at keyPath.
func probeEngine(t *testing.T, u *User, keyPath string) (*Engine, probeReport) {
	t.Helper()
	cfg := simConfig(t, "probe", "-key", keyPath)
	cfg.User = u
	self, cleanup, err := ExecutableFor(cfg.Command[0], u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	cfg.Command[0] = self
	cfg.Secrets = map[string]string{"HF_TOKEN": "hf_resolvedsecretvalue"}
	e := startEngine(t, cfg)
	if err := e.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(cfg.LogPath) // not LogTail, which masks the secret
	if err != nil {
		t.Fatal(err)
	}
	var r probeReport
	for _, line := range strings.Split(string(log), "\n") {
		if j, ok := strings.CutPrefix(line, "probe "); ok {
			if err := json.Unmarshal([]byte(j), &r); err != nil {
				t.Fatal(err)
			}
			return e, r
		}
	}
	t.Fatalf("no probe report in the engine log:\n%s", log)
	return e, r
}

// runnerWorkDir makes a runner work dir holding a 0600 key, and runs the
// test from it, as the runner daemon runs.
func runnerWorkDir(t *testing.T) (dir, key string) {
	t.Helper()
	dir = t.TempDir()
	key = filepath.Join(dir, "runner.key")
	if err := os.WriteFile(key, []byte("PRIVATE-KEY-MATERIAL"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	// A descriptor without close-on-exec, as a runner inherits from a shell
	// or a supervisor: here, the key itself.
	fd, err := syscall.Open(key, syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	t.Setenv(runnerSecretEnv, "runner-s3-secret")
	t.Setenv("AGENTWATT_NATS_CREDS", "/etc/agentwatt/nats.creds")
	return dir, key
}

func checkIsolated(t *testing.T, r probeReport, workDir string) {
	t.Helper()
	env := strings.Join(r.Env, "\n")
	for _, leak := range []string{runnerSecretEnv, "runner-s3-secret", "AGENTWATT_NATS_CREDS"} {
		if strings.Contains(env, leak) {
			t.Errorf("the engine's environment holds the runner's %q:\n%s", leak, env)
		}
	}
	for _, want := range []string{"HF_TOKEN=hf_resolvedsecretvalue", roleEnv + "=probe", "HOME=" + r.Dir, "TMPDIR=" + r.Dir} {
		if !strings.Contains(env, want) {
			t.Errorf("the engine's environment lacks %q:\n%s", want, env)
		}
	}
	if r.Dir == workDir || strings.HasPrefix(r.Dir, workDir+"/") || len(r.CwdEntries) != 0 {
		t.Errorf("the engine runs in %s (holding %v), want a fresh directory of its own outside %s", r.Dir, r.CwdEntries, workDir)
	}
	if len(r.FDs) != 0 {
		t.Errorf("the engine inherited descriptors beyond stdin, stdout and stderr: %v", r.FDs)
	}
}

// TestEngineIsolation: the engine as the runner's own user (a runner that
// is not root) sees none of its environment and none of its directory.
func TestEngineIsolation(t *testing.T) {
	workDir, key := runnerWorkDir(t)
	_, r := probeEngine(t, nil, key)
	checkIsolated(t, r, workDir)
}

// TestEngineUserSwitch: a root runner runs the engine as nobody, which can
// read neither the key nor the runner's /proc environ.
func TestEngineUserSwitch(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("switching the engine's user needs root")
	}
	u, err := DefaultEngineUser()
	if err != nil || u == nil {
		t.Fatalf("DefaultEngineUser as root = %v, %v; want nobody", u, err)
	}
	workDir, key := runnerWorkDir(t)
	// The work dir of a real runner is 0700; a test's temp dir too, but
	// open it up to show that the key's own mode is what protects it.
	if err := os.Chmod(workDir, 0o755); err != nil {
		t.Fatal(err)
	}
	e, r := probeEngine(t, u, key)
	checkIsolated(t, r, workDir)
	if r.UID != int(u.UID) || r.GID != int(u.GID) || len(r.Groups) != 0 {
		t.Errorf("engine runs as uid %d gid %d groups %v, want %s without groups", r.UID, r.GID, r.Groups, u)
	}
	if r.KeyErr == "" || r.Key != "" {
		t.Errorf("the engine read the runner's key: %q", r.Key)
	}
	if r.ParentErr == "" || strings.Contains(r.ParentEnv, "runner-s3-secret") {
		t.Errorf("the engine read the runner's /proc environ: %q", r.ParentEnv)
	}
	if err := e.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(r.Dir); err == nil {
		t.Errorf("the engine's directory %s (%v) outlived Stop", r.Dir, fi.Mode())
	}
}
