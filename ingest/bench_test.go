package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/ingest"
)

// BenchmarkIngestMooncake converts the Mooncake conversation trace (12,031
// requests, 3 MB) end to end: parse, rebuild sessions, shared prefixes,
// encode and compress, write. MB/s is of input; the conversion runs on one
// goroutine, so run it with -cpu 1 for the per-core figure.
func BenchmarkIngestMooncake(b *testing.B) {
	fi, err := os.Stat(mooncakeCv)
	if err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(b.TempDir(), "m.jsonl.zst")
	in := []ingest.Input{{Format: "mooncake", Path: mooncakeCv}}
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	for b.Loop() {
		rep, err := ingest.Run(context.Background(), in, out, ingest.Options{Name: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Turns != 12031 {
			b.Fatalf("%d turns", rep.Turns)
		}
	}
}

// BenchmarkIngestWekaCorpus converts the kv-cache-tester corpus (710
// traces, a 1.7 MB tar.zst of 460 MB of JSON) end to end, both passes, and
// reports the peak live heap (sampled every 5 ms): it stays near the largest
// trace's working set, not the corpus. Slow (about a minute a run): run it
// with -benchtime 1x.
func BenchmarkIngestWekaCorpus(b *testing.B) {
	const corpus = "testdata/kv-cache-tester/traces.tar.zst"
	out := filepath.Join(b.TempDir(), "c.jsonl.zst")
	in := []ingest.Input{{Format: ingest.FormatWeka, Path: corpus}}
	b.SetBytes(460568273) // the uncompressed traces, read twice
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				metrics.Read(s)
				if v := s[0].Value.Uint64(); v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()
	for b.Loop() {
		rep, err := ingest.Run(context.Background(), in, out, ingest.Options{Name: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Trajectories != 710 {
			b.Fatalf("%d trajectories", rep.Trajectories)
		}
	}
	close(stop)
	<-done
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
}
