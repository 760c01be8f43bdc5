package workload_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/workload"
)

// bigWorkload writes a synthetic workload of n trajectories (Mooncake-like:
// 512-token blocks, 1-20 turns that grow their prompt, every tenth with two
// sub-agents). With b.Loop the benchmark body, and so this, runs once.
func bigWorkload(b *testing.B, n int) string {
	path := filepath.Join(b.TempDir(), "big.jsonl.zst")
	h := workload.Header{Name: "synthetic-100k", CreatedBy: "bench", Sources: []workload.Source{
		{ID: "synthetic:0", Format: "synthetic", File: "none", Licence: "MIT", BlockSize: 512}}}
	rng := rand.New(rand.NewPCG(1, 2))
	next := int64(1)
	traj := func(id string, turns int) *workload.Trajectory {
		t := &workload.Trajectory{ID: id, Scope: "s", SharedPrefixTokens: 512}
		blocks := []int64{0}
		for k := range turns {
			for range 1 + rng.IntN(8) {
				blocks = append(blocks, next)
				next++
			}
			tokens := (len(blocks)-1)*512 + 1 + rng.IntN(512)
			tu := workload.Turn{Input: []workload.Segment{{Blocks: blocks[:len(blocks):len(blocks)], Tokens: tokens}},
				OutputTokens: 1 + rng.IntN(1500), T: float64(k * 30)}
			if k > 0 {
				tu.ThinkS = float64(rng.IntN(60000)) / 1000
			}
			t.Turns = append(t.Turns, tu)
		}
		return t
	}
	_, err := workload.WriteFile(path, h, func(write func(*workload.Trajectory) error) error {
		for i := range n {
			t := traj(fmt.Sprintf("t%d", i), 1+rng.IntN(20))
			if i%10 == 0 {
				for s := range 2 {
					sub := traj(fmt.Sprintf("sub%d", s), 1+rng.IntN(10))
					sub.StartS, sub.AfterTurns = 5, 1
					t.Subagents = append(t.Subagents, sub)
				}
			}
			if err := write(t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkStats100k computes the statistics of 100,000 synthetic
// trajectories (about a million turns) streaming from disk. peak-heap-MB is
// the largest live heap seen while it ran: it stays flat as the workload
// grows (one trajectory at a time, plus distinct values for quantiles).
func BenchmarkStats100k(b *testing.B) {
	path := bigWorkload(b, 100_000)
	b.ResetTimer()
	b.ReportAllocs()
	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	var turns int
	for b.Loop() {
		r, err := workload.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		st, err := workload.ComputeStats(r)
		r.Close()
		if err != nil {
			b.Fatal(err)
		}
		if st.Trajectories != 100_000 {
			b.Fatalf("%d trajectories", st.Trajectories)
		}
		turns = st.Turns
	}
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(turns), "turns")
}

// BenchmarkBlockText synthesises one 512-token block into a reused buffer.
func BenchmarkBlockText(b *testing.B) {
	buf := make([]byte, 0, 8<<10)
	b.ReportAllocs()
	id := int64(0)
	for b.Loop() {
		buf = workload.AppendBlockText(buf[:0], "mooncake:b8cbb061a85206d7", "", id, 512, 0)
		id++
	}
	b.SetBytes(int64(len(buf)))
}
