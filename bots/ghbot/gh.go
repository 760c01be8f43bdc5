package ghbot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v62/github"
)

// maxAnnotations is how many annotations the Checks API takes in one
// request; more go in further updates of the same check run.
const maxAnnotations = 50

// maxPRFiles is the most files GitHub lists for a pull request.
const maxPRFiles = 3000

// maxCommentBody is the longest comment GitHub stores, in characters.
const maxCommentBody = 65536

// apps hands out a go-github client per installation of the App, each with
// installation tokens that ghinstallation refreshes before they expire.
type apps struct {
	appsTr  *ghinstallation.AppsTransport
	apiURL  *url.URL // ends in "/"
	mu      sync.Mutex
	clients map[int64]*github.Client
	insts   map[string]int64 // owner/name → installation
}

func newApps(base http.RoundTripper, appID int64, key []byte, apiURL string) (*apps, error) {
	u, err := url.Parse(apiURL)
	if err != nil {
		return nil, fmt.Errorf("GitHub API URL %q: %w", apiURL, err)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	atr, err := ghinstallation.NewAppsTransport(base, appID, key)
	if err != nil {
		return nil, fmt.Errorf("GitHub App private key: %w", err)
	}
	atr.BaseURL = strings.TrimSuffix(u.String(), "/")
	return &apps{appsTr: atr, apiURL: u, clients: map[int64]*github.Client{}, insts: map[string]int64{}}, nil
}

// client returns the installation's client.
func (a *apps) client(installation int64) *github.Client {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.clients[installation]; ok {
		return c
	}
	tr := ghinstallation.NewFromAppsTransport(a.appsTr, installation)
	tr.BaseURL = a.appsTr.BaseURL
	c := github.NewClient(&http.Client{Transport: tr})
	u := *a.apiURL
	c.BaseURL = &u
	a.clients[installation] = c
	return c
}

// installationOf finds the App's installation on owner/name (with the
// App's own JWT), once.
func (a *apps) installationOf(ctx context.Context, owner, name string) (int64, error) {
	key := strings.ToLower(owner + "/" + name)
	a.mu.Lock()
	id, ok := a.insts[key]
	a.mu.Unlock()
	if ok {
		return id, nil
	}
	c := github.NewClient(&http.Client{Transport: a.appsTr})
	u := *a.apiURL
	c.BaseURL = &u
	inst, _, err := c.Apps.FindRepositoryInstallation(ctx, owner, name)
	if err != nil {
		return 0, fmt.Errorf("the App's installation on %s/%s: %w", owner, name, err)
	}
	a.mu.Lock()
	a.insts[key] = inst.GetID()
	a.mu.Unlock()
	return inst.GetID(), nil
}

// repoAPI is one repository through one installation.
type repoAPI struct {
	c           *github.Client
	owner, name string
}

// file reads path at ref through the contents API, at most limit bytes.
// found is false when the path is not there at ref.
func (r repoAPI) file(ctx context.Context, path, ref string, limit int) (data []byte, found bool, err error) {
	fc, _, resp, err := r.c.Repositories.GetContents(ctx, r.owner, r.name, path, &github.RepositoryContentGetOptions{Ref: ref})
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s at %s: %w", path, short(ref), err)
	}
	if fc == nil || fc.GetType() != "file" {
		return nil, false, fmt.Errorf("read %s at %s: not a file", path, short(ref))
	}
	if fc.GetSize() > limit || fc.GetEncoding() == "none" {
		return nil, true, fmt.Errorf("%s: %d bytes, at most %d", path, fc.GetSize(), limit)
	}
	s, err := fc.GetContent()
	if err != nil {
		return nil, true, fmt.Errorf("read %s at %s: %w", path, short(ref), err)
	}
	return []byte(s), true, nil
}

// prFiles lists the files a pull request changes, every page.
func (r repoAPI) prFiles(ctx context.Context, number int) ([]*github.CommitFile, error) {
	var out []*github.CommitFile
	opt := &github.ListOptions{PerPage: 100}
	for {
		files, resp, err := r.c.PullRequests.ListFiles(ctx, r.owner, r.name, number, opt)
		if err != nil {
			return nil, fmt.Errorf("list files of #%d: %w", number, err)
		}
		out = append(out, files...)
		if resp.NextPage == 0 || len(out) >= maxPRFiles {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

// inTeam reports whether login is an active member of org/slug.
func (r repoAPI) inTeam(ctx context.Context, team, login string) (bool, error) {
	org, slug, _ := strings.Cut(team, "/")
	m, resp, err := r.c.Teams.GetTeamMembershipBySlug(ctx, org, slug, login)
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("membership of %s in %s: %w", login, team, err)
	}
	return m.GetState() == "active", nil
}

// comment posts a comment on the pull request, or edits comment id when it
// is not 0; it returns the comment's id.
func (r repoAPI) comment(ctx context.Context, number int, id int64, body string) (int64, error) {
	body = clip(body, maxCommentBody)
	if id != 0 {
		_, resp, err := r.c.Issues.EditComment(ctx, r.owner, r.name, id, &github.IssueComment{Body: &body})
		if resp == nil || resp.StatusCode != http.StatusNotFound {
			return id, err
		}
		// The comment was deleted: post a new one.
	}
	c, _, err := r.c.Issues.CreateComment(ctx, r.owner, r.name, number, &github.IssueComment{Body: &body})
	if err != nil {
		return 0, fmt.Errorf("comment on #%d: %w", number, err)
	}
	return c.GetID(), nil
}

// checkRun is what the bot reports in one check run.
type checkRun struct {
	Name, HeadSHA, ExternalID, DetailsURL string
	Status, Conclusion                    string // Conclusion set means completed
	Title, Summary, Text                  string
	Annotations                           []*github.CheckRunAnnotation
}

// createCheck creates the check run with its first 50 annotations and
// appends the rest 50 at a time; it returns the run's id.
func (r repoAPI) createCheck(ctx context.Context, cr checkRun) (int64, error) {
	first, rest := splitAnnotations(cr.Annotations)
	opt := github.CreateCheckRunOptions{
		Name: cr.Name, HeadSHA: cr.HeadSHA, ExternalID: nonEmpty(cr.ExternalID), DetailsURL: nonEmpty(cr.DetailsURL),
		Status: nonEmpty(cr.Status), Conclusion: nonEmpty(cr.Conclusion), Output: output(cr, first),
	}
	run, _, err := r.c.Checks.CreateCheckRun(ctx, r.owner, r.name, opt)
	if err != nil {
		return 0, fmt.Errorf("create check run %s: %w", cr.Name, err)
	}
	cr.Annotations = rest
	if len(rest) > 0 {
		return run.GetID(), r.updateCheck(ctx, run.GetID(), cr)
	}
	return run.GetID(), nil
}

// updateCheck updates check run id; annotations are appended, 50 a request.
func (r repoAPI) updateCheck(ctx context.Context, id int64, cr checkRun) error {
	batch, rest := splitAnnotations(cr.Annotations)
	for {
		opt := github.UpdateCheckRunOptions{
			Name: cr.Name, DetailsURL: nonEmpty(cr.DetailsURL), ExternalID: nonEmpty(cr.ExternalID),
			Status: nonEmpty(cr.Status), Conclusion: nonEmpty(cr.Conclusion), Output: output(cr, batch),
		}
		if _, _, err := r.c.Checks.UpdateCheckRun(ctx, r.owner, r.name, id, opt); err != nil {
			return fmt.Errorf("update check run %s: %w", cr.Name, err)
		}
		if len(rest) == 0 {
			return nil
		}
		batch, rest = splitAnnotations(rest)
	}
}

func splitAnnotations(a []*github.CheckRunAnnotation) (first, rest []*github.CheckRunAnnotation) {
	if len(a) <= maxAnnotations {
		return a, nil
	}
	return a[:maxAnnotations], a[maxAnnotations:]
}

func output(cr checkRun, annotations []*github.CheckRunAnnotation) *github.CheckRunOutput {
	title, summary := clip(cr.Title, 255), clip(cr.Summary, 65535)
	if summary == "" {
		summary = title
	}
	return &github.CheckRunOutput{Title: &title, Summary: &summary, Text: nonEmpty(clip(cr.Text, 65535)), Annotations: annotations}
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "\n…(cut)"
	s = s[:n-len(mark)]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1] // a rune cut in two
	}
	return s + mark
}

// short is a commit SHA as people read it.
func short(sha string) string {
	if len(sha) > 10 {
		return sha[:10]
	}
	return sha
}

// notFound reports whether err is GitHub's 404.
func notFound(err error) bool {
	var e *github.ErrorResponse
	return errors.As(err, &e) && e.Response != nil && e.Response.StatusCode == http.StatusNotFound
}
