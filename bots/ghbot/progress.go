package ghbot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
)

// CheckBenchmark is the name of a job's check run: one per job, named by
// its pool.
func CheckBenchmark(pool string) string { return "agentwatt/benchmark (" + pool + ")" }

// onEvent reports one job event of a pull-request job on its check run:
// queued, in progress with the phase and probe, completed with the
// verdict. When a job ends, the pull request's comment is brought up to
// date and a pending /approve is applied.
func (b *Bot) onEvent(ctx context.Context, data []byte) error {
	var ev queue.Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil // not an event: nothing to report
	}
	if ev.Kind != queue.EventState && ev.Kind != queue.EventProgress && ev.Kind != queue.EventProbe {
		return nil
	}
	if ev.Kind != queue.EventState && !b.progressDue(ev.Job) {
		return nil
	}
	j, err := b.q.Get(ctx, ev.Job)
	if errors.Is(err, queue.ErrJobNotFound) || errors.Is(err, queue.ErrInvalid) {
		return nil
	}
	if err != nil {
		return err
	}
	pr := j.PullRequest
	if pr == nil {
		return nil
	}
	log := b.log.With().Str("job", j.ID).Str("pr", fmt.Sprintf("%s#%d", pr.Repo, pr.Number)).Logger()
	key := prKey(pr.RepoID, pr.Number)
	rec, err := b.updatePR(ctx, key, nil, func(r *prRecord) error {
		pj := r.job(j.ID)
		if pj == nil { // a retry, or a job from before a restart
			r.Jobs = append(r.Jobs, prJob{ID: j.ID, SHA: pr.HeadSHA, Path: pr.Path, Pool: j.Pool})
			pj = &r.Jobs[len(r.Jobs)-1]
		}
		pj.State = j.State
		return nil
	})
	if errors.Is(err, errNoRecord) {
		return nil
	}
	if err != nil {
		return err
	}
	owner, name, _ := strings.Cut(pr.Repo, "/")
	api := repoAPI{c: b.apps.client(pr.Installation), owner: owner, name: name}
	cr := b.jobCheck(ctx, j, ev, log)
	pj := rec.job(j.ID)
	if pj.CheckRun == 0 {
		id, err := api.createCheck(ctx, cr)
		if err != nil {
			return err
		}
		if _, err := b.updatePR(ctx, key, nil, func(r *prRecord) error {
			if p := r.job(j.ID); p != nil && p.CheckRun == 0 {
				p.CheckRun = id
			}
			return nil
		}); err != nil {
			return err
		}
	} else if err := api.updateCheck(ctx, pj.CheckRun, cr); err != nil {
		return err
	}
	if ev.Kind != queue.EventState {
		return nil
	}
	if j.State == queue.Verified && rec.Approve != nil {
		why, err := b.applyApproval(ctx, rec, j.ID, log)
		if err != nil {
			return err
		}
		if why != "" {
			if _, err := api.comment(ctx, rec.Number, 0, "@"+rec.Approve.By+" "+why); err != nil {
				return err
			}
		}
	}
	if j.State.Terminal() {
		return b.refreshComment(ctx, key)
	}
	return nil
}

// progressDue reports whether a progress event of job may update its check
// run now (at most one per Config.ProgressEvery).
func (b *Bot) progressDue(job string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.cfg.Now()
	if last, ok := b.progress[job]; ok && now.Sub(last) < b.cfg.ProgressEvery {
		return false
	}
	b.progress[job] = now
	if len(b.progress) > 4096 { // forget finished jobs
		for k, t := range b.progress {
			if now.Sub(t) > time.Hour {
				delete(b.progress, k)
			}
		}
	}
	return true
}

// jobCheck is the check run that shows job j after event ev.
func (b *Bot) jobCheck(ctx context.Context, j *queue.Job, ev queue.Event, log zerolog.Logger) checkRun {
	cr := checkRun{Name: CheckBenchmark(j.Pool), HeadSHA: j.PullRequest.HeadSHA, ExternalID: j.ID, DetailsURL: b.cfg.PublicURL}
	head := fmt.Sprintf("Job %s for %s (%s/%s), pool %s. Follow it with `agentwatt status -f %s`.\n\n",
		mdCode(j.ID), mdCode(j.PullRequest.Path), mdCode(j.Vendor), mdCode(j.Name), mdCode(j.Pool), j.ID)
	switch j.State {
	case queue.Held:
		cr.Status, cr.Title = "queued", "held"
		cr.Summary = head + "Held: a maintainer's `/unhold` queues it."
	case queue.Queued:
		cr.Status, cr.Title = "queued", "queued for a runner of pool "+j.Pool
		cr.Summary = head + "Waiting for a runner of pool " + mdCode(j.Pool) + "."
	case queue.Running, queue.Uploaded, queue.Verifying, queue.Canceling:
		cr.Status, cr.Title = "in_progress", string(j.State)
		if ev.Kind != queue.EventState && ev.Message != "" {
			cr.Title = string(j.State) + ": " + oneLine(ev.Message, 120)
		}
		cr.Summary = head + fmt.Sprintf("Attempt %d on runner %s: %s.", j.Attempt, mdCode(j.Runner), mdCode(cr.Title))
	case queue.Verified, queue.Published:
		cr.Conclusion = "success"
		cr.Title, cr.Summary = b.verdictSummary(ctx, j, head, log)
	case queue.Rejected:
		cr.Conclusion = "failure"
		cr.Title, cr.Summary = b.verdictSummary(ctx, j, head, log)
	case queue.Failed:
		cr.Conclusion, cr.Title = "failure", "failed"
		cr.Summary = head + "The run failed: " + mdCode(j.Reason) + "\n\n`/retest` runs it again."
	case queue.Canceled:
		cr.Conclusion, cr.Title = "cancelled", "canceled"
		cr.Summary = head + "Canceled: " + mdCode(j.Reason)
	default:
		cr.Status, cr.Title, cr.Summary = "queued", string(j.State), head
	}
	return cr
}

// verdictSummary reads the verifier's verdict of the job's attempt: the
// capacity of each tier, the checks that failed, the bundle and how to
// verify it.
func (b *Bot) verdictSummary(ctx context.Context, j *queue.Job, head string, log zerolog.Logger) (title, summary string) {
	data, err := b.cfg.Store.GetBytes(ctx, bundle.Key(j.ID, j.Attempt, bundle.VerdictFile), 64<<20)
	var v *bundle.Verdict
	if err == nil {
		v, err = bundle.DecodeVerdict(data)
	}
	if err != nil {
		log.Warn().Err(err).Msg("read verdict for the check run")
		return string(j.State), head + "The verdict could not be read: " + mdCode(err.Error())
	}
	var sb strings.Builder
	sb.WriteString(head)
	bundleURL := b.cfg.Store.URL(bundle.Prefix(j.ID, j.Attempt))
	if v.Simulated {
		sb.WriteString("**Simulated** (sim engine, no GPU): not a hardware result.\n\n")
	}
	if v.Verified() && v.Results != nil {
		title = "verified"
		sb.WriteString("| tier | max agents | Agents/MW | agents per GPU | output tokens/s |\n|---|---:|---:|---:|---:|\n")
		for _, t := range v.Results.Tiers {
			agents := fmt.Sprint(t.MaxAgents)
			if !t.Confirmed {
				agents += " (unconfirmed)"
			}
			fmt.Fprintf(&sb, "| %s | %s | %.1f | %.2f | %.1f |\n", mdCode(t.Tier), agents, t.AgentsPerMW, t.AgentsPerGPU, t.OutputTokensPerS)
			if t.Confirmed && t.MaxAgents > 0 && !strings.Contains(title, "agents") {
				title = fmt.Sprintf("verified: %d agents (%s), %.0f Agents/MW", t.MaxAgents, t.Tier, t.AgentsPerMW)
			}
		}
		fmt.Fprintf(&sb, "\nAccuracy %.3f on %d questions, %d requests replayed.\n", v.Results.Accuracy, v.Results.AccuracyN, v.Results.Requests)
	} else {
		title = "rejected by the verifier"
		sb.WriteString("The verifier refused the bundle. Failed checks:\n\n")
		for _, c := range v.Checks {
			if !c.Passed && !c.Informational {
				fmt.Fprintf(&sb, "- %s: %s\n", mdCode(c.Name), mdCode(c.Reason))
			}
		}
	}
	fmt.Fprintf(&sb, "\nBundle: %s\n\nRecompute every number: `agentwatt verify %s`\n", mdCode(bundleURL), bundleURL)
	switch {
	case j.State == queue.Published && b.cfg.PublicURL != "":
		fmt.Fprintf(&sb, "\nPublished: %s/%s\n", b.cfg.PublicURL, publish.ResultPath(j.ID, j.Attempt))
	case j.State == queue.Published:
		sb.WriteString("\nPublished on the leaderboard.\n")
	case v.Verified():
		sb.WriteString("\nA maintainer's `/approve` publishes it.\n")
	}
	return title, sb.String()
}

// oneLine is s on one line, at most n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = clip(s, n)
	}
	return s
}
