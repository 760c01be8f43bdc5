package metrics

import (
	"bytes"
	"fmt"
	"strconv"
)

// Phases of a probe, as written in the record's phase field.
const (
	PhaseSettle = "settle" // after N changed, before warm-up
	PhaseWarmup = "warmup" // until every agent has completed a request
	PhaseWindow = "window" // the measurement window
)

// Request is one request's record, one JSON object per line of
// requests.jsonl.zst. The runner writes it, the verifier recomputes every
// number from it. Times are nanoseconds on the run's monotonic clock
// (relative to the run's start; the wall-clock anchor is in probes.json).
type Request struct {
	Probe      int    `json:"probe"`      // probe index within the run
	Phase      string `json:"phase"`      // PhaseSettle, PhaseWarmup or PhaseWindow
	Agent      int    `json:"agent"`      // root agent session index; ids are not reused within a run
	Session    string `json:"session"`    // the agent's current trajectory session (its salt)
	Subagent   string `json:"subagent"`   // empty for the root agent's own requests
	Trajectory string `json:"trajectory"` // trajectory id in the workload
	Turn       int    `json:"turn"`       // turn index within the trajectory

	TSendNs  int64 `json:"t_send_ns"`  // just before the request was handed to the HTTP client
	TFirstNs int64 `json:"t_first_ns"` // first event whose delta carries output; 0 when none arrived
	// TLastNs is the last event whose delta carries output; when none
	// arrived, the time the request ended (error or close).
	TLastNs int64 `json:"t_last_ns"`

	PromptTokens           int         `json:"prompt_tokens"`     // usage.prompt_tokens; 0 without usage
	CachedTokens           OptionalInt `json:"cached_tokens"`     // usage.prompt_tokens_details.cached_tokens; null when not reported
	CompletionTokens       int         `json:"completion_tokens"` // usage.completion_tokens, or the client count
	TargetPromptTokens     int         `json:"target_prompt_tokens"`
	TargetCompletionTokens int         `json:"target_completion_tokens"` // max_tokens = min_tokens sent
	Chunks                 int         `json:"chunks"`                   // events whose delta carried output
	Status                 string      `json:"status"`                   // StatusOK, StatusError or StatusTruncated
	Error                  string      `json:"error"`                    // why it is not ok; empty when ok
	TokenCountSource       string      `json:"token_count_source"`       // TokenSourceUsage or TokenSourceClient
	// ChunkOffsetsNs holds, for a seeded sample of requests, the arrival of
	// every output-carrying event as an offset from TSendNs.
	ChunkOffsetsNs []int64 `json:"chunk_offsets_ns,omitempty"`
}

// Timing is the part of the record the tier test reads.
func (r *Request) Timing() RequestTiming {
	return RequestTiming{
		TSendNs: r.TSendNs, TFirstNs: r.TFirstNs, TLastNs: r.TLastNs,
		CompletionTokens: r.CompletionTokens, Status: r.Status,
	}
}

// EndNs is when the request stopped occupying a stream: its last recorded
// event, and never before its send.
func (r *Request) EndNs() int64 { return max(r.TLastNs, r.TSendNs) }

// OptionalInt is an integer a server may not report: JSON null (or an absent
// field) when Known is false. A missing cached_tokens means unknown, not zero.
type OptionalInt struct {
	Value int
	Known bool
}

// Int returns a known value.
func Int(v int) OptionalInt { return OptionalInt{Value: v, Known: true} }

// MarshalJSON writes the value or null.
func (o OptionalInt) MarshalJSON() ([]byte, error) {
	if !o.Known {
		return []byte("null"), nil
	}
	return strconv.AppendInt(nil, int64(o.Value), 10), nil
}

// UnmarshalJSON reads an integer or null.
func (o *OptionalInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*o = OptionalInt{}
		return nil
	}
	v, err := strconv.Atoi(string(b))
	if err != nil {
		return fmt.Errorf("optional int: %q is not an integer", b)
	}
	*o = OptionalInt{Value: v, Known: true}
	return nil
}

// String is the value or "unknown".
func (o OptionalInt) String() string {
	if !o.Known {
		return "unknown"
	}
	return strconv.Itoa(o.Value)
}
