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

// scrapeTimeout bounds one /metrics scrape. Scrapes run on their own
// goroutine, in the order of the window marks, so the replay's probe loop
// never waits for the engine.
const scrapeTimeout = time.Second

// scrapeBacklog is how many window marks may wait for a scrape; a mark
// beyond it (an engine that answers every scrape at the timeout) is a line
// with its error.
const scrapeBacklog = 16

// engineScrapes scrapes the engine's /metrics at every window start and
// end into engine-metrics.jsonl (sealed zstd-compressed as
// bundle.EngineMetricsFile). A failed scrape is a line with its error; a
// framework without known names is never scraped.
type engineScrapes struct {
	url   string
	names []string
	c     *http.Client
	log   zerolog.Logger

	marks chan scrapeMark
	done  sync.WaitGroup

	mu     sync.Mutex
	closed bool // marks is closed
	f      *os.File
	path   string
	err    error // the first write error; later lines are dropped
	buf    []byte
}

// scrapeMark is a window mark waiting for its scrape.
type scrapeMark struct {
	probe  int
	at     string
	monoNs int64     // the mark on the run's clock
	seen   time.Time // when the mark was seen, to date the scrape on that clock
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
	s := &engineScrapes{url: baseURL + "/metrics", names: names, f: f, path: path, log: log,
		marks: make(chan scrapeMark, scrapeBacklog),
		c:     &http.Client{Timeout: scrapeTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	s.done.Add(1)
	go s.run()
	return s, nil
}

// onEvent queues a scrape at each window mark; other events are ignored.
// It never waits for the engine.
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
	m := scrapeMark{probe: e.Probe, at: at, monoNs: e.MonotonicNs, seen: time.Now()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	select {
	case s.marks <- m:
	default:
		s.writeLocked(&bundle.EngineMetricsLine{Probe: m.probe, At: m.at, TMonoNs: m.monoNs, Err: "not scraped: earlier scrapes still waiting for the engine"})
	}
}

// run scrapes each queued mark in order until the queue is closed.
func (s *engineScrapes) run() {
	defer s.done.Done()
	for m := range s.marks {
		counters, err := enginemetrics.Scrape(context.Background(), s.c, s.url, s.names, scrapeTimeout)
		l := bundle.EngineMetricsLine{Probe: m.probe, At: m.at, TMonoNs: m.monoNs + time.Since(m.seen).Nanoseconds(), Counters: counters}
		if err != nil {
			l.Err = err.Error()
			if len(l.Err) > 512 {
				l.Err = l.Err[:512]
			}
			l.Counters = nil
		}
		s.mu.Lock()
		s.writeLocked(&l)
		s.mu.Unlock()
	}
}

// writeLocked appends one line; s.mu is held.
func (s *engineScrapes) writeLocked(l *bundle.EngineMetricsLine) {
	if s.err != nil || s.f == nil {
		return
	}
	s.buf, s.err = bundle.AppendEngineMetricsLine(s.buf[:0], l)
	if s.err == nil {
		_, s.err = s.f.Write(s.buf)
	}
	if s.err != nil {
		s.log.Warn().Err(s.err).Msg("engine metrics: write failed; later scrapes dropped")
	}
}

// close waits for the queued scrapes and ends the file; it returns the
// first write error.
func (s *engineScrapes) close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.marks)
	}
	s.mu.Unlock()
	s.done.Wait()
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
