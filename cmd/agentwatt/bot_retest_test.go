package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/bots/ghbot/ghfake"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/examples"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
)

// bot retest refuses a frameworks file that is not valid (naming the line
// and column), a token file others can read and a queue cap below one,
// before connecting anywhere.
func TestBotRetestRefusesBadSettings(t *testing.T) {
	write := fileWriter(t)
	fw := write("fw.yaml", "frameworks:\n  - name: vllm\n    repo: vllm-project/vllm\n    prerelease: true\n", 0o644)
	token := write("token", "ghp_x", 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--frameworks", fw}, fw + ":4:5: unknown field"},
		{[]string{"--github-token-file", token}, "others can read it"},
		{[]string{"--max-queued", "0"}, "--max-queued 0: want at least 1"},
	} {
		root := newRootCmd()
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		root.SetArgs(append([]string{"bot", "retest", "--once", "--nats", "nats://127.0.0.1:1"}, tc.args...))
		err := root.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestBotRetestOnce is `bot retest --once` on the local stack: GitHub is
// ghfake, the registry go-containerregistry's, the published configuration
// an h200x8 vLLM submission approved with a verified verdict. The first run
// records the baseline; after a release whose image is in the registry the
// second queues the retest, pinned by digest, and prints it.
func TestBotRetestOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	example, err := examples.Submissions.ReadFile("submissions/h200x8-vllm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := openLocalStack(ctx, stackConfig{Dir: t.TempDir(), NATSListen: "127.0.0.1:0", S3Listen: "127.0.0.1:0",
		HTTPListen: "127.0.0.1:0", Bucket: "agentwatt"}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	rs := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer rs.Close()
	host := strings.TrimPrefix(rs.URL, "http://")
	push := func(tag string) string {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.NewTag(host + "/vllm/vllm-openai:" + tag)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		return d.String()
	}

	sub, err := spec.Parse("h200x8-vllm.yaml", example)
	if err != nil {
		t.Fatal(err)
	}
	sub.Engine.Image = host + "/vllm/vllm-openai:v0.11.0@" + push("v0.11.0")
	sub.Retest.ImageTemplate = host + "/vllm/vllm-openai:v{version}"
	if err := sub.PinWorkload("sha256:" + strings.Repeat("cd", 32)); err != nil {
		t.Fatal(err)
	}
	canon, _ := sub.Canonical()
	j, _, err := s.queue.Enqueue(ctx, queue.NewJob{Vendor: sub.Metadata.Vendor, Name: sub.Metadata.Name, Pool: sub.Pool(),
		Spec: canon, SpecDigest: sub.Digest(), Trigger: "submit:test", Workload: sub.WorkloadName(), WorkloadDigest: sub.WorkloadDigest(), Profile: sub.Benchmark.Profile})
	if err != nil {
		t.Fatal(err)
	}
	v := &bundle.Verdict{Status: bundle.StatusVerified, Job: j.ID, Attempt: 1, Profile: sub.Benchmark.Profile, RulesVersion: "v1",
		Results: &bundle.Results{Model: sub.Model.ID, GPUs: 8, Tiers: []bundle.TierResult{{Tier: "t20", Confirmed: true, MaxAgents: 96, AgentsPerMW: 12000}}}}
	if _, err := publish.Publish(ctx, s.store, publish.PublishInput{Job: j, Verdict: v, Approval: publish.Approval{By: "maint", Via: publish.ViaMaintainerToken, At: time.Now()}}); err != nil {
		t.Fatal(err)
	}

	gh := ghfake.New(t, 1, nil)
	gh.AddRepo("vllm-project", "vllm", 1, "main")
	gh.AddRelease("vllm-project", "vllm", ghfake.Release{TagName: "v0.11.0", PublishedAt: time.Now().Add(-time.Hour)})
	fw := filepath.Join(t.TempDir(), "frameworks.yaml")
	if err := os.WriteFile(fw, []byte("frameworks:\n  - name: vllm\n    repo: vllm-project/vllm\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	access, secret := s.s3.Credentials()
	run := func() string {
		var out bytes.Buffer
		root := newBotRetestCmd(&app{out: &out, errOut: io.Discard, log: zerolog.Nop(), format: "text"})
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		root.SetArgs([]string{"--once", "--registry-allow-private", "--frameworks", fw, "--github-api-url", gh.BaseURL(),
			"--nats", s.nats.ClientURL(), "--s3-endpoint", s.s3.Endpoint(), "--s3-access-key", access, "--s3-secret-key", secret, "--s3-bucket", "agentwatt"})
		if err := root.ExecuteContext(ctx); err != nil {
			t.Fatalf("bot retest --once: %v\n%s", err, out.String())
		}
		return out.String()
	}
	if out := run(); !strings.Contains(out, "baseline  vllm v0.11.0") {
		t.Fatalf("first run printed:\n%s", out)
	}
	gh.AddRelease("vllm-project", "vllm", ghfake.Release{TagName: "v0.12.0", PublishedAt: time.Now()})
	digest := push("v0.12.0")
	out := run()
	if !strings.Contains(out, "retest:vllm@0.12.0 of "+j.ID+" image "+host+"/vllm/vllm-openai:v0.12.0@"+digest) {
		t.Fatalf("second run printed:\n%s", out)
	}
	if out := run(); !strings.Contains(out, "unchanged vllm (304)") || strings.Contains(out, "queued") {
		t.Errorf("third run printed:\n%s", out)
	}
}
