package sim

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"
)

// errNoProgress fails a request the scheduler can never place (cannot happen
// with a validated profile; kept as a guard against livelock).
var errNoProgress = errors.New("simulated engine cannot schedule the request")

type seqState uint8

const (
	seqWaiting seqState = iota
	seqRunning
	seqDone
)

// seq is the engine's view of a request. Only the engine goroutine touches it
// after submit.
type seq struct {
	hashes      []uint64 // full prompt blocks
	promptLen   int
	target      int // output tokens to produce (≥ 1)
	numOutput   int
	numComputed int
	blocks      []int32
	state       seqState
	admitted    bool
	out         *stream
}

func (s *seq) numTokens() int { return s.promptLen + s.numOutput }

type planEntry struct {
	s *seq
	n int
}

type stepPlan struct {
	entries []planEntry
	dur     int64 // virtual ns
	util    float64
	// prefillUtil and decodeUtil are a rack's pools' utilisations (Rack).
	prefillUtil, decodeUtil float64
}

// stepMeter is told each step's load as it starts; nil means idle.
type stepMeter interface{ step(pl *stepPlan) }

// engineCounters are updated by the engine goroutine and published as a copy.
type engineCounters struct {
	Running, Waiting           int
	Finished, Aborted          uint64
	Preemptions                uint64
	PromptTokens, CachedTokens uint64
	GeneratedTokens            uint64
	Steps                      uint64
	VirtualNS, BusyVirtualNS   int64
	KVBlocksUsed, CachedBlocks int
	Evictions                  uint64
}

// engine is the continuous-batching model. One goroutine (run) owns all of its
// state except the inbox; tests drive schedule/apply directly.
type engine struct {
	prof    Profile
	pool    *blockPool
	power   stepMeter
	scale   float64
	caching bool

	inMu   sync.Mutex
	inbox  []*seq
	aborts []*seq
	wake   chan struct{}

	waiting []*seq
	running []*seq
	vnow    int64
	plan    stepPlan
	c       engineCounters

	statsMu sync.Mutex
	pub     engineCounters
}

func newEngine(p Profile, power stepMeter, timeScale float64) *engine {
	capBlocks := 0
	if p.KVCapacityTokens > 0 {
		capBlocks = p.KVCapacityTokens / p.BlockSize
	}
	idle := p.IdleCacheTokens / p.BlockSize
	if timeScale <= 0 {
		timeScale = 1
	}
	return &engine{prof: p, pool: newBlockPool(capBlocks, idle), power: power, scale: timeScale,
		caching: p.PrefixCache, wake: make(chan struct{}, 1)}
}

func (e *engine) submit(s *seq) {
	e.inMu.Lock()
	e.inbox = append(e.inbox, s)
	e.inMu.Unlock()
	e.poke()
}

func (e *engine) abort(s *seq) {
	e.inMu.Lock()
	e.aborts = append(e.aborts, s)
	e.inMu.Unlock()
	e.poke()
}

func (e *engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// drain moves arrivals into the waiting queue and applies aborts.
func (e *engine) drain() {
	e.inMu.Lock()
	in, ab := e.inbox, e.aborts
	e.inbox, e.aborts = nil, nil
	e.inMu.Unlock()
	for _, s := range in {
		s.state = seqWaiting
		e.waiting = append(e.waiting, s)
		e.c.PromptTokens += uint64(s.promptLen)
	}
	for _, s := range ab {
		switch s.state {
		case seqRunning:
			e.pool.release(s.blocks)
			s.blocks = nil
		case seqDone:
			continue
		}
		s.state = seqDone
		e.c.Aborted++
	}
}

func (e *engine) busy() bool {
	for _, s := range e.running {
		if s.state == seqRunning {
			return true
		}
	}
	for _, s := range e.waiting {
		if s.state != seqDone {
			return true
		}
	}
	return false
}

func blocksFor(tokens, bs int) int { return (tokens + bs - 1) / bs }

// schedule plans one step, vLLM v1 style: running sequences first (one decode
// token each, or the next prefill chunk), preempting the newest running
// sequence when a block is needed and none is free; then, if nothing was
// preempted, waiting sequences in arrival order while the token budget, the
// sequence cap and KV blocks allow, reusing cached prefix blocks.
func (e *engine) schedule() *stepPlan {
	pl := &e.plan
	clear(pl.entries)
	pl.entries = pl.entries[:0]
	bs := e.prof.BlockSize
	budget := e.prof.MaxNumBatchedTokens
	if budget == 0 {
		budget = math.MaxInt
	}
	kept := e.running[:0]
	for _, s := range e.running {
		if s.state == seqRunning {
			kept = append(kept, s)
		}
	}
	clear(e.running[len(kept):])
	e.running = kept

	preempted := false
	for i := 0; i < len(e.running) && budget > 0; i++ {
		s := e.running[i]
		n := min(s.numTokens()-s.numComputed, budget)
		need := blocksFor(s.numComputed+n, bs) - len(s.blocks)
		for need > e.pool.available(0) {
			victim := e.running[len(e.running)-1]
			e.running[len(e.running)-1] = nil
			e.running = e.running[:len(e.running)-1]
			e.preempt(victim)
			preempted = true
			if victim == s {
				s = nil
				break
			}
		}
		if s == nil {
			break
		}
		for ; need > 0; need-- {
			s.blocks = append(s.blocks, e.pool.allocate())
		}
		pl.entries = append(pl.entries, planEntry{s, n})
		budget -= n
	}

	for !preempted && len(e.waiting) > 0 && budget > 0 &&
		(e.prof.MaxNumSeqs == 0 || len(e.running) < e.prof.MaxNumSeqs) {
		s := e.waiting[0]
		if s.state == seqDone {
			e.waiting[0] = nil
			e.waiting = e.waiting[1:]
			continue
		}
		total := s.numTokens()
		hits, inLRU := 0, 0
		if e.caching {
			// At least one token is always computed, as in vLLM.
			maxHits := min(len(s.hashes), (total-1)/bs)
			hits, inLRU = e.pool.lookup(s.hashes[:maxHits])
		}
		cached := hits * bs
		n := min(total-cached, budget)
		need := blocksFor(cached+n, bs) - hits
		if need > e.pool.available(inLRU) {
			break
		}
		for _, h := range s.hashes[:hits] {
			s.blocks = append(s.blocks, e.pool.acquireCached(h))
		}
		for ; need > 0; need-- {
			s.blocks = append(s.blocks, e.pool.allocate())
		}
		s.numComputed = cached
		if !s.admitted {
			s.admitted = true
			s.out.mu.Lock()
			s.out.cached = cached
			s.out.mu.Unlock()
			e.c.CachedTokens += uint64(cached)
		}
		s.state = seqRunning
		e.waiting[0] = nil
		e.waiting = e.waiting[1:]
		e.running = append(e.running, s)
		pl.entries = append(pl.entries, planEntry{s, n})
		budget -= n
	}
	e.cost(pl)
	return pl
}

// cost fills the plan's virtual duration and GPU utilisation.
func (e *engine) cost(pl *stepPlan) {
	var ctx, prefill, tokens int
	for _, en := range pl.entries {
		s := en.s
		ctx += s.numComputed + en.n
		tokens += en.n
		decode := en.n == 1 && s.numOutput > 0 && s.numComputed == s.numTokens()-1
		if !decode {
			prefill += en.n
		}
	}
	st := e.prof.Step
	d := st.BaseUS*1e3 + st.PerSeqUS*1e3*float64(len(pl.entries)) + st.PerContextTokenNS*float64(ctx) +
		st.PerPrefillTokenUS*1e3*float64(prefill)
	if r := e.prof.Rack; r != nil {
		d += r.KVTransferNSPerToken * float64(prefill)
	}
	pl.dur = int64(math.Ceil(d))
	pw := e.prof.Power
	pl.util = pw.BusyFloor + (1-pw.BusyFloor)*math.Min(1, float64(tokens)/float64(pw.SaturationTokens))
	if r := e.prof.Rack; r != nil {
		pl.prefillUtil, pl.decodeUtil = r.poolUtils(pw, prefill, tokens-prefill)
	}
}

func (e *engine) preempt(s *seq) {
	e.pool.release(s.blocks)
	clear(s.blocks)
	s.blocks = s.blocks[:0]
	s.numComputed = 0
	s.state = seqWaiting
	e.c.Preemptions++
	e.waiting = append(e.waiting, nil)
	copy(e.waiting[1:], e.waiting)
	e.waiting[0] = s
}

// apply ends the step: advances the virtual clock, marks prefilled blocks as
// cached, samples one token for every sequence whose known tokens are all
// computed, and finishes those that reached their target.
func (e *engine) apply(pl *stepPlan) {
	e.vnow += pl.dur
	e.c.Steps++
	e.c.BusyVirtualNS += pl.dur
	bs := e.prof.BlockSize
	for _, en := range pl.entries {
		s := en.s
		if s.state != seqRunning {
			continue
		}
		old := s.numComputed
		s.numComputed += en.n
		if e.caching {
			for b := old / bs; b < s.numComputed/bs && b < len(s.hashes); b++ {
				e.pool.register(s.blocks[b], s.hashes[b])
			}
		}
		if s.numComputed < s.numTokens() {
			continue
		}
		s.numOutput++
		e.c.GeneratedTokens++
		done := s.numOutput >= s.target
		s.out.produce(s.numOutput, done, e.vnow)
		if done {
			e.pool.release(s.blocks)
			s.blocks = nil
			s.state = seqDone
			e.c.Finished++
		}
	}
}

func (e *engine) publish() {
	e.c.Running = len(e.running)
	w := 0
	for _, s := range e.waiting {
		if s.state != seqDone {
			w++
		}
	}
	e.c.Waiting = w
	e.c.VirtualNS = e.vnow
	e.c.KVBlocksUsed = e.pool.used()
	e.c.CachedBlocks = len(e.pool.byHash)
	e.c.Evictions = e.pool.evicted
	e.statsMu.Lock()
	e.pub = e.c
	e.statsMu.Unlock()
}

func (e *engine) counters() engineCounters {
	e.statsMu.Lock()
	defer e.statsMu.Unlock()
	return e.pub
}

const (
	// maxLag is how far behind its real-time schedule the engine may fall
	// before it stops trying to catch up (no bursts after a stall).
	maxLag = 10 * time.Millisecond
	// minSleep: shorter waits are skipped (timer overhead exceeds them).
	minSleep = 20 * time.Microsecond
)

// run steps the engine until ctx ends, pacing each step's virtual duration
// (divided by the time scale) in real time.
func (e *engine) run(ctx context.Context) {
	defer e.shutdown()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var base time.Time
	var vbase int64
	rebase := true
	for {
		e.drain()
		if !e.busy() {
			clear(e.running)
			clear(e.waiting)
			e.running, e.waiting = e.running[:0], e.waiting[:0]
			e.power.step(nil)
			e.publish()
			select {
			case <-ctx.Done():
				return
			case <-e.wake:
			}
			rebase = true
			continue
		}
		pl := e.schedule()
		if len(pl.entries) == 0 {
			if e.busy() {
				e.rejectHead()
			}
			continue
		}
		now := time.Now()
		start := base.Add(time.Duration(float64(e.vnow-vbase) / e.scale))
		if rebase || now.Sub(start) > maxLag {
			base, vbase, rebase = now, e.vnow, false
		}
		e.power.step(pl)
		deadline := base.Add(time.Duration(float64(e.vnow+pl.dur-vbase) / e.scale))
		if d := time.Until(deadline); d > minSleep {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
		}
		e.apply(pl)
		e.publish()
	}
}

// rejectHead fails the first waiting request (see errNoProgress).
func (e *engine) rejectHead() {
	for len(e.waiting) > 0 {
		s := e.waiting[0]
		e.waiting = e.waiting[1:]
		if s.state != seqDone {
			s.state = seqDone
			s.out.fail(errNoProgress)
			return
		}
	}
}

// shutdown fails every request still in the engine.
func (e *engine) shutdown() {
	e.drain()
	for _, list := range [][]*seq{e.running, e.waiting} {
		for _, s := range list {
			if s.state != seqDone {
				s.state = seqDone
				s.out.fail(ErrStopped)
			}
		}
	}
	e.running, e.waiting = nil, nil
	e.power.step(nil)
	e.publish()
	// Requests submitted after shutdown began are failed by their handlers,
	// which watch the server's stop channel.
}
