package metrics

import (
	"slices"
	"time"
)

// InterTokenLatency is (t_last − t_first) / (completion_tokens − 1): the
// mean time between output tokens after the first, the inverse of
// DecodeRate. ok is false where DecodeRate has no rate.
func InterTokenLatency(completionTokens int, tFirstNs, tLastNs int64) (time.Duration, bool) {
	if _, ok := DecodeRate(completionTokens, tFirstNs, tLastNs); !ok {
		return 0, false
	}
	return time.Duration((tLastNs - tFirstNs) / int64(completionTokens-1)), true
}

// EndToEndLatency is t_last − t_send: from the request's send to its last
// output event.
func EndToEndLatency(tSendNs, tLastNs int64) time.Duration {
	return time.Duration(tLastNs - tSendNs)
}

// Percentiles are the nearest-rank 50th, 90th and 99th percentiles of a
// set of values; zero for an empty set.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
}

// PercentilesOf sorts values in place and returns their percentiles.
func PercentilesOf(values []float64) Percentiles {
	if len(values) == 0 {
		return Percentiles{}
	}
	slices.Sort(values)
	return Percentiles{P50: Quantile(values, 0.5), P90: Quantile(values, 0.9), P99: Quantile(values, 0.99)}
}

// RequestStats describe a window's requests for people: counts by status
// and, over the successful ones, the percentiles of TTFT, inter-token
// latency and end-to-end latency (seconds) and of the decode rate
// (tokens/s). They judge nothing; EvaluateProbe does.
type RequestStats struct {
	Requests  int         `json:"requests"`
	OK        int         `json:"ok"`
	Errors    int         `json:"errors"`
	Truncated int         `json:"truncated"`
	TTFTS     Percentiles `json:"ttft_s"`
	ITLS      Percentiles `json:"itl_s"`
	E2ES      Percentiles `json:"e2e_s"`
	DecodeTPS Percentiles `json:"decode_tps"`
}

// WindowRequestStats summarises the requests sent in [start, end) (the
// window requests, sub-agents included).
func WindowRequestStats(recs []Request, start, end int64) RequestStats {
	a := NewRequestStatsAccumulator(start, end)
	for i := range recs {
		a.Add(&recs[i])
	}
	return a.Stats()
}

// RequestStatsAccumulator is WindowRequestStats fed one record at a time,
// in any order; it keeps four numbers per successful window request, not
// the records.
type RequestStatsAccumulator struct {
	start, end           int64
	s                    RequestStats
	ttft, itl, e2e, rate []float64
}

// NewRequestStatsAccumulator summarises the requests sent in [start, end).
func NewRequestStatsAccumulator(start, end int64) *RequestStatsAccumulator {
	return &RequestStatsAccumulator{start: start, end: end}
}

// Add counts r if it is a window request.
func (a *RequestStatsAccumulator) Add(r *Request) {
	if r.TSendNs < a.start || r.TSendNs >= a.end {
		return
	}
	a.s.Requests++
	switch r.Status {
	case StatusError:
		a.s.Errors++
		return
	case StatusTruncated:
		a.s.Truncated++
		return
	}
	if r.TFirstNs <= 0 || r.TFirstNs < r.TSendNs {
		return
	}
	a.s.OK++
	a.ttft = append(a.ttft, TTFT(r.TSendNs, r.TFirstNs).Seconds())
	a.e2e = append(a.e2e, EndToEndLatency(r.TSendNs, r.TLastNs).Seconds())
	if d, ok := InterTokenLatency(r.CompletionTokens, r.TFirstNs, r.TLastNs); ok {
		a.itl = append(a.itl, d.Seconds())
	}
	if v, ok := DecodeRate(r.CompletionTokens, r.TFirstNs, r.TLastNs); ok {
		a.rate = append(a.rate, v)
	}
}

// Stats returns the summary of the requests added so far.
func (a *RequestStatsAccumulator) Stats() RequestStats {
	s := a.s
	s.TTFTS, s.ITLS, s.E2ES, s.DecodeTPS = PercentilesOf(a.ttft), PercentilesOf(a.itl), PercentilesOf(a.e2e), PercentilesOf(a.rate)
	return s
}
