package replay

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/sim"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/workload"
)

// Benchmarks of the replay client: memory with long histories, timing
// fidelity under load, and scheduling lag with many agents. Each runs its
// load once for a fixed time (run with -benchtime=1x) against a server in
// another process and reports its figures as metrics; docs/performance.md
// records them.

// rssBytes is this process's resident set size (VmRSS).
func rssBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

const mib = 1 << 20

// longHistories is a workload of trajectories whose every turn carries a
// history of about `tokens` tokens (64-token blocks), growing by 1,024
// tokens a turn, with 16-token answers and 10 s of think time. It is built
// in memory, as workload.Load would hold it: turns share their blocks.
func longHistories(trajectories, tokens int) *workload.Workload {
	const bs, turns, grow = 64, 5, 1024
	h := workload.Header{Name: "long-histories", Seed: 1, Sources: []workload.Source{{ID: "gen:long", BlockSize: bs}}}
	w := &workload.Workload{Header: h}
	for i := range trajectories {
		n := (tokens + turns*grow) / bs
		ids := make([]int64, n)
		for b := range ids {
			ids[b] = int64(i)<<32 | int64(b)
		}
		tr := &workload.Trajectory{ID: fmt.Sprintf("t%d", i), Scope: strconv.Itoa(i)}
		for k := range turns {
			m := (tokens + k*grow) / bs
			turn := workload.Turn{Input: []workload.Segment{{Blocks: ids[:m:m], Tokens: m * bs}}, OutputTokens: 16}
			if k > 0 {
				turn.ThinkS = 10
			}
			tr.Turns = append(tr.Turns, turn)
		}
		w.Trajectories = append(w.Trajectories, tr)
	}
	return w
}

// BenchmarkAgents1000x100K: 1,000 agents whose requests carry 100K-token
// histories, against the token server: the resident set must stay under
// 1 GiB. Request bodies are streamed from shared block text, so memory
// grows with the workload's distinct text, not with agents × history. The
// 200 trajectories (5 agents each, each in its own salted session) hold
// about 20M distinct tokens of text; BENCH_TRAJECTORIES=1000 gives every
// agent a trajectory of its own (100M distinct tokens).
func BenchmarkAgents1000x100K(b *testing.B) {
	const agents, tokens = 1000, 100_000
	trajectories := 200
	if v, err := strconv.Atoi(os.Getenv("BENCH_TRAJECTORIES")); err == nil {
		trajectories = v
	}
	srv := startTokenServer(b, tokenServerConfig{TTFT: 50 * time.Millisecond, Interval: 20 * time.Millisecond}, -1)
	rules, err := spec.LoadRules("v1")
	if err != nil {
		b.Fatal(err)
	}
	prof, _ := rules.Profile(spec.ProfileOfficial) // 30 s think-time cap: the 10 s think times are replayed
	w := longHistories(trajectories, tokens)
	for range b.N {
		runtime.GC()
		debug.FreeOSMemory()
		base := rssBytes()
		r, err := New(context.Background(), Config{Endpoint: srv.url, Workload: w, Rules: rules, Profile: prof, Template: simTemplate, Log: zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if err := r.start(ctx); err != nil {
			b.Fatal(err)
		}
		r.setAgents(ctx, agents, 10*time.Second)
		var peak int64
		var heap uint64
		var ms runtime.MemStats
		deadline := time.Now().Add(25 * time.Second)
		for time.Now().Before(deadline) {
			time.Sleep(250 * time.Millisecond)
			if v := rssBytes(); v > peak {
				peak = v
				runtime.ReadMemStats(&ms)
				heap = ms.HeapInuse
			}
		}
		sent := len(r.buf.since(0))
		r.finish()
		b.ReportMetric(float64(peak)/mib, "rss-peak-MiB")
		b.ReportMetric(float64(base)/mib, "rss-before-MiB")
		b.ReportMetric(float64(heap)/mib, "heap-inuse-MiB")
		b.ReportMetric(float64(r.render.texts.Bytes())/mib, "block-text-MiB")
		b.ReportMetric(float64(sent), "requests")
		if peak > 1<<30 {
			b.Errorf("peak RSS %d MiB exceeds 1 GiB", peak/mib)
		}
	}
}

// BenchmarkTimingFidelity: 2,000 agents streaming 50 one-token chunks at
// 50 tokens/s each (100,000 chunks/s), with the client pinned to CPU 0 and
// the token server to CPU 1. Every request keeps its chunk arrivals; each is
// compared with the time the server wrote that chunk (both on
// CLOCK_MONOTONIC), for the requests sent in the 8 s of steady state after
// a 3 s ramp and 1 s more. Reported: p99 of |recorded − true| for TTFT and
// for inter-token times, in ms (goal: ≤ 2 ms).
func BenchmarkTimingFidelity(b *testing.B) {
	const agents, tokens = 2000, 50
	logPath := filepath.Join(b.TempDir(), "sends.jsonl")
	for range b.N {
		srv := startTokenServer(b, tokenServerConfig{TTFT: 20 * time.Millisecond, Interval: 20 * time.Millisecond, Log: logPath}, 1)
		pinned := pinSelf(0)
		procs := runtime.GOMAXPROCS(0)
		if pinned {
			runtime.GOMAXPROCS(1) // one CPU: one P, or the OS time-slices two
		}
		rules, err := spec.LoadRules("v1")
		if err != nil {
			b.Fatal(err)
		}
		rules.Verify.ChunkTimingSampleShare = 1
		prof, _ := rules.Profile(spec.ProfileQuick)
		w := genWorkload(b, genOpts{trajectories: 50, turns: 20, blockSize: 16, firstBlocks: 4, addBlocks: 1, output: tokens})
		rec := &memRecorder{}
		r, err := New(context.Background(), Config{Endpoint: srv.url, Workload: w, Rules: rules, Profile: prof,
			AffinityHeader: "X-Session-ID", Recorder: rec, Template: simTemplate, Log: zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if err := r.start(ctx); err != nil {
			b.Fatal(err)
		}
		r.setAgents(ctx, agents, 3*time.Second)
		time.Sleep(4 * time.Second)
		steady := r.clock.Now()
		r.health.Begin()
		time.Sleep(8 * time.Second)
		health := r.health.End()
		r.finish()
		unpinSelf()
		runtime.GOMAXPROCS(procs)
		ttft, itl, matched := timingErrors(rec.all(), srv.stop(), r.anchor.MonotonicNs, steady)
		b.ReportMetric(metrics.QuantileOf(ttft, 0.99), "ttft-err-p99-ms")
		b.ReportMetric(metrics.QuantileOf(itl, 0.99), "itl-err-p99-ms")
		b.ReportMetric(metrics.QuantileOf(itl, 0.5), "itl-err-p50-ms")
		b.ReportMetric(float64(health.SchedLagP99Ns)/1e6, "sched-lag-p99-ms")
		b.ReportMetric(health.CPUShare, "client-cpu-share")
		b.ReportMetric(float64(matched), "streams")
		b.ReportMetric(map[bool]float64{true: 1}[pinned], "pinned")
	}
}

// timingErrors pairs each recorded request with the server's log of the
// same stream (same session, in send order) and returns the absolute
// errors, in ms, of the recorded TTFT and of each recorded inter-token
// time against the server's true send times, for the requests sent at or
// after `from` (the steady state, after the ramp's connection storm).
func timingErrors(recs []metrics.Request, logs []streamLog, anchor, from int64) (ttft, itl []float64, matched int) {
	bySession := map[string][]metrics.Request{}
	for _, r := range recs {
		if r.Status == metrics.StatusOK && len(r.ChunkOffsetsNs) > 0 {
			bySession[r.Session] = append(bySession[r.Session], r)
		}
	}
	served := map[string][]streamLog{}
	for _, l := range logs {
		served[l.Session] = append(served[l.Session], l)
	}
	for s, rs := range bySession {
		slices.SortFunc(rs, func(a, b metrics.Request) int { return int(a.TSendNs - b.TSendNs) })
		ls := served[s]
		if len(ls) != len(rs) {
			continue // a stream cut at the end of the run is on one side only
		}
		for i, r := range rs {
			w := ls[i].Writes
			if len(w) != len(r.ChunkOffsetsNs) || r.TSendNs < from {
				continue
			}
			matched++
			prev := 0.0
			for k, off := range r.ChunkOffsetsNs {
				e := float64(anchor+r.TSendNs+off-w[k]) / 1e6
				if k == 0 {
					ttft = append(ttft, math.Abs(e))
				} else {
					itl = append(itl, math.Abs(e-prev))
				}
				prev = e
			}
		}
	}
	return ttft, itl, matched
}

const simServerEnv = "REPLAY_SIM_SERVER"

// TestSimServerHelper runs the simulated engine (the profile named in
// simServerEnv) as BenchmarkAgents10000's server process.
func TestSimServerHelper(t *testing.T) {
	name := os.Getenv(simServerEnv)
	if name == "" {
		t.Skip("helper process for BenchmarkAgents10000")
	}
	p, err := sim.DefaultProfile(name)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sim.NewServer(sim.Config{Profile: p, Seed: 1}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	url, err := srv.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("LISTEN %s\n", strings.TrimPrefix(url, "http://"))
	_, _ = io.Copy(io.Discard, os.Stdin)
	srv.Stop()
	os.Exit(0)
}

// BenchmarkAgents10000: 10,000 agents (10 s think time, 32-token answers,
// so about 600 streams in flight at 50 tokens/s each) against the sim's
// unlimited profile in another process. Reported: the client's scheduling
// lag p99 (goal ≤ 5 ms) and CPU share over 15 s after the ramp.
func BenchmarkAgents10000(b *testing.B) {
	const agents = 10_000
	for range b.N {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSimServerHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), simServerEnv+"=unlimited")
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		var url string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "LISTEN "); ok {
				url = "http://" + a
				break
			}
		}
		go func() { _, _ = io.Copy(io.Discard, stdout) }()
		if url == "" {
			b.Fatal("sim did not start")
		}
		rules, _ := spec.LoadRules("v1")
		prof, _ := rules.Profile(spec.ProfileOfficial)
		w := genWorkload(b, genOpts{trajectories: 100, turns: 10, blockSize: 16, sharedBlocks: 2, firstBlocks: 4, addBlocks: 1, output: 32, think: 10})
		r, err := New(context.Background(), Config{Endpoint: url, Workload: w, Rules: rules, Profile: prof, Template: simTemplate, Log: zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if err := r.start(ctx); err != nil {
			b.Fatal(err)
		}
		r.setAgents(ctx, agents, 10*time.Second)
		time.Sleep(15 * time.Second)
		t0 := r.clock.Now()
		r.health.Begin()
		time.Sleep(15 * time.Second)
		h := r.health.End()
		t1 := r.clock.Now()
		recs := r.buf.since(t0)
		r.finish()
		stdin.Close()
		_ = cmd.Wait()
		errs := 0
		for i := range recs {
			if recs[i].Status != metrics.StatusOK {
				errs++
			}
		}
		b.ReportMetric(float64(h.SchedLagP99Ns)/1e6, "sched-lag-p99-ms")
		b.ReportMetric(h.CPUShare, "client-cpu-share")
		b.ReportMetric(metrics.TimeAveraged(metrics.RequestIntervals(recs), t0, t1), "in-flight")
		b.ReportMetric(float64(len(recs))/(float64(t1-t0)/1e9), "requests/s")
		b.ReportMetric(float64(errs), "errors")
	}
}
