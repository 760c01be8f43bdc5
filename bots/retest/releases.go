package retest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/google/go-github/v62/github"
)

// Release is a framework release as the watcher keeps it.
type Release struct {
	ID          int64     `json:"id"`
	Tag         string    `json:"tag"`
	PublishedAt time.Time `json:"published_at"`
	Prerelease  bool      `json:"prerelease,omitempty"`
}

// after reports whether r came out after b (by publication, then id).
func (r Release) after(b Release) bool {
	if !r.PublishedAt.Equal(b.PublishedAt) {
		return r.PublishedAt.After(b.PublishedAt)
	}
	return r.ID > b.ID
}

// releasesPerPage is GitHub's largest page; maxReleasePages bounds how far
// back one poll reads when more releases than that came out since the last.
const (
	releasesPerPage = 100
	maxReleasePages = 5
)

// listing is one poll's answer for a repository.
type listing struct {
	notModified bool
	etag        string
	releases    []Release // published, drafts left out, newest first
}

// listReleases reads the releases of f's repository newer than since
// (every one when since is nil), sending etag as If-None-Match on the
// first page: GitHub answers 304 when nothing changed, and a 304 to an
// authenticated request does not count against the rate limit.
func listReleases(ctx context.Context, gh *github.Client, f Framework, etag string, since *Release) (*listing, error) {
	out := &listing{}
	for page := 1; page <= maxReleasePages; page++ {
		u := fmt.Sprintf("repos/%s/%s/releases?per_page=%d&page=%d", f.Owner(), f.RepoName(), releasesPerPage, page)
		req, err := gh.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		if page == 1 && etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		var rels []*github.RepositoryRelease
		resp, err := gh.Do(ctx, req, &rels)
		if page == 1 && resp != nil && resp.StatusCode == http.StatusNotModified {
			return &listing{notModified: true, etag: etag}, nil
		}
		if err != nil {
			var rl *github.RateLimitError
			if errors.As(err, &rl) {
				return nil, fmt.Errorf("releases of %s: rate limited until %s: %w", f.Repo, rl.Rate.Reset.Format(time.RFC3339), err)
			}
			return nil, fmt.Errorf("releases of %s: %w", f.Repo, err)
		}
		if page == 1 {
			out.etag = resp.Header.Get("ETag")
		}
		older := false
		for _, r := range rels {
			if r.GetDraft() || r.PublishedAt == nil {
				continue // a draft is not released; GitHub lists drafts only to those who may edit them
			}
			rel := Release{ID: r.GetID(), Tag: r.GetTagName(), PublishedAt: r.GetPublishedAt().UTC(), Prerelease: r.GetPrerelease()}
			if since != nil && !rel.after(*since) {
				older = true
				continue
			}
			out.releases = append(out.releases, rel)
		}
		if older || resp.NextPage == 0 || since == nil {
			break
		}
	}
	slices.SortFunc(out.releases, func(a, b Release) int {
		switch {
		case a.after(b):
			return -1
		case b.after(a):
			return 1
		}
		return 0
	})
	return out, nil
}
