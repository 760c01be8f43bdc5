package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// BenchmarkStream measures how many tokens per second the sim can stream on
// the unlimited profile, with the engine clock sped up so that the server,
// not the step time, is the limit. Each op is one streamed request of 256
// tokens; 64 run concurrently.
func BenchmarkStream(b *testing.B) {
	p, err := DefaultProfile("unlimited")
	if err != nil {
		b.Fatal(err)
	}
	srv, err := NewServer(Config{Profile: p, Seed: 1, TimeScale: 1000}, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	url, err := srv.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	const tokens, streams = 256, 64
	body, _ := json.Marshal(map[string]any{
		"model": p.ServedModel, "messages": []map[string]any{{"role": "user", "content": "benchmark the stream please"}},
		"max_tokens": tokens, "min_tokens": tokens, "ignore_eos": true, "stream": true,
		"stream_options": map[string]any{"include_usage": true},
	})
	tr := &http.Transport{MaxIdleConnsPerHost: streams}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var next atomic.Int64
	var events atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				resp, err := client.Post(url+"/v1/chat/completions", "application/json", bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				sc := bufio.NewScanner(resp.Body)
				n := int64(0)
				for sc.Scan() {
					if len(sc.Bytes()) > 0 {
						n++
					}
				}
				resp.Body.Close()
				events.Add(n)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N)*tokens/el, "tokens/s")
	b.ReportMetric(float64(events.Load())/el, "events/s")
}
