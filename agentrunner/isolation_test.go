package agentrunner

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/agentwatt/agentwatt/agentrunner/engine"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
)

// enqueueRaw puts a job whose spec is raw JSON straight into the queue, as
// someone who can write to the queue (or an intake bug) would: no
// validation on the way.
func (e *testEnv) enqueueRaw(trigger string, raw []byte) *queue.Job {
	t := e.t
	t.Helper()
	j, _, err := e.q.Enqueue(context.Background(), queue.NewJob{
		Vendor: "demo", Name: "sim-steal-key", Pool: spec.Sim, Spec: raw,
		SpecDigest: "sha256:" + strings.Repeat("0", 64), Trigger: trigger, Workload: e.wlName,
		WorkloadDigest: string(e.wlDigest), Profile: spec.ProfileTest,
	})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestEngineCommandRefused is the key theft of issue 10: a sim job whose
// engine.command reads the runner's key and environment. Validation refuses
// the submission (spec tests); a job record carrying it anyway, put in the
// queue directly, is refused by the runner's preflight and the command
// never runs.
func TestEngineCommandRefused(t *testing.T) {
	e := newEnv(t, envOpts{})
	stolen := filepath.Join(t.TempDir(), "stolen")
	attack := "cat runner.key > " + stolen + "; cat /proc/$PPID/environ >> " + stolen
	base := e.submitWith("test:base", nil) // a valid record to start from
	tests := []struct {
		name   string
		engine map[string]any
	}{
		{"command in place of the profile", map[string]any{"command": []string{"sh", "-c", attack}, "ready_timeout": "30s"}},
		{"command beside the profile", map[string]any{"sim_profile": "tiny", "command": []string{"sh", "-c", attack}, "ready_timeout": "30s"}},
		{"a program's path as the profile", map[string]any{"sim_profile": "../../bin/sh", "ready_timeout": "30s"}},
	}
	_, stop := e.startRunner(e.config("runner-x"))
	defer stop()
	got := e.waitState(base.ID, 90*time.Second, queue.Uploaded, queue.Failed)
	if got.State != queue.Uploaded {
		t.Fatalf("the valid job ended %s: %s", got.State, got.Reason)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(base.Spec, &doc); err != nil {
				t.Fatal(err)
			}
			doc["engine"] = tt.engine
			raw, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			j := e.enqueueRaw("test:steal:"+string(rune('a'+i)), raw)
			got := e.waitState(j.ID, 90*time.Second, queue.Uploaded, queue.Failed)
			if got.State != queue.Failed || !strings.Contains(got.Reason, "preflight") {
				t.Fatalf("job ended %s (%q), want failed in preflight", got.State, got.Reason)
			}
			t.Logf("refused: %s", got.Reason)
			if _, err := os.Stat(stolen); err == nil {
				b, _ := os.ReadFile(stolen)
				t.Fatalf("the job's command ran and took:\n%s", b)
			}
			noOrphans(t)
		})
	}
}

// TestSimEngineApart: the sim the runner launches cannot reach the runner's
// key or credentials: it runs in a directory of its own, with none of the
// runner's environment and, when the runner is root, as nobody. The sim
// plays the probe: it prints what it can see into its log, which the
// bundle keeps.
func TestSimEngineApart(t *testing.T) {
	t.Setenv("AGENTWATT_S3_SECRET_KEY", "runner-s3-secret")
	t.Setenv("AGENTWATT_NATS_CREDS", "/etc/agentwatt/runner.creds")
	e := newEnv(t, envOpts{})
	cfg := e.config("runner-p")
	if err := os.MkdirAll(cfg.WorkDir, 0o700); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(cfg.WorkDir, "runner.key")
	if _, err := bundle.LoadOrCreateKey(key); err != nil {
		t.Fatal(err)
	}
	// Only the key's own mode protects it: its directories are open.
	for _, d := range []string{e.dir, cfg.WorkDir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "HF_TOKEN"), []byte("hf_operatorsecret0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Secrets = engine.SecretDir(dir)
	j := e.submitWith("test:probe", func(s *spec.Submission) {
		s.Engine.Env[probeEnv] = key
		s.Engine.Secrets = []string{"HF_TOKEN"}
	})
	_, stop := e.startRunner(cfg)
	defer stop()
	got := e.waitState(j.ID, 90*time.Second, queue.Uploaded, queue.Failed)
	if got.State != queue.Uploaded {
		t.Fatalf("job ended %s: %s", got.State, got.Reason)
	}
	stop()
	_, bdir := e.verifyStored(j.ID, got.Attempt)
	b, err := bundle.OpenDir(context.Background(), bdir)
	if err != nil {
		t.Fatal(err)
	}
	if _, problems := b.VerifyIntegrity(context.Background(), bundle.Trusted(e.key.Public().(ed25519.PublicKey))); len(problems) > 0 {
		t.Fatal(problems)
	}
	rc, err := b.OpenFile(context.Background(), bundle.EngineLogFile)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zstd.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	log, err := io.ReadAll(zr)
	zr.Close()
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	var probe string
	for _, line := range strings.Split(string(log), "\n") {
		if strings.HasPrefix(line, "probe ") {
			probe = line
		}
	}
	if probe == "" {
		t.Fatalf("no probe line in the engine log:\n%s", log)
	}
	t.Log(probe)
	for _, leak := range []string{"runner-s3-secret", "AGENTWATT_S3_SECRET_KEY", "AGENTWATT_NATS_CREDS", "PRIVATE KEY", "dir=" + cfg.WorkDir} {
		if strings.Contains(probe, leak) {
			t.Errorf("the sim saw the runner's %q:\n%s", leak, probe)
		}
	}
	// The sim had the secret in its environment; the log it printed it to
	// has it masked.
	if !strings.Contains(probe, "HF_TOKEN=[secret HF_TOKEN]") || strings.Contains(string(log), "hf_operatorsecret") {
		t.Errorf("the sim lacks the resolved secret, or the bundle's engine log shows it:\n%s", probe)
	}
	if os.Geteuid() == 0 {
		if !strings.Contains(probe, "uid=65534 ") || !strings.Contains(probe, "permission denied") {
			t.Errorf("a root runner's sim runs as %s, want nobody unable to read the key and the runner's environ", probe)
		}
	}
	env, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(env), "hf_operatorsecret") {
		t.Errorf("the job record holds the secret: %s", env)
	}
	envFile, err := os.ReadFile(filepath.Join(bdir, bundle.EnvironmentFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(envFile), "hf_operatorsecret") || strings.Contains(string(envFile), "runner-s3-secret") {
		t.Errorf("environment.json holds a secret:\n%s", envFile)
	}
}

// TestMissingSecretFailsPreflight: a secret the runner does not hold fails
// the job before any engine starts, saying which.
func TestMissingSecretFailsPreflight(t *testing.T) {
	e := newEnv(t, envOpts{})
	cfg := e.config("runner-s")
	cfg.Secrets = engine.SecretDir(t.TempDir())
	j := e.submitWith("test:secret", func(s *spec.Submission) { s.Engine.Secrets = []string{"HF_TOKEN"} })
	_, stop := e.startRunner(cfg)
	defer stop()
	got := e.waitState(j.ID, 90*time.Second, queue.Uploaded, queue.Failed)
	if got.State != queue.Failed || !strings.Contains(got.Reason, "preflight") || !strings.Contains(got.Reason, "secret HF_TOKEN") {
		t.Fatalf("job ended %s (%q), want failed in preflight naming the secret", got.State, got.Reason)
	}
	noOrphans(t)
}
