package bots

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/accounts"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
)

// intakeEnv is an intake API over a real in-process JetStream server, served on
// a loopback port by the server every agentwatt command starts
// (NewHTTPServer on a LimitListener).
type intakeEnv struct {
	q          *queue.Queue
	url        string
	tokens     map[string]string // vendor → token
	maintainer string            // the token of maintainer "ops"
	bodyRead   atomic.Int64      // request body bytes the handlers read
	lookups    atomic.Int64      // tokens the intake looked up in the queue
	conns      connCounter
}

func newIntakeEnv(t *testing.T, vendors ...string) *intakeEnv {
	t.Helper()
	return newIntakeEnvConfig(t, IntakeConfig{}, vendors...)
}

func newIntakeEnvConfig(t *testing.T, cfg IntakeConfig, vendors ...string) *intakeEnv {
	t.Helper()
	return newIntakeEnvServer(t, cfg, ServerConfig{}, vendors...)
}

func newIntakeEnvServer(t *testing.T, cfg IntakeConfig, scfg ServerConfig, vendors ...string) *intakeEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := queue.StartEmbedded(queue.EmbeddedConfig{Dir: t.TempDir()}, zerolog.Nop())
	if err != nil {
		t.Fatalf("start embedded NATS: %v", err)
	}
	t.Cleanup(e.Shutdown)
	nc, err := e.Connect()
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	q, err := queue.Open(ctx, nc, queue.Config{}, zerolog.Nop())
	if err != nil {
		t.Fatalf("open queue: %v", err)
	}
	acc, err := accounts.Open(ctx, q.JetStream(), accounts.Config{}, zerolog.Nop())
	if err != nil {
		t.Fatalf("open accounts: %v", err)
	}
	env := &intakeEnv{q: q, tokens: map[string]string{}}
	for _, v := range vendors {
		tok, err := acc.AddVendor(ctx, v)
		if err != nil {
			t.Fatalf("add vendor %s: %v", v, err)
		}
		env.tokens[v] = tok
	}
	if env.maintainer, err = acc.AddMaintainer(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	intake := NewIntake(q, countingAuth{acc, &env.lookups}, cfg, zerolog.Nop()).Handler()
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A copy of the request: the server's own keeps its body type, which
		// decides how it treats a body the handler left unread.
		counted := r.WithContext(r.Context())
		counted.Body = countingBody{r.Body, &env.bodyRead}
		intake.ServeHTTP(w, counted)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(counted, scfg)
	go func() { _ = srv.Serve(LimitListener(countingListener{ln, &env.conns}, scfg)) }()
	t.Cleanup(func() { _ = srv.Close() })
	env.url = "http://" + ln.Addr().String()
	return env
}

// countingAuth counts token lookups.
type countingAuth struct {
	*accounts.Store
	n *atomic.Int64
}

func (a countingAuth) Authenticate(ctx context.Context, token string) (accounts.Principal, error) {
	a.n.Add(1)
	return a.Store.Authenticate(ctx, token)
}

// countingBody counts the bytes a handler reads of a request body.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// connCounter counts the connections a listener has open, and the most at
// once. It sits under LimitListener, whose connections close it before they
// free their slot, so the count is exact.
type connCounter struct {
	mu        sync.Mutex
	open, max int
}

type countingListener struct {
	net.Listener
	c *connCounter
}

func (l countingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.c.mu.Lock()
	l.c.open++
	l.c.max = max(l.c.max, l.c.open)
	l.c.mu.Unlock()
	return &countedConn{Conn: conn, c: l.c}, nil
}

type countedConn struct {
	net.Conn
	c    *connCounter
	once sync.Once
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.c.mu.Lock()
		c.c.open--
		c.c.mu.Unlock()
	})
	return err
}

func (c *connCounter) maxOpen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.max
}

func (e *intakeEnv) do(t *testing.T, method, path, token string, body []byte, header map[string]string) (int, []byte) {
	t.Helper()
	status, b, _ := e.doHeader(t, method, path, token, body, header)
	return status, b
}

func (e *intakeEnv) doHeader(t *testing.T, method, path, token string, body []byte, header map[string]string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// simSubmission is the repository's sim example with the vendor replaced.
func simSubmission(t *testing.T, vendor string) []byte {
	t.Helper()
	b, err := os.ReadFile("../examples/submissions/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Replace(b, []byte("vendor: demo"), []byte("vendor: "+vendor), 1)
}

func TestSubmitStatusCodes(t *testing.T) {
	env := newIntakeEnv(t, "acme", "globex")
	valid := simSubmission(t, "acme")
	invalid := bytes.Replace(valid, []byte("accelerators: 8"), []byte("acelerators: 8"), 1)
	huge := append(bytes.Repeat([]byte("#"), int(spec.MaxFileSize)), '\n')

	tests := []struct {
		name       string
		token      string
		body       []byte
		wantStatus int
		wantIn     string
	}{
		{"accepted", env.tokens["acme"], valid, http.StatusAccepted, `"created": true`},
		{"identical resubmission", env.tokens["acme"], valid, http.StatusAccepted, `"created": false`},
		{"no token", "", valid, http.StatusUnauthorized, "missing bearer token"},
		{"unknown token", "awt_not-a-token", valid, http.StatusUnauthorized, "unknown token"},
		{"other vendor's token", env.tokens["globex"], valid, http.StatusForbidden, `vendor \"globex\"`},
		{"invalid spec", env.tokens["acme"], invalid, http.StatusBadRequest, "acelerators"},
		{"over 1 MiB", env.tokens["acme"], huge, http.StatusRequestEntityTooLarge, "larger than"},
		// A sim submission no runner could run is refused at once, not
		// queued for a runner that would fail it.
		{"unknown sim profile", env.tokens["acme"], bytes.Replace(valid, []byte("sim_profile: b300x8-like"), []byte("sim_profile: b300x9-like"), 1), http.StatusBadRequest, "engine.sim_profile"},
		{"rack profile on one node", env.tokens["acme"], bytes.Replace(valid, []byte("sim_profile: b300x8-like"), []byte("sim_profile: gb300-nvl72-like"), 1), http.StatusBadRequest, "is a rack of 4 member nodes"},
	}
	var firstID string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, body := env.do(t, http.MethodPost, "/v1/submissions", tt.token, tt.body, nil)
			if got != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", got, tt.wantStatus, body)
			}
			if !strings.Contains(string(body), tt.wantIn) {
				t.Errorf("body %s does not contain %q", body, tt.wantIn)
			}
			if got == http.StatusAccepted {
				var r SubmitResponse
				if err := json.Unmarshal(body, &r); err != nil {
					t.Fatal(err)
				}
				if firstID == "" {
					firstID = r.ID
				} else if r.ID != firstID {
					t.Errorf("resubmission id = %s, want %s", r.ID, firstID)
				}
				if r.Pool != "sim" {
					t.Errorf("pool = %s, want sim", r.Pool)
				}
			}
		})
	}
}

func TestSubmitInvalidListsEveryProblemWithLineCol(t *testing.T) {
	env := newIntakeEnv(t, "acme")
	body := simSubmission(t, "acme")
	body = bytes.Replace(body, []byte("accelerators: 8"), []byte("acelerators: 8"), 1)
	body = bytes.Replace(body, []byte("tiers: [t20]"), []byte("tiers: [t20, t999]"), 1)
	status, raw := env.do(t, http.MethodPost, "/v1/submissions", env.tokens["acme"], body, nil)
	if status != http.StatusBadRequest {
		t.Fatalf("status = %d, want 400; body %s", status, raw)
	}
	var pr ProblemsResponse
	if err := json.Unmarshal(raw, &pr); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"acelerators": false, "t999": false}
	for _, p := range pr.Problems {
		if p.Line == 0 || p.Col == 0 {
			t.Errorf("problem without a location: %+v", p)
		}
		for k := range want {
			if strings.Contains(p.Message, k) {
				want[k] = true
			}
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no problem mentions %q in %+v", k, pr.Problems)
		}
	}
	// The same problems, the same text, as `agentwatt validate` prints them;
	// a submission that names no file is "submission".
	_, err := spec.Parse(DefaultFilename, body)
	probs, _ := err.(spec.Problems)
	if len(probs) != len(pr.Problems) {
		t.Fatalf("API reports %d problems, spec.Parse %d", len(pr.Problems), len(probs))
	}
	for i, p := range probs {
		if pr.Problems[i].Text != p.String() || pr.Problems[i].File != DefaultFilename {
			t.Errorf("problem %d: API %q (file %q), validate %q", i, pr.Problems[i].Text, pr.Problems[i].File, p.String())
		}
	}
	if pr.File != DefaultFilename {
		t.Errorf("file = %q, want %q", pr.File, DefaultFilename)
	}
}

// TestSubmitInvalidNamesTheFile: the 400 locates every problem as
// FILE:LINE:COL in the file the client names, path-escaped, by its base name.
func TestSubmitInvalidNamesTheFile(t *testing.T) {
	env := newIntakeEnv(t, "acme")
	body := bytes.Replace(simSubmission(t, "acme"), []byte("precision: bf16"), []byte("precision: fp7"), 1)
	status, raw := env.do(t, http.MethodPost, "/v1/submissions", env.tokens["acme"], body,
		map[string]string{FilenameHeader: url.PathEscape("my config é.yaml")})
	if status != http.StatusBadRequest {
		t.Fatalf("status = %d, want 400; body %s", status, raw)
	}
	var pr ProblemsResponse
	if err := json.Unmarshal(raw, &pr); err != nil {
		t.Fatal(err)
	}
	if pr.File != "my config é.yaml" || len(pr.Problems) != 1 {
		t.Fatalf("answer %s", raw)
	}
	if p := pr.Problems[0]; !strings.HasPrefix(p.Text, `my config é.yaml:15:14: model.precision: unknown precision "fp7"`) {
		t.Errorf("problem text %q", p.Text)
	}
}

// TestSubmitHostileFilename: the file name is echoed in problems that
// clients print on terminals and log, so a name with control characters
// (terminal escapes, a forged second line) or a path is refused before the
// body is read, and a long one is refused.
func TestSubmitHostileFilename(t *testing.T) {
	env := newIntakeEnv(t, "acme")
	body := simSubmission(t, "acme")
	for _, name := range []string{
		url.PathEscape("\x1b]8;;https://evil.example\x07x.yaml"),
		url.PathEscape("a.yaml\n1:1: all good"),
		url.PathEscape("\u202egnp.yaml"),
		url.PathEscape("../../etc/passwd"),
		url.PathEscape(`..\x.yaml`),
		"%zz",
		strings.Repeat("a", MaxFilenameLen+1),
	} {
		status, raw := env.do(t, http.MethodPost, "/v1/submissions", env.tokens["acme"], body, map[string]string{FilenameHeader: name})
		if status != http.StatusBadRequest || !strings.Contains(string(raw), FilenameHeader) {
			t.Errorf("file name %q: %d %s, want 400 naming %s", name, status, raw, FilenameHeader)
		}
	}
}

func TestTriggerMakesANewJob(t *testing.T) {
	env := newIntakeEnv(t, "acme")
	body := simSubmission(t, "acme")
	ids := map[string]bool{}
	for _, trig := range []string{"", "nightly-1", "nightly-2", "nightly-1"} {
		status, raw := env.do(t, http.MethodPost, "/v1/submissions", env.tokens["acme"], body, map[string]string{TriggerHeader: trig})
		if status != http.StatusAccepted {
			t.Fatalf("trigger %q: status %d %s", trig, status, raw)
		}
		var r SubmitResponse
		_ = json.Unmarshal(raw, &r)
		ids[r.ID] = true
	}
	if len(ids) != 3 {
		t.Errorf("got %d distinct jobs for triggers api, nightly-1, nightly-2, nightly-1; want 3", len(ids))
	}
}

func TestJobAPI(t *testing.T) {
	env := newIntakeEnv(t, "acme", "globex")
	client := Client{BaseURL: env.url, Token: env.tokens["acme"]}
	ctx := context.Background()
	resp, err := client.Submit(ctx, simSubmission(t, "acme"), "", "")
	if err != nil {
		t.Fatalf("submit: %v", err)
	}

	acme := env.tokens["acme"]
	status, raw := env.do(t, http.MethodGet, "/v1/jobs/"+resp.ID, acme, nil, nil)
	if status != http.StatusOK || !strings.Contains(string(raw), `"state": "queued"`) {
		t.Fatalf("GET job: %d %s", status, raw)
	}
	if status, raw := env.do(t, http.MethodGet, "/v1/jobs/no-such-job", acme, nil, nil); status != http.StatusNotFound {
		t.Errorf("GET unknown job: %d %s, want 404", status, raw)
	}
	for _, tt := range []struct {
		query string
		want  int
	}{
		{"", 1}, {"?state=queued", 1}, {"?state=running", 0}, {"?vendor=acme", 1}, {"?vendor=globex", 0},
	} {
		status, raw := env.do(t, http.MethodGet, "/v1/jobs"+tt.query, acme, nil, nil)
		var list struct{ Jobs []queue.Job }
		if status != http.StatusOK || json.Unmarshal(raw, &list) != nil {
			t.Fatalf("GET /v1/jobs%s: %d %s", tt.query, status, raw)
		}
		if len(list.Jobs) != tt.want {
			t.Errorf("GET /v1/jobs%s: %d jobs, want %d", tt.query, len(list.Jobs), tt.want)
		}
	}
	if status, _ := env.do(t, http.MethodGet, "/v1/jobs?state=bogus", acme, nil, nil); status != http.StatusBadRequest {
		t.Errorf("GET /v1/jobs?state=bogus: %d, want 400", status)
	}

	// Cancel: the job's vendor only; to another vendor the job does not exist.
	if status, _ := env.do(t, http.MethodPost, "/v1/jobs/"+resp.ID+"/cancel", "", nil, nil); status != http.StatusUnauthorized {
		t.Errorf("cancel without token: %d, want 401", status)
	}
	if status, _ := env.do(t, http.MethodPost, "/v1/jobs/"+resp.ID+"/cancel", env.tokens["globex"], nil, nil); status != http.StatusNotFound {
		t.Errorf("cancel with another vendor's token: %d, want 404", status)
	}
	if status, _ := env.do(t, http.MethodPost, "/v1/jobs/no-such-job/cancel", env.tokens["acme"], nil, nil); status != http.StatusNotFound {
		t.Errorf("cancel unknown job: %d, want 404", status)
	}
	if _, err := client.Cancel(ctx, resp.ID); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	job, err := env.q.Get(ctx, resp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if job.State != queue.Canceled && job.State != queue.Canceling {
		t.Errorf("state after cancel = %s, want canceling or canceled", job.State)
	}
	// Canceling a canceled job changes nothing and is not an error.
	if status, raw := env.do(t, http.MethodPost, "/v1/jobs/"+resp.ID+"/cancel", env.tokens["acme"], nil, nil); status != http.StatusAccepted || !strings.Contains(string(raw), `"state": "canceled"`) {
		t.Errorf("cancel a canceled job: %d %s, want 202 and state canceled", status, raw)
	}
	// A running-only transition on a canceled job is a conflict, not a server error.
	if _, err := env.q.Release(ctx, resp.ID, "test"); err == nil {
		t.Errorf("release of a canceled job succeeded")
	}
}

func TestClientReportsProblems(t *testing.T) {
	env := newIntakeEnv(t, "acme")
	client := Client{BaseURL: env.url, Token: env.tokens["acme"]}
	body := bytes.Replace(simSubmission(t, "acme"), []byte("accelerators: 8"), []byte("acelerators: 8"), 1)
	_, err := client.Submit(context.Background(), body, "", "my-config.yaml")
	apiErr, ok := err.(*APIError)
	if !ok {
		t.Fatalf("err = %v (%T), want *APIError", err, err)
	}
	if apiErr.Status != http.StatusBadRequest || len(apiErr.Problems) == 0 || !strings.Contains(apiErr.Error(), "my-config.yaml:") || !strings.Contains(apiErr.Error(), "acelerators") {
		t.Errorf("APIError = %+v", apiErr)
	}
}

// mapResolver pins workload names from a fixed table (the registry itself is
// tested in package workload; here only intake's use of it is).
type mapResolver map[string]string

func (m mapResolver) ResolveDigest(_ context.Context, ref string) (string, error) {
	name, digest, pinned := strings.Cut(ref, "@")
	if d, ok := m[name]; ok && (!pinned || digest == d) {
		return d, nil
	}
	return "", errors.New("no such workload in the registry")
}

func TestSubmitPinsWorkloadDigest(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	env := newIntakeEnvConfig(t, IntakeConfig{Workloads: mapResolver{"agentic-coding-mini": digest}}, "acme")

	status, raw := env.do(t, http.MethodPost, "/v1/submissions", env.tokens["acme"], simSubmission(t, "acme"), nil)
	if status != http.StatusAccepted {
		t.Fatalf("status %d %s", status, raw)
	}
	var r SubmitResponse
	_ = json.Unmarshal(raw, &r)
	job, err := env.q.Get(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if job.WorkloadDigest != digest || job.Workload != "agentic-coding-mini" {
		t.Errorf("job workload = %q @ %q, want agentic-coding-mini @ %s", job.Workload, job.WorkloadDigest, digest)
	}
	if !strings.Contains(string(job.Spec), "agentic-coding-mini@"+digest) {
		t.Errorf("the job's canonical spec is not pinned: %s", job.Spec)
	}

	unknown := bytes.Replace(simSubmission(t, "acme"), []byte("workload: agentic-coding-mini"), []byte("workload: no-such-workload"), 1)
	status, raw = env.do(t, http.MethodPost, "/v1/submissions", env.tokens["acme"], unknown, nil)
	if status != http.StatusBadRequest || !strings.Contains(string(raw), "no-such-workload") {
		t.Errorf("unknown workload: %d %s, want 400 naming it", status, raw)
	}
}
