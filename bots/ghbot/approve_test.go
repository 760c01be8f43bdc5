package ghbot

import (
	"context"
	"crypto/ed25519"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/verifier/verifiertest"
	"github.com/agentwatt/agentwatt/verifier/verifiertest/known"
	"github.com/agentwatt/agentwatt/verifyd"
	"github.com/agentwatt/agentwatt/workload"
)

func TestMain(m *testing.M) { known.Main(m) }

// pinKnown pins every workload reference to the known-good bundle's
// workload, which verifiertest's bundles replay.
type pinKnown struct{ digest string }

func (p pinKnown) ResolveDigest(context.Context, string) (string, error) { return p.digest, nil }

// runVerified plays runner r1 on job id: it takes the job, uploads a
// well-formed bundle for it and completes; the verifier daemon judges it.
func (e *botEnv) runVerified(id string, agents int) {
	t := e.t
	t.Helper()
	ctx := testCtx(t, 2*time.Minute)
	if e.runnerKey == nil {
		_, e.runnerKey, _ = ed25519.GenerateKey(nil)
		if err := e.fl.TrustKey(ctx, "r1", e.runnerKey.Public().(ed25519.PublicKey), "maint", []string{"sim"}); err != nil {
			t.Fatal(err)
		}
	}
	key := e.runnerKey
	lease := e.take(ctx)
	j := lease.Job()
	if j.ID != id {
		t.Fatalf("runner took %s, want %s", j.ID, id)
	}
	b, err := verifiertest.Build(ctx, filepath.Join(t.TempDir(), "b"), verifiertest.Options{Seed: 3, Job: j.ID, Attempt: lease.Attempt(),
		Key: key, Runner: "r1", SpecDigest: j.SpecDigest, Agents: agents})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Upload(ctx, e.store.PutFile, bundle.Prefix(j.ID, lease.Attempt())); err != nil {
		t.Fatal(err)
	}
	if _, err := lease.Complete(ctx); err != nil {
		t.Fatal(err)
	}
	good := known.Good(t)
	d, err := verifyd.New(verifyd.Config{
		Queue: e.q, Keys: e.fl, Store: e.store, References: known.Options(good).References, Wait: 200 * time.Millisecond,
		Workloads: func(context.Context, string, string) (*workload.Workload, error) { return good.Workload, nil },
		Log:       zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(dctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// take plays runner r1 of pool sim taking the next job.
func (e *botEnv) take(ctx context.Context) *queue.Lease {
	e.t.Helper()
	w, err := e.q.NewWorker(queue.WorkerConfig{Pool: "sim", Runner: "r1"})
	if err != nil {
		e.t.Fatal(err)
	}
	lease, err := w.Next(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return lease
}

func (e *botEnv) waitJob(id string, states ...queue.State) *queue.Job {
	e.t.Helper()
	var j *queue.Job
	e.waitFor("job "+id+" to be "+string(states[0]), func() bool {
		var err error
		j, err = e.q.Get(context.Background(), id)
		return err == nil && slices.Contains(states, j.State)
	})
	return j
}

// /hold stops approval; a maintainer's /approve given before the verdict
// publishes the head's job when it is verified, under the maintainer's
// login, unless withdrawn with /approve cancel; /retract needs a reason and
// takes the result off the board.
func TestApproveAndRetractByComment(t *testing.T) {
	e := newBotEnv(t)
	e.bot.cfg.Workloads = pinKnown{digest: string(known.Good(t).Workload.Digest)}
	e.openPR(6, acmeDev, sha('a'), map[string]string{acmeFile: simSubmission(t, "acme", "sim-one")})
	e.idle()
	jobs := e.jobs()
	if len(jobs) != 1 {
		t.Fatalf("%d jobs", len(jobs))
	}
	id := jobs[0].ID

	e.comment(6, maintainer, "/hold", e.tick(time.Minute))
	e.comment(6, maintainer, "/approve", e.tick(time.Minute))
	e.idle()
	if r := e.replies(6); len(r) != 1 || !strings.Contains(r[0], "refused: held by @maia") {
		t.Fatalf("replies to /approve while held: %q", r)
	}
	e.comment(6, maintainer, "/unhold\n/approve", e.tick(time.Minute))
	e.comment(6, teamMaint, "/approve cancel", e.tick(time.Minute))
	e.idle()
	if rec, _, _ := e.bot.loadPR(context.Background(), prKey(testRepoID, 6)); rec.Approve != nil {
		t.Fatalf("approval still pending after /approve cancel: %+v", rec.Approve)
	}
	e.comment(6, teamMaint, "/approve", e.tick(time.Minute))
	e.idle()
	if c := e.gh.Comments(testOwner, testRepoName, 6); !strings.Contains(c[0].Body, "Approved by @theo") {
		t.Errorf("status comment: %s", c[0].Body)
	}

	e.runVerified(id, 0)
	j := e.waitJob(id, queue.Published)
	lb, err := publish.LoadResults(testCtx(t, time.Minute), e.store)
	if err != nil {
		t.Fatal(err)
	}
	if len(lb.Results) == 0 || lb.Results[0].Job != id || lb.Results[0].ApprovedBy != teamMaint || lb.Results[0].ApprovedVia != publish.ViaGitHub {
		t.Fatalf("results: %+v", lb.Results)
	}
	if !strings.Contains(j.Reason, testRepo+"#6") {
		t.Errorf("approval reason %q does not name the pull request", j.Reason)
	}
	e.waitFor("the check run to link the result page", func() bool {
		for _, cr := range e.checkRuns(CheckBenchmark("sim")) {
			if cr.ExternalID == id && cr.Conclusion == "success" && strings.Contains(cr.Summary, "https://agentwatt.example/results/"+id+"/1.html") {
				return true
			}
		}
		return false
	})

	e.comment(6, acmeDev, "/retract my numbers are wrong", e.tick(time.Minute))
	e.comment(6, maintainer, "/retract", e.tick(time.Minute))
	e.comment(6, maintainer, "/retract the power meter was misread", e.tick(time.Minute))
	e.idle()
	replies := strings.Join(e.replies(6), "\n")
	for _, want := range []string{"`/retract my numbers are wrong`: denied", "`/retract`: refused: say why", "retracted 1 result"} {
		if !strings.Contains(replies, want) {
			t.Errorf("replies lack %q:\n%s", want, replies)
		}
	}
	lb, err = publish.LoadResults(testCtx(t, time.Minute), e.store)
	if err != nil || len(lb.Results) != 0 {
		t.Errorf("results after /retract: %+v, %v", lb.Results, err)
	}
}

// /retest runs the head's failed job again as a new job of the same pull
// request, with a check run of its own.
func TestRetest(t *testing.T) {
	e := newBotEnv(t)
	e.openPR(7, acmeDev, sha('b'), map[string]string{acmeFile: simSubmission(t, "acme", "sim-one")})
	e.idle()
	e.comment(7, acmeDev, "/retest", e.tick(time.Minute))
	e.idle()
	if r := e.replies(7); len(r) != 1 || !strings.Contains(r[0], "nothing to retest") {
		t.Fatalf("replies to /retest of a queued job: %q", r)
	}
	ctx := testCtx(t, time.Minute)
	lease := e.take(ctx)
	if _, err := lease.Fail(ctx, "engine exited with status 137"); err != nil {
		t.Fatal(err)
	}
	first := lease.Job().ID
	e.waitFor("the failed check run", func() bool {
		crs := e.checkRuns(CheckBenchmark("sim"))
		return len(crs) == 1 && crs[0].Conclusion == "failure" && strings.Contains(crs[0].Summary, "status 137")
	})
	e.comment(7, acmeTeam, "/retest", e.tick(time.Minute))
	e.idle()
	var again *queue.Job
	for _, j := range e.jobs() {
		if j.RetryOf == first {
			again = j
		}
	}
	if again == nil || again.PullRequest == nil || again.PullRequest.Number != 7 || again.SubmittedBy != "github:"+acmeTeam {
		t.Fatalf("retried job: %+v", again)
	}
	e.waitFor("the retried job's check run", func() bool {
		return slices.ContainsFunc(e.checkRuns(CheckBenchmark("sim")), func(cr Checkrun) bool { return cr.ExternalID == again.ID })
	})
}

// A regression found on publication is reported once: on the pull request
// of the job that regressed, naming both versions, figures and bundles; one
// with no pull request as an issue on the submissions repository.
func TestRegressionReported(t *testing.T) {
	e := newBotEnv(t)
	e.bot.cfg.Workloads = pinKnown{digest: string(known.Good(t).Workload.Digest)}
	e.gh.SetInstallation(testOwner, testRepoName, testInstallation)
	publishRun := func(pr int, head byte, version string, agents int) string {
		sub := strings.Replace(simSubmission(t, "acme", "sim-one"), `version: "1"`, `version: "`+version+`"`, 1)
		e.openPR(pr, acmeDev, sha(head), map[string]string{acmeFile: sub})
		e.idle()
		jobs := e.jobs()
		id := jobs[len(jobs)-1].ID
		for _, j := range jobs {
			if j.PullRequest.Number == pr {
				id = j.ID
			}
		}
		e.runVerified(id, agents)
		e.waitJob(id, queue.Verified)
		e.comment(pr, maintainer, "/approve", e.tick(time.Minute))
		e.idle()
		e.waitJob(id, queue.Published)
		return id
	}
	before := publishRun(21, 'a', "1", 40)
	now := publishRun(22, 'b', "2", 20)
	var body string
	e.waitFor("the regression comment", func() bool {
		for _, c := range e.gh.Comments(testOwner, testRepoName, 22) {
			if strings.Contains(c.Body, "a regression") {
				body = c.Body
				return true
			}
		}
		return false
	})
	for _, want := range []string{"`1`", "`2`", before, now, "s3://", "Agents/MW changed by **-"} {
		if !strings.Contains(body, want) {
			t.Errorf("regression comment lacks %q:\n%s", want, body)
		}
	}
	time.Sleep(time.Second) // a few more rounds of the reporter
	n := 0
	for _, c := range e.gh.Comments(testOwner, testRepoName, 22) {
		if strings.Contains(c.Body, "a regression") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the regression was reported %d times, want once", n)
	}

	// Without a pull request, an issue on the repository.
	where, err := e.bot.fileRegression(testCtx(t, time.Minute), publish.Regression{ID: strings.Repeat("ab", 16), Kind: "regression",
		Config: "acme/x/m/sys/vllm", Tier: "t20", Change: -0.3, Threshold: 0.05,
		Previous: publish.RegressionRun{Job: "gone-1", FrameworkVersion: "0.9.0", AgentsPerMW: 100},
		Current:  publish.RegressionRun{Job: "gone-2", FrameworkVersion: "0.10.0\u202e<b>", AgentsPerMW: 70}})
	if err != nil {
		t.Fatal(err)
	}
	issues := e.gh.Issues(testOwner, testRepoName)
	if len(issues) != 1 || where != testRepo+"#1" || strings.ContainsRune(issues[0].Title, '\u202e') || !strings.Contains(issues[0].Title, "0.9.0 → 0.10.0") {
		t.Errorf("issue: %q %+v", where, issues)
	}
}
