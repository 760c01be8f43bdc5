package queue

import (
	"context"
	"slices"
	"testing"
	"time"
)

// BenchmarkDispatch measures dispatch latency on the embedded server: from
// the start of Enqueue until a waiting runner's Worker.Next returns the lease
// (record created, message published, fetched, record moved to running,
// heartbeat and watch started). Goal: p99 ≤ 50 ms.
func BenchmarkDispatch(b *testing.B) {
	q := newTestQueue(b, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type taken struct {
		id string
		at time.Time
	}
	got := make(chan taken)
	w := newWorker(b, q, "sim", "bench")
	go func() {
		for {
			l, err := w.Next(ctx)
			if err != nil {
				return
			}
			at := time.Now()
			if _, err := l.Complete(ctx); err != nil {
				l.Abandon()
			}
			select {
			case got <- taken{l.Job().ID, at}:
			case <-ctx.Done():
				return
			}
		}
	}()
	// Warm up: the pool's consumer and the first streams' writes.
	mustEnqueue(b, q, newJob("sim"))
	<-got

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		nj := newJob("sim")
		start := time.Now()
		j, _, err := q.Enqueue(ctx, nj)
		if err != nil {
			b.Fatal(err)
		}
		tk := <-got
		if tk.id != j.ID {
			b.Fatalf("took %s, want %s", tk.id, j.ID)
		}
		lat = append(lat, tk.at.Sub(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
