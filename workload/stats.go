package workload

import (
	"io"
	"math"
	"math/bits"
	"slices"

	"github.com/cespare/xxhash/v2"
)

// Stats describes a workload: how many trajectories and turns, how long
// prompts and answers are, how long agents think, and how much of the input
// a prefix cache could serve in theory. Quantiles are nearest-rank.
type Stats struct {
	Name   string `json:"name"`
	Digest Digest `json:"digest,omitempty"`
	// Trajectories counts top-level trajectories; Subagents counts sub-agent
	// trajectories at every depth; Forks counts trajectories that branched
	// off another (reconstructed Mooncake sessions).
	Trajectories              int `json:"trajectories"`
	Subagents                 int `json:"subagents"`
	TrajectoriesWithSubagents int `json:"trajectories_with_subagents"`
	MaxSubagentsPerTrajectory int `json:"max_subagents_per_trajectory"`
	Forks                     int `json:"forks"`
	// Turns counts all turns, sub-agents' included.
	Turns int `json:"turns"`
	// TurnsPerTrajectory is over top-level trajectories, their own turns.
	TurnsPerTrajectory Spread `json:"turns_per_trajectory"`
	// InputTokens and OutputTokens are per turn; a turn's input is its whole
	// prompt, counted once.
	InputTokens          TokenStats `json:"input_tokens"`
	OutputTokens         TokenStats `json:"output_tokens"`
	EstimatedOutputTurns int        `json:"estimated_output_turns"`
	// MaxContextTokens is the largest input + output of any turn.
	MaxContextTokens int `json:"max_context_tokens"`
	// ContextCap is the header's MaxContext: the cap the workload was cut
	// to (0: none).
	ContextCap int `json:"context_cap,omitempty"`
	// ThinkTimeS is over turns that follow an answer (not first turns).
	ThinkTimeS ThinkStats `json:"think_time_s"`
	// SharedPrefixTokens is over all trajectories, sub-agents included.
	SharedPrefixTokens Spread `json:"shared_prefix_tokens"`
	// PrefixHitRate is PrefixHit.HitTokens / InputTokens.Total.
	PrefixHitRate float64   `json:"prefix_hit_rate"`
	PrefixHit     PrefixHit `json:"prefix_hit"`
	// Sources has one entry per header source.
	Sources []SourceStats `json:"sources"`
	// InputHistogram and OutputHistogram count turns per token range, in
	// power-of-two bins.
	InputHistogram  []Bin `json:"input_histogram"`
	OutputHistogram []Bin `json:"output_histogram"`
}

// Spread is a p50/p90/max summary.
type Spread struct {
	P50 int64 `json:"p50"`
	P90 int64 `json:"p90"`
	Max int64 `json:"max"`
}

// TokenStats summarises token counts per turn.
type TokenStats struct {
	Total int64 `json:"total"`
	P50   int64 `json:"p50"`
	P90   int64 `json:"p90"`
	P99   int64 `json:"p99"`
	Max   int64 `json:"max"`
}

// ThinkStats summarises think times in seconds (millisecond resolution).
type ThinkStats struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	Max float64 `json:"max"`
}

// PrefixHit breaks the theoretical prefix-cache hit rate down: a turn's hit
// is the longest prefix of its input (in whole segments and blocks) that an
// earlier turn of the same trajectory already sent, or, for a trajectory's
// shared prefix, that an earlier trajectory of the same source and scope
// already sent. Each sub-agent has a cache of its own.
type PrefixHit struct {
	HitTokens            int64 `json:"hit_tokens"`
	WithinTrajectory     int64 `json:"within_trajectory_tokens"`
	AcrossTrajectory     int64 `json:"shared_prefix_tokens"`
	InputTokens          int64 `json:"input_tokens"`
	SharedPrefixReusedBy int   `json:"shared_prefix_reused_by"`
}

// SourceStats counts what each source contributed.
type SourceStats struct {
	ID           string `json:"id"`
	Format       string `json:"format"`
	File         string `json:"file"`
	Licence      string `json:"licence"`
	Trajectories int    `json:"trajectories"`
	Turns        int    `json:"turns"`
}

// Bin counts values in [Lo, Hi).
type Bin struct {
	Lo    int64 `json:"lo"`
	Hi    int64 `json:"hi"`
	Count int64 `json:"count"`
}

// ComputeStats reads every trajectory from r and summarises them. Memory is
// bounded by one trajectory plus the number of distinct values seen, not by
// the number of turns. The digest is that of everything r read.
func ComputeStats(r *Reader) (*Stats, error) {
	h := r.Header()
	c := newStatsCollector(&h)
	for {
		t, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		c.add(t)
	}
	d, err := r.Digest()
	if err != nil {
		return nil, err
	}
	s := c.finish()
	s.Digest = d
	return s, nil
}

// StatsOf summarises an in-memory workload.
func StatsOf(w *Workload) *Stats {
	c := newStatsCollector(&w.Header)
	for _, t := range w.Trajectories {
		c.add(t)
	}
	s := c.finish()
	s.Digest = w.Digest
	return s
}

type statsCollector struct {
	h        *Header
	s        Stats
	turnsPer counts
	in, out  counts
	think    counts
	shared   counts
	seenPref map[uint64]struct{}
}

func newStatsCollector(h *Header) *statsCollector {
	c := &statsCollector{h: h, seenPref: map[uint64]struct{}{}}
	c.s.Name = h.Name
	c.s.ContextCap = h.MaxContext
	for _, src := range h.Sources {
		c.s.Sources = append(c.s.Sources, SourceStats{ID: src.ID, Format: src.Format, File: src.File, Licence: src.Licence})
	}
	return c
}

func (c *statsCollector) add(t *Trajectory) {
	c.s.Trajectories++
	c.turnsPer.add(int64(len(t.Turns)))
	subs := 0
	t.Walk(func(tr *Trajectory, depth int) {
		if depth > 0 {
			subs++
		}
		c.addOne(tr)
	})
	c.s.Subagents += subs
	if subs > 0 {
		c.s.TrajectoriesWithSubagents++
	}
	c.s.MaxSubagentsPerTrajectory = max(c.s.MaxSubagentsPerTrajectory, subs)
	if src := t.Source; src >= 0 && src < len(c.s.Sources) {
		c.s.Sources[src].Trajectories++
	}
}

// addOne counts one trajectory's own turns (not its sub-agents').
func (c *statsCollector) addOne(t *Trajectory) {
	if t.ForkOf != nil {
		c.s.Forks++
	}
	c.shared.add(int64(t.SharedPrefixTokens))
	if t.Source >= 0 && t.Source < len(c.s.Sources) {
		c.s.Sources[t.Source].Turns += len(t.Turns)
	}
	bs := c.h.Sources[t.Source].BlockSize
	pc := newPrefixChain(c.h.Sources[t.Source].ID, t.Scope, bs)
	for i := range t.Turns {
		tu := &t.Turns[i]
		in := int64(tu.InputTokens())
		out := int64(tu.OutputTokens)
		c.s.Turns++
		c.in.add(in)
		c.out.add(out)
		c.s.InputTokens.Total += in
		c.s.OutputTokens.Total += out
		c.s.MaxContextTokens = max(c.s.MaxContextTokens, int(in+out))
		if tu.OutputEstimated {
			c.s.EstimatedOutputTurns++
		}
		if i > 0 {
			c.think.add(int64(math.Round(tu.ThinkS * 1000)))
		}
		hit := pc.turn(tu)
		if i == 0 && t.SharedPrefixTokens > 0 {
			if key, ok := pc.keyAtTokens(int64(t.SharedPrefixTokens)); ok {
				if _, seen := c.seenPref[key]; seen {
					if int64(t.SharedPrefixTokens) > hit {
						c.s.PrefixHit.AcrossTrajectory += int64(t.SharedPrefixTokens) - hit
						hit = int64(t.SharedPrefixTokens)
					}
					c.s.PrefixHit.SharedPrefixReusedBy++
				} else {
					c.seenPref[key] = struct{}{}
				}
			}
		}
		c.s.PrefixHit.HitTokens += hit
	}
	c.s.PrefixHit.WithinTrajectory = c.s.PrefixHit.HitTokens - c.s.PrefixHit.AcrossTrajectory
}

func (c *statsCollector) finish() *Stats {
	s := &c.s
	s.TurnsPerTrajectory = c.turnsPer.spread()
	s.SharedPrefixTokens = c.shared.spread()
	s.InputTokens.P50, s.InputTokens.P90, s.InputTokens.P99, s.InputTokens.Max = c.in.q(0.5), c.in.q(0.9), c.in.q(0.99), c.in.max()
	s.OutputTokens.P50, s.OutputTokens.P90, s.OutputTokens.P99, s.OutputTokens.Max = c.out.q(0.5), c.out.q(0.9), c.out.q(0.99), c.out.max()
	s.ThinkTimeS = ThinkStats{P50: float64(c.think.q(0.5)) / 1000, P90: float64(c.think.q(0.9)) / 1000, Max: float64(c.think.max()) / 1000}
	s.PrefixHit.InputTokens = s.InputTokens.Total
	if s.InputTokens.Total > 0 {
		s.PrefixHitRate = float64(s.PrefixHit.HitTokens) / float64(s.InputTokens.Total)
	}
	s.InputHistogram = c.in.pow2Bins()
	s.OutputHistogram = c.out.pow2Bins()
	return s
}

// counts is an exact multiset of integers in memory proportional to the
// number of distinct values.
type counts struct {
	m map[int64]int64
	n int64
}

func (c *counts) add(v int64) {
	if c.m == nil {
		c.m = map[int64]int64{}
	}
	c.m[v]++
	c.n++
}

func (c *counts) sorted() []int64 {
	keys := make([]int64, 0, len(c.m))
	for k := range c.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// q is the nearest-rank quantile: the smallest value v with at least
// ceil(q·n) values ≤ v. 0 when empty.
func (c *counts) q(q float64) int64 {
	if c.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(c.n)))
	rank = max(rank, 1)
	var acc int64
	for _, k := range c.sorted() {
		acc += c.m[k]
		if acc >= rank {
			return k
		}
	}
	return c.max()
}

func (c *counts) max() int64 {
	var m int64
	first := true
	for k := range c.m {
		if first || k > m {
			m, first = k, false
		}
	}
	return m
}

func (c *counts) spread() Spread { return Spread{P50: c.q(0.5), P90: c.q(0.9), Max: c.max()} }

// pow2Bins bins values into [0,1), [1,2), [2,4), [4,8) …, from the bin of
// the smallest value to the bin of the largest.
func (c *counts) pow2Bins() []Bin {
	if c.n == 0 {
		return []Bin{}
	}
	idx := func(v int64) int {
		if v <= 0 {
			return 0
		}
		return bits.Len64(uint64(v)) // 1 → 1, 2..3 → 2, 4..7 → 3
	}
	lo, hi := math.MaxInt, 0
	byBin := map[int]int64{}
	for v, n := range c.m {
		i := idx(v)
		byBin[i] += n
		lo, hi = min(lo, i), max(hi, i)
	}
	out := make([]Bin, 0, hi-lo+1)
	for i := lo; i <= hi; i++ {
		b := Bin{Count: byBin[i]}
		if i == 0 {
			b.Lo, b.Hi = 0, 1
		} else {
			b.Lo, b.Hi = 1<<(i-1), 1<<i
		}
		out = append(out, b)
	}
	return out
}

// prefixChain tracks one trajectory's theoretical prefix cache: the chain
// hash of every input prefix sent so far (by whole units).
type prefixChain struct {
	bs    int
	seed  uint64
	set   map[uint64]struct{}
	chain []uint64 // chain[i] = hash of units 0..i of the last turn
	cum   []int64  // cum[i] = tokens of units 0..i of the last turn
}

func newPrefixChain(source, scope string, blockSize int) *prefixChain {
	d := xxhash.New()
	d.WriteString(source)
	d.Write([]byte{0})
	d.WriteString(scope)
	return &prefixChain{bs: blockSize, seed: d.Sum64(), set: map[uint64]struct{}{}}
}

// turn returns the tokens of tu's input that earlier turns already sent,
// then records tu's input as sent.
func (p *prefixChain) turn(tu *Turn) int64 {
	keep := min(tu.Keep, len(p.chain))
	p.chain, p.cum = p.chain[:keep], p.cum[:keep]
	units := 0
	for i := range tu.Input {
		s := &tu.Input[i]
		u := s.Units()
		if units+u <= keep {
			units += u
			continue
		}
		first := max(keep-units, 0)
		if s.IsBlocks() {
			for b := first; b < len(s.Blocks); b++ {
				p.push(blockKey(s.Role, s.Blocks[b], s.BlockTokens(b, p.bs)), int64(s.BlockTokens(b, p.bs)))
			}
		} else {
			p.push(textKey(s), int64(s.Tokens))
		}
		units += u
	}
	hitUnits := keep
	for hitUnits < len(p.chain) {
		if _, ok := p.set[p.chain[hitUnits]]; !ok {
			break
		}
		hitUnits++
	}
	for _, h := range p.chain[hitUnits:] {
		p.set[h] = struct{}{}
	}
	if hitUnits == 0 {
		return 0
	}
	return p.cum[hitUnits-1]
}

func (p *prefixChain) push(key uint64, tokens int64) {
	prev, acc := p.seed, int64(0)
	if n := len(p.chain); n > 0 {
		prev, acc = p.chain[n-1], p.cum[n-1]
	}
	p.chain = append(p.chain, mix64(prev, key))
	p.cum = append(p.cum, acc+tokens)
}

// keyAtTokens returns the chain hash of the last turn's prefix of exactly
// tokens tokens.
func (p *prefixChain) keyAtTokens(tokens int64) (uint64, bool) {
	i, ok := slices.BinarySearch(p.cum, tokens)
	if !ok {
		return 0, false
	}
	return p.chain[i], true
}

func blockKey(role string, id int64, tokens int) uint64 {
	return mix64(mix64(xxhash.Sum64String(role), uint64(id)), uint64(tokens)|1<<63)
}

func textKey(s *Segment) uint64 {
	d := xxhash.New()
	d.WriteString(s.Role)
	d.Write([]byte{0})
	d.WriteString(s.Text)
	for _, c := range s.ToolCalls {
		d.Write([]byte{1})
		d.WriteString(c.ID)
		d.Write([]byte{0})
		d.WriteString(c.Name)
		d.Write([]byte{0})
		d.WriteString(c.Arguments)
	}
	for _, id := range s.ToolCallIDs {
		d.Write([]byte{2})
		d.WriteString(id)
	}
	return d.Sum64() ^ uint64(s.Tokens)*0x9e3779b97f4a7c15
}

// mix64 combines a chain hash with the next key (SplitMix64 finaliser).
func mix64(a, b uint64) uint64 {
	z := a*0x9e3779b97f4a7c15 ^ b
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
