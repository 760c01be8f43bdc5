package replay

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/agentwatt/agentwatt/metrics"
)

// pool is the set of running agents. N changes live: setAgents adds agents
// (new ids, ramped in over a period) or retires the newest ones, without
// stopping the others.
type pool struct {
	mu       sync.Mutex
	active   []*agent
	retiring []*agent
	nextID   int
	wg       sync.WaitGroup
}

// size is the number of active (not retiring) agents.
func (p *pool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.active)
}

// setAgents brings the pool to n agents: new agents start spread evenly
// over ramp; surplus agents (the newest first) are retired. It returns how
// many agents were added.
func (r *Runner) setAgents(ctx context.Context, n int, ramp time.Duration) int {
	p := &r.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	added := 0
	if r.agentCtx != nil {
		ctx = r.agentCtx
	}
	if k := n - len(p.active); k > 0 {
		for i := range k {
			delay := time.Duration(0)
			if k > 1 {
				delay = ramp * time.Duration(i) / time.Duration(k)
			}
			a := newAgent(r, p.nextID, delay)
			p.nextID++
			p.active = append(p.active, a)
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				a.run(ctx)
			}()
		}
		added = k
	}
	for len(p.active) > n {
		a := p.active[len(p.active)-1]
		p.active = p.active[:len(p.active)-1]
		a.retire()
		p.retiring = append(p.retiring, a)
	}
	return added
}

// retiredExited reports whether every retired agent has exited.
func (r *Runner) retiredExited() bool {
	p := &r.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pruneRetiring() == 0
}

// pruneRetiring forgets retired agents that have exited and returns how
// many have not; p.mu is held.
func (p *pool) pruneRetiring() int {
	p.retiring = slices.DeleteFunc(p.retiring, func(a *agent) bool {
		select {
		case <-a.done:
			return true
		default:
			return false
		}
	})
	return len(p.retiring)
}

// warmedUp reports whether every active agent has completed a root request
// sent at or after t, and every retired agent has exited.
func (r *Runner) warmedUp(t int64) bool {
	p := &r.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pruneRetiring() > 0 {
		return false
	}
	for _, a := range p.active {
		if a.lastDone.Load() < t {
			return false
		}
	}
	return true
}

// stopAll retires every agent and waits for them, at most limit (0: as
// long as it takes); false when some were still running then. Their
// requests in flight finish unless the agents' context has ended.
func (r *Runner) stopAll(limit time.Duration) bool {
	p := &r.pool
	p.mu.Lock()
	for _, a := range p.active {
		a.retire()
	}
	p.retiring = append(p.retiring, p.active...)
	p.active = nil
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	var expired <-chan time.Time
	if limit > 0 {
		t := time.NewTimer(limit)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-done:
		return true
	case <-expired:
		return false
	}
}

// flights tracks requests in flight by the time just before each was sent,
// so that a probe can wait for the requests sent inside its window.
type flights struct {
	mu   sync.Mutex
	m    map[uint64]int64
	next uint64
}

func (f *flights) begin(now int64) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[uint64]int64{}
	}
	f.next++
	f.m[f.next] = now
	return f.next
}

func (f *flights) end(id uint64) {
	f.mu.Lock()
	delete(f.m, id)
	f.mu.Unlock()
}

// count is the number of requests in flight.
func (f *flights) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.m)
}

// oldest is the earliest send time in flight; MaxInt64 when none.
func (f *flights) oldest() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := int64(math.MaxInt64)
	for _, t := range f.m {
		o = min(o, t)
	}
	return o
}

// recordBuffer keeps the records a probe is evaluated on: everything sent
// since the start of the probe in progress.
type recordBuffer struct {
	mu   sync.Mutex
	recs []metrics.Request
}

func (b *recordBuffer) add(r *metrics.Request) {
	b.mu.Lock()
	b.recs = append(b.recs, *r)
	b.mu.Unlock()
}

// since returns a copy of the records sent at or after t.
func (b *recordBuffer) since(t int64) []metrics.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]metrics.Request, 0, len(b.recs))
	for i := range b.recs {
		if b.recs[i].TSendNs >= t {
			out = append(out, b.recs[i])
		}
	}
	return out
}

// dropBefore forgets records sent before t.
func (b *recordBuffer) dropBefore(t int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.recs = slices.DeleteFunc(b.recs, func(r metrics.Request) bool { return r.TSendNs < t })
}
