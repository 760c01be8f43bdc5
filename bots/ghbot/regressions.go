package ghbot

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
)

// BucketRegressions remembers which entries of published/regressions.json
// the bot has reported, so that each is reported once.
const BucketRegressions = "agentwatt-github-regressions"

// regressionIDRe is a regressions.json entry id: hex (128 bits of sha256
// today), and a valid KV key.
var regressionIDRe = regexp.MustCompile(`^[0-9a-f]{16,64}$`)

// runRegressions reports new regressions every Config.RegressionsEvery.
func (b *Bot) runRegressions(ctx context.Context) error {
	tick := time.NewTicker(b.cfg.RegressionsEvery)
	defer tick.Stop()
	for {
		if err := b.reportRegressions(ctx); err != nil && ctx.Err() == nil {
			b.log.Warn().Err(err).Msg("report regressions; trying again later")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// reportRegressions reports each regression of published/regressions.json
// not reported before: a comment on the pull request of the job that
// regressed, or else an issue on the submissions repository. Improvements
// are recorded by publication and not reported.
func (b *Bot) reportRegressions(ctx context.Context) error {
	regs, err := publish.LoadRegressions(ctx, b.cfg.Store)
	if err != nil {
		return err
	}
	for _, r := range regs.Regressions {
		if r.Kind != metrics.Regression || !regressionIDRe.MatchString(r.ID) {
			continue
		}
		// Claim the entry first: a crash after filing and before the claim
		// would file it twice; a failed filing gives the claim back.
		if _, err := b.reported.Create(ctx, r.ID, []byte("filing")); errors.Is(err, jetstream.ErrKeyExists) {
			continue
		} else if err != nil {
			return err
		}
		where, err := b.fileRegression(ctx, r)
		if err != nil {
			_ = b.reported.Delete(ctx, r.ID)
			return err
		}
		if _, err := b.reported.Put(ctx, r.ID, []byte(where)); err != nil {
			return err
		}
		b.log.Info().Str("config", r.Config).Str("tier", r.Tier).Str("where", where).Msg("regression reported")
	}
	return nil
}

// fileRegression reports r and says where.
func (b *Bot) fileRegression(ctx context.Context, r publish.Regression) (string, error) {
	body := b.regressionBody(r)
	owner, name, _ := strings.Cut(b.cfg.Repo, "/")
	j, err := b.q.Get(ctx, r.Current.Job)
	if err != nil && !errors.Is(err, queue.ErrJobNotFound) && !errors.Is(err, queue.ErrInvalid) {
		return "", err
	}
	if j != nil && j.PullRequest != nil && sameRepo(j.PullRequest.Repo, b.cfg.Repo) {
		pr := j.PullRequest
		api := repoAPI{c: b.apps.client(pr.Installation), owner: owner, name: name}
		if _, err := api.comment(ctx, pr.Number, 0, body); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s#%d", b.cfg.Repo, pr.Number), nil
	}
	inst, err := b.apps.installationOf(ctx, owner, name)
	if err != nil {
		return "", err
	}
	title := clip(oneLine(fmt.Sprintf("Regression: %s, tier %s, framework %s → %s (%.1f%% Agents/MW)",
		plainText(r.Config), plainText(r.Tier), plainText(r.Previous.FrameworkVersion), plainText(r.Current.FrameworkVersion), 100*r.Change), 250), 250)
	is, _, err := b.apps.client(inst).Issues.Create(ctx, owner, name, &github.IssueRequest{Title: &title, Body: &body})
	if err != nil {
		return "", fmt.Errorf("open an issue on %s: %w", b.cfg.Repo, err)
	}
	return fmt.Sprintf("%s#%d", b.cfg.Repo, is.GetNumber()), nil
}

// regressionBody names both versions, both figures and both bundles.
func (b *Bot) regressionBody(r publish.Regression) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "### agentwatt: a regression\n\n%s, tier %s: Agents/MW changed by **%.1f%%** from framework version %s to %s "+
		"(a regression is a change beyond −max(threshold %.0f%%, spread %.1f%%)).\n\n",
		mdCode(r.Config), mdCode(r.Tier), 100*r.Change, mdCode(r.Previous.FrameworkVersion), mdCode(r.Current.FrameworkVersion),
		100*r.Threshold, 100*r.Spread)
	sb.WriteString("| | framework | Agents/MW | max agents | published | job | bundle |\n|---|---|---:|---:|---|---|---|\n")
	for _, side := range []struct {
		name string
		run  publish.RegressionRun
	}{{"before", r.Previous}, {"now", r.Current}} {
		fmt.Fprintf(&sb, "| %s | %s | %.1f | %d | %s | %s | %s |\n", side.name, mdCode(side.run.FrameworkVersion), side.run.AgentsPerMW,
			side.run.MaxAgents, side.run.Date.UTC().Format("2006-01-02"), mdCode(side.run.Job), mdCode(side.run.Bundle))
	}
	sb.WriteString("\nRecompute either: `agentwatt verify BUNDLE`.")
	if b.cfg.PublicURL != "" && r.Previous.Page != "" && r.Current.Page != "" {
		fmt.Fprintf(&sb, " Pages: %s/%s and %s/%s.", b.cfg.PublicURL, r.Previous.Page, b.cfg.PublicURL, r.Current.Page)
	}
	sb.WriteString("\n")
	return sb.String()
}

// plainText is s for a plain-text field (an issue title): printable, on
// one line.
func plainText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			return -1
		}
		return r
	}, s)
}
