package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/agentrunner/accuracy"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/verifier/verifiertest"
	"github.com/agentwatt/agentwatt/verifyd"
)

// verifyFixture builds a known-good bundle whose accuracy answers are the
// embedded GSM8K references, and writes the runner's key as runners.json.
func verifyFixture(t *testing.T) (b *verifiertest.Bundle, keys string) {
	t.Helper()
	qs, err := accuracy.GSM8K()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b, err = verifiertest.Build(context.Background(), filepath.Join(dir, "bundle"), verifiertest.Options{
		Seed: 2, Answers: func(id int) string { return qs[id].Expected },
	})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(verifyd.RunnersOf(simKeys(b.Trusted), time.Now()))
	keys = filepath.Join(dir, "runners.json")
	if err := os.WriteFile(keys, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return b, keys
}

func TestVerifyCmd(t *testing.T) {
	b, keys := verifyFixture(t)
	tampered := filepath.Join(t.TempDir(), "tampered")
	if err := b.Derive(context.Background(), tampered, func(dir string) error {
		p := filepath.Join(dir, bundle.SummaryFile)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		data[len(data)/2] ^= 1
		return os.WriteFile(p, data, 0o600)
	}, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
	}{
		{"verified", []string{"verify", b.Dir, "--keys", keys}, 0,
			[]string{"VERIFIED: job " + b.Job, "PASS integrity", "PASS tiers", "PASS accuracy", "Agents/MW"}},
		{"rejected", []string{"verify", tampered, "--keys", keys}, 1,
			[]string{"REJECTED", "FAIL integrity", "digest_mismatch"}},
		{"no keys", []string{"verify", b.Dir}, 2, nil},
		{"not a bundle", []string{"verify", filepath.Join(b.Dir, "nope"), "--keys", keys}, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := runAW(t, append(tc.args, "--log-level", "error")...)
			if code != tc.wantCode {
				t.Fatalf("exit code: got %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, out, stderr)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestVerifyCmdJSON(t *testing.T) {
	b, keys := verifyFixture(t)
	out, stderr, code := runAW(t, "verify", b.Dir, "--keys", keys, "-o", "json", "--log-level", "error")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	v, err := bundle.DecodeVerdict([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	claim := b.Summary.Tiers[verifiertest.Tier]
	if !v.Verified() || len(v.Results.Tiers) != 1 || v.Results.Tiers[0].MaxAgents != claim.MaxAgents {
		t.Fatalf("verdict: status %s, results %+v; want verified with N_max %d", v.Status, v.Results, claim.MaxAgents)
	}
	if got := v.Results.Tiers[0].AgentsPerMW; got != claim.AgentsPerMW {
		t.Errorf("agents_per_mw: got %v, want the claim %v", got, claim.AgentsPerMW)
	}
}

// TestVerifyRealRunnerBundle runs the demo (local stack, sim runner, a real
// signed bundle in the embedded S3's POSIX backend) and verifies that
// bundle offline with the runner's public key. The runner launches the sim
// engine from its own executable, so the demo runs from a built binary, not
// from the test binary.
func TestVerifyRealRunnerBundle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds agentwatt and runs the demo (about 90 s)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "agentwatt")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-ldflags=-extldflags=-Wl,-z,lazy", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(args ...string) (string, int) {
		cmd := exec.CommandContext(ctx, bin, append(args, "--log-level", "error")...)
		out, err := cmd.CombinedOutput()
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			t.Fatalf("agentwatt %v: %v", args, err)
		}
		return string(out), cmd.ProcessState.ExitCode()
	}
	data := filepath.Join(dir, "demo")
	out, code := run("demo", "--dir", data, "-o", "json")
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s", code, out)
	}
	// The demo ends published: one simulated, badged result on the board and
	// the static site written beside the bundles.
	var report demoReport
	if err := json.Unmarshal([]byte(out[strings.LastIndex(out, "\n{")+1:]), &report); err != nil {
		t.Fatalf("demo -o json: %v\n%s", err, out)
	}
	if report.State != "published" || len(report.Results) != 1 || !report.Results[0].Simulated || report.Results[0].MaxAgents < 1 {
		t.Fatalf("demo report: %+v", report)
	}
	// The automatic approval is labelled as the demo's, never a person's.
	if r := report.Results[0]; r.ApprovedVia != publish.ViaDemo || r.ApprovedBy != demoApprover || len(r.VerdictSHA256) != 64 {
		t.Errorf("demo approval identity: by %q via %q, verdict sha256 %q", r.ApprovedBy, r.ApprovedVia, r.VerdictSHA256)
	}
	if _, err := os.Stat(report.Site); err != nil {
		t.Errorf("static site: %v", err)
	}
	bundles, err := filepath.Glob(filepath.Join(data, "s3", "data", "*", "runs", "*", "*"))
	if err != nil || len(bundles) != 1 {
		t.Fatalf("demo bundles: %v %v", bundles, err)
	}
	out, code = run("verify", bundles[0], "--keys", filepath.Join(data, "runner", "runner.key.pub"))
	if code != 0 {
		t.Fatalf("verify the runner's bundle: exit %d\n%s", code, out)
	}
	for _, w := range []string{"VERIFIED", "PASS integrity", "PASS probes", "PASS power", "PASS accuracy"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// TestVerifyCmdKeysFromNATS takes the enrolled keys from the queue when it
// answers, and checks the attempt against the job's record when the queue
// knows the job.
func TestVerifyCmdKeysFromNATS(t *testing.T) {
	f := newQueueFixture(t)
	ctx := context.Background()
	qs, err := accuracy.GSM8K()
	if err != nil {
		t.Fatal(err)
	}
	answers := func(id int) string { return qs[id].Expected }
	j := f.enqueue(t, 1) // queued, never taken: attempt 0
	dir := t.TempDir()
	unknown, err := verifiertest.Build(ctx, filepath.Join(dir, "unknown"), verifiertest.Options{Seed: 2, Answers: answers})
	if err != nil {
		t.Fatal(err)
	}
	stale, err := verifiertest.Build(ctx, filepath.Join(dir, "stale"), verifiertest.Options{Seed: 2, Answers: answers, Job: j.ID, Attempt: j.Attempt + 1})
	if err != nil {
		t.Fatal(err)
	}

	// No key enrolled at all: nothing to verify against.
	_, stderr, code := runAW(t, "verify", unknown.Dir, "--nats", f.url)
	if code != 2 || !strings.Contains(stderr, "no enrolled runner keys") {
		t.Fatalf("no keys enrolled: exit %d, want 2\n%s", code, stderr)
	}
	if err := f.fleet.TrustKey(ctx, "runner-stale", stale.Key.Public().(ed25519.PublicKey), "test", []string{"sim"}); err != nil {
		t.Fatal(err)
	}
	// Another runner's key is enrolled, not this one's.
	out, stderr, code := runAW(t, "verify", unknown.Dir, "--nats", f.url)
	if code != 1 || !strings.Contains(out, "FAIL integrity") {
		t.Fatalf("signed by an unenrolled key: exit %d, want 1 with FAIL integrity\n%s%s", code, out, stderr)
	}
	if err := f.fleet.TrustKey(ctx, "runner-test", unknown.Key.Public().(ed25519.PublicKey), "test", []string{"sim"}); err != nil {
		t.Fatal(err)
	}
	out, code = f.run(t, "verify", unknown.Dir)
	if code != 0 || !strings.Contains(out, "VERIFIED") || strings.Contains(out, "attempt") && strings.Contains(out, "FAIL") {
		t.Fatalf("enrolled, job unknown to the queue: exit %d, want 0\n%s", code, out)
	}
	out, code = f.run(t, "verify", stale.Dir)
	if code != 1 || !strings.Contains(out, "stale attempt") {
		t.Fatalf("job known, attempt ahead of the record: exit %d, want 1 naming the stale attempt\n%s", code, out)
	}

	// An explicit --nats that does not answer is an error, not a fallback.
	_, stderr, code = runAW(t, "verify", unknown.Dir, "--nats", "nats://127.0.0.1:1")
	if code != 2 || !strings.Contains(stderr, "enrolled keys from nats://127.0.0.1:1") {
		t.Fatalf("unreachable --nats: exit %d, want 2\n%s", code, stderr)
	}
}

// simKeys enrols keys (name → key) as sim runners' keys.
func simKeys(keys map[string]ed25519.PublicKey) map[string]fleet.Key {
	out := map[string]fleet.Key{}
	for name, k := range keys {
		out[name] = fleet.Key{Name: name, PublicKey: k, Fingerprint: bundle.KeyID(k), Pools: []string{spec.Sim}, Sim: true}
	}
	return out
}
