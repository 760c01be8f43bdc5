package bots

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/agentwatt/agentwatt/queue"
)

// The attacks of issue 10 on the intake and job API, each as one with a
// token of one vendor, or none, would try it.

// submitAs submits the sim example for vendor under trigger and returns the
// job id.
func submitAs(t *testing.T, env *intakeEnv, vendor, trigger string) string {
	t.Helper()
	status, raw := env.do(t, http.MethodPost, "/v1/submissions", env.tokens[vendor], simSubmission(t, vendor), map[string]string{TriggerHeader: trigger})
	if status != http.StatusAccepted {
		t.Fatalf("submit %s/%s: %d %s", vendor, trigger, status, raw)
	}
	var r SubmitResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r.ID
}

func TestAttackJobAPIWithoutToken(t *testing.T) {
	env := newIntakeEnv(t, "acme")
	id := submitAs(t, env, "acme", "t1")
	for _, path := range []string{"/v1/jobs", "/v1/jobs/" + id, "/v1/jobs?vendor=acme"} {
		for _, token := range []string{"", "awv_" + strings.Repeat("A", 43), "awm_" + strings.Repeat("A", 43)} {
			status, raw := env.do(t, http.MethodGet, path, token, nil, nil)
			if status != http.StatusUnauthorized {
				t.Errorf("GET %s with token %q: %d, want 401", path, token, status)
			}
			if strings.Contains(string(raw), id) || strings.Contains(string(raw), "sim-b300x8") {
				t.Errorf("GET %s with token %q: the answer shows the job: %s", path, token, raw)
			}
		}
	}
}

func TestAttackOtherVendorsJobs(t *testing.T) {
	env := newIntakeEnv(t, "acme", "globex")
	acmeJob := submitAs(t, env, "acme", "t1")
	globexJob := submitAs(t, env, "globex", "t1")

	// acme cannot tell globex's job from one that does not exist.
	status, mine := env.do(t, http.MethodGet, "/v1/jobs/"+globexJob, env.tokens["acme"], nil, nil)
	if status != http.StatusNotFound {
		t.Fatalf("acme GET globex's job: %d %s, want 404", status, mine)
	}
	if strings.Contains(string(mine), "globex") {
		t.Errorf("acme GET globex's job: the answer names the vendor: %s", mine)
	}
	nobody := strings.Repeat("0", 32)
	_, absent := env.do(t, http.MethodGet, "/v1/jobs/"+nobody, env.tokens["acme"], nil, nil)
	if got, want := strings.ReplaceAll(string(mine), globexJob, "ID"), strings.ReplaceAll(string(absent), nobody, "ID"); got != want {
		t.Errorf("another vendor's job answers %s, a missing one %s; want the same", got, want)
	}
	if status, _ := env.do(t, http.MethodPost, "/v1/jobs/"+globexJob+"/cancel", env.tokens["acme"], nil, nil); status != http.StatusNotFound {
		t.Errorf("acme cancels globex's job: %d, want 404", status)
	}
	// The job API takes full ids only: the CLI's prefixes (queue.Resolve)
	// are not offered here, so a prefix cannot probe for, or complete to,
	// another vendor's id, nor even one's own.
	for _, id := range []string{globexJob[:queue.MinPrefixLen], globexJob[:12], acmeJob[:12]} {
		status, body := env.do(t, http.MethodGet, "/v1/jobs/"+id, env.tokens["acme"], nil, nil)
		if status != http.StatusNotFound || strings.Contains(string(body), globexJob) || strings.Contains(string(body), acmeJob) {
			t.Errorf("acme GET /v1/jobs/%s: %d %s, want 404 naming no job", id, status, body)
		}
	}

	ids := func(token, query string) []string {
		t.Helper()
		status, raw := env.do(t, http.MethodGet, "/v1/jobs"+query, token, nil, nil)
		var page JobsPage
		if status != http.StatusOK || json.Unmarshal(raw, &page) != nil {
			t.Fatalf("GET /v1/jobs%s: %d %s", query, status, raw)
		}
		var out []string
		for _, j := range page.Jobs {
			out = append(out, j.Vendor+"/"+j.ID)
		}
		return out
	}
	for _, query := range []string{"", "?vendor=globex", "?pool=sim", "?state=queued"} {
		got := ids(env.tokens["acme"], query)
		for _, j := range got {
			if !strings.HasPrefix(j, "acme/") {
				t.Errorf("acme lists /v1/jobs%s and sees %s", query, j)
			}
		}
	}
	if got := ids(env.tokens["acme"], ""); len(got) != 1 || got[0] != "acme/"+acmeJob {
		t.Errorf("acme's list = %v, want its one job", got)
	}
	// A maintainer sees every vendor's jobs.
	if got := ids(env.maintainer, ""); len(got) != 2 {
		t.Errorf("maintainer's list = %v, want both jobs", got)
	}
	if status, _ := env.do(t, http.MethodGet, "/v1/jobs/"+globexJob, env.maintainer, nil, nil); status != http.StatusOK {
		t.Errorf("maintainer GET globex's job: %d, want 200", status)
	}
	// A maintainer's token does not submit.
	if status, raw := env.do(t, http.MethodPost, "/v1/submissions", env.maintainer, simSubmission(t, "acme"), nil); status != http.StatusForbidden {
		t.Errorf("submit with a maintainer's token: %d %s, want 403", status, raw)
	}
}

func TestJobAPIRedactsEnvForVendors(t *testing.T) {
	env := newIntakeEnv(t, "acme")
	body := bytes.Replace(simSubmission(t, "acme"), []byte("  health_path: /health"),
		[]byte("  env: {SIM_EXTRA: value-not-for-the-api}\n  health_path: /health"), 1)
	status, raw := env.do(t, http.MethodPost, "/v1/submissions", env.tokens["acme"], body, nil)
	if status != http.StatusAccepted {
		t.Fatalf("submit with engine.env: %d %s", status, raw)
	}
	var r SubmitResponse
	_ = json.Unmarshal(raw, &r)
	for _, path := range []string{"/v1/jobs/" + r.ID, "/v1/jobs"} {
		_, raw = env.do(t, http.MethodGet, path, env.tokens["acme"], nil, nil)
		if strings.Contains(string(raw), "value-not-for-the-api") || !strings.Contains(string(raw), Redacted) {
			t.Errorf("vendor GET %s shows engine.env values: %s", path, raw)
		}
	}
	_, raw = env.do(t, http.MethodGet, "/v1/jobs/"+r.ID, env.maintainer, nil, nil)
	if !strings.Contains(string(raw), "value-not-for-the-api") {
		t.Errorf("maintainer GET job: engine.env redacted: %s", raw)
	}
}

func TestJobListPages(t *testing.T) {
	env := newIntakeEnv(t, "acme", "globex")
	var want []string
	for i := range 5 {
		want = append(want, submitAs(t, env, "acme", fmt.Sprintf("t%d", i)))
		submitAs(t, env, "globex", fmt.Sprintf("t%d", i))
	}
	client := Client{BaseURL: env.url, Token: env.tokens["acme"]}
	ctx := context.Background()
	var got []string
	q := JobsQuery{Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatalf("more than 5 pages of 2 for 5 jobs: %v", got)
		}
		page, err := client.Jobs(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Jobs) > 2 {
			t.Fatalf("page of %d jobs, limit 2", len(page.Jobs))
		}
		for _, j := range page.Jobs {
			got = append(got, j.ID)
		}
		if page.NextCursor == "" {
			break
		}
		if !strings.Contains(page.Next, "cursor="+page.NextCursor) || !strings.Contains(page.Next, "limit=2") {
			t.Errorf("next link %q does not carry the cursor and limit", page.Next)
		}
		q.Cursor = page.NextCursor
	}
	// Every job once, in the order of an unpaged list.
	all, err := env.q.List(ctx, queue.Filter{Vendor: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, j := range all {
		order = append(order, j.ID)
	}
	if strings.Join(got, ",") != strings.Join(order, ",") || len(got) != len(want) {
		t.Errorf("paged ids %v, want %v", got, order)
	}
	// The next link works as it is.
	page, err := client.Jobs(ctx, JobsQuery{Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	status, raw := env.do(t, http.MethodGet, page.Next, env.tokens["acme"], nil, nil)
	var rest JobsPage
	if status != http.StatusOK || json.Unmarshal(raw, &rest) != nil || len(rest.Jobs) != 1 || rest.Next != "" {
		t.Errorf("GET %s: %d %s; want the last job and no next", page.Next, status, raw)
	}
	for _, query := range []string{"?limit=0", "?limit=-1", "?limit=x", "?cursor=bogus", "?cursor=" + strings.Repeat("A", 400)} {
		if status, raw := env.do(t, http.MethodGet, "/v1/jobs"+query, env.tokens["acme"], nil, nil); status != http.StatusBadRequest {
			t.Errorf("GET /v1/jobs%s: %d %s, want 400", query, status, raw)
		}
	}
	// A limit over the maximum is the maximum.
	status, raw = env.do(t, http.MethodGet, fmt.Sprintf("/v1/jobs?limit=%d", MaxPageSize+1000), env.maintainer, nil, nil)
	if status != http.StatusOK || !strings.Contains(string(raw), `"jobs"`) {
		t.Errorf("GET with a huge limit: %d %s", status, raw)
	}
}

// TestAttackSlowConnectionFlood: 200 connections without a token, half
// sending headers byte by byte, half sending a body byte by byte after their
// headers. The server closes every one on its timeouts, never holds more
// connections than its cap, and a vendor's request gets through meanwhile.
func TestAttackSlowConnectionFlood(t *testing.T) {
	scfg := ServerConfig{
		ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: 2 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Second, MaxConns: 32,
	}
	// Every client here is 127.0.0.1: the vendor must not be refused for
	// the flood's failed authentications (TestAttackTokenGuessing tests those).
	env := newIntakeEnvServer(t, IntakeConfig{Limits: Limits{FailedAuthBurst: 10_000}}, scfg, "acme")
	addr := strings.TrimPrefix(env.url, "http://")

	const flood = 200
	// A client that still writes after holdFor was never closed by the server.
	const holdFor = 60 * time.Second
	var (
		wg   sync.WaitGroup
		held atomic.Int32
		errs = make(chan error, flood)
	)
	stop := make(chan struct{})
	slowHead := "POST /v1/submissions HTTP/1.1\r\nHost: intake\r\nX-Padding: " + strings.Repeat("a", 4096)
	bodyHead := "POST /v1/submissions HTTP/1.1\r\nHost: intake\r\nContent-Type: application/yaml\r\nContent-Length: 1000000\r\n\r\n"
	body := strings.Repeat("#", 4096) // of the 1,000,000 announced
	for i := range flood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slowBody := i%2 == 1
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			closed := make(chan struct{})
			go func() { _, _ = io.Copy(io.Discard, conn); close(closed) }()
			drip := slowHead
			if slowBody {
				if _, err := io.WriteString(conn, bodyHead); err != nil {
					return
				}
				drip = body
			}
			deadline := time.After(holdFor)
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for n := 0; n < len(drip); n++ {
				select {
				case <-closed:
					return
				case <-stop:
					return
				case <-deadline:
					held.Add(1)
					return
				case <-tick.C:
				}
				if _, err := conn.Write([]byte{drip[n]}); err != nil {
					return
				}
			}
		}()
	}
	// A vendor's request is served during the flood.
	time.Sleep(200 * time.Millisecond)
	client := Client{BaseURL: env.url, Token: env.tokens["acme"], HTTP: &http.Client{Timeout: holdFor}}
	if _, err := client.Jobs(context.Background(), JobsQuery{}); err != nil {
		t.Errorf("a vendor's request during the flood: %v", err)
	}
	wg.Wait()
	close(stop)
	close(errs)
	for err := range errs {
		t.Errorf("dial: %v", err)
	}
	if n := held.Load(); n > 0 {
		t.Errorf("%d of %d slow connections were still open after %s", n, flood, holdFor)
	}
	if got := env.conns.maxOpen(); got > scfg.MaxConns {
		t.Errorf("the server held %d connections at once, cap %d", got, scfg.MaxConns)
	}
}

// TestAttackBodyWithoutToken: a submission without a valid token is answered
// from its headers; the server reads none of its body.
func TestAttackBodyWithoutToken(t *testing.T) {
	env := newIntakeEnv(t, "acme")
	body := append(simSubmission(t, "acme"), bytes.Repeat([]byte("# padding\n"), 50_000)...)
	for _, token := range []string{"", "awv_" + strings.Repeat("A", 43), env.maintainer} {
		env.bodyRead.Store(0)
		status, raw := env.do(t, http.MethodPost, "/v1/submissions", token, body, nil)
		if status != http.StatusUnauthorized && status != http.StatusForbidden {
			t.Errorf("token %q: %d %s, want 401 or 403", token, status, raw)
		}
		if n := env.bodyRead.Load(); n != 0 {
			t.Errorf("token %q: the server read %d bytes of the body before refusing it", token, n)
		}
	}
	// The answer comes while the body is still unsent.
	conn, err := net.Dial("tcp", strings.TrimPrefix(env.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/submissions HTTP/1.1\r\nHost: intake\r\nContent-Length: %d\r\n\r\n", spec1MiB)
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer before the body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("answer before the body: %d, want 401", resp.StatusCode)
	}
}

const spec1MiB = 1 << 20

// TestAttackTokenGuessing: past a few failed authentications an address is
// refused before its tokens are looked up.
func TestAttackTokenGuessing(t *testing.T) {
	env := newIntakeEnvConfig(t, IntakeConfig{Limits: Limits{FailedAuthRate: rate.Every(time.Hour), FailedAuthBurst: 3}}, "acme")
	for i := range 3 {
		guess := fmt.Sprintf("awv_%043d", i)
		if status, raw := env.do(t, http.MethodGet, "/v1/jobs", guess, nil, nil); status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %s, want 401", i, status, raw)
		}
	}
	before := env.lookups.Load()
	for _, token := range []string{"awv_" + strings.Repeat("9", 43), "", env.tokens["acme"]} {
		status, raw, header := env.doHeader(t, http.MethodGet, "/v1/jobs", token, nil, nil)
		checkTooMany(t, "a request after 3 failed authentications", status, raw, header)
	}
	if n := env.lookups.Load() - before; n != 0 {
		t.Errorf("%d tokens looked up after the address was refused, want 0", n)
	}
}

func TestAttackSubmissionRate(t *testing.T) {
	env := newIntakeEnvConfig(t, IntakeConfig{Limits: Limits{SubmitRate: rate.Every(time.Hour), SubmitBurst: 2, ReadRate: rate.Every(time.Hour), ReadBurst: 3}}, "acme", "globex")
	submitAs(t, env, "acme", "t1")
	submitAs(t, env, "acme", "t2")
	env.bodyRead.Store(0)
	status, raw, header := env.doHeader(t, http.MethodPost, "/v1/submissions", env.tokens["acme"], simSubmission(t, "acme"), map[string]string{TriggerHeader: "t3"})
	checkTooMany(t, "third submission in a burst of 2", status, raw, header)
	if n := env.bodyRead.Load(); n != 0 {
		t.Errorf("the server read %d bytes of a submission over the rate", n)
	}
	// Another vendor has its own budget.
	submitAs(t, env, "globex", "t1")

	for range 3 {
		if status, raw := env.do(t, http.MethodGet, "/v1/jobs", env.tokens["acme"], nil, nil); status != http.StatusOK {
			t.Fatalf("GET /v1/jobs within the burst: %d %s", status, raw)
		}
	}
	status, raw, header = env.doHeader(t, http.MethodGet, "/v1/jobs", env.tokens["acme"], nil, nil)
	checkTooMany(t, "fourth read in a burst of 3", status, raw, header)

	client := Client{BaseURL: env.url, Token: env.tokens["acme"]}
	_, err := client.Jobs(context.Background(), JobsQuery{})
	if apiErr, ok := err.(*APIError); !ok || apiErr.Status != http.StatusTooManyRequests || apiErr.RetryAfter < time.Second {
		t.Errorf("client over the rate: %v, want an APIError 429 with RetryAfter", err)
	}
}

func TestAttackQueuedJobCap(t *testing.T) {
	env := newIntakeEnvConfig(t, IntakeConfig{Limits: Limits{MaxQueued: 2}}, "acme", "globex")
	first := submitAs(t, env, "acme", "t1")
	submitAs(t, env, "acme", "t2")
	status, raw, header := env.doHeader(t, http.MethodPost, "/v1/submissions", env.tokens["acme"], simSubmission(t, "acme"), map[string]string{TriggerHeader: "t3"})
	checkTooMany(t, "a third queued job, cap 2", status, raw, header)
	// Resubmitting a job that exists is answered, cap or not.
	if id := submitAs(t, env, "acme", "t1"); id != first {
		t.Errorf("resubmission = %s, want %s", id, first)
	}
	submitAs(t, env, "globex", "t1")
	// A job that leaves the queue makes room.
	if status, raw := env.do(t, http.MethodPost, "/v1/jobs/"+first+"/cancel", env.tokens["acme"], nil, nil); status != http.StatusAccepted {
		t.Fatalf("cancel: %d %s", status, raw)
	}
	submitAs(t, env, "acme", "t3")

	// Concurrent submissions cannot pass the cap together.
	var wg sync.WaitGroup
	var accepted atomic.Int32
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, env.url+"/v1/submissions", bytes.NewReader(simSubmission(t, "globex")))
			req.Header.Set("Authorization", "Bearer "+env.tokens["globex"])
			req.Header.Set(TriggerHeader, fmt.Sprintf("c%d", i))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				accepted.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := accepted.Load(); n != 1 {
		t.Errorf("%d of 6 concurrent submissions accepted with 1 queued slot left, want 1", n)
	}
}

func TestAttackTriggerHeader(t *testing.T) {
	env := newIntakeEnv(t, "acme")
	for _, tt := range []struct{ name, trigger string }{
		{"over 128 bytes", strings.Repeat("n", MaxTriggerLen+1)},
		{"4 KiB", strings.Repeat("n", 4<<10)},
		{"space", "nightly 1"},
		{"tab", "nightly\t1"},
		{"bidi override", "nightly\u202e1"},
		{"quote", `nightly"1`},
	} {
		status, raw := env.do(t, http.MethodPost, "/v1/submissions", env.tokens["acme"], simSubmission(t, "acme"), map[string]string{TriggerHeader: tt.trigger})
		if status != http.StatusBadRequest || !strings.Contains(string(raw), TriggerHeader) {
			t.Errorf("trigger %s: %d %s, want 400 naming %s", tt.name, status, raw, TriggerHeader)
		}
	}
	// Control bytes never reach the handler: net/http refuses them itself.
	conn, err := net.Dial("tcp", strings.TrimPrefix(env.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/submissions HTTP/1.1\r\nHost: intake\r\nAuthorization: Bearer %s\r\n%s: nightly\x1b[31m\r\nContent-Length: 0\r\n\r\n", env.tokens["acme"], TriggerHeader)
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("trigger with ESC: %d, want 400", resp.StatusCode)
	}
	// Triggers the project makes itself pass.
	for _, ok := range []string{"nightly-1", NewTrigger("demo"), "pr-12@0123abc", "gh:acme/repo#12"} {
		submitAs(t, env, "acme", ok)
	}
}

func checkTooMany(t *testing.T, what string, status int, raw []byte, header http.Header) {
	t.Helper()
	if status != http.StatusTooManyRequests {
		t.Errorf("%s: %d %s, want 429", what, status, raw)
		return
	}
	secs, err := strconv.Atoi(header.Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Errorf("%s: Retry-After %q, want whole seconds ≥ 1", what, header.Get("Retry-After"))
	}
}
