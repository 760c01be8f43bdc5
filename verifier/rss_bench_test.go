package verifier

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/verifier/verifiertest"
)

// childEnv names the bundle a child process verifies for
// BenchmarkVerifyPeakRSS.
const childEnv = "AGENTWATT_VERIFY_CHILD"

// A test binary started with childEnv set verifies that bundle, prints
// what it measured and exits before any test runs.
func init() {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(verifyChild(dir))
	}
}

// childResult is what a child process reports.
type childResult struct {
	Records  int     `json:"records"`
	Verified bool    `json:"verified"`
	WallS    float64 `json:"wall_s"`
	CPUS     float64 `json:"cpu_s"`
	PeakKiB  int64   `json:"peak_kib"` // VmHWM: the process's peak resident set
	Error    string  `json:"error,omitempty"`
}

// peakRSS is the process's peak resident set size in KiB, from
// /proc/self/status (VmHWM). The rusage of a child is no use here: a Go
// child starts sharing its parent's memory until exec, and Linux counts
// the parent's peak as the child's.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kib
		}
	}
	return 0
}

func verifyChild(dir string) int {
	res := childResult{}
	defer func() { _ = json.NewEncoder(os.Stdout).Encode(res) }()
	lb, err := verifiertest.Reopen(dir)
	if err != nil {
		res.Error = err.Error()
		return 1
	}
	res.Records = lb.Records
	cpu0, start := cpuTime(), time.Now()
	v, err := Verify(context.Background(), bundle.DirSource(lb.Dir), benchOptions(lb))
	res.WallS, res.CPUS = time.Since(start).Seconds(), (cpuTime() - cpu0).Seconds()
	if err != nil {
		res.Error = err.Error()
		return 1
	}
	res.Verified = v.Verified()
	res.PeakKiB = peakRSS()
	return 0
}

// BenchmarkVerifyPeakRSS verifies the bundle in a fresh process of its own
// (this test binary again) and reports that process's peak resident set
// size (Linux's VmHWM): what `agentwatt verify` needs, without the
// benchmark's own building of the bundle. The child runs with the benchmark's GOMAXPROCS
// (-cpu) and the environment's GOGC and GOMEMLIMIT. With
// AGENTWATT_BENCH_AGENTS=50000 the bundle holds ≈ 5M request records.
func BenchmarkVerifyPeakRSS(b *testing.B) {
	lb := benchBundle(b)
	var peak int64
	var res childResult
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+lb.Dir, "GOMAXPROCS="+strconv.Itoa(runtime.GOMAXPROCS(0)))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, os.Stderr
		err := cmd.Run()
		if jerr := json.Unmarshal(out.Bytes(), &res); err != nil || jerr != nil || !res.Verified {
			b.Fatalf("child: %v %v %q", err, jerr, out.String())
		}
		if res.PeakKiB == 0 {
			b.Fatalf("child: no peak resident set size (not Linux?)")
		}
		peak = max(peak, res.PeakKiB)
	}
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
	b.ReportMetric(float64(res.Records), "records")
	b.ReportMetric(float64(res.Records)/res.WallS, "records/s")
	b.ReportMetric(float64(res.Records)/res.CPUS, "records/cpu-s")
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "verify child: %+v\n", res)
	}
}
