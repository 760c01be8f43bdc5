package power

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/sim"
	"github.com/rs/zerolog"
)

// startSim starts a real sim engine on a loopback port with the named
// profile, adjusted by mut, and stops it at cleanup.
func startSim(t *testing.T, profile string, mut func(*sim.Config)) string {
	t.Helper()
	p, err := sim.DefaultProfile(profile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.Config{Profile: p, Seed: 7}
	if mut != nil {
		mut(&cfg)
	}
	srv, err := sim.NewServer(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	url, err := srv.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// simSource is a SimSource closed at cleanup.
func simSource(t *testing.T, url string) *SimSource {
	t.Helper()
	src := NewSimSource(url)
	t.Cleanup(func() { _ = src.Close() })
	return src
}

// loadSim keeps agents requests in flight against the sim until the
// returned stop is called, so that its power changes.
func loadSim(t *testing.T, url, model string, agents int) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tr := &http.Transport{}
	client := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				n := 16 + (a*7+i*13)%48
				body, _ := json.Marshal(map[string]any{
					"model":      model,
					"messages":   []map[string]any{{"role": "user", "content": strings.Repeat("measure the power please ", 20+a)}},
					"max_tokens": n, "min_tokens": n, "ignore_eos": true, "stream": false,
				})
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				// Idle gaps between requests make the power swing.
				select {
				case <-ctx.Done():
				case <-time.After(time.Duration(50+(a*31+i*17)%200) * time.Millisecond):
				}
			}
		}()
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			tr.CloseIdleConnections()
		})
	}
	t.Cleanup(stop)
	return stop
}

// runSampler runs a sampler on src for d and returns it stopped.
func runSampler(t *testing.T, src Source, cfg Config, d time.Duration) *Sampler {
	t.Helper()
	s, err := NewSampler(src, time.Now(), cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	return s
}

// eventsOf filters events by kind.
func eventsOf(evs []Event, kind string) []Event {
	var out []Event
	for _, e := range evs {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// span is the window all GPUs' valid samples cover, shrunk by margin.
func span(t *testing.T, samples []Sample, margin time.Duration) (int64, int64) {
	t.Helper()
	first, last := map[int]int64{}, map[int]int64{}
	for _, s := range samples {
		if !s.Valid() {
			continue
		}
		if f, ok := first[s.GPU]; !ok || s.TMonoNs < f {
			first[s.GPU] = s.TMonoNs
		}
		last[s.GPU] = max(last[s.GPU], s.TMonoNs)
	}
	var start, end int64 = 0, 1<<63 - 1
	for g := range first {
		start, end = max(start, first[g]), min(end, last[g])
	}
	start, end = start+margin.Nanoseconds(), end-margin.Nanoseconds()
	if end <= start {
		t.Fatalf("samples span no window: [%d, %d)", start, end)
	}
	return start, end
}

// testLogger logs through t.
func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}
