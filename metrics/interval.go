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
// number of active sessions. 0 for an empty window.
func TimeAveraged(intervals []Interval, start, end int64) float64 {
	if end <= start {
		return 0
	}
	var covered float64
	for _, iv := range intervals {
		lo, hi := max(iv.Start, start), min(iv.End, end)
		if hi > lo {
			covered += float64(hi - lo)
		}
	}
	return covered / float64(end-start)
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
// are seen.
func AgentActivity(records []Request, maxGapNs int64) []Interval {
	byAgent := make(map[int][]Interval)
	for i := range records {
		r := &records[i]
		if r.Subagent != "" {
			continue
		}
		byAgent[r.Agent] = append(byAgent[r.Agent], Interval{r.TSendNs, r.EndNs()})
	}
	agents := make([]int, 0, len(byAgent))
	for a := range byAgent {
		agents = append(agents, a)
	}
	slices.Sort(agents)
	var out []Interval
	for _, a := range agents {
		ivs := byAgent[a]
		slices.SortFunc(ivs, func(x, y Interval) int { return cmp.Compare(x.Start, y.Start) })
		cur := ivs[0]
		for _, iv := range ivs[1:] {
			if iv.Start <= cur.End || maxGapNs <= 0 || iv.Start-cur.End <= maxGapNs {
				cur.End = max(cur.End, iv.End)
				continue
			}
			out = append(out, cur)
			cur = iv
		}
		out = append(out, cur)
	}
	return out
}
