package metrics

import "math"

// vLLM v1's speculative-decoding counters as scraped (with _total), the
// names the runner records in engine-metrics.jsonl.zst and the sim serves.
const (
	SpecDrafts         = "vllm:spec_decode_num_drafts_total"
	SpecDraftTokens    = "vllm:spec_decode_num_draft_tokens_total"
	SpecAcceptedTokens = "vllm:spec_decode_num_accepted_tokens_total"
)

// SpecAcceptance is the share of draft tokens accepted over a window:
// Δaccepted / Δdraft tokens between the counters at its start and its end.
// ok is false when either counter is missing from a scrape, no draft token
// was proposed in the window, or a counter went backwards (an engine
// restart) or accepted more than it drafted: no figure rather than a wrong
// one.
func SpecAcceptance(start, end map[string]float64) (rate float64, ok bool) {
	d0, ok0 := start[SpecDraftTokens]
	d1, ok1 := end[SpecDraftTokens]
	a0, ok2 := start[SpecAcceptedTokens]
	a1, ok3 := end[SpecAcceptedTokens]
	if !ok0 || !ok1 || !ok2 || !ok3 {
		return 0, false
	}
	dd, da := d1-d0, a1-a0
	if !(dd > 0) || da < 0 || da > dd || math.IsInf(dd, 0) {
		return 0, false
	}
	return da / dd, true
}
