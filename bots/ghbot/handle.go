package ghbot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
)

// target is one pull request of the submissions repository, as a delivery
// names it.
type target struct {
	api           repoAPI
	repo          string // owner/name
	repoID        int64
	installation  int64
	number        int
	author        string
	head          string
	defaultBranch string
	url           string // the pull request's page
}

func (t target) key() string { return prKey(t.repoID, t.number) }

func (t target) initRecord(seen time.Time) *prRecord {
	return &prRecord{Repo: t.repo, RepoID: t.repoID, Number: t.number, Installation: t.installation,
		Author: t.author, HeadSHA: t.head, HeadSeen: seen}
}

// handle acts on one accepted delivery. An error makes the delivery be
// tried again later; a delivery that can never succeed (not ours, not
// understood) returns nil.
func (b *Bot) handle(ctx context.Context, d delivery, log zerolog.Logger) error {
	ev, err := github.ParseWebHook(d.Event, d.Body)
	if err != nil {
		log.Warn().Err(err).Msg("delivery not understood; dropped")
		return nil
	}
	if d.Received.IsZero() {
		d.Received = b.cfg.Now()
	}
	switch e := ev.(type) {
	case *github.PullRequestEvent:
		return b.onPullRequest(ctx, e, d, log)
	case *github.IssueCommentEvent:
		return b.onComment(ctx, e, d, log)
	}
	return nil
}

// ours reports whether a delivery is about the submissions repository and
// names an installation to answer through.
func (b *Bot) ours(repo *github.Repository, inst *github.Installation, log zerolog.Logger) bool {
	if !sameRepo(repo.GetFullName(), b.cfg.Repo) {
		log.Info().Str("repo", repo.GetFullName()).Msg("delivery for another repository; ignored")
		return false
	}
	if inst.GetID() == 0 {
		log.Warn().Msg("delivery without an installation; ignored")
		return false
	}
	return true
}

func (b *Bot) targetOf(repo *github.Repository, inst *github.Installation, pr *github.PullRequest) target {
	owner, name, _ := strings.Cut(repo.GetFullName(), "/")
	return target{
		api: repoAPI{c: b.apps.client(inst.GetID()), owner: owner, name: name}, repo: repo.GetFullName(), repoID: repo.GetID(),
		installation: inst.GetID(), number: pr.GetNumber(), author: pr.GetUser().GetLogin(), head: pr.GetHead().GetSHA(),
		defaultBranch: repo.GetDefaultBranch(), url: pr.GetHTMLURL(),
	}
}

func (b *Bot) onPullRequest(ctx context.Context, e *github.PullRequestEvent, d delivery, log zerolog.Logger) error {
	if !b.ours(e.GetRepo(), e.GetInstallation(), log) {
		return nil
	}
	pr := e.GetPullRequest()
	if pr.GetBase().GetRef() != e.GetRepo().GetDefaultBranch() {
		log.Info().Str("base", pr.GetBase().GetRef()).Msg("pull request into another branch than the default; ignored")
		return nil
	}
	t := b.targetOf(e.GetRepo(), e.GetInstallation(), pr)
	log = log.With().Str("pr", fmt.Sprintf("%s#%d", t.repo, t.number)).Str("head", short(t.head)).Logger()
	switch e.GetAction() {
	case "opened", "reopened", "synchronize":
		if !shaRe.MatchString(t.head) {
			log.Warn().Msg("pull request head is not a commit SHA; ignored")
			return nil
		}
		// GitHub does not promise the order of deliveries: act only on
		// the head the pull request has now.
		now, _, err := t.api.c.PullRequests.Get(ctx, t.api.owner, t.api.name, t.number)
		if err != nil {
			return fmt.Errorf("get pull request #%d: %w", t.number, err)
		}
		if now.GetHead().GetSHA() != t.head || now.GetState() != "open" {
			log.Info().Str("now", short(now.GetHead().GetSHA())).Str("state", now.GetState()).Msg("delivery for a head or state that has changed since; ignored")
			return nil
		}
		return b.syncHead(ctx, t, d.Received, log)
	case "closed":
		return b.onClosed(ctx, t, pr.GetMerged(), log)
	}
	return nil
}

// syncHead takes a new (or reopened) head: jobs of an older head are
// canceled, trust and approval given for it lapse, the head is validated
// and reported as agentwatt/validate, and its jobs are queued when its
// author is trusted.
func (b *Bot) syncHead(ctx context.Context, t target, seen time.Time, log zerolog.Logger) error {
	var stale []string
	_, err := b.updatePR(ctx, t.key(), t.initRecord(seen), func(r *prRecord) error {
		stale = stale[:0]
		if r.HeadSHA != t.head {
			for _, j := range r.Jobs {
				if j.SHA != t.head && !j.State.Terminal() && j.State != queue.Canceling {
					stale = append(stale, j.ID)
				}
			}
			r.HeadSHA, r.HeadSeen = t.head, seen
			r.OKToTest, r.OKToTestBy, r.Approve = "", "", nil
		}
		r.Closed, r.Author, r.Installation = false, t.author, t.installation
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range stale {
		b.cancelJob(ctx, id, "agentwatt-bot", "superseded by "+short(t.head), log)
	}
	return b.reviewAndRun(ctx, t, "", log)
}

// reviewAndRun validates the head, reports agentwatt/validate, records
// the outcome and queues the head's jobs when it may run. okBy, when set,
// is the maintainer whose /ok-to-test of this head is being applied.
func (b *Bot) reviewAndRun(ctx context.Context, t target, okBy string, log zerolog.Logger) error {
	pol, polErr := loadPolicy(ctx, t.api, t.defaultBranch)
	if polErr != nil && !isPolicyError(polErr) {
		return polErr // GitHub did not answer: try again
	}
	var rv review
	if polErr == nil {
		var err error
		if rv, err = b.reviewHead(ctx, t, pol); err != nil {
			return err
		}
	} else {
		rv.policyErr = polErr
	}
	if err := b.reportValidate(ctx, t, rv); err != nil {
		return err
	}
	valid := rv.policyErr == nil && len(rv.problems) == 0 && len(rv.subs) > 0
	rec, err := b.updatePR(ctx, t.key(), nil, func(r *prRecord) error {
		if r.HeadSHA != t.head {
			return errStaleHead
		}
		r.Valid, r.Trusted, r.Vendors = valid, rv.trusted, rv.vendors
		if okBy != "" {
			r.OKToTest, r.OKToTestBy = t.head, okBy
		}
		return nil
	})
	if errors.Is(err, errStaleHead) {
		log.Info().Msg("a newer head arrived meanwhile; its own delivery reviews it")
		return nil
	}
	if err != nil {
		return err
	}
	if rec.mayRun() {
		if err := b.enqueueHead(ctx, t, rec, rv.subs, log); err != nil {
			return err
		}
	}
	if rv.files == 0 && rec.CommentID == 0 && len(rec.Jobs) == 0 {
		return nil // a pull request that submits nothing gets no comment
	}
	return b.refreshComment(ctx, t.key())
}

var errStaleHead = errors.New("the pull request has a newer head")

// policyError is a broken VENDORS.yaml or MAINTAINERS on the default
// branch: reported on the check, not retried like GitHub not answering.
type policyError struct{ err error }

func (e policyError) Error() string { return e.err.Error() }
func (e policyError) Unwrap() error { return e.err }

func isPolicyError(err error) bool {
	var pe policyError
	return errors.As(err, &pe)
}

// trigger names a pull request's run of one head: the same file at the
// same head is the same job, whoever asks again.
func (t target) trigger() string {
	return fmt.Sprintf("github:%d#%d@%s", t.repoID, t.number, t.head)
}

// enqueueHead queues one job per submission of the head (held while the
// pull request is held) and records them.
func (b *Bot) enqueueHead(ctx context.Context, t target, rec *prRecord, subs []submission, log zerolog.Logger) error {
	var added []prJob
	for _, s := range subs {
		canon, err := s.sub.Canonical()
		if err != nil {
			return fmt.Errorf("%s: canonical spec: %w", s.path, err)
		}
		j, created, err := b.q.Enqueue(ctx, queue.NewJob{
			Vendor: s.sub.Metadata.Vendor, Name: s.sub.Metadata.Name, Pool: s.sub.Pool(),
			Spec: canon, SpecDigest: s.sub.Digest(), Trigger: t.trigger(),
			Workload: s.sub.WorkloadName(), WorkloadDigest: s.sub.WorkloadDigest(), Profile: s.sub.Benchmark.Profile,
			Held: rec.Held, By: "github:" + t.author,
			PullRequest: &queue.PullRequest{Repo: t.repo, RepoID: t.repoID, Number: t.number, HeadSHA: t.head,
				Path: s.path, Author: t.author, Installation: t.installation},
		})
		if err != nil {
			return fmt.Errorf("enqueue %s: %w", s.path, err)
		}
		if !created && j.State == queue.Canceled {
			// The head ran before and was canceled (the pull request was
			// closed, or pushed over and pushed back): run it again.
			if j, err = b.q.Retry(ctx, j.ID, "github:"+t.author); err != nil {
				return fmt.Errorf("run %s again: %w", s.path, err)
			}
		}
		log.Info().Str("job", j.ID).Str("file", s.path).Str("pool", j.Pool).Bool("created", created).Str("state", string(j.State)).Msg("pull-request job")
		added = append(added, prJob{ID: j.ID, SHA: t.head, Path: s.path, Pool: j.Pool, State: j.State})
	}
	_, err := b.updatePR(ctx, t.key(), nil, func(r *prRecord) error {
		for _, a := range added {
			if r.job(a.ID) == nil {
				r.Jobs = append(r.Jobs, a)
			}
		}
		return nil
	})
	return err
}

// cancelJob cancels a job that has not ended; a job that ended meanwhile
// is left as it is.
func (b *Bot) cancelJob(ctx context.Context, id, by, why string, log zerolog.Logger) {
	j, err := b.q.Cancel(ctx, id, by)
	switch {
	case errors.Is(err, queue.ErrBadTransition):
		return
	case err != nil:
		log.Warn().Err(err).Str("job", id).Msg("cancel job")
		return
	}
	log.Info().Str("job", id).Str("state", string(j.State)).Str("why", why).Msg("job canceled")
}

// onClosed cancels the jobs of a pull request closed without merging; a
// merged one keeps running to its verdict and approval.
func (b *Bot) onClosed(ctx context.Context, t target, merged bool, log zerolog.Logger) error {
	var live []string
	_, err := b.updatePR(ctx, t.key(), nil, func(r *prRecord) error {
		live = live[:0]
		r.Closed = !merged
		for _, j := range r.Jobs {
			if !j.State.Terminal() && j.State != queue.Canceling {
				live = append(live, j.ID)
			}
		}
		return nil
	})
	if errors.Is(err, errNoRecord) {
		return nil
	}
	if err != nil {
		return err
	}
	if merged {
		return nil
	}
	for _, id := range live {
		b.cancelJob(ctx, id, "github:"+t.author, "pull request closed without merging", log)
	}
	return b.refreshComment(ctx, t.key())
}

// reportValidate creates the agentwatt/validate check run of the head.
func (b *Bot) reportValidate(ctx context.Context, t target, rv review) error {
	cr := checkRun{Name: CheckValidate, HeadSHA: t.head, Status: "completed", DetailsURL: t.url}
	switch {
	case rv.policyErr != nil:
		cr.Conclusion, cr.Title = "failure", "the repository's policy files are broken"
		cr.Summary = "The bot cannot read who may submit: " + mdCode(rv.policyErr.Error()) + "\n\nA maintainer fixes it on the default branch; then push again."
	case len(rv.problems) > 0:
		cr.Conclusion = "failure"
		cr.Title = plural(len(rv.problems), "problem") + " in the submission files"
		cr.Summary = "Nothing is queued until every problem is fixed. `agentwatt validate FILE` shows the same problems locally."
		cr.Text = problemList(rv.problems)
		cr.Annotations = annotations(rv.problems)
	case len(rv.subs) == 0:
		cr.Conclusion, cr.Title = "neutral", "no submission files changed"
		cr.Summary = "This pull request changes no file under `submissions/<vendor>/*.yaml`; nothing runs."
	default:
		cr.Conclusion = "success"
		cr.Title = plural(len(rv.subs), "valid submission")
		var sb strings.Builder
		for _, s := range rv.subs {
			fmt.Fprintf(&sb, "- %s: pool %s, digest %s\n", mdCode(s.path), mdCode(s.sub.Pool()), mdCode(s.sub.Digest()))
		}
		if !rv.trusted {
			sb.WriteString("\nThe author is not listed in VENDORS.yaml for " + mdCode(strings.Join(rv.vendors, ", ")) +
				": nothing runs until a maintainer comments `/ok-to-test` on this head (" + mdCode(short(t.head)) + ").\n")
		}
		cr.Summary = sb.String()
	}
	_, err := t.api.createCheck(ctx, cr)
	return err
}

func problemList(probs []spec.Problem) string {
	var sb strings.Builder
	for _, p := range probs {
		sb.WriteString("- " + mdCode(p.String()) + "\n")
	}
	return sb.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
