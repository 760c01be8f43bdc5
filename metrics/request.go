package metrics

import (
	"math"
	"time"
)

// Request statuses, as written in the record's status field.
const (
	StatusOK        = "ok"        // the stream ended with [DONE] and the forced length was produced
	StatusError     = "error"     // HTTP error, error event, malformed stream, or closed before [DONE]
	StatusTruncated = "truncated" // the server ended the answer before the forced length
)

// Token count sources, as written in the record's token_count_source field.
const (
	TokenSourceUsage  = "usage"  // completion_tokens from the server's usage object
	TokenSourceClient = "client" // no usage object: the count of output-carrying events, a lower bound
)

// Tier is a service level: every request must see its first token within
// MaxTTFT and then decode at MinDecodeTPS tokens per second or faster.
type Tier struct {
	Name         string        // e.g. "t20"
	MinDecodeTPS float64       // S, output tokens per second after the first token
	MaxTTFT      time.Duration // T
}

// RequestTiming is what the tier test needs from one request. Times are
// nanoseconds on the run's monotonic clock (relative to the run start).
type RequestTiming struct {
	TSendNs          int64
	TFirstNs         int64 // first output-carrying event; 0 when none arrived
	TLastNs          int64 // last output-carrying event
	CompletionTokens int
	Status           string
}

// TTFT is the time to first token: the first event whose delta carries output
// minus the send time.
func TTFT(tSendNs, tFirstNs int64) time.Duration {
	return time.Duration(tFirstNs - tSendNs)
}

// DecodeRate is (completionTokens − 1) / (tLast − tFirst) in tokens per second.
// ok is false when the request has no decode interval: one output token or
// fewer, or every token arrived in a single event (tLast ≤ tFirst). Such a
// request is judged on its TTFT alone.
func DecodeRate(completionTokens int, tFirstNs, tLastNs int64) (tokPerS float64, ok bool) {
	if completionTokens <= 1 || tLastNs <= tFirstNs {
		return 0, false
	}
	return float64(completionTokens-1) / (float64(tLastNs-tFirstNs) / 1e9), true
}

// MeetsTier is the one joint per-request test: the request succeeded, TTFT ≤
// tier.MaxTTFT and, where a decode rate exists, decode rate ≥
// tier.MinDecodeTPS. An errored or truncated request never meets a tier, nor
// does one that produced no output event.
func MeetsTier(r RequestTiming, tier Tier) bool {
	if r.Status != StatusOK || r.TFirstNs <= 0 || r.TFirstNs < r.TSendNs {
		return false
	}
	if TTFT(r.TSendNs, r.TFirstNs) > tier.MaxTTFT {
		return false
	}
	rate, ok := DecodeRate(r.CompletionTokens, r.TFirstNs, r.TLastNs)
	return !ok || rate >= tier.MinDecodeTPS
}

// requestScores returns the values a request contributes to per-agent
// medians: TTFT in seconds and the decode rate. A failed request contributes
// the worst values (+Inf TTFT, zero decode rate) so that it counts against
// the agent; hasRate is false for a successful request without a decode
// interval.
func requestScores(r RequestTiming) (ttftS, rate float64, hasRate bool) {
	if r.Status != StatusOK || r.TFirstNs <= 0 || r.TFirstNs < r.TSendNs {
		return math.Inf(1), 0, true
	}
	rate, hasRate = DecodeRate(r.CompletionTokens, r.TFirstNs, r.TLastNs)
	return TTFT(r.TSendNs, r.TFirstNs).Seconds(), rate, hasRate
}
