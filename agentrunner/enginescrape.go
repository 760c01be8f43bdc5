package agentrunner

import (
	"context"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/agentrunner/enginemetrics"
	"github.com/agentwatt/agentwatt/agentrunner/replay"
	"github.com/agentwatt/agentwatt/bundle"
)

// scrapeTimeout bounds one /metrics scrape; the replay's probe loop waits
// for it at each window mark (the agents do not).
const scrapeTimeout = time.Second

// engineScrapes scrapes the engine's /metrics at every window start and
// end into engine-metrics.jsonl (sealed zstd-compressed as
// bundle.EngineMetricsFile). A failed scrape is a line with its error; a
// framework without known names is never scraped.
type engineScrapes struct {
	url   string
	names []string
	c     *http.Client
	log   zerolog.Logger

	mu   sync.Mutex
	f    *os.File
	path string
	err  error // the first write error; later lines are dropped
	buf  []byte
}

// newEngineScrapes creates path for the scrapes of an engine at baseURL
// serving framework; nil (nothing to scrape) when the framework has no
// metric names.
func newEngineScrapes(path, baseURL, framework string, log zerolog.Logger) (*engineScrapes, error) {
	names := enginemetrics.NamesFor(framework)
	if len(names) == 0 {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	return &engineScrapes{url: baseURL + "/metrics", names: names, f: f, path: path, log: log,
		c: &http.Client{Timeout: scrapeTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// onEvent scrapes at window marks; other events are ignored.
func (s *engineScrapes) onEvent(e replay.Event) {
	var at string
	switch e.Kind {
	case replay.EventWindowStart:
		at = bundle.ScrapeStart
	case replay.EventWindowEnd:
		at = bundle.ScrapeEnd
	default:
		return
	}
	t0 := time.Now()
	counters, err := enginemetrics.Scrape(context.Background(), s.c, s.url, s.names, scrapeTimeout)
	l := bundle.EngineMetricsLine{Probe: e.Probe, At: at, TMonoNs: e.MonotonicNs + time.Since(t0).Nanoseconds(), Counters: counters}
	if err != nil {
		l.Err = err.Error()
		if len(l.Err) > 512 {
			l.Err = l.Err[:512]
		}
		l.Counters = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil || s.f == nil {
		return
	}
	s.buf, s.err = bundle.AppendEngineMetricsLine(s.buf[:0], &l)
	if s.err == nil {
		_, s.err = s.f.Write(s.buf)
	}
	if s.err != nil {
		s.log.Warn().Err(s.err).Msg("engine metrics: write failed; later scrapes dropped")
	}
}

// close ends the file; it returns the first write error.
func (s *engineScrapes) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return s.err
	}
	err := s.f.Close()
	s.f = nil
	if s.err != nil {
		return s.err
	}
	return err
}
