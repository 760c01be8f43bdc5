package ghfake

import (
	"fmt"
	"net/http"
	"unicode/utf8"
)

// Issue is an issue the bot opened.
type Issue struct {
	Number int
	Title  string
	Body   string
	Labels []string
}

// SetInstallation installs the App on owner/name as installation id
// (GET /repos/{o}/{r}/installation answers it).
func (s *Server) SetInstallation(owner, name string, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustRepo(owner, name).installation = id
}

// Issues returns copies of the issues the bot opened on owner/name.
func (s *Server) Issues(owner, name string) []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Issue
	for _, is := range s.mustRepo(owner, name).issues {
		c := *is
		c.Labels = append([]string(nil), is.Labels...)
		out = append(out, c)
	}
	return out
}

// getInstallation is GET /repos/{o}/{r}/installation, authorized by the
// App's JWT (as GitHub's is).
func (s *Server) getInstallation(w http.ResponseWriter, r *http.Request) {
	if err := s.checkJWT(r.Header.Get("Authorization")); err != nil {
		writeError(w, http.StatusUnauthorized, "A JSON web token could not be decoded")
		return
	}
	rp := s.lookup(w, r)
	if rp == nil {
		return
	}
	defer s.mu.Unlock()
	if rp.installation == 0 {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, obj{"id": rp.installation, "app_id": s.appID, "account": obj{"login": rp.owner}})
}

// createIssue is POST /repos/{o}/{r}/issues.
func (s *Server) createIssue(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Title  *string  `json:"title"`
		Body   *string  `json:"body"`
		Labels []string `json:"labels"`
	}
	if !decode(w, r, &in) {
		return
	}
	rp := s.lookup(w, r)
	if rp == nil {
		return
	}
	defer s.mu.Unlock()
	switch {
	case in.Title == nil || *in.Title == "":
		invalid(w, "Issue", "title", "title is missing")
		return
	case in.Body != nil && utf8.RuneCountInString(*in.Body) > maxCommentBody:
		invalid(w, "Issue", "body", fmt.Sprintf("body is too long (maximum is %d characters)", maxCommentBody))
		return
	}
	rp.nextIssue++
	is := &Issue{Number: rp.nextIssue, Title: *in.Title, Labels: in.Labels}
	if in.Body != nil {
		is.Body = *in.Body
	}
	rp.issues = append(rp.issues, is)
	s.nextID++
	writeJSON(w, http.StatusCreated, obj{"id": s.nextID, "number": is.Number, "title": is.Title, "body": is.Body,
		"html_url": fmt.Sprintf("https://github.com/%s/%s/issues/%d", rp.owner, rp.name, is.Number)})
}
