package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startServerChild runs `agentwatt server` with args in a child process and
// waits until url answers.
func startServerChild(t *testing.T, natsURL, listen string, args ...string) {
	t.Helper()
	raw, _ := json.Marshal(append([]string{"server", "--nats", natsURL, "--listen", listen, "--log-level", "warn"}, args...))
	server := exec.Command(os.Args[0])
	server.Env = append(os.Environ(), childArgsEnv+"="+string(raw))
	var out bytes.Buffer
	server.Stdout, server.Stderr = &out, &out
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Process.Kill(); _ = server.Wait() })
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + listen + "/v1/jobs")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not answering after 1 min: %v\n%s", err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// scrape GETs url and returns the status and the body.
func scrape(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// checkScrape asserts that a /metrics body has the Go runtime's and the
// process's metrics and the request metrics of route, and that no label
// carries what a client sent (hostile).
func checkScrape(t *testing.T, body, route, code, hostile string) {
	t.Helper()
	for _, want := range []string{
		"go_goroutines ",
		"go_memstats_heap_alloc_bytes ",
		"process_resident_memory_bytes ",
		"process_open_fds ",
		`agentwatt_http_requests_total{code="` + code + `",route="` + route + `"} `,
		`agentwatt_http_request_duration_seconds_bucket{code="` + code + `",route="` + route + `",le="0.1"} `,
		`agentwatt_http_request_duration_seconds_count{code="` + code + `",route="` + route + `"} `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, hostile) {
		t.Errorf("/metrics carries the client's %q", hostile)
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

// TestServerMetrics: `agentwatt server` serves /metrics on its API address,
// or with --metrics-addr on that address only.
func TestServerMetrics(t *testing.T) {
	f := newQueueFixture(t)
	const hostile = "0123456789abcdef0123456789abcdef-hostile"
	listen := freeLoopbackAddr(t)
	startServerChild(t, f.url, listen)
	base := "http://" + listen
	for range 3 {
		scrape(t, base+"/v1/jobs/"+hostile) // 401: no token
	}
	scrape(t, base+"/no/such/"+hostile)
	code, body := scrape(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", code)
	}
	checkScrape(t, body, "GET /v1/jobs/{id}", "401", hostile)
	if !strings.Contains(body, `agentwatt_http_requests_total{code="401",route="GET /v1/jobs/{id}"} 3`) ||
		!strings.Contains(body, `agentwatt_http_requests_total{code="404",route="unmatched"} 1`) {
		t.Errorf("request counts wrong:\n%s", body)
	}

	listen2, metricsAddr := freeLoopbackAddr(t), freeLoopbackAddr(t)
	startServerChild(t, f.url, listen2, "--metrics-addr", metricsAddr)
	scrape(t, "http://"+listen2+"/v1/jobs/"+hostile)
	if code, _ := scrape(t, "http://"+listen2+"/metrics"); code != http.StatusNotFound {
		t.Errorf("GET /metrics on --listen with --metrics-addr: %d, want 404", code)
	}
	code, body = scrape(t, "http://"+metricsAddr+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics on --metrics-addr: %d", code)
	}
	checkScrape(t, body, "GET /v1/jobs/{id}", "401", hostile)
}

// TestLocalMetrics: `agentwatt local` serves /metrics beside the intake and
// the site.
func TestLocalMetrics(t *testing.T) {
	_, info := startLocalChild(t, t.TempDir())
	scrape(t, info.Server+"/api/results")
	code, body := scrape(t, info.Server+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", code)
	}
	checkScrape(t, body, "GET /api/results", "200", "no-such-thing")
}
