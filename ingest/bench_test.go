package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

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
