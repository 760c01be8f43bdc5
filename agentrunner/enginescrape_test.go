package agentrunner

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/agentrunner/replay"
	"github.com/agentwatt/agentwatt/bundle"
)

// TestEngineScrapesNeverWaitForTheEngine: an engine whose /metrics hangs
// (a hostile or overloaded engine) cannot hold the replay's probe loop:
// window marks are queued while the scrape waits, marks beyond the backlog
// are recorded as not scraped, and every mark ends as one line, in order.
func TestEngineScrapesNeverWaitForTheEngine(t *testing.T) {
	release := make(chan struct{})
	engine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer engine.Close()
	path := filepath.Join(t.TempDir(), "engine-metrics.jsonl")
	s, err := newEngineScrapes(path, engine.URL, "sim", testLog())
	if err != nil || s == nil {
		t.Fatalf("newEngineScrapes: %v, %v", s, err)
	}
	// Every call returns while the engine holds the first scrape; an
	// onEvent that waited for its scrape would record no mark as not
	// scraped (and take a timeout per mark).
	const marks = 40
	for i := range marks {
		kind := replay.EventWindowStart
		if i%2 == 1 {
			kind = replay.EventWindowEnd
		}
		s.onEvent(replay.Event{Kind: kind, Probe: i / 2, MonotonicNs: int64(i)})
	}
	close(release)
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(bytes.NewReader(data))
	lines, err := bundle.ReadEngineMetrics(func() ([]byte, error) {
		b, err := br.ReadBytes('\n')
		if len(b) == 0 && err == nil {
			err = io.EOF
		}
		return bytes.TrimSuffix(b, []byte("\n")), err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != marks {
		t.Fatalf("%d lines, want one per mark (%d)", len(lines), marks)
	}
	skipped := 0
	for _, l := range lines {
		if strings.Contains(l.Err, "not scraped") {
			skipped++
		}
	}
	if skipped == 0 || skipped > marks-scrapeBacklog {
		t.Errorf("%d marks recorded as not scraped, want between 1 and %d (backlog %d)", skipped, marks-scrapeBacklog, scrapeBacklog)
	}
	// The queued ones are written in the order of their marks.
	last := -1
	for _, l := range lines {
		if strings.Contains(l.Err, "not scraped") {
			continue
		}
		mark := 2 * l.Probe
		if l.At == bundle.ScrapeEnd {
			mark++
		}
		if mark < last {
			t.Errorf("the scrape of mark %d written after that of mark %d", mark, last)
		}
		last = mark
	}
	s.onEvent(replay.Event{Kind: replay.EventWindowStart}) // after close: dropped, no panic
}
