package sim

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/metrics"
)

func getMetrics(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	return string(b)
}

func TestMetricsSpecDecode(t *testing.T) {
	c := testClient(t)
	_, off := startSim(t, tinyConfig(t, nil))
	if body := getMetrics(t, c, off); strings.Contains(body, "spec_decode") {
		t.Fatalf("speculative decoding off, yet /metrics has: %q", body)
	}
	srv, url := startSim(t, tinyConfig(t, func(c *Config) { c.SpecAccept = 0.7 }))
	before, _ := srv.Spec()
	complete(t, c, url, chatReq(false, "hello there", map[string]any{"max_tokens": 40, "min_tokens": 40}))
	after, ok := srv.Spec()
	if !ok || after.Drafts <= before.Drafts {
		t.Fatalf("counters did not move: %+v -> %+v", before, after)
	}
	rate, ok := metrics.SpecAcceptance(
		map[string]float64{metrics.SpecDraftTokens: float64(before.DraftTokens), metrics.SpecAcceptedTokens: float64(before.AcceptedTokens)},
		map[string]float64{metrics.SpecDraftTokens: float64(after.DraftTokens), metrics.SpecAcceptedTokens: float64(after.AcceptedTokens)})
	if !ok || rate < 0.69 || rate > 0.71 {
		t.Errorf("acceptance %g (%v), want ≈0.7", rate, ok)
	}
	body := getMetrics(t, c, url)
	for _, name := range []string{metrics.SpecDrafts, metrics.SpecDraftTokens, metrics.SpecAcceptedTokens} {
		if !strings.Contains(body, "# TYPE "+name+" counter\n"+name+"{") {
			t.Errorf("/metrics lacks %s: %q", name, body)
		}
	}
}

func TestConfigSpecAcceptRange(t *testing.T) {
	for _, v := range []float64{-0.1, 1.5} {
		cfg := tinyConfig(t, func(c *Config) { c.SpecAccept = v })
		if err := cfg.Validate(); err == nil {
			t.Errorf("SpecAccept %g accepted", v)
		}
	}
}
