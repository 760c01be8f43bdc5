package ghfake

import (
	"fmt"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// maxCommentBody is GitHub's limit on a comment body, in characters.
const maxCommentBody = 65536

// commentBody decodes {body}, answering 400 when it is not JSON.
func commentBody(w http.ResponseWriter, r *http.Request) (*string, bool) {
	var in struct {
		Body *string `json:"body"`
	}
	return in.Body, decode(w, r, &in)
}

// bodyValid answers 422 when body is missing or too long.
func bodyValid(w http.ResponseWriter, body *string) bool {
	switch {
	case body == nil || *body == "":
		invalid(w, "IssueComment", "body", "body is missing")
	case utf8.RuneCountInString(*body) > maxCommentBody:
		invalid(w, "IssueComment", "body", fmt.Sprintf("body is too long (maximum is %d characters)", maxCommentBody))
	default:
		return true
	}
	return false
}

func (s *Server) createComment(w http.ResponseWriter, r *http.Request) {
	body, ok := commentBody(w, r)
	if !ok {
		return
	}
	rp, pr := s.pull(w, r) // the fake's only issues are pull requests
	if pr == nil {
		return
	}
	defer s.mu.Unlock()
	if !bodyValid(w, body) {
		return
	}
	s.nextID++
	c := &Comment{ID: s.nextID, Body: *body, Author: BotLogin}
	rp.comments[pr.Number] = append(rp.comments[pr.Number], c)
	writeJSON(w, http.StatusCreated, c.json(s, rp, pr.Number))
}

func (s *Server) editComment(w http.ResponseWriter, r *http.Request) {
	body, ok := commentBody(w, r)
	if !ok {
		return
	}
	rp := s.lookup(w, r)
	if rp == nil {
		return
	}
	defer s.mu.Unlock()
	if !bodyValid(w, body) {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	for n, cs := range rp.comments {
		for _, c := range cs {
			if c.ID == id {
				c.Body = *body
				c.Edits++
				writeJSON(w, http.StatusOK, c.json(s, rp, n))
				return
			}
		}
	}
	writeError(w, http.StatusNotFound, "Not Found")
}

func (c *Comment) json(s *Server, rp *repo, number int) obj {
	return obj{
		"id": c.ID, "body": c.Body, "author_association": "NONE",
		"user":      obj{"login": c.Author, "type": "Bot"},
		"html_url":  fmt.Sprintf("%s/%s/%s/pull/%d#issuecomment-%d", s.URL, rp.owner, rp.name, number, c.ID),
		"issue_url": fmt.Sprintf("%s/repos/%s/%s/issues/%d", s.URL, rp.owner, rp.name, number),
	}
}
