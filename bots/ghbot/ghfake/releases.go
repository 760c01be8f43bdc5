package ghfake

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Release is a repository release. ID is assigned by AddRelease when 0;
// PublishedAt zero is a draft's (GitHub sets it on publication).
type Release struct {
	ID                int64
	TagName, Name     string
	Prerelease, Draft bool
	PublishedAt       time.Time
}

// ReleaseCounts is how the releases endpoint answered: 200s with a body and
// 304s to a matching If-None-Match.
type ReleaseCounts struct{ OK, NotModified int }

// AddRelease adds a release to owner/name (AddRepo first). The list is
// served newest first, as GitHub does.
func (s *Server) AddRelease(owner, name string, r Release) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.mustRepo(owner, name)
	if r.ID == 0 {
		s.nextID++
		r.ID = s.nextID
	}
	rp.releases = append(rp.releases, &r)
}

// AddToken accepts tok as a personal access token (no installation) for an
// hour.
func (s *Server) AddToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok] = token{expires: time.Now().Add(time.Hour)}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// ReleaseCounts returns the counts of the releases endpoint's answers.
func (s *Server) ReleaseCounts() ReleaseCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.releaseCounts
}

// listReleases serves GET /repos/{o}/{r}/releases with per_page/page, Link
// pagination and GitHub's conditional requests: a weak ETag over the page's
// body, and 304 with no body when If-None-Match names it. Drafts are listed
// as to a token without push access: not at all.
func (s *Server) listReleases(w http.ResponseWriter, r *http.Request) {
	rp := s.lookup(w, r)
	if rp == nil {
		return
	}
	var items []obj
	rels := slices.Clone(rp.releases)
	slices.SortStableFunc(rels, func(a, b *Release) int { return b.PublishedAt.Compare(a.PublishedAt) })
	for _, rel := range rels {
		if rel.Draft {
			continue
		}
		items = append(items, rel.json(s, rp))
	}
	s.mu.Unlock()
	items = page(s, w, r, items)
	body, _ := json.Marshal(items)
	sum := sha256.Sum256(body)
	etag := `W/"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("ETag", etag)
	if match(r.Header.Get("If-None-Match"), etag) {
		s.mu.Lock()
		s.releaseCounts.NotModified++
		s.mu.Unlock()
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.mu.Lock()
	s.releaseCounts.OK++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(append(body, '\n'))
}

// match compares If-None-Match (a list, or *) with etag, weakly.
func match(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}

// json is the release as GitHub's REST API shows it (the release object of
// a release webhook's payload).
func (rel *Release) json(s *Server, rp *repo) obj {
	api := s.URL + "/repos/" + rp.owner + "/" + rp.name
	o := obj{
		"url": api + "/releases/" + itoa(rel.ID), "assets_url": api + "/releases/" + itoa(rel.ID) + "/assets",
		"html_url": s.URL + "/" + rp.owner + "/" + rp.name + "/releases/tag/" + rel.TagName,
		"id":       rel.ID, "node_id": "RE_" + itoa(rel.ID), "tag_name": rel.TagName, "target_commitish": rp.defaultBranch,
		"name": rel.Name, "draft": rel.Draft, "prerelease": rel.Prerelease,
		"author":     obj{"login": "release-bot", "id": 1, "type": "User"},
		"created_at": rel.PublishedAt.UTC().Format(time.RFC3339), "published_at": nil,
		"assets": []obj{}, "tarball_url": api + "/tarball/" + rel.TagName, "zipball_url": api + "/zipball/" + rel.TagName,
		"body": "",
	}
	if !rel.Draft {
		o["published_at"] = rel.PublishedAt.UTC().Format(time.RFC3339)
	}
	return o
}
