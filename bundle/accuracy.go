package bundle

// AccuracyRecord is one line of accuracy.jsonl: one question of the
// accuracy phase and the model's answer. The verifier scores Output again
// against its own reference answers; the runner's Extracted and Correct
// are claims it does not use.
type AccuracyRecord struct {
	ID               int     `json:"id"` // the question's line in the test split
	Prompt           string  `json:"prompt"`
	Output           string  `json:"output"`
	Extracted        string  `json:"extracted"` // the number the output gives ("" for none)
	Expected         string  `json:"expected"`
	Correct          bool    `json:"correct"`
	CompletionTokens int     `json:"completion_tokens,omitempty"`
	LatencyS         float64 `json:"latency_s"`
	Error            string  `json:"error,omitempty"`
}

// AccuracyResult is the accuracy phase's score as environment.json
// records it, a claim the verifier recomputes from accuracy.jsonl.
type AccuracyResult struct {
	Dataset   string  `json:"dataset"`
	Questions int     `json:"questions"`
	Correct   int     `json:"correct"`
	Errors    int     `json:"errors"`
	Score     float64 `json:"score"`
}
