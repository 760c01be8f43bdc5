package verifier

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/verifier/verifiertest"
)

// benchBundle is the synthetic bundle the benchmarks verify: probes of
// AGENTWATT_BENCH_AGENTS agents (default 400, ≈ 40k request records;
// 10000 gives ≈ 1M, 50000 ≈ 5M), three search rounds of 29 s windows,
// each probe's records in the order the requests finished (agents
// interleaved, as a runner writes them).
// With AGENTWATT_BENCH_DIR set it is built once into that directory and
// used again by later runs (building 5M records takes minutes); otherwise
// into the benchmark's temporary directory.
func benchBundle(b *testing.B) *verifiertest.Bundle {
	b.Helper()
	agents := 400
	if n, err := strconv.Atoi(os.Getenv("AGENTWATT_BENCH_AGENTS")); err == nil && n > 0 {
		agents = n
	}
	root := os.Getenv("AGENTWATT_BENCH_DIR")
	if root == "" {
		root = b.TempDir()
	}
	lb, err := verifiertest.BuildCached(context.Background(), filepath.Join(root, "bench-completion-"+strconv.Itoa(agents)),
		verifiertest.Options{Seed: 9, Agents: agents, Window: 29 * time.Second, Repeat: 3, CompletionOrder: true})
	if err != nil {
		b.Fatal(err)
	}
	return lb
}

// benchOptions verify a bench bundle: its key, its workload, its answers.
func benchOptions(lb *verifiertest.Bundle) Options {
	refs := make([]Reference, 0, len(lb.Answers))
	for id, a := range lb.Answers {
		refs = append(refs, Reference{ID: id, Expected: a})
	}
	return Options{Trusted: lb.Trusted, Workload: lb.Workload, References: refs}
}

// BenchmarkScanRecords is the streaming pass over requests.jsonl.zst:
// decode and the per-record checks against the workload's targets, no
// probe evaluation.
func BenchmarkScanRecords(b *testing.B) {
	lb := benchBundle(b)
	rules, err := spec.LoadRules("v1")
	if err != nil {
		b.Fatal(err)
	}
	tg := newTargets(lb.Workload, verifiertest.Template)
	path := filepath.Join(lb.Dir, bundle.RequestsFile)
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		st, err := scanRecords(f, tg, rules.Verify, bundle.ZstdLimits{}, 0, nil)
		f.Close()
		if err != nil || st.total != lb.Records {
			b.Fatalf("scan: %v, %d records of %d", err, st.total, lb.Records)
		}
	}
	reportRate(b, lb.Records, cpu0)
}

// BenchmarkVerify is the whole verification of the bundle: integrity
// hashes, the records scanned once with every probe evaluated as they
// stream, power, tiers, accuracy. records/s is per wall second,
// records/cpu-s per second of the process's CPU time (with -cpu 1 the
// verification runs on one core; the CPU time is less disturbed by other
// work on a shared machine).
func BenchmarkVerify(b *testing.B) {
	lb := benchBundle(b)
	opts := benchOptions(lb)
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		v, err := Verify(context.Background(), bundle.DirSource(lb.Dir), opts)
		if err != nil || !v.Verified() {
			b.Fatalf("verify: %v %+v", err, v.Failed())
		}
	}
	reportRate(b, lb.Records, cpu0)
	b.ReportMetric(float64(lb.Records), "records")
	reportRSS(b)
}

// reportRate reports records per wall second and per CPU second.
func reportRate(b *testing.B, records int, cpu0 time.Duration) {
	n := float64(records) * float64(b.N)
	b.ReportMetric(n/b.Elapsed().Seconds(), "records/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(n/cpu.Seconds(), "records/cpu-s")
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRSS reports the process's peak resident set size (the benchmark
// process's, building included; BenchmarkVerifyPeakRSS measures a
// verification alone).
func reportRSS(b *testing.B) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
	}
}
