package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/agentrunner/accuracy"
	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/blob/blobtest"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/verifier/verifiertest"
	"github.com/agentwatt/agentwatt/workload"
)

// TestVerifierAndApproveCmds runs `agentwatt verifier` as a daemon against
// embedded NATS and S3, lets it judge an uploaded job, then approves it
// with `agentwatt approve` and reads the published board.
func TestVerifierAndApproveCmds(t *testing.T) {
	ctx := context.Background()
	f := newQueueFixture(t)
	cfg := blobtest.Start(t)
	store, err := blob.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s3 := []string{"--s3-endpoint", cfg.Endpoint, "--s3-access-key", cfg.AccessKey, "--s3-secret-key", cfg.SecretKey, "--s3-bucket", cfg.Bucket}

	// A job run to uploaded by runner r1, its bundle in S3.
	_, key, _ := ed25519.GenerateKey(nil)
	if err := f.fleet.TrustKey(ctx, "r1", key.Public().(ed25519.PublicKey), "maint", []string{"sim"}); err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(map[string]any{"metadata": map[string]any{"vendor": "acme", "name": "demo"}, "model": map[string]any{"id": "sim"},
		"system": map[string]any{"accelerator": "sim", "accelerators": 1}, "framework": map[string]any{"name": "sim", "version": "1"},
		"benchmark": map[string]any{"rules": "v1", "profile": "test"}})
	job, _, err := f.q.Enqueue(ctx, queue.NewJob{Vendor: "acme", Name: "demo", Pool: "sim", Spec: spec, Trigger: "submit:test",
		SpecDigest: verifiertest.SpecDigest, Workload: workload.DefaultName, WorkloadDigest: string(workload.DefaultDigest()), Profile: "test"})
	if err != nil {
		t.Fatal(err)
	}
	lease, err := f.worker(t, "sim", "r1").Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	qs, err := accuracy.GSM8K()
	if err != nil {
		t.Fatal(err)
	}
	b, err := verifiertest.Build(ctx, filepath.Join(t.TempDir(), "b"), verifiertest.Options{Seed: 4, Job: job.ID, Attempt: lease.Attempt(), Key: key, Runner: "r1",
		Answers: func(id int) string { return qs[id].Expected }})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Upload(ctx, store.PutFile, bundle.Prefix(job.ID, lease.Attempt())); err != nil {
		t.Fatal(err)
	}
	if _, err := lease.Complete(ctx); err != nil {
		t.Fatal(err)
	}

	// Tokens: alice is a maintainer; acme a vendor; bob a revoked maintainer.
	dir := t.TempDir()
	tokenFile := func(name, token string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	aliceTok, err := f.acc.AddMaintainer(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	vendorTok, err := f.acc.AddVendor(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	bobTok, err := f.acc.AddMaintainer(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.acc.RevokeToken(ctx, bobTok); err != nil {
		t.Fatal(err)
	}
	alice, vendor, bob := tokenFile("alice", aliceTok), tokenFile("acme", vendorTok), tokenFile("bob", bobTok)
	unknown := tokenFile("unknown", "awm_"+strings.Repeat("0", 43))

	// Approval before the verdict is refused.
	if _, code := f.run(t, append([]string{"approve", job.ID, "--token-file", alice, "--local"}, s3...)...); code == 0 {
		t.Fatalf("approve an unverified job: exit 0")
	}

	// The daemon judges it.
	raw, _ := json.Marshal(append([]string{"verifier", "--nats", f.url, "--log-level", "error", "--workload-cache", t.TempDir()}, s3...))
	dctx, stop := context.WithCancel(ctx)
	daemon := exec.CommandContext(dctx, os.Args[0])
	daemon.Env = append(os.Environ(), childArgsEnv+"="+string(raw))
	var dlog bytes.Buffer
	daemon.Stderr = &dlog
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop()
		_ = daemon.Wait()
	})
	deadline := time.Now().Add(time.Minute)
	for {
		j, err := f.q.Get(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == queue.Verified {
			break
		}
		if j.State == queue.Rejected || time.Now().After(deadline) {
			t.Fatalf("job %s: %s (%s); daemon log: %s", job.ID, j.State, j.Reason, dlog.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := store.Stat(ctx, bundle.Key(job.ID, 1, bundle.VerdictFile)); err != nil {
		t.Fatalf("verdict.json: %v", err)
	}

	// Attacks: approval without a maintainer's valid token is refused and
	// publishes nothing; free text names no one.
	for _, c := range []struct {
		name string
		args []string
		env  string
		want string
	}{
		{"vendor token", []string{"--token-file", vendor}, "", "vendor's token"},
		{"vendor token in env", nil, vendorTok, "vendor's token"},
		{"revoked token", []string{"--token-file", bob}, "", "unknown or revoked"},
		{"unknown token", []string{"--token-file", unknown}, "", "unknown or revoked"},
		{"no token", nil, "", "agentwatt maintainer add NAME"},
		{"free text", []string{"--by", "alice"}, "", "unknown flag: --by"},
	} {
		_, stderr, code := f.runEnv(t, []string{tokenEnv + "=" + c.env}, append(append([]string{"approve", job.ID, "--local"}, c.args...), s3...)...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("approve with %s: exit %d, want a refusal saying %q:\n%s", c.name, code, c.want, stderr)
		}
	}
	if _, err := store.Stat(ctx, publish.ResultsKey); err == nil {
		t.Fatalf("a refused approval published results.json")
	}
	if j, _ := f.q.Get(ctx, job.ID); j.State != queue.Verified {
		t.Fatalf("after refused approvals: %s, want verified", j.State)
	}

	// Approval publishes it.
	out, code := f.run(t, append([]string{"approve", job.ID[:8], "--token-file", alice, "--note", "checked", "--local"}, s3...)...)
	if code != 0 {
		t.Fatalf("approve: exit %d: %s", code, out)
	}
	if !strings.Contains(out, "published by alice") {
		t.Errorf("approve output: %q", out)
	}
	j, err := f.q.Get(ctx, job.ID)
	if err != nil || j.State != queue.Published {
		t.Fatalf("job after approve: %v %+v", err, j)
	}
	// Anyone can verify it again by its job id's prefix: the current
	// attempt's bundle in the bucket.
	out, code = f.run(t, append([]string{"verify", job.ID[:8], "--workload-cache", t.TempDir()}, s3...)...)
	if code != 0 || !strings.Contains(out, "VERIFIED") {
		t.Errorf("verify %s: exit %d\n%s", job.ID[:8], code, out)
	}
	if _, stderr, code := runAW(t, append([]string{"verify", "ffff0000", "--nats", f.url}, s3...)...); code != 2 || !strings.Contains(stderr, "no job id starts with ffff0000") {
		t.Errorf("verify of an unknown job prefix: exit %d, want 2\n%s", code, stderr)
	}
	lb, err := publish.LoadResults(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if len(lb.Results) != 1 || lb.Results[0].Job != job.ID || lb.Results[0].ApprovedBy != "alice" {
		t.Fatalf("published results: %+v", lb.Results)
	}
	verdict, err := store.GetBytes(ctx, bundle.Key(job.ID, 1, bundle.VerdictFile), 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(verdict)
	if r := lb.Results[0]; r.ApprovedVia != publish.ViaMaintainerToken || r.VerdictSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("approval identity: via %q, verdict sha256 %q; want maintainer-token, %x", r.ApprovedVia, r.VerdictSHA256, sum)
	}

	// The server serves the board and the page beside its API.
	addr := freeLoopbackAddr(t)
	raw, _ = json.Marshal(append([]string{"server", "--nats", f.url, "--listen", addr, "--log-level", "warn"}, s3...))
	server := exec.Command(os.Args[0])
	server.Env = append(os.Environ(), childArgsEnv+"="+string(raw))
	var serverOut bytes.Buffer
	server.Stdout, server.Stderr = &serverOut, &serverOut
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Process.Kill(); _ = server.Wait() })
	var body []byte
	deadline = time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + addr + "/api/results")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /api/results: %v\n%s", err, serverOut.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	var served publish.Leaderboard
	if err := json.Unmarshal(body, &served); err != nil || len(served.Results) != 1 || served.Results[0].Job != job.ID {
		t.Fatalf("GET /api/results: %v %s", err, body)
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `data-job="`+job.ID+`"`) {
		t.Errorf("GET /: %d, page lacks the job's row", resp.StatusCode)
	}

	// Retraction: a vendor may not; a maintainer takes it off the board
	// and the site, and the history keeps it with the reason.
	if _, stderr, code := f.runEnv(t, nil, append([]string{"retract", job.ID, "--reason", "mine", "--token-file", vendor}, s3...)...); code == 0 || !strings.Contains(stderr, "vendor's token") {
		t.Errorf("retract by a vendor: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := f.runEnv(t, nil, append([]string{"retract", job.ID, "--token-file", alice}, s3...)...); code == 0 || !strings.Contains(stderr, "--reason is required") {
		t.Errorf("retract without a reason: exit %d\n%s", code, stderr)
	}
	if lb, err := publish.LoadResults(ctx, store); err != nil || len(lb.Results) != 1 {
		t.Fatalf("refused retractions changed the board: %v %+v", err, lb)
	}
	out, code = f.run(t, append([]string{"retract", job.ID[:8], "--reason", "meter miscalibrated", "--token-file", alice}, s3...)...)
	if code != 0 || !strings.Contains(out, "retracted by alice") {
		t.Fatalf("retract: exit %d: %s", code, out)
	}
	for _, key := range []string{publish.ResultsKey, publish.SiteIndexKey, publish.SitePrefix + "results.json", publish.SitePrefix + "results.csv"} {
		b, err := store.GetBytes(ctx, key, 16<<20)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), job.ID) {
			t.Errorf("%s still shows the retracted job", key)
		}
	}
	hist, err := store.GetBytes(ctx, publish.HistoryPrefix+lb.Results[0].Date.Format("2006-01-02")+"-"+job.ID+".json", 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	var entry struct {
		ApprovedBy string             `json:"approved_by"`
		Retracted  publish.Retraction `json:"retracted"`
	}
	if err := json.Unmarshal(hist, &entry); err != nil {
		t.Fatal(err)
	}
	if r := entry.Retracted; entry.ApprovedBy != "alice" || r.By != "alice" || r.Via != publish.ViaMaintainerToken || r.Reason != "meter miscalibrated" || r.At.IsZero() {
		t.Errorf("history entry after retraction: %+v", entry)
	}
}

// runEnv runs agentwatt on the fixture's NATS with env added, returning
// stdout, stderr and the exit code.
func (f *queueFixture) runEnv(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	raw, _ := json.Marshal(append(args, "--nats", f.url, "--log-level", "error"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(append(os.Environ(), tokenEnv+"="), env...)
	cmd.Env = append(cmd.Env, childArgsEnv+"="+string(raw))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("agentwatt %v: %v", args, err)
		}
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}
