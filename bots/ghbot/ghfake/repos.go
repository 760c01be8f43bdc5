package ghfake

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
)

// maxContent is the largest file the contents API returns inline (1 MiB).
const maxContent = 1 << 20

// lookup finds the repository of the request's {o}/{r} with s.mu held, or
// answers 404 and returns nil (unlocked).
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) *repo {
	s.mu.Lock()
	rp := s.repo(r.PathValue("o"), r.PathValue("r"))
	if rp == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Not Found")
	}
	return rp
}

// pull finds the request's repository and pull request {n}, as lookup.
func (s *Server) pull(w http.ResponseWriter, r *http.Request) (*repo, *PR) {
	rp := s.lookup(w, r)
	if rp == nil {
		return nil, nil
	}
	n, _ := strconv.Atoi(r.PathValue("n"))
	pr := rp.prs[n]
	if pr == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Not Found")
		return nil, nil
	}
	return rp, pr
}

func (rp *repo) json(s *Server) obj {
	return obj{
		"id": rp.id, "name": rp.name, "full_name": rp.owner + "/" + rp.name,
		"owner": obj{"login": rp.owner}, "default_branch": rp.defaultBranch, "private": false,
		"html_url": s.URL + "/" + rp.owner + "/" + rp.name,
	}
}

func (s *Server) getRepo(w http.ResponseWriter, r *http.Request) {
	rp := s.lookup(w, r)
	if rp == nil {
		return
	}
	body := rp.json(s)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) getPull(w http.ResponseWriter, r *http.Request) {
	rp, pr := s.pull(w, r)
	if pr == nil {
		return
	}
	base := rp.json(s)
	head := base
	if pr.HeadRepo != "" {
		owner, name, _ := strings.Cut(pr.HeadRepo, "/")
		head = obj{"name": name, "full_name": pr.HeadRepo, "owner": obj{"login": owner}}
	}
	headRef := pr.HeadRef
	if headRef == "" {
		headRef = fmt.Sprintf("pr-%d", pr.Number)
	}
	body := obj{
		"id": rp.id*100000 + int64(pr.Number), "number": pr.Number, "state": pr.State, "merged": pr.Merged,
		"title":    fmt.Sprintf("Pull request %d", pr.Number),
		"html_url": fmt.Sprintf("%s/%s/%s/pull/%d", s.URL, rp.owner, rp.name, pr.Number),
		"user":     obj{"login": pr.Author},
		"head":     obj{"sha": pr.HeadSHA, "ref": headRef, "repo": head},
		"base":     obj{"ref": pr.BaseRef, "repo": base},
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

// listFiles lists a pull request's changed files (GitHub lists at most
// 3000), with a status from the files at the base ref and the head SHA.
func (s *Server) listFiles(w http.ResponseWriter, r *http.Request) {
	rp, pr := s.pull(w, r)
	if pr == nil {
		return
	}
	var files []obj
	for _, name := range pr.Files[:min(len(pr.Files), 3000)] {
		head, inHead := rp.files[pr.HeadSHA][name]
		_, inBase := rp.files[pr.BaseRef][name]
		status := "modified"
		switch {
		case inHead && !inBase:
			status = "added"
		case !inHead && inBase:
			status = "removed"
		}
		files = append(files, obj{"filename": name, "status": status, "sha": blobSHA(head),
			"additions": 0, "deletions": 0, "changes": 0})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, page(s, w, r, files))
}

// getContents answers a file at ?ref= (default: the default branch) the way
// GitHub's JSON form does. Directories are not served.
func (s *Server) getContents(w http.ResponseWriter, r *http.Request) {
	name, ok := contentPath(r.URL.EscapedPath())
	rp := s.lookup(w, r)
	if rp == nil {
		return
	}
	ref := strings.TrimPrefix(r.URL.Query().Get("ref"), "refs/heads/")
	if ref == "" {
		ref = rp.defaultBranch
	}
	data, found := rp.files[ref][name]
	s.mu.Unlock()
	if !ok || !found {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	body := obj{
		"type": "file", "encoding": "base64", "size": len(data), "name": path.Base(name), "path": name,
		"sha": blobSHA(data), "content": wrap60(base64.StdEncoding.EncodeToString(data)),
	}
	if len(data) > maxContent {
		body["encoding"], body["content"] = "none", ""
	}
	writeJSON(w, http.StatusOK, body)
}

// contentPath returns the file path after /repos/{o}/{r}/contents/ in an
// escaped URL path; false for an empty, ".", ".." or slash-bearing segment.
func contentPath(escaped string) (string, bool) {
	segs := strings.Split(escaped, "/")
	segs = segs[slices.Index(segs, "repos")+4:]
	for i, seg := range segs {
		u, err := url.PathUnescape(seg)
		if err != nil || u == "" || u == "." || u == ".." || strings.Contains(u, "/") {
			return "", false
		}
		segs[i] = u
	}
	return strings.Join(segs, "/"), true
}

// blobSHA is git's object id of a blob with content data.
func blobSHA(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// wrap60 puts a newline after every 60 characters, as GitHub does.
func wrap60(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		n := min(60, len(s))
		b.WriteString(s[:n])
		b.WriteByte('\n')
		s = s[n:]
	}
	return b.String()
}

func (s *Server) getMembership(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	state, ok := s.teams[key(r.PathValue("org"), r.PathValue("slug"), r.PathValue("user"))]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, obj{"state": state, "role": "member",
		"url": s.URL + r.URL.Path})
}
