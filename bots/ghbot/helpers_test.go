package ghbot

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/blob/blobtest"
	"github.com/agentwatt/agentwatt/bots/ghbot/ghfake"
	"github.com/agentwatt/agentwatt/examples"
	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
)

// The test's GitHub: the App, its installation and the submissions
// repository (GitHub itself cannot be reached from tests: ghfake speaks its
// REST API, and the webhook bodies are GitHub's own examples).
const (
	testAppID        = 4242
	testInstallation = 77
	testOwner        = "agentwatt-bench"
	testRepoName     = "submissions"
	testRepoID       = 9001
	testSecret       = "test-webhook-secret-0123456789"
)

var testRepo = testOwner + "/" + testRepoName

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

// appKey is the App's RSA key, made once per test binary.
func appKey(t testing.TB) (*rsa.PrivateKey, []byte) {
	keyOnce.Do(func() {
		var err error
		if testKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return testKey, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testKey)})
}

// The people of the test's policy.
const (
	maintainer = "maia"     // in MAINTAINERS
	teamMaint  = "theo"     // in MAINTAINERS through agentwatt-bench/maintainers
	acmeDev    = "alice"    // listed for acme
	acmeTeam   = "anders"   // listed for acme through acme-corp/bench
	globexDev  = "gus"      // listed for globex
	outsider   = "octo-cat" // listed nowhere
)

const testVendors = `# who may submit for which vendor
vendors:
  acme:
    - alice
    - acme-corp/bench
  globex:
    - gus
`

const testMaintainers = `# maintainers of the benchmark
maia
agentwatt-bench/maintainers
`

// botEnv is a bot on an embedded NATS server with a real S3 store, talking
// to ghfake.
type botEnv struct {
	t     *testing.T
	gh    *ghfake.Server
	q     *queue.Queue
	fl    *fleet.Fleet
	store *blob.Store
	bot   *Bot
	hook  *httptest.Server
	now   time.Time
	mu    sync.Mutex
	// runnerKey is runner r1's, enrolled on first use (runVerified).
	runnerKey ed25519.PrivateKey
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func newBotEnv(t *testing.T) *botEnv {
	t.Helper()
	ctx := testCtx(t, 2*time.Minute)
	key, pemKey := appKey(t)
	e := &botEnv{t: t, now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	e.gh = ghfake.New(t, testAppID, &key.PublicKey)
	e.gh.AddRepo(testOwner, testRepoName, testRepoID, "main")
	e.gh.SetFile(testOwner, testRepoName, "main", VendorsFile, []byte(testVendors))
	e.gh.SetFile(testOwner, testRepoName, "main", MaintainersFile, []byte(testMaintainers))
	e.gh.AddTeamMember("acme-corp", "bench", acmeTeam, "active")
	e.gh.AddTeamMember("agentwatt-bench", "maintainers", teamMaint, "active")

	emb, err := queue.StartEmbedded(queue.EmbeddedConfig{Dir: t.TempDir()}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	nc, err := emb.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if e.q, err = queue.Open(ctx, nc, queue.Config{Replicas: 1}, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	if e.fl, err = fleet.Open(ctx, e.q.JetStream(), fleet.Config{Replicas: 1}, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	if e.store, err = blob.Open(ctx, blobtest.Start(t)); err != nil {
		t.Fatal(err)
	}
	e.bot, err = New(ctx, Config{
		AppID: testAppID, PrivateKey: pemKey, WebhookSecret: []byte(testSecret), Repo: testRepo,
		PublicURL: "https://agentwatt.example", APIURL: e.gh.BaseURL(),
		Queue: e.q, Keys: e.fl, Store: e.store, Local: true, MaxBody: 256 << 10,
		ProgressEvery: time.Millisecond, RegressionsEvery: 200 * time.Millisecond, Now: e.clock,
	}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.bot.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("bot: %v", err)
		}
	})
	e.hook = httptest.NewServer(e.bot.Handler())
	t.Cleanup(e.hook.Close)
	return e
}

// clock is the bot's time: the test moves it forward with tick.
func (e *botEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *botEnv) tick(d time.Duration) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
	return e.now
}

// payload reads a recorded webhook body and sets fields (dotted paths).
func payload(t testing.TB, file string, set map[string]any) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "webhooks", file))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for path, v := range set {
		parts := strings.Split(path, ".")
		cur := m
		for _, p := range parts[:len(parts)-1] {
			next, ok := cur[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
		cur[parts[len(parts)-1]] = v
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// repoFields point a recorded payload at the test's repository and
// installation.
func repoFields(set map[string]any) map[string]any {
	set["repository.full_name"] = testRepo
	set["repository.name"] = testRepoName
	set["repository.owner.login"] = testOwner
	set["repository.id"] = testRepoID
	set["repository.default_branch"] = "main"
	set["installation.id"] = testInstallation
	return set
}

var deliveries struct {
	sync.Mutex
	n int
}

// newDelivery is a fresh X-GitHub-Delivery GUID.
func newDelivery() string {
	deliveries.Lock()
	defer deliveries.Unlock()
	deliveries.n++
	return fmt.Sprintf("72d3162e-cc78-11e3-81ab-%012x", deliveries.n)
}

// post sends body as a delivery of event with the given headers (a
// signature made with the test secret unless sig is set).
func (e *botEnv) post(event, id string, body []byte, sig string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.hook.URL, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", id)
	if sig == "" {
		sig = Sign([]byte(testSecret), body)
	}
	if sig != "-" {
		req.Header.Set("X-Hub-Signature-256", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String()
}

// deliver posts a correctly signed delivery and wants 202.
func (e *botEnv) deliver(event string, body []byte) {
	e.t.Helper()
	if code, msg := e.post(event, newDelivery(), body, ""); code != http.StatusAccepted {
		e.t.Fatalf("deliver %s: %d %s", event, code, msg)
	}
}

// openPR adds a pull request by author at head with files (path →
// content) to ghfake and delivers its pull_request event.
func (e *botEnv) openPR(number int, author, head string, files map[string]string) {
	e.t.Helper()
	var names []string
	for p, c := range files {
		e.gh.SetFile(testOwner, testRepoName, head, p, []byte(c))
		names = append(names, p)
	}
	e.gh.AddPR(testOwner, testRepoName, ghfake.PR{Number: number, HeadSHA: head, BaseRef: "main", Author: author, State: "open", Files: names})
	e.deliver("pull_request", payload(e.t, "pull_request/opened.payload.json", repoFields(map[string]any{
		"number": number, "pull_request.number": number, "pull_request.head.sha": head, "pull_request.base.ref": "main",
		"pull_request.user.login": author, "pull_request.html_url": fmt.Sprintf("https://github.com/%s/pull/%d", testRepo, number),
	})))
}

// push moves the pull request's head and delivers synchronize.
func (e *botEnv) push(number int, author, head string, files map[string]string) {
	e.t.Helper()
	var names []string
	for p, c := range files {
		e.gh.SetFile(testOwner, testRepoName, head, p, []byte(c))
		names = append(names, p)
	}
	e.gh.UpdatePR(testOwner, testRepoName, number, func(pr *ghfake.PR) { pr.HeadSHA, pr.Files = head, names })
	e.deliver("pull_request", payload(e.t, "pull_request/synchronize.payload.json", repoFields(map[string]any{
		"number": number, "pull_request.number": number, "pull_request.head.sha": head, "pull_request.base.ref": "main",
		"pull_request.user.login": author, "after": head,
	})))
}

// comment delivers a new comment by login on the pull request, written at.
func (e *botEnv) comment(number int, login, body string, at time.Time) {
	e.t.Helper()
	e.deliver("issue_comment", payload(e.t, "issue_comment/created.payload.json", repoFields(map[string]any{
		"issue.number": number, "issue.pull_request.url": fmt.Sprintf("https://api.github.com/repos/%s/pulls/%d", testRepo, number),
		"comment.body": body, "comment.user.login": login, "comment.user.type": "User",
		"comment.created_at": at.UTC().Format(time.RFC3339),
	})))
}

// waitFor polls cond until it holds (or fails the test after a minute).
func (e *botEnv) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// idle waits until the bot has handled every accepted delivery.
func (e *botEnv) idle() {
	e.t.Helper()
	e.waitFor("the bot to handle its deliveries", func() bool {
		info, err := e.bot.stream.Info(context.Background())
		return err == nil && info.State.Msgs == 0
	})
	// The message leaves the stream when acked, after handling.
}

// checkRuns returns the check runs named name.
func (e *botEnv) checkRuns(name string) []ghfake.CheckRun {
	var out []ghfake.CheckRun
	for _, cr := range e.gh.CheckRuns(testOwner, testRepoName) {
		if cr.Name == name {
			out = append(out, cr)
		}
	}
	return out
}

// jobs lists the queue's jobs.
func (e *botEnv) jobs() []*queue.Job {
	e.t.Helper()
	js, err := e.q.List(context.Background(), queue.Filter{})
	if err != nil {
		e.t.Fatal(err)
	}
	return js
}

// simSubmission is the sim example for vendor, with the test profile.
func simSubmission(t testing.TB, vendor, name string) string {
	t.Helper()
	data, err := examples.Submissions.ReadFile(examples.SimSubmission)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(data), "vendor: demo", "vendor: "+vendor, 1)
	s = strings.Replace(s, "name: sim-b300x8-like", "name: "+name, 1)
	s = strings.Replace(s, "profile: quick", "profile: "+spec.ProfileTest, 1)
	if _, err := spec.Parse("sim.yaml", []byte(s)); err != nil {
		t.Fatal(err)
	}
	return s
}

func sha(c byte) string { return strings.Repeat(string(c), 40) }

// PRState and Annotation are ghfake's, named here for brevity.
type (
	PRState    = ghfake.PR
	Annotation = ghfake.Annotation
)

// replies are the bot's comments on the pull request other than its
// status comment.
func (e *botEnv) replies(number int) []string {
	var out []string
	for _, c := range e.gh.Comments(testOwner, testRepoName, number) {
		if !strings.HasPrefix(c.Body, statusMarker) {
			out = append(out, c.Body)
		}
	}
	return out
}

// Checkrun is ghfake's check run.
type Checkrun = ghfake.CheckRun
