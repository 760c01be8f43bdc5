package verifier

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/verifier/verifiertest"
)

// largeBundle builds a synthetic bundle of ≈ 40k request records (probes
// of 400 to 1200 agents, 29 s windows; AGENTWATT_BENCH_AGENTS=10000 gives
// ≈ 1M) in the benchmark's temporary directory.
func largeBundle(b *testing.B) *verifiertest.Bundle {
	b.Helper()
	agents := 400
	if n, err := strconv.Atoi(os.Getenv("AGENTWATT_BENCH_AGENTS")); err == nil && n > 0 {
		agents = n
	}
	lb, err := verifiertest.Build(context.Background(), filepath.Join(b.TempDir(), "b"),
		verifiertest.Options{Seed: 9, Agents: agents, Window: 29 * time.Second, Repeat: 3})
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	return lb
}

// BenchmarkScanRecords is the streaming pass over requests.jsonl.zst:
// decode, per-record checks against the workload's targets, slim copy.
func BenchmarkScanRecords(b *testing.B) {
	lb := largeBundle(b)
	rules, err := spec.LoadRules("v1")
	if err != nil {
		b.Fatal(err)
	}
	tg := newTargets(lb.Workload, verifiertest.Template)
	path := filepath.Join(lb.Dir, bundle.RequestsFile)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		st, err := scanRecords(f, tg, rules.Verify, bundle.ZstdLimits{}, 0)
		f.Close()
		if err != nil || st.total != lb.Records {
			b.Fatalf("scan: %v, %d records of %d", err, st.total, lb.Records)
		}
	}
	b.ReportMetric(float64(lb.Records)*float64(b.N)/time.Since(start).Seconds(), "records/s")
	reportRSS(b)
}

// BenchmarkVerify is the whole verification of the large bundle: integrity,
// every probe and tier recomputed, power, accuracy.
func BenchmarkVerify(b *testing.B) {
	lb := largeBundle(b)
	refs := make([]Reference, 0, len(lb.Answers))
	for id, a := range lb.Answers {
		refs = append(refs, Reference{ID: id, Expected: a})
	}
	opts := Options{Trusted: lb.Trusted, Workload: lb.Workload, References: refs}
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		v, err := Verify(context.Background(), bundle.DirSource(lb.Dir), opts)
		if err != nil || !v.Verified() {
			b.Fatalf("verify: %v %+v", err, v.Failed())
		}
	}
	b.ReportMetric(float64(lb.Records)*float64(b.N)/time.Since(start).Seconds(), "records/s")
	b.ReportMetric(float64(lb.Records), "records")
	reportRSS(b)
}

// reportRSS reports the process's peak resident set size.
func reportRSS(b *testing.B) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
	}
}
