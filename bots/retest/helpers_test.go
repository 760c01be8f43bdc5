package retest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/blob/blobtest"
	"github.com/agentwatt/agentwatt/bots/ghbot/ghfake"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/examples"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
)

func testLog() zerolog.Logger {
	lvl, err := zerolog.ParseLevel(os.Getenv("AGENTWATT_TEST_LOG"))
	if err != nil || os.Getenv("AGENTWATT_TEST_LOG") == "" {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(lvl).With().Timestamp().Logger()
}

// env is everything a watcher talks to, real where it can be: an embedded
// NATS server with the queue, an S3 bucket (versitygw), go-containerregistry's
// registry on a loopback port, and ghfake for GitHub's API.
type env struct {
	t     *testing.T
	ctx   context.Context
	q     *queue.Queue
	store Store
	gh    *ghfake.Server
	reg   string // host:port of the registry
	clock *clock
	fws   []Framework
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e, err := queue.StartEmbedded(queue.EmbeddedConfig{Dir: t.TempDir()}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	nc, err := e.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	q, err := queue.Open(ctx, nc, queue.Config{}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	rs := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(rs.Close)
	gh := ghfake.New(t, 1, nil)
	gh.AddRepo("vllm-project", "vllm", 1, "main")
	gh.AddRepo("sgl-project", "sglang", 2, "main")
	fws, err := ParseFrameworks("frameworks.yaml", DefaultFrameworks)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, q: q, store: blobtest.Store(t), gh: gh, reg: strings.TrimPrefix(rs.URL, "http://"),
		clock: &clock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}, fws: fws[:2]}
}

// watcher is a new watcher on the env's bucket (a restart is a second call).
func (e *env) watcher(edit ...func(*Config)) *Watcher {
	e.t.Helper()
	cfg := Config{Frameworks: e.fws, APIURL: e.gh.BaseURL(), Queue: e.q, Store: e.store, Now: e.clock.Now, PrivateRegistries: true}
	for _, f := range edit {
		f(&cfg)
	}
	w, err := New(e.ctx, cfg, testLog())
	if err != nil {
		e.t.Fatal(err)
	}
	return w
}

func (e *env) once(w *Watcher) *Report {
	e.t.Helper()
	rep, err := w.RunOnce(e.ctx)
	if err != nil {
		e.t.Fatalf("RunOnce: %v", err)
	}
	return rep
}

// push puts a random image in the registry under repo:tag; it returns the
// digest.
func (e *env) push(repo, tag string) string {
	e.t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		e.t.Fatal(err)
	}
	ref, err := name.NewTag(e.reg + "/" + repo + ":" + tag)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithContext(e.ctx)); err != nil {
		e.t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

var releaseSerial struct {
	sync.Mutex
	at time.Time
}

// release adds a release of owner/name published now (each one a second
// after the last).
func (e *env) release(owner, repo, tag string, edit ...func(*ghfake.Release)) {
	releaseSerial.Lock()
	if releaseSerial.at.IsZero() {
		releaseSerial.at = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	}
	releaseSerial.at = releaseSerial.at.Add(time.Second)
	r := ghfake.Release{TagName: tag, Name: tag, PublishedAt: releaseSerial.at}
	releaseSerial.Unlock()
	for _, f := range edit {
		f(&r)
	}
	e.gh.AddRelease(owner, repo, r)
}

// submission is the h200x8 vLLM example with its images in the test
// registry; edit changes it before it is checked.
func (e *env) submission(name string, edit func(*spec.Submission)) *spec.Submission {
	e.t.Helper()
	data, err := examples.Submissions.ReadFile("submissions/h200x8-vllm.yaml")
	if err != nil {
		e.t.Fatal(err)
	}
	sub, err := spec.Parse("h200x8-vllm.yaml", data)
	if err != nil {
		e.t.Fatal(err)
	}
	sub.Metadata.Name = name
	sub.Engine.Image = e.reg + "/vllm/vllm-openai:v0.11.0@" + e.push("vllm/vllm-openai", "v0.11.0")
	sub.Retest.ImageTemplate = e.reg + "/vllm/vllm-openai:v{version}"
	if err := sub.PinWorkload("sha256:" + strings.Repeat("ab", 32)); err != nil {
		e.t.Fatal(err)
	}
	if edit != nil {
		edit(sub)
	}
	if err := sub.Validate(); err != nil {
		e.t.Fatalf("test submission: %v", err)
	}
	return sub
}

// publish queues sub as a vendor's submission and publishes it as approved
// at `at`, with a verified verdict; it returns the job id.
func (e *env) publish(sub *spec.Submission, at time.Time) string {
	e.t.Helper()
	canon, err := sub.Canonical()
	if err != nil {
		e.t.Fatal(err)
	}
	j, _, err := e.q.Enqueue(e.ctx, queue.NewJob{
		Vendor: sub.Metadata.Vendor, Name: sub.Metadata.Name, Pool: sub.Pool(), Spec: canon, SpecDigest: sub.Digest(),
		Trigger: "submit:" + at.Format(time.RFC3339), Workload: sub.WorkloadName(), WorkloadDigest: sub.WorkloadDigest(),
		Profile: sub.Benchmark.Profile,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	v := &bundle.Verdict{Status: bundle.StatusVerified, Job: j.ID, Attempt: 1, Profile: sub.Benchmark.Profile,
		RulesVersion: "v1", Results: &bundle.Results{Model: sub.Model.ID, GPUs: sub.System.Accelerators,
			Tiers: []bundle.TierResult{{Tier: "t20", Confirmed: true, MaxAgents: 96, AgentsPerMW: 12000}}}}
	if _, err := publish.Publish(e.ctx, e.store, publish.PublishInput{Job: j, Verdict: v,
		Approval: publish.Approval{By: "maint", Via: publish.ViaMaintainerToken, At: at}}); err != nil {
		e.t.Fatalf("publish: %v", err)
	}
	return j.ID
}

// retests lists the retest jobs in the queue.
func (e *env) retests() []*queue.Job {
	e.t.Helper()
	all, err := e.q.List(e.ctx, queue.Filter{})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*queue.Job
	for _, j := range all {
		if j.RetestOf != "" {
			out = append(out, j)
		}
	}
	return out
}

func specOfJob(t *testing.T, j *queue.Job) *spec.Submission {
	t.Helper()
	var s spec.Submission
	if err := json.Unmarshal(j.Spec, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func triggers(rep *Report) []string {
	var out []string
	for _, q := range rep.Queued {
		out = append(out, q.Trigger)
	}
	return out
}

var _ = fmt.Sprintf
