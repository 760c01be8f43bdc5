package ghfake

import (
	"slices"
	"strconv"
	"strings"
)

// BotLogin is the author of the comments the App writes.
const BotLogin = "agentwatt[bot]"

// PR is a pull request. HeadRef and HeadRepo are optional: HeadRef defaults
// to "pr-<Number>", HeadRepo (the "owner/name" the head lives in, another one
// for a fork) to the base repository.
type PR struct {
	Number            int
	HeadSHA, BaseRef  string
	Author            string
	State             string // "open" or "closed"
	Merged            bool
	Files             []string
	HeadRef, HeadRepo string
}

// CheckRun is a check run as the bot left it. AnnotationBatches holds the
// number of annotations of each request that carried any; Updates counts
// successful PATCHes.
type CheckRun struct {
	ID                                                        int64
	Name, HeadSHA, ExternalID, DetailsURL, Status, Conclusion string
	Title, Summary, Text                                      string
	Annotations                                               []Annotation
	AnnotationBatches                                         []int
	Updates                                                   int
}

// Annotation is one check-run annotation.
type Annotation struct {
	Path                   string
	StartLine, EndLine     int
	StartColumn, EndColumn *int
	Level, Message, Title  string
}

// Comment is an issue comment the bot wrote; Edits counts PATCHes.
type Comment struct {
	ID     int64
	Body   string
	Author string
	Edits  int
}

// Request is one request the server answered. Path includes the query;
// Installation is the installation whose token authorized it (0 for none).
type Request struct {
	Method, Path string
	Status       int
	Installation int64
}

type repo struct {
	owner, name, defaultBranch string
	id                         int64
	files                      map[string]map[string][]byte // ref, path
	commits                    map[string]bool              // SHAs check runs may name
	prs                        map[int]*PR
	checkRuns                  []*CheckRun
	comments                   map[int][]*Comment // by issue number
	installation               int64              // the App's, 0 when not installed
	issues                     []*Issue
	nextIssue                  int
	releases                   []*Release
}

func key(parts ...string) string { return strings.ToLower(strings.Join(parts, "/")) }

// repo returns the repository owner/name; the caller holds s.mu.
func (s *Server) repo(owner, name string) *repo { return s.repos[key(owner, name)] }

// mustRepo is s.repo for the setters: a test naming a repository it did
// not add is a bug in the test.
func (s *Server) mustRepo(owner, name string) *repo {
	rp := s.repo(owner, name)
	if rp == nil {
		panic("ghfake: no repository " + owner + "/" + name + " (AddRepo first)")
	}
	return rp
}

// AddRepo adds a repository.
func (s *Server) AddRepo(owner, name string, id int64, defaultBranch string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[key(owner, name)] = &repo{
		owner: owner, name: name, id: id, defaultBranch: defaultBranch,
		files: map[string]map[string][]byte{}, commits: map[string]bool{},
		prs: map[int]*PR{}, comments: map[int][]*Comment{},
	}
}

// SetFile sets the content of path at ref, a branch name or a commit SHA.
// Refs are independent snapshots: a file set on a branch is not at a SHA.
func (s *Server) SetFile(owner, name, ref, path string, content []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.mustRepo(owner, name)
	if rp.files[ref] == nil {
		rp.files[ref] = map[string][]byte{}
	}
	rp.files[ref][path] = slices.Clone(content)
	rp.commits[ref] = true
}

// AddPR adds (or replaces) a pull request.
func (s *Server) AddPR(owner, name string, pr PR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.mustRepo(owner, name)
	pr.Files = slices.Clone(pr.Files)
	rp.prs[pr.Number] = &pr
	rp.commits[pr.HeadSHA] = true
}

// UpdatePR changes a pull request, e.g. a new push (HeadSHA) or closing it.
// Earlier head SHAs stay known commits. fn runs with the server locked and
// must not call it.
func (s *Server) UpdatePR(owner, name string, number int, fn func(*PR)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.mustRepo(owner, name)
	pr := rp.prs[number]
	if pr == nil {
		panic("ghfake: no pull request " + owner + "/" + name + "#" + strconv.Itoa(number))
	}
	fn(pr)
	pr.Files = slices.Clone(pr.Files)
	rp.commits[pr.HeadSHA] = true
}

// AddTeamMember makes login a member of org/teamSlug with state "active"
// or "pending".
func (s *Server) AddTeamMember(org, teamSlug, login, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.teams[key(org, teamSlug, login)] = state
}

// SetPerPageMax caps per_page below GitHub's 100, so that tests reach
// pagination with few items.
func (s *Server) SetPerPageMax(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perPageMax = min(max(n, 1), 100)
}

// CheckRuns returns copies of the repository's check runs in creation order.
func (s *Server) CheckRuns(owner, name string) []CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []CheckRun
	for _, cr := range s.mustRepo(owner, name).checkRuns {
		c := *cr
		c.Annotations = slices.Clone(cr.Annotations)
		c.AnnotationBatches = slices.Clone(cr.AnnotationBatches)
		out = append(out, c)
	}
	return out
}

// Comments returns copies of the comments on issue or pull request number.
func (s *Server) Comments(owner, name string, number int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.mustRepo(owner, name).comments[number] {
		out = append(out, *c)
	}
	return out
}

// Requests returns the requests answered so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}
