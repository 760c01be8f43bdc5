package retest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/rs/zerolog"
)

// Watcher polls framework releases and queues retests of the published
// configurations that ask for them.
type Watcher struct {
	cfg   Config
	log   zerolog.Logger
	gh    *github.Client
	state *state
	reg   resolver
	hist  historyCache
}

// New checks cfg, binds to (or creates) the state bucket and returns a
// watcher.
func New(ctx context.Context, cfg Config, log zerolog.Logger) (*Watcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	gh := github.NewClient(&http.Client{Transport: cfg.Transport, Timeout: time.Minute})
	if cfg.Token != "" {
		gh = gh.WithAuthToken(cfg.Token)
	}
	u, err := url.Parse(strings.TrimSuffix(cfg.APIURL, "/") + "/")
	if err != nil {
		return nil, fmt.Errorf("retest: GitHub API URL: %w", err)
	}
	gh.BaseURL = u
	st, err := openState(ctx, cfg.JS, cfg.Replicas)
	if err != nil {
		return nil, err
	}
	return &Watcher{cfg: cfg, log: log.With().Str("component", "retest").Logger(), gh: gh, state: st,
		reg: resolver{keychain: cfg.Keychain, transport: cfg.RegistryTransport}}, nil
}

// Run polls every Config.Poll until ctx ends. A failed poll is logged and
// tried again at the next.
func (w *Watcher) Run(ctx context.Context) error {
	for {
		rep, err := w.RunOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			w.log.Error().Err(err).Msg("retest poll failed")
		} else {
			w.log.Info().Int("releases", len(rep.Releases)).Int("queued", len(rep.Queued)).Int("pending", len(rep.Pending)).
				Int("not_modified", len(rep.NotModified)).Msg("retest poll done")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(w.cfg.Poll):
		}
	}
}

// RunOnce polls every framework once, retries the pending images that are
// due, and queues the scheduled retests that are due. An error of one
// framework is reported and does not stop the others; the error returned
// joins them.
func (w *Watcher) RunOnce(ctx context.Context) (*Report, error) {
	rep := &Report{}
	p := &poll{w: w, rep: rep, tried: map[string]bool{}}
	var errs []error
	for _, fw := range w.cfg.Frameworks {
		if err := p.framework(ctx, fw); err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s: %v", fw.Name, err))
			errs = append(errs, fmt.Errorf("%s: %w", fw.Name, err))
		}
	}
	if err := p.retryPending(ctx); err != nil {
		errs = append(errs, fmt.Errorf("pending images: %w", err))
	}
	if err := p.scheduled(ctx); err != nil {
		errs = append(errs, fmt.Errorf("scheduled retests: %w", err))
	}
	if w.cfg.AutoApprove {
		if err := p.autoApprove(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return rep, errors.Join(errs...)
}

// poll is one RunOnce: the publication is read once, on first need.
type poll struct {
	w       *Watcher
	rep     *Report
	configs []published
	loaded  bool
	tried   map[string]bool // pending keys tried in this poll
}

func (p *poll) published(ctx context.Context) ([]published, error) {
	if !p.loaded {
		c, err := publishedConfigs(ctx, p.w.cfg.Store, &p.w.hist)
		if err != nil {
			return nil, err
		}
		p.configs, p.loaded = c, true
	}
	return p.configs, nil
}

// framework polls one framework's releases. The first poll records the
// newest release as the baseline and retests nothing: the configurations
// published so far ran on releases the watcher never saw come out.
func (p *poll) framework(ctx context.Context, fw Framework) error {
	w := p.w
	key := "fw." + fw.Name
	var st frameworkState
	if _, err := w.state.get(ctx, key, &st); err != nil {
		return err
	}
	if st.Repo != fw.Repo { // first poll, or the entry now names another repository
		st = frameworkState{Repo: fw.Repo}
	}
	l, err := listReleases(ctx, w.gh, fw, st.ETag, st.Last)
	if err != nil {
		return err
	}
	if l.notModified {
		p.rep.NotModified = append(p.rep.NotModified, fw.Name)
		return nil
	}
	var eligible []Release // newest first
	for _, r := range l.releases {
		if !r.Prerelease || fw.Prereleases {
			eligible = append(eligible, r)
		}
	}
	if st.Last == nil {
		st.Last = &Release{}
		if len(l.releases) > 0 {
			st.Last = &l.releases[0]
			p.rep.Releases = append(p.rep.Releases, SeenRelease{Framework: fw.Name, Tag: l.releases[0].Tag, Baseline: true})
		}
		st.ETag = l.etag
		w.log.Info().Str("framework", fw.Name).Str("baseline", st.Last.Tag).Msg("first poll: newest release recorded, nothing retested")
		return w.state.put(ctx, key, st)
	}
	for i := len(eligible) - 1; i >= 0; i-- { // oldest first
		r := eligible[i]
		if err := p.release(ctx, fw, r); err != nil {
			return fmt.Errorf("release %s: %w", printable(r.Tag), err) // state stays before r: the next poll handles it again
		}
		st.Last = &r
		if err := w.state.put(ctx, key, st); err != nil {
			return err
		}
	}
	if len(l.releases) > 0 && l.releases[0].after(*st.Last) {
		// The newest release seen, pre-release or not: following
		// pre-releases later does not reach back to those skipped.
		st.Last = &l.releases[0]
	}
	st.ETag = l.etag // only once every release of the answer is handled
	return w.state.put(ctx, key, st)
}

// release queues the retests of one new release.
func (p *poll) release(ctx context.Context, fw Framework, r Release) error {
	seen := SeenRelease{Framework: fw.Name, Tag: r.Tag}
	version, err := fw.VersionOf(r.Tag)
	if err != nil {
		seen.Refused = err.Error()
		p.rep.Releases = append(p.rep.Releases, seen)
		p.w.log.Warn().Str("framework", fw.Name).Err(err).Msg("release refused")
		return nil
	}
	seen.Version = version
	p.rep.Releases = append(p.rep.Releases, seen)
	p.w.log.Info().Str("framework", fw.Name).Str("version", version).Msg("new release")
	configs, err := p.published(ctx)
	if err != nil {
		return err
	}
	for _, c := range configs {
		sub, err := p.w.specOf(ctx, c.Job)
		if err != nil {
			return err
		}
		if sub == nil || !optedIn(sub, fw.Name) || sub.Framework.Version == version {
			continue
		}
		if older(version, sub.Framework.Version) {
			// A patch of an older line (0.10.3 after 0.11.0): not a step
			// forward for a configuration already on a newer release.
			p.w.log.Info().Str("of", c.Job).Str("version", version).Str("current", sub.Framework.Version).Msg("release older than the configuration's; not retested")
			continue
		}
		pd := Pending{Framework: fw.Name, Version: version, Config: c.Config, Of: c.Job, Since: p.w.cfg.Now().UTC()}
		if !sub.Engine.Sim() {
			pd.Image = imageOf(sub.Retest.ImageTemplate, version)
		}
		if err := p.try(ctx, pd, sub); err != nil {
			return err
		}
	}
	return nil
}

// Release handles a release of framework at version given by hand, as if
// a poll had found it: for a framework whose releases GitHub cannot tell
// (the simulated engine's, on the local stack) or an operator who cannot
// wait for the next poll. It changes nothing of what polls remember, so a
// later poll still handles the release as usual (the same retest is the
// same job). A framework outside frameworks.yaml takes the version as
// written.
func (w *Watcher) Release(ctx context.Context, framework, version string) (*Report, error) {
	fw := Framework{Name: framework, Repo: "(given by hand)", VersionFromTag: VersionTag}
	for _, f := range w.cfg.Frameworks {
		if f.Name == framework {
			fw = f
		}
	}
	if !frameworkNameRe.MatchString(framework) || framework == "scheduled" {
		return nil, fmt.Errorf("framework %q: want a framework name as submissions write it (vllm, sglang, sim, …)", printable(framework))
	}
	if _, err := fw.VersionOf(version); err != nil {
		return nil, err
	}
	rep := &Report{}
	p := &poll{w: w, rep: rep, tried: map[string]bool{}}
	err := p.release(ctx, fw, Release{Tag: version, PublishedAt: w.cfg.Now().UTC()})
	return rep, err
}
