package workload

import (
	"strings"
	"sync"
)

// TurnCacheHits returns, for each of t's own turns (not its sub-agents'),
// the tokens of the turn's input that a prefix cache holds in theory when
// the turn is replayed: the longest prefix of its input (whole segments and
// blocks) that an earlier turn of the same trajectory sent, and on the first
// turn at least the trajectory's shared prefix, which the session salt keeps
// shareable with every other session (SaltPosition). It depends on the
// workload alone, never on timing, so a runner and a verifier compute the
// same figures. Each sub-agent has a cache of its own, as in Stats.PrefixHit.
func TurnCacheHits(h *Header, t *Trajectory) []int64 {
	var source string
	bs := 0
	if t.Source >= 0 && t.Source < len(h.Sources) {
		source, bs = h.Sources[t.Source].ID, h.Sources[t.Source].BlockSize
	}
	pc := newPrefixChain(source, t.Scope, bs)
	hits := make([]int64, len(t.Turns))
	for i := range t.Turns {
		hits[i] = pc.turn(&t.Turns[i])
		if i == 0 {
			hits[i] = max(hits[i], min(int64(t.SharedPrefixTokens), int64(t.Turns[i].InputTokens())))
		}
	}
	return hits
}

// CacheTable looks up the theoretical prefix-cache hit of a replayed turn
// (TurnCacheHits) beside its target prompt length (TargetPromptTokens),
// computing each trajectory's figures once, when first asked. It is safe
// for concurrent use.
type CacheTable struct {
	w   *Workload
	tpl ChatTemplate

	mu    sync.Mutex
	roots map[string]*Trajectory
	trajs map[cacheKey]*cacheTurns // nil: not in the workload
}

type cacheKey struct{ root, path string }

type cacheTurns struct {
	hits    []int64
	prompts []int64
}

// NewCacheTable indexes w's trajectories; tpl is the chat-template overhead
// the targets count.
func NewCacheTable(w *Workload, tpl ChatTemplate) *CacheTable {
	ct := &CacheTable{w: w, tpl: tpl, roots: make(map[string]*Trajectory, len(w.Trajectories)), trajs: map[cacheKey]*cacheTurns{}}
	for _, t := range w.Trajectories {
		ct.roots[t.ID] = t
	}
	return ct
}

// Turn returns the theoretical cached tokens of turn k of the trajectory
// with root id root and sub-agent path ("a/b", empty for the root), and the
// turn's target prompt length; ok is false when the workload has no such
// turn.
func (ct *CacheTable) Turn(root, path string, k int) (hit, prompt int64, ok bool) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	key := cacheKey{root, path}
	c, seen := ct.trajs[key]
	if !seen {
		if t := ct.find(root, path); t != nil {
			c = &cacheTurns{hits: TurnCacheHits(&ct.w.Header, t), prompts: make([]int64, len(t.Turns))}
			for i := range t.Turns {
				c.prompts[i] = int64(TargetPromptTokens(&t.Turns[i], ct.tpl))
			}
		}
		ct.trajs[key] = c
	}
	if c == nil || k < 0 || k >= len(c.hits) {
		return 0, 0, false
	}
	return c.hits[k], c.prompts[k], true
}

func (ct *CacheTable) find(root, path string) *Trajectory {
	cur := ct.roots[root]
	if cur == nil || path == "" {
		return cur
	}
	for _, id := range strings.Split(path, "/") {
		var next *Trajectory
		for _, s := range cur.Subagents {
			if s.ID == id {
				next = s
				break
			}
		}
		if next == nil {
			return nil
		}
		cur = next
	}
	return cur
}
