package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/bots/ghbot"
	"github.com/agentwatt/agentwatt/bots/ghbot/ghfake"
	"github.com/agentwatt/agentwatt/examples"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
)

// TestGitHubPullRequestEndToEnd is the whole pull-request path on the local
// stack: a listed vendor opens a pull request → its submission is validated
// and queued → the stack's sim runner measures it → the verifier verifies it
// → the job's check run completes with the verdict → a maintainer comments
// /approve → the result is published under the maintainer's GitHub login →
// /retract takes it off the board. GitHub cannot be reached from tests:
// ghfake speaks its REST API, and the deliveries are GitHub's own example
// payloads, changed and signed as GitHub would.
func TestGitHubPullRequestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a sim benchmark")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// Read what the test needs before the embedded S3 changes directory.
	prBody, err := os.ReadFile(filepath.Join("..", "..", "bots", "ghbot", "testdata", "webhooks", "pull_request", "opened.payload.json"))
	if err != nil {
		t.Fatal(err)
	}
	commentBody, err := os.ReadFile(filepath.Join("..", "..", "bots", "ghbot", "testdata", "webhooks", "issue_comment", "created.payload.json"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := examples.Submissions.ReadFile(examples.SimSubmission)
	if err != nil {
		t.Fatal(err)
	}
	sub := strings.Replace(string(example), "vendor: demo", "vendor: acme", 1)
	sub = strings.Replace(sub, "profile: quick", "profile: test", 1)
	sub = strings.Replace(sub, "  ready_timeout: 30s\n", "  ready_timeout: 30s\n  env:\n    "+runMainEnv+": \"1\"\n", 1)

	log := zerolog.Nop()
	s, err := openLocalStack(ctx, stackConfig{Dir: t.TempDir(), NATSListen: "127.0.0.1:0", S3Listen: "127.0.0.1:0",
		HTTPListen: "127.0.0.1:0", Bucket: "agentwatt", Runner: true, RunnerFixedAgents: 10}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g := runGroup{log: log}
	s.addServices(ctx, &g)

	// GitHub: the App, the submissions repository, the pull request.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const appID, inst, repoID = 31337, 5, 424242
	const owner, name, head, file = "agentwatt-bench", "submissions", "0123456789abcdef0123456789abcdef01234567", "submissions/acme/sim.yaml"
	gh := ghfake.New(t, appID, &key.PublicKey)
	gh.AddRepo(owner, name, repoID, "main")
	gh.SetFile(owner, name, "main", ghbot.VendorsFile, []byte("vendors:\n  acme: [alice]\n"))
	gh.SetFile(owner, name, "main", ghbot.MaintainersFile, []byte("maia\n"))
	gh.SetFile(owner, name, head, file, []byte(sub))
	gh.AddPR(owner, name, ghfake.PR{Number: 12, HeadSHA: head, BaseRef: "main", Author: "alice", State: "open", Files: []string{file}})

	secret := []byte("end-to-end-webhook-secret")
	bot, err := ghbot.New(ctx, ghbot.Config{
		AppID: appID, PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		WebhookSecret: secret, Repo: owner + "/" + name, PublicURL: s.httpURL, APIURL: gh.BaseURL(),
		Queue: s.queue, Keys: s.fleet, Store: s.store, Workloads: registryPinner{s.reg}, Local: true,
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	g.add(ctx, bot)
	hook := httptest.NewServer(bot.Handler())
	defer hook.Close()
	runCtx, stop := context.WithCancel(ctx)
	g.untilDone(runCtx, nil)
	ran := make(chan error, 1)
	go func() { ran <- g.Run() }()
	defer func() {
		stop()
		if err := <-ran; err != nil {
			t.Errorf("stack: %v", err)
		}
	}()

	n := 0
	deliver := func(event string, raw []byte, set map[string]any) {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		set["repository.full_name"], set["repository.id"], set["repository.default_branch"], set["installation.id"] = owner+"/"+name, repoID, "main", inst
		for path, v := range set {
			parts, cur := strings.Split(path, "."), m
			for _, p := range parts[:len(parts)-1] {
				if _, ok := cur[p].(map[string]any); !ok {
					cur[p] = map[string]any{}
				}
				cur = cur[p].(map[string]any)
			}
			cur[parts[len(parts)-1]] = v
		}
		body, _ := json.Marshal(m)
		n++
		req, _ := http.NewRequest(http.MethodPost, hook.URL, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", event)
		req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("0f6e2f9a-1b2c-4d5e-8f90-%012d", n))
		req.Header.Set("X-Hub-Signature-256", ghbot.Sign(secret, body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("deliver %s: %s", event, resp.Status)
		}
	}
	waitJob := func(what string, cond func(*queue.Job) bool) *queue.Job {
		t.Helper()
		for {
			jobs, err := s.queue.List(ctx, queue.Filter{Vendor: "acme"})
			if err != nil {
				t.Fatal(err)
			}
			if len(jobs) == 1 && cond(jobs[0]) {
				return jobs[0]
			}
			if len(jobs) == 1 && (jobs[0].State == queue.Failed || jobs[0].State == queue.Rejected) {
				t.Fatalf("job %s: %s (%s)", jobs[0].ID, jobs[0].State, jobs[0].Reason)
			}
			if ctx.Err() != nil {
				t.Fatalf("timed out waiting for %s (jobs %+v)", what, jobs)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	checkRun := func() ghfake.CheckRun {
		for _, cr := range gh.CheckRuns(owner, name) {
			if cr.Name == ghbot.CheckBenchmark("sim") {
				return cr
			}
		}
		return ghfake.CheckRun{}
	}

	deliver("pull_request", prBody, map[string]any{"number": 12, "pull_request.number": 12, "pull_request.head.sha": head,
		"pull_request.base.ref": "main", "pull_request.user.login": "alice"})
	job := waitJob("the job to be queued", func(j *queue.Job) bool { return j.PullRequest != nil })
	if pr := job.PullRequest; pr.Repo != owner+"/"+name || pr.Number != 12 || pr.HeadSHA != head || pr.Path != file {
		t.Fatalf("the job's pull request: %+v", pr)
	}
	job = waitJob("the verdict", func(j *queue.Job) bool { return j.State == queue.Verified })
	for checkRun().Conclusion == "" {
		if ctx.Err() != nil {
			t.Fatalf("check run never completed: %+v", checkRun())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cr := checkRun()
	if cr.Conclusion != "success" || cr.ExternalID != job.ID || !strings.Contains(cr.Summary, "Agents/MW") ||
		!strings.Contains(cr.Summary, "agentwatt verify s3://agentwatt/runs/"+job.ID) || !strings.Contains(cr.Summary, "Simulated") {
		t.Fatalf("completed check run: %+v", cr)
	}

	// The maintainer approves by comment: the result is published under
	// their GitHub login, and the check run links to its page.
	deliver("issue_comment", commentBody, map[string]any{"issue.number": 12, "issue.pull_request.url": "x",
		"comment.body": "Looks right.\n/approve", "comment.user.login": "maia", "comment.created_at": time.Now().UTC().Format(time.RFC3339)})
	job = waitJob("the approval", func(j *queue.Job) bool { return j.State == queue.Published })
	lb, err := publish.LoadResults(ctx, s.store)
	if err != nil {
		t.Fatal(err)
	}
	if len(lb.Results) == 0 || lb.Results[0].Job != job.ID || lb.Results[0].ApprovedBy != "maia" || lb.Results[0].ApprovedVia != publish.ViaGitHub {
		t.Fatalf("published results: %+v", lb.Results)
	}
	for !strings.Contains(checkRun().Summary, s.httpURL+"/"+publish.ResultPath(job.ID, job.Attempt)) {
		if ctx.Err() != nil {
			t.Fatalf("check run never linked the result page: %+v", checkRun())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// /retract takes it off the board, with the reason and who.
	deliver("issue_comment", commentBody, map[string]any{"issue.number": 12, "issue.pull_request.url": "x",
		"comment.body": "/retract the idle baseline was taken on a busy host", "comment.user.login": "maia",
		"comment.created_at": time.Now().UTC().Format(time.RFC3339)})
	for {
		lb, err := publish.LoadResults(ctx, s.store)
		if err != nil {
			t.Fatal(err)
		}
		if len(lb.Results) == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("never retracted: %+v", lb.Results)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The reply follows the retraction.
	for {
		comments := gh.Comments(owner, name, 12)
		if len(comments) >= 2 && strings.Contains(comments[len(comments)-1].Body, "retracted 1 result") {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no reply to /retract: %+v", comments)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// bot github refuses to start without a webhook secret (go-github's
// ValidatePayload would accept every unsigned delivery with an empty one),
// with a secret file others can read, or with an empty one.
func TestBotGitHubRefusesWithoutSecret(t *testing.T) {
	write := fileWriter(t)
	key := write("app.pem", "not used", 0o600)
	for _, tc := range []struct{ secretFile, want string }{
		{"", "--webhook-secret-file is required"},
		{write("open", "0123456789abcdef0123", 0o644), "others can read it"},
		{write("empty", "\n", 0o600), "is empty"},
	} {
		root := newRootCmd()
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		root.SetArgs([]string{"bot", "github", "--repo", "a/b", "--app-id", "1", "--private-key-file", key, "--webhook-secret-file", tc.secretFile,
			"--nats", "nats://127.0.0.1:1"})
		err := root.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("secret file %q: got %v, want %q", tc.secretFile, err, tc.want)
		}
	}
}

// fileWriter returns a function that writes a file of the given mode in a
// temporary directory of the test and returns its path.
func fileWriter(t *testing.T) func(name, content string, mode os.FileMode) string {
	dir := t.TempDir()
	return func(name, content string, mode os.FileMode) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
}
