package sim

import (
	"context"
	"errors"
	"testing"
	"time"
)

// engineProfile is a small profile for engine tests; mut adjusts it.
func engineProfile(t *testing.T, mut func(p *Profile)) Profile {
	t.Helper()
	p := Profile{
		Name: "engine-test", ServedModel: "m", GPUs: 1, MaxModelLen: 256, KVCapacityTokens: 4096, BlockSize: 16,
		PrefixCache: true, MaxNumSeqs: 64, MaxNumBatchedTokens: 512,
		Step:   StepCost{BaseUS: 1000, PerSeqUS: 500, PerContextTokenNS: 10, PerPrefillTokenUS: 2},
		Output: OutputModel{NaturalMeanTokens: 16},
		Power:  PowerModel{IdleW: 10, DynamicW: 90, BusyFloor: 0.5, SaturationTokens: 256},
	}
	if mut != nil {
		mut(&p)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

func fixedClock() func() instant { return func() instant { return instant{} } }

func newTestEngine(p Profile) *engine {
	return newEngine(p, newPowerMeter(p, 1, fixedClock(), 0), 1)
}

func testSeq(prompt, target int, hashes []uint64) *seq {
	return &seq{hashes: hashes, promptLen: prompt, target: target, out: newStream()}
}

// blockHashes returns n distinct hashes of a namespace.
func blockHashes(ns uint64, n int) []uint64 {
	h := make([]uint64, n)
	for i := range h {
		h[i] = mix(ns, uint64(i))
	}
	return h
}

// runToIdle steps the engine synchronously until it has no work.
func runToIdle(t *testing.T, e *engine, each func(pl *stepPlan)) {
	t.Helper()
	for range 1_000_000 {
		e.drain()
		if !e.busy() {
			e.publish()
			return
		}
		pl := e.schedule()
		if len(pl.entries) == 0 {
			t.Fatal("engine has work but scheduled nothing")
		}
		if each != nil {
			each(pl)
		}
		e.apply(pl)
	}
	t.Fatal("engine did not become idle")
}

func TestStepCost(t *testing.T) {
	p := engineProfile(t, nil)
	e := newTestEngine(p)
	decode := testSeq(100, 10, nil)
	decode.numOutput, decode.numComputed = 3, 102 // one token to compute
	prefill := testSeq(300, 10, nil)
	pl := &stepPlan{entries: []planEntry{{decode, 1}, {prefill, 200}}}
	e.cost(pl)
	// base 1000 µs + 2 seqs × 500 µs + (103 + 200) ctx × 10 ns + 200 prefill × 2 µs
	want := int64(1_000_000 + 2*500_000 + 303*10 + 200*2_000)
	if pl.dur != want {
		t.Errorf("step duration = %d ns, want %d", pl.dur, want)
	}
	if wantU := 0.5 + 0.5*201.0/256; pl.util != wantU {
		t.Errorf("utilisation = %g, want %g", pl.util, wantU)
	}
}

func TestEngineDecodeTimeGrowsWithBatch(t *testing.T) {
	p := engineProfile(t, nil)
	var prev float64
	for _, batch := range []int{1, 4, 16} {
		e := newTestEngine(p)
		var seqs []*seq
		for i := range batch {
			s := testSeq(32, 33, blockHashes(uint64(i), 2))
			seqs = append(seqs, s)
			e.submit(s)
		}
		runToIdle(t, e, nil)
		var sum float64
		for _, s := range seqs {
			if s.out.produced != 33 {
				t.Fatalf("batch %d: produced %d tokens, want 33", batch, s.out.produced)
			}
			sum += float64(s.out.lastV-s.out.firstV) / 32
		}
		itl := sum / float64(batch)
		t.Logf("batch %d: mean inter-token time %.3f ms (virtual)", batch, itl/1e6)
		if itl <= prev {
			t.Errorf("batch %d: inter-token time %.0f ns is not above the smaller batch's %.0f ns", batch, itl, prev)
		}
		prev = itl
	}
}

func TestEngineChunkedPrefill(t *testing.T) {
	p := engineProfile(t, func(p *Profile) { p.MaxNumBatchedTokens = 64 })
	e := newTestEngine(p)
	s := testSeq(200, 1, blockHashes(1, 12))
	e.submit(s)
	var chunks []int
	runToIdle(t, e, func(pl *stepPlan) {
		for _, en := range pl.entries {
			chunks = append(chunks, en.n)
		}
	})
	want := []int{64, 64, 64, 8}
	if len(chunks) != len(want) {
		t.Fatalf("prefill chunks = %v, want %v", chunks, want)
	}
	for i := range want {
		if chunks[i] != want[i] {
			t.Errorf("prefill chunks = %v, want %v", chunks, want)
			break
		}
	}
}

func TestEngineKVPreemption(t *testing.T) {
	// 8 blocks of 16 tokens; 4 sequences growing to 60 tokens (4 blocks)
	// each cannot all fit.
	p := engineProfile(t, func(p *Profile) { p.KVCapacityTokens, p.MaxModelLen = 128, 64 })
	e := newTestEngine(p)
	var seqs []*seq
	for i := range 4 {
		s := testSeq(20, 40, blockHashes(uint64(i), 1))
		seqs = append(seqs, s)
		e.submit(s)
	}
	maxUsed := 0
	runToIdle(t, e, func(*stepPlan) { maxUsed = max(maxUsed, e.pool.used()) })
	if e.c.Preemptions == 0 {
		t.Error("no preemption with a KV cache too small for the batch")
	}
	if maxUsed > 8 {
		t.Errorf("used %d blocks, capacity 8", maxUsed)
	}
	for i, s := range seqs {
		if s.out.produced != 40 || !s.out.finished {
			t.Errorf("seq %d: produced %d (finished %v), want 40", i, s.out.produced, s.out.finished)
		}
	}
	if u := e.pool.used(); u != 0 {
		t.Errorf("%d blocks still held after all sequences finished", u)
	}
	t.Logf("preemptions %d, steps %d", e.c.Preemptions, e.c.Steps)
}

func TestEnginePrefixCache(t *testing.T) {
	p := engineProfile(t, nil)
	tests := []struct {
		name   string
		prompt int
		hashes []uint64
		want   int
	}{
		{"first request computes everything", 70, blockHashes(1, 4), 0},
		{"same prefix hits every full block", 70, blockHashes(1, 4), 64},
		{"partial prefix", 70, append(blockHashes(1, 2), blockHashes(2, 2)...), 32},
		{"unrelated prompt", 70, blockHashes(3, 4), 0},
		{"whole prompt cached still computes its last block", 64, blockHashes(1, 4), 48},
	}
	e := newTestEngine(p)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSeq(tt.prompt, 2, tt.hashes)
			e.submit(s)
			runToIdle(t, e, nil)
			if got := s.out.cachedTokens(); got != tt.want {
				t.Errorf("cached tokens = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestEngineMaxNumSeqs(t *testing.T) {
	p := engineProfile(t, func(p *Profile) { p.MaxNumSeqs = 2 })
	e := newTestEngine(p)
	for i := range 5 {
		e.submit(testSeq(10, 5, blockHashes(uint64(i), 0)))
	}
	runToIdle(t, e, func(pl *stepPlan) {
		if len(e.running) > 2 {
			t.Fatalf("%d running, max_num_seqs 2", len(e.running))
		}
	})
	if e.c.Finished != 5 {
		t.Errorf("finished %d, want 5", e.c.Finished)
	}
}

func TestEngineDeterministic(t *testing.T) {
	p := engineProfile(t, func(p *Profile) { p.KVCapacityTokens, p.MaxModelLen = 256, 128 })
	trace := func() []int64 {
		e := newTestEngine(p)
		var seqs []*seq
		for i := range 6 {
			s := testSeq(30+i*7, 20+i, blockHashes(uint64(i%2), 2))
			seqs = append(seqs, s)
			e.submit(s)
		}
		runToIdle(t, e, nil)
		var out []int64
		for _, s := range seqs {
			out = append(out, s.out.firstV, s.out.lastV, int64(s.out.cached))
		}
		return append(out, e.vnow, int64(e.c.Preemptions))
	}
	a, b := trace(), trace()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("run differs at %d: %v vs %v", i, a, b)
		}
	}
}

func TestEngineAbort(t *testing.T) {
	p := engineProfile(t, nil)
	e := newTestEngine(p)
	a, b := testSeq(40, 100, blockHashes(1, 2)), testSeq(40, 5, blockHashes(2, 2))
	e.submit(a)
	e.submit(b)
	e.drain()
	e.apply(e.schedule())
	e.abort(a)
	runToIdle(t, e, nil)
	if a.out.produced >= 100 {
		t.Errorf("aborted sequence ran to the end")
	}
	if b.out.produced != 5 {
		t.Errorf("other sequence produced %d, want 5", b.out.produced)
	}
	if e.c.Aborted != 1 || e.pool.used() != 0 {
		t.Errorf("aborted %d, blocks used %d; want 1, 0", e.c.Aborted, e.pool.used())
	}
}

// The run loop paces steps in real time and fails pending work on stop.
func TestEngineRunAndShutdown(t *testing.T) {
	p := engineProfile(t, nil)
	e := newEngine(p, newPowerMeter(p, 1, realClock(), 0), 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.run(ctx) }()
	s := testSeq(20, 10, nil)
	e.submit(s)
	deadline := time.After(10 * time.Second)
	for {
		if _, fin, _ := s.out.snapshot(); fin {
			break
		}
		select {
		case <-s.out.notify:
		case <-deadline:
			t.Fatal("request did not finish")
		}
	}
	long := testSeq(20, 1_000_000, nil)
	e.submit(long)
	cancel()
	<-done
	if _, fin, err := long.out.snapshot(); !fin || !errors.Is(err, ErrStopped) {
		t.Errorf("pending request after stop: finished %v err %v, want ErrStopped", fin, err)
	}
}
