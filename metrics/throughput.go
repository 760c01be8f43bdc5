package metrics

// OutputTokensInWindow counts the output tokens generated inside [start, end)
// across records, whatever their status: a request's first token is placed at
// t_first and its other completion_tokens − 1 tokens are spread evenly over
// [t_first, t_last), so a request straddling an edge contributes the part that
// falls inside. When every token arrived in one event they all sit at t_first.
// Pass every record that may overlap the window, not only those sent in it.
func OutputTokensInWindow(records []Request, start, end int64) float64 {
	if end <= start {
		return 0
	}
	var tokens float64
	for i := range records {
		addOutputTokens(&tokens, &records[i], start, end)
	}
	return tokens
}

// addOutputTokens adds one record's share of OutputTokensInWindow to
// *tokens (in the same steps as a loop over the records, so that a sum fed
// one record at a time is the same to the last bit).
func addOutputTokens(tokens *float64, r *Request, start, end int64) {
	if r.CompletionTokens <= 0 || r.TFirstNs <= 0 || end <= start {
		return
	}
	if r.TFirstNs >= start && r.TFirstNs < end {
		*tokens++
	}
	rest := float64(r.CompletionTokens - 1)
	if rest == 0 {
		return
	}
	if r.TLastNs <= r.TFirstNs {
		if r.TFirstNs >= start && r.TFirstNs < end {
			*tokens += rest
		}
		return
	}
	lo, hi := max(r.TFirstNs, start), min(r.TLastNs, end)
	if hi > lo {
		*tokens += rest * float64(hi-lo) / float64(r.TLastNs-r.TFirstNs)
	}
}

// OutputTokensPerSecond is OutputTokensInWindow divided by the window's length
// in seconds; 0 for an empty window.
func OutputTokensPerSecond(records []Request, start, end int64) float64 {
	if end <= start {
		return 0
	}
	return OutputTokensInWindow(records, start, end) / (float64(end-start) / 1e9)
}
