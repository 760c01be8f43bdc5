package ghfake

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// Server is a GitHub REST API stand-in on a loopback port.
type Server struct {
	URL string // the server's base URL, without a trailing slash

	appID  int64
	appKey *rsa.PublicKey
	mux    *http.ServeMux

	mu         sync.Mutex
	nextID     int64
	perPageMax int
	tokens     map[string]token
	repos      map[string]*repo // by lower-case "owner/name"
	teams      map[string]string
	requests   []Request

	releaseCounts ReleaseCounts
}

type token struct {
	installation int64
	expires      time.Time
}

// New starts a server that accepts JWTs of the App appID signed with the
// private half of appKey; t.Cleanup closes it.
func New(t testing.TB, appID int64, appKey *rsa.PublicKey) *Server {
	s := &Server{
		appID: appID, appKey: appKey, mux: http.NewServeMux(),
		nextID: 1000, perPageMax: 100,
		tokens: map[string]token{}, repos: map[string]*repo{}, teams: map[string]string{},
	}
	// Both the github.com layout and GitHub Enterprise's /api/v3 prefix
	// (go-github's WithEnterpriseURLs) route to the same handlers.
	for _, prefix := range []string{"", "/api/v3"} {
		route := func(pattern string, h http.HandlerFunc) {
			method, path, _ := strings.Cut(pattern, " ")
			s.mux.HandleFunc(method+" "+prefix+path, h)
		}
		route("POST /app/installations/{id}/access_tokens", s.accessToken)
		route("GET /repos/{o}/{r}", s.getRepo)
		route("GET /repos/{o}/{r}/pulls/{n}", s.getPull)
		route("GET /repos/{o}/{r}/pulls/{n}/files", s.listFiles)
		route("GET /repos/{o}/{r}/contents/{path...}", s.getContents)
		route("POST /repos/{o}/{r}/check-runs", s.createCheckRun)
		route("PATCH /repos/{o}/{r}/check-runs/{id}", s.updateCheckRun)
		route("POST /repos/{o}/{r}/issues/{n}/comments", s.createComment)
		route("PATCH /repos/{o}/{r}/issues/comments/{id}", s.editComment)
		route("GET /orgs/{org}/teams/{slug}/memberships/{user}", s.getMembership)
		route("GET /repos/{o}/{r}/installation", s.getInstallation)
		route("POST /repos/{o}/{r}/issues", s.createIssue)
		route("GET /repos/{o}/{r}/releases", s.listReleases)
	}
	hs := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

// BaseURL is the URL for go-github's client.BaseURL (it must end in "/");
// ghinstallation's Transport.BaseURL takes s.URL.
func (s *Server) BaseURL() string { return s.URL + "/" }

// serve authenticates, routes and records one request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	_, pattern := s.mux.Handler(r)
	if path.Clean(r.URL.Path) != r.URL.Path {
		pattern = "" // ".", ".." or "//": no route (ServeMux would redirect)
	}
	inst, authorized := s.installation(r.Header.Get("Authorization"))
	switch {
	case strings.HasSuffix(pattern, "/access_tokens"): // authorized by the App's JWT
		s.mux.ServeHTTP(rec, r)
		inst = 0
		if rec.status == http.StatusCreated {
			inst, _ = strconv.ParseInt(r.PathValue("id"), 10, 64)
		}
	case strings.HasSuffix(pattern, "/installation"): // the App's JWT too
		inst = 0
		s.mux.ServeHTTP(rec, r)
	case !authorized && !(r.Header.Get("Authorization") == "" && strings.HasSuffix(pattern, "/releases")):
		// A public repository's releases are read without credentials too.
		writeError(rec, http.StatusUnauthorized, "Bad credentials")
	case pattern == "": // unknown route or wrong method
		writeError(rec, http.StatusNotFound, "Not Found")
	default:
		s.mux.ServeHTTP(rec, r)
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.RequestURI(), Status: rec.status, Installation: inst})
	s.mu.Unlock()
}

// installation returns the installation of an unexpired token this server
// issued; ghinstallation sends "token X", other clients "Bearer X".
func (s *Server) installation(auth string) (int64, bool) {
	scheme, tok, _ := strings.Cut(auth, " ")
	if !strings.EqualFold(scheme, "token") && !strings.EqualFold(scheme, "bearer") {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[tok]
	if !ok || time.Now().After(t.expires) {
		return 0, false
	}
	return t.installation, true
}

// accessToken exchanges the App's JWT for an installation token.
func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	inst, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || inst <= 0 {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	if err := s.checkJWT(r.Header.Get("Authorization")); err != nil {
		writeError(w, http.StatusUnauthorized, "A JSON web token could not be decoded")
		return
	}
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	tok, expires := "ghs_"+hex.EncodeToString(b), time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	s.mu.Lock()
	s.tokens[tok] = token{installation: inst, expires: expires}
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, obj{
		"token": tok, "expires_at": expires.Format(time.RFC3339),
		"permissions": obj{}, "repository_selection": "all",
	})
}

// checkJWT checks what GitHub checks of an App's JWT: RS256 by the App's key,
// iss the App id (string or number), iat and exp present, exp in the future
// and at most 10 minutes away.
func (s *Server) checkJWT(auth string) error {
	scheme, raw, _ := strings.Cut(auth, " ")
	if !strings.EqualFold(scheme, "bearer") {
		return fmt.Errorf("no bearer token")
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return s.appKey, nil },
		jwt.WithValidMethods([]string{"RS256"}))
	if err != nil {
		return err
	}
	now := time.Now()
	if !claims.VerifyExpiresAt(now.Unix(), true) || claims.VerifyExpiresAt(now.Add(11*time.Minute).Unix(), true) {
		return fmt.Errorf("exp missing, past or over 10 minutes away")
	}
	if _, ok := claims["iat"]; !ok {
		return fmt.Errorf("no iat")
	}
	switch iss := claims["iss"].(type) {
	case string:
		if iss == strconv.FormatInt(s.appID, 10) {
			return nil
		}
	case float64:
		if iss == float64(s.appID) {
			return nil
		}
	}
	return fmt.Errorf("iss is not app %d", s.appID)
}

// recorder keeps the status a handler wrote, for the request log.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

type obj = map[string]any

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, obj{"message": msg, "documentation_url": "https://docs.github.com/rest"})
}

// invalid answers 422 the way GitHub reports a failed validation.
func invalid(w http.ResponseWriter, resource, field, msg string) {
	writeJSON(w, http.StatusUnprocessableEntity, obj{
		"message":           "Validation Failed",
		"errors":            []obj{{"resource": resource, "field": field, "code": "invalid", "message": msg}},
		"documentation_url": "https://docs.github.com/rest",
	})
}

// decode reads a JSON body; false means it already answered 400.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20)).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return false
	}
	return true
}

// page cuts items to the page and per_page the query asks for and sets
// GitHub's Link header (next, last, first, prev) that go-github parses.
func page[T any](s *Server, w http.ResponseWriter, r *http.Request, items []T) []T {
	s.mu.Lock()
	limit := s.perPageMax
	s.mu.Unlock()
	q := r.URL.Query()
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per < 1 {
		per = 30
	}
	per = min(per, limit)
	n, err := strconv.Atoi(q.Get("page"))
	if err != nil || n < 1 {
		n = 1
	}
	last := max((len(items)+per-1)/per, 1)
	n = min(n, last+1)
	link := func(p int, rel string) string {
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(per))
		return fmt.Sprintf(`<%s%s?%s>; rel="%s"`, s.URL, r.URL.Path, q.Encode(), rel)
	}
	var links []string
	if n < last {
		links = append(links, link(n+1, "next"), link(last, "last"))
	}
	if n > 1 {
		links = append(links, link(1, "first"), link(min(n-1, last), "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	lo, hi := min((n-1)*per, len(items)), min(n*per, len(items))
	return append([]T{}, items[lo:hi]...) // [] rather than null past the end
}
