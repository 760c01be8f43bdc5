package enginemetrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/metrics"
)

const vllmBody = `# HELP vllm:spec_decode_num_draft_tokens_total Number of draft tokens.
# TYPE vllm:spec_decode_num_draft_tokens_total counter
vllm:spec_decode_num_draft_tokens_total{engine="0",model_name="m"} 300.0
vllm:spec_decode_num_draft_tokens_total{engine="1",model_name="m"} 100.0
# TYPE vllm:spec_decode_num_accepted_tokens_total counter
vllm:spec_decode_num_accepted_tokens_total{engine="0",model_name="m"} 280.0
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0"} 4.0
`

func TestParse(t *testing.T) {
	got, err := Parse([]byte(vllmBody), Names["vllm"])
	if err != nil {
		t.Fatal(err)
	}
	if got[metrics.SpecDraftTokens] != 400 || got[metrics.SpecAcceptedTokens] != 280 {
		t.Errorf("got %v, want draft 400 (summed over engines), accepted 280", got)
	}
	if _, ok := got[metrics.SpecDrafts]; ok {
		t.Errorf("absent name reported: %v", got)
	}
	if _, ok := got["vllm:num_requests_running"]; ok {
		t.Errorf("unwanted name reported: %v", got)
	}
}

// A hostile engine: huge bodies, endless lines, negative or NaN counters.
func TestParseHostile(t *testing.T) {
	tests := []struct {
		name string
		body string
		big  bool
	}{
		{"body over the cap", strings.Repeat("# x\n", MaxBytes/4+1), true},
		{"one endless line", "# " + strings.Repeat("x", MaxLineBytes+1), true},
		{"negative counter", "vllm:spec_decode_num_draft_tokens_total -5\n", false},
		{"NaN counter", "vllm:spec_decode_num_draft_tokens_total NaN\n", false},
		{"not the format", "vllm:spec_decode_num_draft_tokens_total{\"json\": true}\n", false},
		{"too many series", strings.Repeat("vllm:spec_decode_num_draft_tokens_total{x=\"1\"} 1\n", MaxSeries+1), true},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.body), Names["vllm"])
		if err == nil || errors.Is(err, ErrTooLarge) != tt.big {
			t.Errorf("%s: err %v", tt.name, err)
		}
	}
}

// Other series cannot fail the scrape or cost memory: a malformed or
// enormous unrelated metric is never parsed.
func TestParseIgnoresOtherSeries(t *testing.T) {
	body := "garbage{{{ not prometheus\n" + strings.Repeat("other_metric{a=\"1\"} 1\n", 100_000) + vllmBody
	got, err := Parse([]byte(body), Names["vllm"])
	if err != nil || got[metrics.SpecDraftTokens] != 400 {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestScrape(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metrics":
			_, _ = w.Write([]byte(vllmBody))
		case "/endless":
			chunk := []byte(strings.Repeat("# filler\n", 1000))
			for {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	got, err := Scrape(context.Background(), srv.Client(), srv.URL+"/metrics", Names["vllm"], 0)
	if err != nil || got[metrics.SpecDraftTokens] != 400 {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := Scrape(context.Background(), srv.Client(), srv.URL+"/endless", Names["vllm"], 0); !errors.Is(err, ErrTooLarge) {
		t.Errorf("endless body: err %v, want ErrTooLarge", err)
	}
	if _, err := Scrape(context.Background(), srv.Client(), srv.URL+"/nope", Names["vllm"], 0); err == nil {
		t.Error("404 accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(vllmBody))
	f.Add([]byte("vllm:spec_decode_num_draft_tokens_total 1e309\n"))
	f.Add([]byte("# TYPE x counter\nx{a=\"\\\"\"} 1 123\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Parse(b, Names["vllm"])
		if err != nil {
			return
		}
		for k, v := range got {
			if v < 0 || v != v {
				t.Fatalf("%s = %g accepted", k, v)
			}
		}
	})
}
