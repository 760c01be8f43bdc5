package metrics

import (
	"cmp"
	"slices"
)

// Interval is a half-open span [Start, End) on the run's monotonic clock, in
// nanoseconds.
type Interval struct {
	Start, End int64
}

// TimeAveraged is the time-averaged count of intervals covering [start, end):
// Σ |interval ∩ [start, end)| / (end − start). With request intervals it is
// the mean number of streams in flight; with agent activity it is the mean
// number of active sessions. 0 for an empty window. The sum is exact, so
// the order of the intervals does not matter.
func TimeAveraged(intervals []Interval, start, end int64) float64 {
	if end <= start {
		return 0
	}
	var covered wideSum
	for _, iv := range intervals {
		covered.add(overlap(iv, start, end))
	}
	return covered.float() / float64(end-start)
}

// RequestIntervals returns each request's [t_send, end) span, where end is
// the request's last event (Request.EndNs).
func RequestIntervals(records []Request) []Interval {
	out := make([]Interval, 0, len(records))
	for i := range records {
		out = append(out, Interval{records[i].TSendNs, records[i].EndNs()})
	}
	return out
}

// AgentActivity returns when each root agent session was active. A
// closed-loop agent is active from its first request's send to its last
// request's end, including the think time between requests, unless a gap
// between the end of one request and the send of the next exceeds maxGapNs:
// then it was inactive during the gap. maxGapNs ≤ 0 joins every gap.
// Sub-agent requests (Subagent ≠ "") are extra streams, not sessions, and are
// ignored. Agent ids must not be reused within a run. Pass every record of the
// run (not only the window's) so that requests straddling the window's edges
// are seen. The spans come by agent id, each agent's in time order.
func AgentActivity(records []Request, maxGapNs int64) []Interval {
	byAgent := make(map[int]*agentTally)
	var sp spill
	for i := range records {
		r := &records[i]
		if r.Subagent != "" {
			continue
		}
		a := byAgent[r.Agent]
		if a == nil {
			a = &agentTally{}
			byAgent[r.Agent] = a
		}
		a.addSpan(Interval{r.TSendNs, r.EndNs()}, maxGapNs, &sp)
	}
	agents := make([]int, 0, len(byAgent))
	for a := range byAgent {
		agents = append(agents, a)
	}
	slices.Sort(agents)
	var out []Interval
	for _, a := range agents {
		out = byAgent[a].spans(maxGapNs, &sp, out)
	}
	return out
}

// spill holds the agents' earlier activity spans. An agent's session
// activity (AgentActivity) is built one request span at a time, in
// agentTally: the spans sorted by start and joined across gaps of at most
// maxGap (any gap when maxGap ≤ 0). Spans that arrive in time order are
// joined as they come, the latest kept in the agent's last span; a span
// that arrives out of order is kept aside until spans sorts and joins them
// all, which gives the same union in any order. Earlier spans live in a
// spill shared by the agents, so that an agent with one span (the usual
// case) allocates nothing.
type spill [][]Interval

// joins reports whether a span starting at next continues a session whose
// spans so far end at end.
func joins(end, next, maxGap int64) bool {
	return next <= end || maxGap <= 0 || uint64(next)-uint64(end) <= uint64(maxGap)
}

func (a *agentTally) addSpan(iv Interval, maxGap int64, sp *spill) {
	switch {
	case !a.has:
		a.last, a.has = iv, true
	case a.unsorted || iv.Start < a.last.Start:
		a.push(iv, sp)
		a.unsorted = true
	case joins(a.last.End, iv.Start, maxGap):
		a.last.End = max(a.last.End, iv.End)
	default:
		a.push(a.last, sp)
		a.last = iv
	}
}

func (a *agentTally) push(iv Interval, sp *spill) {
	if a.more == 0 {
		*sp = append(*sp, nil)
		a.more = int32(len(*sp))
	}
	(*sp)[a.more-1] = append((*sp)[a.more-1], iv)
}

// spans appends the agent's active spans, in time order, to out.
func (a *agentTally) spans(maxGap int64, sp *spill, out []Interval) []Interval {
	if !a.has {
		return out
	}
	var before []Interval
	if a.more > 0 {
		before = (*sp)[a.more-1]
	}
	if !a.unsorted {
		return append(append(out, before...), a.last)
	}
	all := append(before, a.last)
	slices.SortFunc(all, func(x, y Interval) int { return cmp.Compare(x.Start, y.Start) })
	joined := all[:1]
	for _, iv := range all[1:] {
		if cur := &joined[len(joined)-1]; joins(cur.End, iv.Start, maxGap) {
			cur.End = max(cur.End, iv.End)
			continue
		}
		joined = append(joined, iv)
	}
	a.last, a.unsorted = joined[len(joined)-1], false
	(*sp)[a.more-1] = joined[:len(joined)-1]
	return append(append(out, joined[:len(joined)-1]...), a.last)
}
