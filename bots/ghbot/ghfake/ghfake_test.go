package ghfake

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v62/github"
)

const (
	appID  = 4242
	instID = 77
	sha1st = "1111111111111111111111111111111111111111"
)

// keys are generated once per test binary: 2048-bit keys are slow.
var keys = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var k [2]*rsa.PrivateKey
	for i := range k {
		var err error
		if k[i], err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	}
	return k
})

// setup starts a server for the App whose key is keys()[0], with the
// repository acme/subs and pull request 7 (head sha1st), and a client
// authenticated as installation instID with key.
func setup(t *testing.T, key *rsa.PrivateKey) (*Server, *github.Client) {
	t.Helper()
	s := New(t, appID, &keys()[0].PublicKey)
	s.AddRepo("acme", "subs", 42, "main")
	s.AddPR("acme", "subs", PR{Number: 7, HeadSHA: sha1st, BaseRef: "main", Author: "alice", State: "open"})
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	itr, err := ghinstallation.New(http.DefaultTransport, appID, instID, pemKey)
	if err != nil {
		t.Fatal(err)
	}
	itr.BaseURL = s.URL
	c := github.NewClient(&http.Client{Transport: itr})
	if c.BaseURL, err = url.Parse(s.BaseURL()); err != nil {
		t.Fatal(err)
	}
	return s, c
}

// status is the HTTP status of a go-github error, 0 for another error.
func status(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		return er.Response.StatusCode
	}
	return 0
}

func TestTokenExchange(t *testing.T) {
	ctx := context.Background()
	s, c := setup(t, keys()[0])
	repo, _, err := c.Repositories.Get(ctx, "acme", "subs")
	if err != nil {
		t.Fatal(err)
	}
	if repo.GetID() != 42 || repo.GetDefaultBranch() != "main" || repo.GetFullName() != "acme/subs" {
		t.Errorf("repo = %d %q %q", repo.GetID(), repo.GetFullName(), repo.GetDefaultBranch())
	}
	want := []Request{
		{Method: "POST", Path: fmt.Sprintf("/app/installations/%d/access_tokens", instID), Status: 201, Installation: instID},
		{Method: "GET", Path: "/repos/acme/subs", Status: 200, Installation: instID},
	}
	if got := s.Requests(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests = %v, want %v", got, want)
	}
	if _, _, err := c.Repositories.Get(ctx, "acme", "nope"); status(err) != 404 {
		t.Errorf("unknown repo: err = %v, want 404", err)
	}

	// A JWT signed by another key gets no token, so no request goes further.
	s2, c2 := setup(t, keys()[1])
	if _, _, err := c2.Repositories.Get(ctx, "acme", "subs"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("other key: err = %v, want a 401", err)
	}
	if got := s2.Requests(); len(got) != 1 || got[0].Status != 401 || got[0].Installation != 0 {
		t.Errorf("other key: requests = %v", got)
	}
}

// TestJWTAttacks posts forged or stale App JWTs straight to the token route.
func TestJWTAttacks(t *testing.T) {
	s, _ := setup(t, keys()[0])
	now := time.Now()
	sign := func(m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(m, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	good := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": fmt.Sprint(appID), "iat": now.Add(-time.Minute).Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	}
	with := func(k string, v any) jwt.MapClaims { c := good(); c[k] = v; return c }
	without := func(k string) jwt.MapClaims { c := good(); delete(c, k); return c }
	pubDER := x509.MarshalPKCS1PublicKey(&keys()[0].PublicKey)
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"good", sign(jwt.SigningMethodRS256, keys()[0], good()), 201},
		{"numeric iss", sign(jwt.SigningMethodRS256, keys()[0], with("iss", appID)), 201},
		{"other key", sign(jwt.SigningMethodRS256, keys()[1], good()), 401},
		{"other app", sign(jwt.SigningMethodRS256, keys()[0], with("iss", "4243")), 401},
		{"expired", sign(jwt.SigningMethodRS256, keys()[0], with("exp", now.Add(-time.Second).Unix())), 401},
		{"exp too far", sign(jwt.SigningMethodRS256, keys()[0], with("exp", now.Add(time.Hour).Unix())), 401},
		{"no exp", sign(jwt.SigningMethodRS256, keys()[0], without("exp")), 401},
		{"no iat", sign(jwt.SigningMethodRS256, keys()[0], without("iat")), 401},
		{"HS256 keyed with the public key", sign(jwt.SigningMethodHS256, pubDER, good()), 401},
		{"token scheme", strings.Replace(sign(jwt.SigningMethodRS256, keys()[0], good()), "Bearer", "token", 1), 401},
		{"none", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", s.URL+"/app/installations/9/access_tokens", nil)
			req.Header.Set("Authorization", tc.auth)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

func TestNoTokenNoAccess(t *testing.T) {
	s, _ := setup(t, keys()[0])
	for _, tc := range []struct{ path, auth string }{
		{"/repos/acme/subs", ""},
		{"/repos/acme/subs", "token ghs_notissuedbythisserver"},
		{"/repos/acme/subs/contents/VENDORS.yaml", "Bearer x"},
		{"/nowhere", ""},
	} {
		req, _ := http.NewRequest("GET", s.URL+tc.path, nil)
		req.Header.Set("Authorization", tc.auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("%s with %q: status = %d, want 401", tc.path, tc.auth, resp.StatusCode)
		}
	}
}

func TestListFilesPaginates(t *testing.T) {
	ctx := context.Background()
	s, c := setup(t, keys()[0])
	var names []string
	for i := range 250 {
		names = append(names, fmt.Sprintf("submissions/acme/f%03d.yaml", i))
	}
	s.SetFile("acme", "subs", "main", names[1], []byte("old"))
	s.SetFile("acme", "subs", "main", names[2], []byte("gone"))
	s.SetFile("acme", "subs", sha1st, names[0], []byte("new"))
	s.SetFile("acme", "subs", sha1st, names[1], []byte("changed"))
	s.UpdatePR("acme", "subs", 7, func(pr *PR) { pr.Files = names })

	var got []*github.CommitFile
	opts := &github.ListOptions{PerPage: 100}
	for pages := 0; ; pages++ {
		files, resp, err := c.PullRequests.ListFiles(ctx, "acme", "subs", 7, opts)
		if err != nil {
			t.Fatal(err)
		}
		if pages == 0 && resp.LastPage != 3 {
			t.Errorf("first page: LastPage = %d, want 3", resp.LastPage)
		}
		got = append(got, files...)
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if len(got) != 250 || got[0].GetFilename() != names[0] || got[249].GetFilename() != names[249] {
		t.Fatalf("got %d files, want the 250 in order", len(got))
	}
	for i, want := range []string{"added", "modified", "removed", "modified"} {
		if got[i].GetStatus() != want {
			t.Errorf("%s: status %q, want %q", names[i], got[i].GetStatus(), want)
		}
	}

	s.SetPerPageMax(7)
	files, resp, err := c.PullRequests.ListFiles(ctx, "acme", "subs", 7, &github.ListOptions{PerPage: 100, Page: 36})
	if err != nil || len(files) != 5 || resp.NextPage != 0 || resp.PrevPage != 35 || resp.FirstPage != 1 {
		t.Errorf("per_page capped at 7, page 36: %d files, next %d prev %d first %d, err %v",
			len(files), resp.NextPage, resp.PrevPage, resp.FirstPage, err)
	}
}

func TestGetContents(t *testing.T) {
	ctx := context.Background()
	s, c := setup(t, keys()[0])
	data := make([]byte, 5000) // binary, so base64 spans many 60-character lines
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	s.SetFile("acme", "subs", sha1st, "submissions/acme/big.yaml", data)
	s.SetFile("acme", "subs", "main", "MAINTAINERS", []byte("hello\n"))
	s.SetFile("acme", "subs", "main", "huge", make([]byte, 1<<20+1))

	f, _, _, err := c.Repositories.GetContents(ctx, "acme", "subs", "submissions/acme/big.yaml",
		&github.RepositoryContentGetOptions{Ref: sha1st})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f.GetContent(); err != nil || !bytes.Equal([]byte(got), data) || f.GetSize() != 5000 {
		t.Errorf("content at sha: %d bytes, size %d, err %v; want the 5000 bytes set", len(got), f.GetSize(), err)
	}
	if !strings.Contains(*f.Content, "\n") {
		t.Error("content is not wrapped in lines")
	}
	_, _, _, err = c.Repositories.GetContents(ctx, "acme", "subs", "submissions/acme/big.yaml",
		&github.RepositoryContentGetOptions{Ref: "main"})
	if status(err) != 404 {
		t.Errorf("at another ref: err = %v, want 404", err)
	}
	// No ref: the default branch. The sha is git's blob id.
	f, _, _, err = c.Repositories.GetContents(ctx, "acme", "subs", "MAINTAINERS", nil)
	if err != nil || f.GetSHA() != "ce013625030ba8dba906f756967f9e9ca394464a" {
		t.Errorf("MAINTAINERS: sha %q, err %v", f.GetSHA(), err)
	}
	f, _, _, err = c.Repositories.GetContents(ctx, "acme", "subs", "huge", nil)
	if _, cerr := f.GetContent(); err != nil || f.GetEncoding() != "none" || cerr == nil {
		t.Errorf("file over 1 MiB: encoding %q, err %v, want encoding none", f.GetEncoding(), err)
	}
	// go-github refuses "..", so a raw client sends the traversal attempts.
	for _, p := range []string{"submissions/..%2FMAINTAINERS", "x/%2E%2E/MAINTAINERS", "submissions%2F..%2F..%2FMAINTAINERS", "./MAINTAINERS"} {
		resp, err := c.Client().Get(s.URL + "/repos/acme/subs/contents/" + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("%s: status %d, want 404", p, resp.StatusCode)
		}
	}
}

// annotations returns n annotations on path, one per line from line.
func annotations(path string, line, n int) []*github.CheckRunAnnotation {
	var out []*github.CheckRunAnnotation
	for i := range n {
		out = append(out, &github.CheckRunAnnotation{Path: github.String(path), StartLine: github.Int(line + i),
			EndLine: github.Int(line + i), StartColumn: github.Int(3), EndColumn: github.Int(9),
			AnnotationLevel: github.String("failure"), Message: github.String("problem")})
	}
	return out
}

func output(a []*github.CheckRunAnnotation) *github.CheckRunOutput {
	return &github.CheckRunOutput{Title: github.String("t"), Summary: github.String("s"), Annotations: a}
}

func TestCheckRunAnnotationsAppend(t *testing.T) {
	ctx := context.Background()
	s, c := setup(t, keys()[0])
	run, resp, err := c.Checks.CreateCheckRun(ctx, "acme", "subs", github.CreateCheckRunOptions{
		Name: "agentwatt/validate", HeadSHA: sha1st, Status: github.String("in_progress"),
		ExternalID: github.String("job-1"), Output: output(nil)})
	if err != nil || resp.StatusCode != 201 || run.GetStatus() != "in_progress" {
		t.Fatalf("create: %v %v", run, err)
	}
	for i := range 3 {
		run, _, err = c.Checks.UpdateCheckRun(ctx, "acme", "subs", run.GetID(), github.UpdateCheckRunOptions{
			Name: "agentwatt/validate", Output: output(annotations("a.yaml", 1+50*i, 50))})
		if err != nil {
			t.Fatal(err)
		}
	}
	if run.GetOutput().GetAnnotationsCount() != 150 {
		t.Errorf("annotations_count = %d, want 150", run.GetOutput().GetAnnotationsCount())
	}
	_, _, err = c.Checks.UpdateCheckRun(ctx, "acme", "subs", run.GetID(), github.UpdateCheckRunOptions{
		Output: output(annotations("a.yaml", 1, 51))})
	if status(err) != 422 {
		t.Errorf("51 annotations: err = %v, want 422", err)
	}
	run, _, err = c.Checks.UpdateCheckRun(ctx, "acme", "subs", run.GetID(), github.UpdateCheckRunOptions{
		Conclusion: github.String("failure")})
	if err != nil || run.GetStatus() != "completed" {
		t.Errorf("conclusion: status %q, err %v, want completed", run.GetStatus(), err)
	}
	runs := s.CheckRuns("acme", "subs")
	if len(runs) != 1 {
		t.Fatalf("%d check runs, want 1", len(runs))
	}
	got := runs[0]
	if len(got.Annotations) != 150 || fmt.Sprint(got.AnnotationBatches) != "[50 50 50]" || got.Updates != 4 ||
		got.Name != "agentwatt/validate" || got.ExternalID != "job-1" || got.Conclusion != "failure" {
		t.Errorf("check run = %d annotations, batches %v, %d updates, %q %q %q",
			len(got.Annotations), got.AnnotationBatches, got.Updates, got.Name, got.ExternalID, got.Conclusion)
	}
	if a := got.Annotations[149]; a.StartLine != 150 || *a.StartColumn != 3 || a.Level != "failure" {
		t.Errorf("last annotation = %+v", a)
	}
}

func TestCheckRunValidation(t *testing.T) {
	ctx := context.Background()
	_, c := setup(t, keys()[0])
	multiLine := annotations("a.yaml", 4, 1)
	multiLine[0].EndLine = github.Int(5)
	noMessage := annotations("a.yaml", 4, 1)
	noMessage[0].Message = nil
	for _, tc := range []struct {
		name string
		opts github.CreateCheckRunOptions
	}{
		{"unknown sha", github.CreateCheckRunOptions{Name: "n", HeadSHA: strings.Repeat("2", 40)}},
		{"no name", github.CreateCheckRunOptions{HeadSHA: sha1st}},
		{"no summary", github.CreateCheckRunOptions{Name: "n", HeadSHA: sha1st, Output: &github.CheckRunOutput{Title: github.String("t")}}},
		{"completed without conclusion", github.CreateCheckRunOptions{Name: "n", HeadSHA: sha1st, Status: github.String("completed")}},
		{"annotation without message", github.CreateCheckRunOptions{Name: "n", HeadSHA: sha1st, Output: output(noMessage)}},
		{"columns on two lines", github.CreateCheckRunOptions{Name: "n", HeadSHA: sha1st, Output: output(multiLine)}},
		{"51 annotations", github.CreateCheckRunOptions{Name: "n", HeadSHA: sha1st, Output: output(annotations("a.yaml", 1, 51))}},
	} {
		if _, _, err := c.Checks.CreateCheckRun(ctx, "acme", "subs", tc.opts); status(err) != 422 {
			t.Errorf("%s: err = %v, want 422", tc.name, err)
		}
	}
	if _, _, err := c.Checks.UpdateCheckRun(ctx, "acme", "subs", 99999, github.UpdateCheckRunOptions{}); status(err) != 404 {
		t.Errorf("update of an unknown run: err = %v, want 404", err)
	}
}

func TestComments(t *testing.T) {
	ctx := context.Background()
	s, c := setup(t, keys()[0])
	cm, resp, err := c.Issues.CreateComment(ctx, "acme", "subs", 7, &github.IssueComment{Body: github.String("queued")})
	if err != nil || resp.StatusCode != 201 || cm.GetUser().GetLogin() != BotLogin {
		t.Fatalf("create: %v %v", cm, err)
	}
	if _, _, err := c.Issues.EditComment(ctx, "acme", "subs", cm.GetID(), &github.IssueComment{Body: github.String("done")}); err != nil {
		t.Fatal(err)
	}
	long := &github.IssueComment{Body: github.String(strings.Repeat("é", maxCommentBody+1))}
	if _, _, err := c.Issues.EditComment(ctx, "acme", "subs", cm.GetID(), long); status(err) != 422 {
		t.Errorf("65537 characters: err = %v, want 422", err)
	}
	if _, _, err := c.Issues.CreateComment(ctx, "acme", "subs", 8, &github.IssueComment{Body: github.String("x")}); status(err) != 404 {
		t.Errorf("comment on a missing PR: err = %v, want 404", err)
	}
	want := []Comment{{ID: cm.GetID(), Body: "done", Author: BotLogin, Edits: 1}}
	if got := s.Comments("acme", "subs", 7); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("comments = %v, want %v", got, want)
	}
}

func TestTeamMembership(t *testing.T) {
	ctx := context.Background()
	s, c := setup(t, keys()[0])
	s.AddTeamMember("acme", "maintainers", "Bob", "pending")
	m, _, err := c.Teams.GetTeamMembershipBySlug(ctx, "acme", "maintainers", "bob")
	if err != nil || m.GetState() != "pending" {
		t.Errorf("bob: %v %v, want state pending", m, err)
	}
	if _, _, err := c.Teams.GetTeamMembershipBySlug(ctx, "acme", "maintainers", "mallory"); status(err) != 404 {
		t.Errorf("mallory: err = %v, want 404", err)
	}
	for _, r := range s.Requests() {
		if r.Method != "GET" && !strings.HasSuffix(r.Path, "/access_tokens") {
			t.Errorf("a read-only test wrote: %v", r)
		}
	}
}

// TestConcurrentUse writes through the API while the test reads the state;
// it is meant for -race.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	s, c := setup(t, keys()[0])
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if _, _, err := c.Issues.CreateComment(ctx, "acme", "subs", 7, &github.IssueComment{Body: github.String("x")}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for range 10 {
		s.Requests()
		s.Comments("acme", "subs", 7)
		s.UpdatePR("acme", "subs", 7, func(pr *PR) { pr.State = "open" })
	}
	wg.Wait()
	if got := len(s.Comments("acme", "subs", 7)); got != 20 {
		t.Errorf("%d comments, want 20", got)
	}
}
