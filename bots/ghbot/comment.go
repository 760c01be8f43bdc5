package ghbot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/queue"
)

// commentRows is the most jobs the status comment lists (newest first).
const commentRows = 30

// refreshComment writes the pull request's one status comment: the head,
// its trust, hold and approval, and every job with its state and result.
// It is edited in place as things change, never posted twice.
func (b *Bot) refreshComment(ctx context.Context, key string) error {
	b.commentMu.Lock()
	defer b.commentMu.Unlock()
	rec, _, err := b.loadPR(ctx, key)
	if errors.Is(err, errNoRecord) {
		return nil // a pull request the bot does not follow
	}
	if err != nil {
		return err
	}
	owner, name, _ := strings.Cut(rec.Repo, "/")
	api := repoAPI{c: b.apps.client(rec.Installation), owner: owner, name: name}
	id, err := api.comment(ctx, rec.Number, rec.CommentID, b.statusBody(ctx, rec))
	if err != nil || id == rec.CommentID {
		return err
	}
	_, err = b.updatePR(ctx, key, nil, func(r *prRecord) error {
		r.CommentID = id
		return nil
	})
	return err
}

// statusMarker starts the bot's status comment.
const statusMarker = "<!-- agentwatt:status -->"

func (b *Bot) statusBody(ctx context.Context, rec *prRecord) string {
	var sb strings.Builder
	sb.WriteString(statusMarker + "\n### agentwatt\n\n")
	fmt.Fprintf(&sb, "Head %s", mdCode(short(rec.HeadSHA)))
	switch {
	case rec.Closed:
		sb.WriteString(": the pull request is closed without merging; its jobs were canceled.\n")
	case !rec.Valid && len(rec.Vendors) == 0:
		sb.WriteString(": it changes no file under `submissions/<vendor>/`; nothing runs.\n")
	case !rec.Valid:
		sb.WriteString(": nothing runs until `" + CheckValidate + "` passes.\n")
	case rec.Trusted:
		sb.WriteString(": @" + rec.Author + " is listed for " + mdCode(orNone(rec.Vendors)) + ", so each push runs at once.\n")
	case rec.OKToTest == rec.HeadSHA:
		sb.WriteString(": allowed to run by @" + rec.OKToTestBy + "'s `/ok-to-test` (for this head only).\n")
	default:
		sb.WriteString(": waiting for a maintainer to review it and comment `/ok-to-test`. A later push needs a new one.\n")
	}
	if rec.Held {
		sb.WriteString("\n**Held** by @" + rec.HeldBy + ": new jobs wait and nothing is approved until `/unhold`.\n")
	}
	if rec.Approve != nil {
		fmt.Fprintf(&sb, "\nApproved by @%s for head %s: each of its jobs publishes once verified (`/approve cancel` withdraws it).\n", rec.Approve.By, mdCode(short(rec.Approve.SHA)))
	}
	if len(rec.Jobs) > 0 {
		sb.WriteString("\n| head | file | pool | job | state | result |\n|---|---|---|---|---|---|\n")
		for i := len(rec.Jobs) - 1; i >= 0 && i >= len(rec.Jobs)-commentRows; i-- {
			j := rec.Jobs[i]
			fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %s |\n", mdCode(short(j.SHA)), mdCode(j.Path), mdCode(j.Pool),
				mdCode(j.ID), j.State, b.resultCell(ctx, j))
		}
	}
	sb.WriteString("\n<sub>Commands, one per line: `/retest`, `/cancel` (the vendor's people and maintainers); " +
		"`/ok-to-test`, `/hold`, `/unhold`, `/approve`, `/approve cancel`, `/retract REASON` (maintainers).</sub>\n")
	return sb.String()
}

// resultCell is a job's outcome in a few words.
func (b *Bot) resultCell(ctx context.Context, j prJob) string {
	switch j.State {
	case queue.Verified, queue.Published, queue.Rejected:
	default:
		return ""
	}
	jr, err := b.q.Get(ctx, j.ID)
	if err != nil {
		return ""
	}
	data, err := b.cfg.Store.GetBytes(ctx, bundle.Key(jr.ID, jr.Attempt, bundle.VerdictFile), 64<<20)
	if err != nil {
		return ""
	}
	v, err := bundle.DecodeVerdict(data)
	if err != nil || v.Results == nil {
		return ""
	}
	var parts []string
	for _, t := range v.Results.Tiers {
		if t.Confirmed && t.MaxAgents > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d agents, %.0f Agents/MW", mdText(t.Tier), t.MaxAgents, t.AgentsPerMW))
		}
	}
	out := strings.Join(parts, "; ")
	if v.Simulated {
		out = "simulated; " + out
	}
	return out
}

// mdCode shows s as inline code: on one line, in a fence of backticks
// longer than any run inside it, so that nothing in s (a file name, an
// engine's message) is read as Markdown, HTML or a mention.
func mdCode(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "``"
	}
	run, longest := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdText escapes Markdown's special characters in s (for table cells).
func mdText(s string) string {
	var sb strings.Builder
	for _, r := range strings.Join(strings.Fields(s), " ") {
		if strings.ContainsRune("\\`*_{}[]()#+-.!|<>@~", r) {
			sb.WriteByte('\\')
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
