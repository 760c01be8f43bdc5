package publish_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"
	"golang.org/x/net/html"

	"github.com/agentwatt/agentwatt/blob/blobtest"
	"github.com/agentwatt/agentwatt/publish"
)

// publishedSite is a store with two published results and a server of its
// leaderboard.
func publishedSite(t *testing.T) (*httptest.Server, *publish.Leaderboard, func(key string) []byte) {
	t.Helper()
	ctx := context.Background()
	v := verdictOf(t)
	store := blobtest.Store(t)
	var lb *publish.Leaderboard
	for i, c := range []struct {
		job, acc string
		f        float64
	}{{"job-fast", "sim-a", 1}, {"job-slow", "sim-b", 0.5}} {
		vv := scaled(t, v, c.job, c.f)
		var err error
		lb, err = publish.Publish(ctx, store, publish.PublishInput{Job: jobOf(vv, c.job, c.acc), Verdict: vv, Local: true,
			Approval: publish.Approval{By: "maint", At: time.Date(2026, 11, 2+i, 9, 0, 0, 0, time.UTC)}})
		if err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	publish.NewSiteHandler(store, zerolog.Nop()).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	get := func(key string) []byte {
		b, err := store.GetBytes(ctx, key, 16<<20)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		return b
	}
	return srv, lb, get
}

// checkStrictCSP fails unless policy allows scripts and styles only from the
// site itself.
func checkStrictCSP(t *testing.T, where, policy string) {
	t.Helper()
	directives := map[string]string{}
	for _, d := range strings.Split(policy, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	for _, name := range []string{"script-src", "style-src"} {
		if directives[name] != "'self'" {
			t.Errorf("%s: %s is %q, want 'self' (policy %q)", where, name, directives[name], policy)
		}
	}
	if directives["default-src"] != "'none'" || strings.Contains(policy, "unsafe-") {
		t.Errorf("%s: policy %q: want default-src 'none' and nothing unsafe", where, policy)
	}
}

// checkNoInline fails if the page holds code or style the strict policy would
// block: a script with a body or a foreign source, an on* handler, a
// javascript: URL, a style element or attribute. It returns the page's
// meta policy.
func checkNoInline(t *testing.T, where string, page []byte) (metaCSP string) {
	t.Helper()
	z := html.NewTokenizer(bytes.NewReader(page))
	inScript := false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				t.Fatalf("%s: %v", where, z.Err())
			}
			return metaCSP
		case html.TextToken:
			if inScript && strings.TrimSpace(string(z.Text())) != "" {
				t.Errorf("%s: inline script %q", where, z.Text())
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "script" {
				inScript = false
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			attrs := map[string]string{}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				attrs[string(k)] = string(v)
				key := string(k)
				switch {
				case strings.HasPrefix(key, "on"):
					t.Errorf("%s: <%s %s=%q>: inline event handler", where, tag, key, v)
				case key == "style":
					t.Errorf("%s: <%s style=%q>: inline style", where, tag, v)
				case strings.HasPrefix(strings.ToLower(strings.TrimSpace(string(v))), "javascript:"):
					t.Errorf("%s: <%s %s=%q>: javascript: URL", where, tag, key, v)
				}
			}
			switch tag {
			case "style":
				t.Errorf("%s: <style> element", where)
			case "script":
				// A JSON data block never runs: its body is data, and it
				// needs no src.
				inScript = tt == html.StartTagToken && attrs["type"] != "application/json"
				if attrs["type"] == "application/json" {
					if _, ok := attrs["src"]; ok {
						t.Errorf("%s: a data block with a src", where)
					}
					break
				}
				if src := attrs["src"]; src == "" || strings.Contains(src, ":") || strings.HasPrefix(src, "//") {
					t.Errorf("%s: <script src=%q>: want a file of the site", where, src)
				}
			case "meta":
				if strings.EqualFold(attrs["http-equiv"], "Content-Security-Policy") {
					metaCSP = attrs["content"]
				}
			}
		}
	}
}

// The served leaderboard carries the strict policy, holds no inline code or
// style, and its script and style are served as files under the same
// policy. Before, the page was served with script-src 'unsafe-inline' and
// sorted with an inline script.
func TestSiteServesStrictCSP(t *testing.T) {
	srv, _, _ := publishedSite(t)
	for _, c := range []struct{ path, ctype, contains string }{
		{"/", "text/html", `class="result-row"`},
		{"/leaderboard", "text/html", `class="result-row"`},
		{"/site.js", "text/javascript", "table.sortable"},
		{"/site.css", "text/css", "th{"},
		{"/uPlot.iife.min.js", "text/javascript", "uPlot"},
		{"/uPlot.min.css", "text/css", ".uplot"},
		{"/results/job-fast/1.html", "text/html", `class="result-row"`},
		{"/method.html", "text/html", "min_met_share"},
		{"/results.csv", "text/csv", "agents_per_mw"},
		{"/results.json", "application/json", `"results"`},
		{"/api/results", "application/json", `"results"`},
	} {
		resp, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) || !strings.Contains(string(body), c.contains) {
			t.Errorf("GET %s: %d %q, body lacks %q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), c.contains)
			continue
		}
		checkStrictCSP(t, "GET "+c.path, resp.Header.Get("Content-Security-Policy"))
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no X-Content-Type-Options: nosniff", c.path)
		}
		if c.ctype == "text/html" {
			checkStrictCSP(t, "GET "+c.path+" meta", checkNoInline(t, "GET "+c.path, body))
		}
	}
}

// The static copy in the bucket (what `make demo` points at) is the same
// page, with its policy in a meta element and its assets beside it.
func TestPublishedSiteIsStrict(t *testing.T) {
	_, _, get := publishedSite(t)
	for _, key := range []string{publish.SiteIndexKey, publish.SitePrefix + "method.html", publish.SitePrefix + "results/job-fast/1.html", publish.SitePrefix + "results/job-slow/1.html"} {
		checkStrictCSP(t, key+" meta", checkNoInline(t, key, get(key)))
	}
	for _, a := range publish.SiteAssets() {
		if got := get(publish.SitePrefix + a.Name); !bytes.Equal(got, a.Data) {
			t.Errorf("%s%s: %d bytes, want the embedded %d", publish.SitePrefix, a.Name, len(got), len(a.Data))
		}
	}
}

// The policy blocks what an HTML injection would bring: an inline script,
// an event handler and an inline style on a page served with the site's
// headers do nothing, while the page itself renders.
func TestSiteCSPBlocksInjectedCodeInBrowser(t *testing.T) {
	chrome := chromiumPath(t)
	injected := `<!doctype html><html><head><title>clean</title></head><body><h1>board</h1>
<script>document.title='pwned by inline script'</script>
<img src="data:," onerror="document.title='pwned by handler'">
<p id="styled" style="color: rgb(255, 0, 0)">text</p></body></html>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", publish.SiteCSP)
		_, _ = io.WriteString(w, injected)
	}))
	t.Cleanup(srv.Close)
	bctx := newBrowser(t, chrome)
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatalf("browser: navigate: %v", err)
	}
	tctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // an image error handler would have run by now
	got, err := chromedp.Run(tctx, chromedp.Evaluate[[]string](`[document.title, getComputedStyle(document.getElementById('styled')).color]`))
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != "clean" || got[1] == "rgb(255, 0, 0)" {
		t.Errorf("under the site's policy: title %q, inline-styled colour %s; want the injection blocked", got[0], got[1])
	}
}

// The static copy (index.html with site.js and site.css beside it, opened
// as a file, as `make demo` prints it) renders and sorts under its meta
// policy.
func TestStaticSiteInBrowser(t *testing.T) {
	chrome := chromiumPath(t)
	_, lb, _ := publishedSite(t)
	dir := t.TempDir()
	page, err := publish.RenderSite(lb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.html"), page, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, a := range publish.SiteAssets() {
		if err := os.WriteFile(filepath.Join(dir, a.Name), a.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bctx := newBrowser(t, chrome)
	if err := chromedp.Do(bctx, chromedp.Navigate("file://"+filepath.Join(dir, "index.html"))); err != nil {
		t.Fatalf("browser: navigate: %v", err)
	}
	tctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS("tr.result-row"))); err != nil {
		t.Fatal(err)
	}
	firstJob := `document.querySelector('section.group tr.result-row').dataset.job`
	before, err := chromedp.Run(tctx, chromedp.Evaluate[string](firstJob))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tctx, chromedp.Click(chromedp.CSS("section.group th:nth-child(4)"))); err != nil {
		t.Fatal(err)
	}
	after, err := chromedp.Run(tctx, chromedp.Evaluate[string](firstJob))
	if err != nil {
		t.Fatal(err)
	}
	bg, err := chromedp.Run(tctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('th')).backgroundColor`))
	if err != nil {
		t.Fatal(err)
	}
	if before != "job-fast" || after != "job-slow" || bg != "rgb(244, 244, 244)" {
		t.Errorf("file copy: first row %s, after sorting ascending %s (want job-fast, job-slow); header background %s", before, after, bg)
	}
}
