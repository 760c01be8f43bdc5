package ghbot

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
)

// command is one chat-ops line of a comment.
type command struct {
	name string // lower-case, without the slash
	arg  string
}

// maxCommands is the most commands one comment may carry.
const maxCommands = 10

var commandRe = regexp.MustCompile(`(?i)^/(ok-to-test|retest|cancel|hold|unhold|approve|retract)(?:[ \t]+(.*))?$`)

// parseCommands returns the comment's commands: lines that start with one
// (Prow style, any case), outside code blocks; quoted lines do not count.
func parseCommands(body string) []command {
	var out []command
	fenced := false
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "```") || strings.HasPrefix(line, "~~~") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		m := commandRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		out = append(out, command{name: strings.ToLower(m[1]), arg: strings.TrimSpace(m[2])})
		if len(out) == maxCommands {
			break
		}
	}
	return out
}

func (c command) String() string {
	if c.arg == "" {
		return "/" + c.name
	}
	return "/" + c.name + " " + c.arg
}

// who the commands are for
const (
	forMaintainers = "maintainers"
	forVendor      = "the vendor's people and maintainers"
)

var commandRole = map[string]string{
	"ok-to-test": forMaintainers, "hold": forMaintainers, "unhold": forMaintainers,
	"approve": forMaintainers, "retract": forMaintainers,
	"retest": forVendor, "cancel": forVendor,
}

// onComment runs the commands of a new comment on a pull request. Edited
// and deleted comments do nothing; nor do comments of bots.
func (b *Bot) onComment(ctx context.Context, e *github.IssueCommentEvent, d delivery, log zerolog.Logger) error {
	if e.GetAction() != "created" || !e.GetIssue().IsPullRequest() {
		return nil
	}
	c := e.GetComment()
	if c.GetUser().GetType() == "Bot" {
		return nil
	}
	cmds := parseCommands(c.GetBody())
	if len(cmds) == 0 || !b.ours(e.GetRepo(), e.GetInstallation(), log) {
		return nil
	}
	login := c.GetUser().GetLogin()
	owner, name, _ := strings.Cut(e.GetRepo().GetFullName(), "/")
	api := repoAPI{c: b.apps.client(e.GetInstallation().GetID()), owner: owner, name: name}
	// The comment does not carry the head: ask for it.
	pr, _, err := api.c.PullRequests.Get(ctx, owner, name, e.GetIssue().GetNumber())
	if err != nil {
		if notFound(err) {
			return nil
		}
		return fmt.Errorf("get pull request #%d: %w", e.GetIssue().GetNumber(), err)
	}
	t := b.targetOf(e.GetRepo(), e.GetInstallation(), pr)
	log = log.With().Str("pr", fmt.Sprintf("%s#%d", t.repo, t.number)).Str("by", login).Logger()
	if _, _, err := b.loadPR(ctx, t.key()); errors.Is(err, errNoRecord) && pr.GetState() == "open" && shaRe.MatchString(t.head) &&
		pr.GetBase().GetRef() == t.defaultBranch {
		// Opened before the App was installed: review it now.
		if err := b.syncHead(ctx, t, d.Received, log); err != nil {
			return err
		}
	}
	pol, err := loadPolicy(ctx, api, t.defaultBranch)
	if err != nil {
		if !isPolicyError(err) {
			return err
		}
		return b.reply(ctx, t, login, []string{"the repository's policy files are broken, so no command can be checked: " + mdCode(err.Error())})
	}
	var replies []string
	for _, cmd := range cmds {
		msg, err := b.runCommand(ctx, t, pol, login, c.GetCreatedAt().Time, cmd, log)
		if err != nil {
			return err
		}
		if msg != "" {
			replies = append(replies, mdCode(cmd.String())+": "+msg)
		}
	}
	if len(replies) > 0 {
		if err := b.reply(ctx, t, login, replies); err != nil {
			return err
		}
	}
	return b.refreshComment(ctx, t.key())
}

// reply answers a comment's author.
func (b *Bot) reply(ctx context.Context, t target, login string, lines []string) error {
	body := "@" + login + "\n\n- " + strings.Join(lines, "\n- ")
	_, err := t.api.comment(ctx, t.number, 0, body)
	return err
}

// runCommand checks that login may use cmd and runs it. It returns what to
// answer ("" for nothing: the status comment shows the outcome).
func (b *Bot) runCommand(ctx context.Context, t target, pol *Policy, login string, written time.Time, cmd command, log zerolog.Logger) (string, error) {
	rec, _, err := b.loadPR(ctx, t.key())
	if errors.Is(err, errNoRecord) {
		return "this pull request has not been reviewed by the bot (it is closed, or not into the default branch)", nil
	}
	if err != nil {
		return "", err
	}
	allowed, err := b.mayUse(ctx, t, pol, rec, login, commandRole[cmd.name])
	if err != nil {
		return "", err
	}
	if !allowed {
		if commandRole[cmd.name] == forVendor {
			return fmt.Sprintf("denied: `/%s` is for the vendor's people (%s for %s) and maintainers (%s), as the default branch lists them; @%s is neither",
				cmd.name, VendorsFile, orNone(rec.Vendors), MaintainersFile, login), nil
		}
		return fmt.Sprintf("denied: `/%s` is for maintainers (%s on the default branch); @%s is not one", cmd.name, MaintainersFile, login), nil
	}
	log = log.With().Str("command", cmd.name).Logger()
	log.Info().Msg("command")
	by := "github:" + login
	switch cmd.name {
	case "ok-to-test":
		return b.okToTest(ctx, t, rec, login, written, cmd.arg, log)
	case "retest":
		return b.retest(ctx, t, rec, by, log)
	case "cancel":
		n := 0
		for _, j := range rec.Jobs {
			if !j.State.Terminal() && j.State != queue.Canceling {
				b.cancelJob(ctx, j.ID, by, "/cancel", log)
				n++
			}
		}
		if n == 0 {
			return "nothing to cancel: no job of this pull request is held, queued or running", nil
		}
		return "", nil
	case "hold", "unhold":
		hold := cmd.name == "hold"
		if _, err := b.updatePR(ctx, t.key(), nil, func(r *prRecord) error {
			r.Held, r.HeldBy = hold, login
			return nil
		}); err != nil {
			return "", err
		}
		if !hold {
			return "", b.unhold(ctx, t, by, log)
		}
		return "", nil
	case "approve":
		if strings.EqualFold(cmd.arg, "cancel") {
			if rec.Approve == nil {
				return "no approval is pending", nil
			}
			_, err := b.updatePR(ctx, t.key(), nil, func(r *prRecord) error { r.Approve = nil; return nil })
			return "", err
		}
		return b.approve(ctx, t, rec, login, written, log)
	case "retract":
		return b.retract(ctx, rec, login, cmd.arg)
	}
	return "", nil
}

// mayUse reports whether login may use a command for role.
func (b *Bot) mayUse(ctx context.Context, t target, pol *Policy, rec *prRecord, login, role string) (bool, error) {
	ok, err := member(ctx, t.api, pol.Maintainers, login)
	if err != nil || ok || role == forMaintainers {
		return ok, err
	}
	for _, v := range rec.Vendors {
		if ok, err := member(ctx, t.api, pol.Vendors[v], login); err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// headMovedSince refuses a command written before the bot saw the current
// head: it was meant for an older one.
func headMovedSince(rec *prRecord, written time.Time) string {
	if !written.IsZero() && written.Before(rec.HeadSeen) {
		return fmt.Sprintf("refused: the head changed to %s after this comment was written; review the new commits and comment again", mdCode(short(rec.HeadSHA)))
	}
	return ""
}

func (b *Bot) okToTest(ctx context.Context, t target, rec *prRecord, login string, written time.Time, arg string, log zerolog.Logger) (string, error) {
	switch {
	case rec.Closed:
		return "the pull request is closed", nil
	case rec.HeadSHA != t.head:
		return fmt.Sprintf("refused: the head is moving (%s is being reviewed); comment again in a minute", mdCode(short(t.head))), nil
	case arg != "" && (len(arg) < 7 || !strings.HasPrefix(rec.HeadSHA, strings.ToLower(arg))):
		return fmt.Sprintf("refused: it names %s, but the head is %s; review the new commits and comment again", mdCode(arg), mdCode(short(rec.HeadSHA))), nil
	case rec.Trusted:
		return "nothing to do: the author is listed for the vendor, so each head runs without /ok-to-test", nil
	case rec.OKToTest == rec.HeadSHA:
		return "nothing to do: this head is already allowed", nil
	}
	if msg := headMovedSince(rec, written); msg != "" {
		return msg, nil
	}
	if !rec.Valid {
		return "refused: this head does not pass " + CheckValidate + "; the author fixes it first", nil
	}
	return "", b.reviewAndRun(ctx, t, login, log)
}

func (b *Bot) retest(ctx context.Context, t target, rec *prRecord, by string, log zerolog.Logger) (string, error) {
	if !rec.mayRun() {
		return "refused: this head may not run yet (it needs to pass " + CheckValidate + ", and a maintainer's /ok-to-test unless the author is listed for the vendor)", nil
	}
	head := rec.headJobs()
	if len(head) == 0 {
		return "", b.reviewAndRun(ctx, t, "", log)
	}
	var again []prJob
	for _, j := range head {
		if j.State != queue.Failed && j.State != queue.Canceled {
			continue
		}
		nj, err := b.q.Retry(ctx, j.ID, by)
		if errors.Is(err, queue.ErrBadTransition) {
			continue
		}
		if err != nil {
			return "", err
		}
		again = append(again, prJob{ID: nj.ID, SHA: j.SHA, Path: j.Path, Pool: nj.Pool, State: nj.State})
	}
	if len(again) == 0 {
		return "nothing to retest: no job of this head failed or was canceled", nil
	}
	_, err := b.updatePR(ctx, t.key(), nil, func(r *prRecord) error {
		for _, a := range again {
			if r.job(a.ID) == nil {
				r.Jobs = append(r.Jobs, a)
			}
		}
		return nil
	})
	return "", err
}

// unhold releases the held jobs of the head, when it may run, and applies
// a pending approval.
func (b *Bot) unhold(ctx context.Context, t target, by string, log zerolog.Logger) error {
	rec, _, err := b.loadPR(ctx, t.key())
	if err != nil {
		return err
	}
	if !rec.mayRun() {
		return nil
	}
	for _, j := range rec.headJobs() {
		if j.State != queue.Held {
			continue
		}
		if _, err := b.q.Release(ctx, j.ID, by); err != nil && !errors.Is(err, queue.ErrBadTransition) {
			return err
		}
		log.Info().Str("job", j.ID).Msg("job released")
	}
	if rec.Approve != nil && rec.Approve.SHA == rec.HeadSHA {
		for _, j := range rec.headJobs() {
			why, err := b.applyApproval(ctx, rec, j.ID, log)
			if err != nil {
				return err
			}
			if why != "" {
				if err := b.reply(ctx, t, rec.Approve.By, []string{why}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (b *Bot) approve(ctx context.Context, t target, rec *prRecord, login string, written time.Time, log zerolog.Logger) (string, error) {
	if rec.Held {
		return fmt.Sprintf("refused: held by @%s; `/unhold` first", rec.HeldBy), nil
	}
	if msg := headMovedSince(rec, written); msg != "" {
		return msg, nil
	}
	head := rec.headJobs()
	if len(head) == 0 {
		return "nothing to approve: no job has run for the head " + mdCode(short(rec.HeadSHA)), nil
	}
	rec, err := b.updatePR(ctx, t.key(), nil, func(r *prRecord) error {
		if r.HeadSHA != rec.HeadSHA {
			return errStaleHead
		}
		r.Approve = &pendingApproval{SHA: r.HeadSHA, By: login, At: b.cfg.Now().UTC()}
		return nil
	})
	if errors.Is(err, errStaleHead) {
		return "refused: the head changed meanwhile; review the new commits and comment again", nil
	}
	if err != nil {
		return "", err
	}
	var refused []string
	for _, j := range head {
		why, err := b.applyApproval(ctx, rec, j.ID, log)
		if err != nil {
			return "", err
		}
		if why != "" {
			refused = append(refused, why)
		}
	}
	return strings.Join(refused, "; "), nil
}

// applyApproval publishes job id when it is verified and the record's
// pending approval covers its head; other jobs wait for their verdict. It
// returns why a verified job could not be published ("" otherwise).
func (b *Bot) applyApproval(ctx context.Context, rec *prRecord, id string, log zerolog.Logger) (string, error) {
	ap := rec.Approve
	pj := rec.job(id)
	if ap == nil || rec.Held || pj == nil || pj.SHA != ap.SHA {
		return "", nil
	}
	j, err := b.q.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if j.State != queue.Verified {
		return "", nil
	}
	note := fmt.Sprintf("%s#%d at %s", rec.Repo, rec.Number, short(ap.SHA))
	_, _, err = publish.Approve(ctx, b.q, b.cfg.Keys, b.cfg.Store, id,
		publish.Approval{By: ap.By, Via: publish.ViaGitHub, Note: note, At: b.cfg.Now()}, b.cfg.Local)
	if errors.Is(err, publish.ErrNotPublishable) || errors.Is(err, publish.ErrNotVerified) {
		log.Warn().Err(err).Str("job", id).Msg("approved job cannot be published")
		return fmt.Sprintf("job %s is verified but cannot be published: %s", mdCode(id), mdCode(err.Error())), nil
	}
	if err != nil {
		return "", err
	}
	log.Info().Str("job", id).Str("by", ap.By).Msg("job published")
	return "", nil
}

func (b *Bot) retract(ctx context.Context, rec *prRecord, login, reason string) (string, error) {
	if reason == "" {
		return "refused: say why, as `/retract REASON`", nil
	}
	n := 0
	for _, j := range rec.Jobs {
		if j.State != queue.Published {
			continue
		}
		_, err := publish.Retract(ctx, b.cfg.Store, j.ID, publish.Retraction{By: login, Via: publish.ViaGitHub, Reason: reason, At: b.cfg.Now()})
		if errors.Is(err, publish.ErrNotPublished) {
			continue
		}
		if err != nil {
			return "", err
		}
		n++
	}
	if n == 0 {
		return "nothing to retract: no result of this pull request is on the leaderboard", nil
	}
	return fmt.Sprintf("retracted %s from the leaderboard", plural(n, "result")), nil
}

func orNone(vendors []string) string {
	if len(vendors) == 0 {
		return "(no vendor)"
	}
	return strings.Join(vendors, ", ")
}
