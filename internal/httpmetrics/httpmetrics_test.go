package httpmetrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func newServer(t *testing.T) (*httptest.Server, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "missing" {
			http.Error(w, "no such job", http.StatusNotFound)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /runs/{job}/", func(w http.ResponseWriter, r *http.Request) {})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := httptest.NewServer(m.Handler(mux))
	t.Cleanup(srv.Close)
	return srv, reg
}

func get(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestLabelsAreRoutesNotPaths: requests are counted by the pattern that
// matched and the code; ids, unknown paths, odd methods and ServeMux's own
// redirects (whose target is the client's path) never become label values.
func TestLabelsAreRoutesNotPaths(t *testing.T) {
	srv, reg := newServer(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, id := range []string{"a1", "b2", "missing"} {
		get(t, noRedirect, srv.URL+"/v1/jobs/"+id)
	}
	for _, p := range []string{"/nope-1", "/nope-2", "/runs/hostile-" + strings.Repeat("x", 50), "/v1/../v1/jobs/c3"} {
		get(t, noRedirect, srv.URL+p)
	}
	req, _ := http.NewRequest("BREW", srv.URL+"/v1/jobs/d4", nil)
	if resp, err := noRedirect.Do(req); err == nil {
		resp.Body.Close()
	}
	got := map[[2]string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	durations := 0
	for _, mf := range mfs {
		if mf.GetName() == "agentwatt_http_request_duration_seconds" {
			durations = len(mf.GetMetric())
		}
		if mf.GetName() != "agentwatt_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var k [2]string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "route":
					k[0] = l.GetValue()
				case "code":
					k[1] = l.GetValue()
				}
			}
			got[k] = m.GetCounter().GetValue()
		}
	}
	routes := map[string]bool{"GET /v1/jobs/{id}": true, "GET /runs/{job}/": true, "GET /metrics": true, Unmatched: true, Redirect: true}
	total := 0.0
	for k, v := range got {
		if !routes[k[0]] {
			t.Errorf("route label %q is not a pattern of the server", k[0])
		}
		total += v
	}
	if total != 8 {
		t.Errorf("%v requests counted, want 8: %v", total, got)
	}
	want := map[[2]string]float64{
		{"GET /v1/jobs/{id}", "200"}: 2,
		{"GET /v1/jobs/{id}", "404"}: 1,
		{Unmatched, "404"}:           2,
		{Unmatched, "405"}:           1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("requests{route=%q,code=%q} = %v, want %v (all: %v)", k[0], k[1], got[k], v, got)
		}
	}
	if durations != len(got) {
		t.Errorf("%d duration series, want %d", durations, len(got))
	}
}

// TestScrape: /metrics answers in the text format with the request metrics,
// and counts itself.
func TestScrape(t *testing.T) {
	srv, _ := newServer(t)
	get(t, http.DefaultClient, srv.URL+"/v1/jobs/a1")
	get(t, http.DefaultClient, srv.URL+"/metrics")
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`agentwatt_http_requests_total{code="200",route="GET /v1/jobs/{id}"} 1`,
		`agentwatt_http_requests_total{code="200",route="GET /metrics"} 1`,
		`agentwatt_http_request_duration_seconds_bucket{code="200",route="GET /v1/jobs/{id}",le="+Inf"} 1`,
		`agentwatt_http_requests_in_flight 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %q:\n%s", want, body)
		}
	}
}
