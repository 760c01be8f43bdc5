package ghbot

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
)

const acmeFile = "submissions/acme/sim.yaml"

// A listed author's pull request is validated at its head and queued at
// once, with the pull request in the job record; a new push cancels the
// old head's job and queues the new one; closing without merging cancels.
func TestTrustedPullRequest(t *testing.T) {
	e := newBotEnv(t)
	e.openPR(1, acmeTeam, sha('a'), map[string]string{acmeFile: simSubmission(t, "acme", "sim-one"), "README.md": "notes"})
	e.idle()
	v := e.checkRuns(CheckValidate)
	if len(v) != 1 || v[0].Conclusion != "success" || v[0].HeadSHA != sha('a') {
		t.Fatalf("validate check: %+v", v)
	}
	jobs := e.jobs()
	if len(jobs) != 1 {
		t.Fatalf("%d jobs, want 1", len(jobs))
	}
	j := jobs[0]
	pr := j.PullRequest
	if j.State != queue.Queued || j.Vendor != "acme" || j.SubmittedBy != "github:"+acmeTeam || pr == nil ||
		pr.Repo != testRepo || pr.RepoID != testRepoID || pr.Number != 1 || pr.HeadSHA != sha('a') || pr.Path != acmeFile ||
		pr.Author != acmeTeam || pr.Installation != testInstallation {
		t.Fatalf("job: %+v, pull request %+v", j, pr)
	}
	// The events stream creates the job's check run.
	e.waitFor("the job's check run", func() bool { return len(e.checkRuns(CheckBenchmark("sim"))) == 1 })
	cr := e.checkRuns(CheckBenchmark("sim"))[0]
	if cr.ExternalID != j.ID || cr.HeadSHA != sha('a') || cr.Status != "queued" {
		t.Errorf("benchmark check run: %+v", cr)
	}
	comments := e.gh.Comments(testOwner, testRepoName, 1)
	if len(comments) != 1 || !strings.Contains(comments[0].Body, j.ID) || !strings.Contains(comments[0].Body, "runs at once") {
		t.Fatalf("status comment: %+v", comments)
	}

	// A new push: the old head's job is canceled, the new head queued.
	e.tick(time.Minute)
	e.push(1, acmeTeam, sha('b'), map[string]string{acmeFile: simSubmission(t, "acme", "sim-two")})
	e.idle()
	old, err := e.q.Get(testCtx(t, time.Minute), j.ID)
	if err != nil || old.State != queue.Canceled {
		t.Fatalf("old head's job: %+v, %v; want canceled", old, err)
	}
	var newJob *queue.Job
	for _, x := range e.jobs() {
		if x.ID != j.ID {
			newJob = x
		}
	}
	if newJob == nil || newJob.PullRequest.HeadSHA != sha('b') || newJob.State != queue.Queued {
		t.Fatalf("new head's job: %+v", newJob)
	}
	// A late delivery of the old head (GitHub does not promise order)
	// changes nothing.
	e.deliver("pull_request", payload(t, "pull_request/synchronize.payload.json", repoFields(map[string]any{
		"number": 1, "pull_request.number": 1, "pull_request.head.sha": sha('a'), "pull_request.base.ref": "main",
		"pull_request.user.login": acmeTeam,
	})))
	e.idle()
	if got, _ := e.q.Get(testCtx(t, time.Minute), newJob.ID); got.State != queue.Queued || len(e.jobs()) != 2 {
		t.Fatalf("after a late delivery of the old head: new head's job %s, %d jobs", got.State, len(e.jobs()))
	}
	e.waitFor("the old check run cancelled", func() bool {
		for _, cr := range e.checkRuns(CheckBenchmark("sim")) {
			if cr.ExternalID == j.ID {
				return cr.Conclusion == "cancelled"
			}
		}
		return false
	})

	// Closed without merging: its jobs are canceled.
	e.gh.UpdatePR(testOwner, testRepoName, 1, func(p *PRState) { p.State = "closed" })
	e.deliver("pull_request", payload(t, "pull_request/closed.payload.json", repoFields(map[string]any{
		"number": 1, "pull_request.number": 1, "pull_request.head.sha": sha('b'), "pull_request.base.ref": "main",
		"pull_request.user.login": acmeTeam, "pull_request.merged": false,
	})))
	e.idle()
	if got, _ := e.q.Get(testCtx(t, time.Minute), newJob.ID); got.State != queue.Canceled {
		t.Errorf("job after close: %s, want canceled", got.State)
	}
	e.waitFor("the status comment to say closed", func() bool {
		c := e.gh.Comments(testOwner, testRepoName, 1)
		return len(c) == 1 && strings.Contains(c[0].Body, "closed without merging")
	})
}

// A pull request by someone listed for another vendor that touches acme's
// folder fails agentwatt/validate and queues nothing.
func TestOtherVendorsFolder(t *testing.T) {
	e := newBotEnv(t)
	e.openPR(2, globexDev, sha('c'), map[string]string{acmeFile: simSubmission(t, "acme", "sim-one")})
	e.idle()
	v := e.checkRuns(CheckValidate)
	if len(v) != 1 || v[0].Conclusion != "failure" || len(v[0].Annotations) != 1 {
		t.Fatalf("validate check: %+v", v)
	}
	if a := v[0].Annotations[0]; a.Path != acmeFile || !strings.Contains(a.Message, "@gus submits for globex") {
		t.Errorf("annotation: %+v", a)
	}
	if n := len(e.jobs()); n != 0 {
		t.Errorf("%d jobs queued for another vendor's folder", n)
	}
	// Nor can the pull request list its author for acme: VENDORS.yaml is
	// read from the default branch only.
	e.tick(time.Minute)
	e.push(2, globexDev, sha('d'), map[string]string{
		acmeFile: simSubmission(t, "acme", "sim-one"), VendorsFile: "vendors:\n  acme: [gus]\n",
	})
	e.idle()
	if v := e.checkRuns(CheckValidate); len(v) != 2 || v[1].Conclusion != "failure" {
		t.Errorf("validate check after the PR edits VENDORS.yaml: %+v", v)
	}
	if n := len(e.jobs()); n != 0 {
		t.Errorf("%d jobs queued after the PR listed its own author", n)
	}
}

// An outsider's pull request waits for a maintainer's /ok-to-test, which
// covers only the head it was written for: one written before a push, or
// naming an older SHA, is refused; a non-maintainer's is denied; a new push
// needs a new one.
func TestOKToTestPinnedToHead(t *testing.T) {
	e := newBotEnv(t)
	e.openPR(3, outsider, sha('c'), map[string]string{acmeFile: simSubmission(t, "acme", "sim-one")})
	e.idle()
	if v := e.checkRuns(CheckValidate); len(v) != 1 || v[0].Conclusion != "success" || !strings.Contains(v[0].Summary, "/ok-to-test") {
		t.Fatalf("validate check: %+v", v)
	}
	if n := len(e.jobs()); n != 0 {
		t.Fatalf("%d jobs queued for an outsider", n)
	}
	reviewed := e.tick(time.Minute) // the maintainer reviews head c and writes a comment
	e.tick(time.Minute)
	e.push(3, outsider, sha('d'), map[string]string{acmeFile: simSubmission(t, "acme", "sim-evil")})
	e.idle()
	// The comment, written while the head was c, arrives after the push.
	e.comment(3, maintainer, "/ok-to-test", reviewed)
	e.comment(3, maintainer, "/ok-to-test "+sha('c')[:12], e.tick(time.Minute))
	e.comment(3, acmeDev, "/ok-to-test", e.tick(time.Minute))
	e.idle()
	if n := len(e.jobs()); n != 0 {
		t.Fatalf("%d jobs queued by refused /ok-to-test", n)
	}
	replies := e.replies(3)
	for _, want := range []string{"the head changed to", "names `" + sha('c')[:12] + "`", "denied: `/ok-to-test` is for maintainers (MAINTAINERS on the default branch); @alice is not one"} {
		if !slices.ContainsFunc(replies, func(r string) bool { return strings.Contains(r, want) }) {
			t.Errorf("no reply says %q; replies: %q", want, replies)
		}
	}

	// A maintainer (through a team) reviews head d and allows it.
	e.comment(3, teamMaint, "/OK-to-test "+sha('d')[:7], e.tick(time.Minute))
	e.idle()
	jobs := e.jobs()
	if len(jobs) != 1 || jobs[0].PullRequest.HeadSHA != sha('d') || jobs[0].State != queue.Queued {
		t.Fatalf("jobs after /ok-to-test: %+v", jobs)
	}
	// A new push needs a new /ok-to-test.
	e.tick(time.Minute)
	e.push(3, outsider, sha('e'), map[string]string{acmeFile: simSubmission(t, "acme", "sim-three")})
	e.idle()
	for _, j := range e.jobs() {
		if j.PullRequest.HeadSHA == sha('e') {
			t.Errorf("head e queued without a new /ok-to-test: %s", j.ID)
		}
		if j.State != queue.Canceled {
			t.Errorf("head d's job after the push: %s, want canceled", j.State)
		}
	}
}

// Maintainer commands are denied to others, with a comment saying why;
// edited comments and comments of bots do nothing.
func TestCommandsDenied(t *testing.T) {
	e := newBotEnv(t)
	e.openPR(4, acmeDev, sha('a'), map[string]string{acmeFile: simSubmission(t, "acme", "sim-one")})
	e.idle()
	e.comment(4, acmeDev, "Thanks!\n/approve\n/hold\n> /cancel (quoted)\n```\n/cancel\n```", e.tick(time.Minute))
	e.comment(4, outsider, "/cancel", e.tick(time.Minute))
	e.deliver("issue_comment", payload(t, "issue_comment/created.payload.json", repoFields(map[string]any{
		"action": "edited", "issue.number": 4, "issue.pull_request.url": "x", "comment.body": "/cancel", "comment.user.login": acmeDev,
	})))
	e.deliver("issue_comment", payload(t, "issue_comment/created.payload.json", repoFields(map[string]any{
		"issue.number": 4, "issue.pull_request.url": "x", "comment.body": "/cancel", "comment.user.login": "evil[bot]", "comment.user.type": "Bot",
	})))
	e.idle()
	replies := e.replies(4)
	if len(replies) != 2 {
		t.Fatalf("replies: %q", replies)
	}
	for _, want := range []string{"`/approve`: denied", "`/hold`: denied", "@" + outsider, "`/cancel`: denied"} {
		if !strings.Contains(strings.Join(replies, "\n"), want) {
			t.Errorf("replies lack %q: %q", want, replies)
		}
	}
	jobs := e.jobs()
	if len(jobs) != 1 || jobs[0].State != queue.Queued {
		t.Fatalf("job after denied and ignored commands: %+v", jobs)
	}
	// The vendor's own /cancel works.
	e.comment(4, acmeDev, "/cancel", e.tick(time.Minute))
	e.idle()
	if j, _ := e.q.Get(testCtx(t, time.Minute), jobs[0].ID); j.State != queue.Canceled {
		t.Errorf("job after the vendor's /cancel: %s", j.State)
	}
}

// Problems are annotated on their file's line and column, as `agentwatt
// validate` prints them; 120 problems go in batches of at most 50.
func TestValidateAnnotations(t *testing.T) {
	e := newBotEnv(t)
	good := simSubmission(t, "acme", "x")
	bad := strings.Replace(good, "  topology: single-node\n", "  topology: single-node\n  gpus: 8\n", 1)
	var many strings.Builder
	for i := range 120 {
		fmt.Fprintf(&many, "  bogus%d: 1\n", i)
	}
	worse := strings.Replace(good, "  contact: demo@agentwatt.dev\n", "  contact: demo@agentwatt.dev\n"+many.String(), 1)
	files := map[string]string{"submissions/acme/bad.yaml": bad, "submissions/acme/worse.yaml": worse, "submissions/acme/broken.yaml": "metadata: [\n"}
	e.openPR(5, acmeDev, sha('f'), files)
	e.idle()
	v := e.checkRuns(CheckValidate)
	if len(v) != 1 || v[0].Conclusion != "failure" {
		t.Fatalf("validate check: %+v", v)
	}
	var want []spec.Problem
	for name, data := range files {
		_, err := spec.Parse(name, []byte(data))
		probs, _ := err.(spec.Problems)
		want = append(want, probs...)
	}
	got := v[0].Annotations
	if len(got) != len(want) || len(want) < 122 {
		t.Fatalf("%d annotations for %d problems", len(got), len(want))
	}
	for _, n := range v[0].AnnotationBatches {
		if n > 50 {
			t.Errorf("a request carried %d annotations; GitHub takes 50", n)
		}
	}
	for _, p := range want {
		if !slices.ContainsFunc(got, func(a Annotation) bool {
			return a.Path == p.File && a.StartLine == max(p.Line, 1) && (p.Col == 0 || *a.StartColumn == p.Col) && a.Message == p.Message
		}) {
			t.Errorf("no annotation at %s", p)
		}
	}
	// The unknown field sits where validate says: line 20, column 3.
	if !slices.ContainsFunc(got, func(a Annotation) bool {
		return a.Path == "submissions/acme/bad.yaml" && a.StartLine == 20 && *a.StartColumn == 3 && strings.Contains(a.Message, `unknown field "gpus"`)
	}) {
		t.Error("the unknown field is not annotated at bad.yaml:20:3")
	}
	if n := len(e.jobs()); n != 0 {
		t.Errorf("%d jobs queued from invalid files", n)
	}
}

// A sim submission that no runner could run (a rack profile declared as
// one node) fails the check at its sim_profile line, as the intake refuses
// it, and queues nothing.
func TestValidateSimProfile(t *testing.T) {
	e := newBotEnv(t)
	bad := strings.Replace(simSubmission(t, "acme", "x"), "sim_profile: b300x8-like", "sim_profile: gb300-nvl72-like", 1)
	e.openPR(6, acmeDev, sha('e'), map[string]string{"submissions/acme/rack.yaml": bad})
	e.idle()
	v := e.checkRuns(CheckValidate)
	if len(v) != 1 || v[0].Conclusion != "failure" {
		t.Fatalf("validate check: %+v", v)
	}
	line := 2 + strings.Count(bad[:strings.Index(bad, "\n  sim_profile:")], "\n")
	if !slices.ContainsFunc(v[0].Annotations, func(a Annotation) bool {
		return a.Path == "submissions/acme/rack.yaml" && a.StartLine == line && strings.Contains(a.Message, "is a rack of 4 member nodes")
	}) {
		t.Errorf("annotations %+v: want the rack profile refused at line %d", v[0].Annotations, line)
	}
	if n := len(e.jobs()); n != 0 {
		t.Errorf("%d jobs queued", n)
	}
}

func TestParseCommands(t *testing.T) {
	got := parseCommands("LGTM\n/Approve\n  /hold  \n/approve cancel\n> /cancel\n```\n/retest\n```\n/unknown\n/retract the power trace is wrong\n/ok-to-testing")
	var names []string
	for _, c := range got {
		names = append(names, c.String())
	}
	want := []string{"/approve", "/hold", "/approve cancel", "/retract the power trace is wrong"}
	if !slices.Equal(names, want) {
		t.Errorf("commands %q, want %q", names, want)
	}
	if n := len(parseCommands(strings.Repeat("/hold\n", 50))); n != maxCommands {
		t.Errorf("%d commands from one comment, want at most %d", n, maxCommands)
	}
}

// On /hold, a new head's jobs start held and /unhold queues them; a
// reopened pull request runs its canceled head again.
func TestHoldAndReopen(t *testing.T) {
	e := newBotEnv(t)
	e.openPR(8, acmeDev, sha('a'), map[string]string{acmeFile: simSubmission(t, "acme", "sim-one")})
	e.idle()
	e.comment(8, maintainer, "/hold", e.tick(time.Minute))
	e.idle()
	e.tick(time.Minute)
	e.push(8, acmeDev, sha('b'), map[string]string{acmeFile: simSubmission(t, "acme", "sim-two")})
	e.idle()
	var held *queue.Job
	for _, j := range e.jobs() {
		if j.PullRequest.HeadSHA == sha('b') {
			held = j
		}
	}
	if held == nil || held.State != queue.Held {
		t.Fatalf("job of the head pushed while held: %+v", held)
	}
	e.comment(8, maintainer, "/unhold", e.tick(time.Minute))
	e.idle()
	if j := e.waitJob(held.ID, queue.Queued); j.State != queue.Queued {
		t.Fatalf("after /unhold: %s", j.State)
	}

	e.gh.UpdatePR(testOwner, testRepoName, 8, func(p *PRState) { p.State = "closed" })
	e.deliver("pull_request", payload(t, "pull_request/closed.payload.json", repoFields(map[string]any{
		"number": 8, "pull_request.number": 8, "pull_request.head.sha": sha('b'), "pull_request.base.ref": "main",
		"pull_request.user.login": acmeDev, "pull_request.merged": false,
	})))
	e.idle()
	e.waitJob(held.ID, queue.Canceled)
	e.gh.UpdatePR(testOwner, testRepoName, 8, func(p *PRState) { p.State = "open" })
	e.deliver("pull_request", payload(t, "pull_request/reopened.payload.json", repoFields(map[string]any{
		"number": 8, "pull_request.number": 8, "pull_request.head.sha": sha('b'), "pull_request.base.ref": "main",
		"pull_request.user.login": acmeDev,
	})))
	e.idle()
	var again *queue.Job
	for _, j := range e.jobs() {
		if j.RetryOf == held.ID {
			again = j
		}
	}
	if again == nil || again.State != queue.Queued || again.PullRequest.HeadSHA != sha('b') {
		t.Fatalf("reopened head's job: %+v", again)
	}
}

// A pull request opened before the App was installed is reviewed when a
// command first names it; one into another branch is not.
func TestCommandOnUnseenPullRequest(t *testing.T) {
	e := newBotEnv(t)
	e.gh.SetFile(testOwner, testRepoName, sha('c'), acmeFile, []byte(simSubmission(t, "acme", "sim-one")))
	e.gh.AddPR(testOwner, testRepoName, PRState{Number: 9, HeadSHA: sha('c'), BaseRef: "main", Author: outsider, State: "open", Files: []string{acmeFile}})
	e.gh.AddPR(testOwner, testRepoName, PRState{Number: 10, HeadSHA: sha('c'), BaseRef: "release-1", Author: outsider, State: "open", Files: []string{acmeFile}})
	e.comment(10, maintainer, "/ok-to-test", e.tick(time.Minute))
	e.comment(9, maintainer, "/ok-to-test", e.tick(time.Minute))
	e.idle()
	jobs := e.jobs()
	if len(jobs) != 1 || jobs[0].PullRequest.Number != 9 {
		t.Fatalf("jobs: %+v", jobs)
	}
	if r := e.replies(10); len(r) != 1 || !strings.Contains(r[0], "not been reviewed") {
		t.Errorf("reply on the pull request into another branch: %q", r)
	}
}

// A broken VENDORS.yaml on the default branch fails agentwatt/validate with
// what is wrong (it is the operators' to fix), queues nothing, and is not
// retried as if GitHub had not answered.
func TestBrokenPolicyFile(t *testing.T) {
	e := newBotEnv(t)
	e.gh.SetFile(testOwner, testRepoName, "main", VendorsFile, []byte("vendors:\n  acme: [alice]\n  acme: [bob]\n"))
	e.openPR(11, acmeDev, sha('a'), map[string]string{acmeFile: simSubmission(t, "acme", "sim-one")})
	e.idle()
	v := e.checkRuns(CheckValidate)
	if len(v) != 1 || v[0].Conclusion != "failure" || !strings.Contains(v[0].Summary, "VENDORS.yaml:3") {
		t.Fatalf("validate check: %+v", v)
	}
	if n := len(e.jobs()); n != 0 {
		t.Errorf("%d jobs queued under a broken policy", n)
	}
}
