package loadgen

import "github.com/agentwatt/agentwatt/metrics"

// Answer collects the text of a streamed answer, for replays that send the
// server's own answers back as the conversation's history (live history).
// A request captures it only when ChatRequest.Answer is set; without it the
// client neither decodes nor copies any text, and the stream's hot path
// stays free of allocations.
//
// What is captured: every output event's delta.content, its JSON escapes
// decoded, appended in arrival order. What is not: reasoning text
// (reasoning_content, reasoning), which a chat history does not carry, and
// tool-call deltas, which are only counted: a replay keeps the recorded
// tool calls so that the recorded tool results that follow still answer
// them.
type Answer struct {
	// Content is the answer's text.
	Content []byte
	// ReasoningEvents and ToolCallEvents count the events whose delta
	// carried reasoning text or tool calls (not captured).
	ReasoningEvents int
	ToolCallEvents  int
}

// Reset empties the answer, keeping Content's storage.
func (a *Answer) Reset() {
	a.Content = a.Content[:0]
	a.ReasoningEvents, a.ToolCallEvents = 0, 0
}

// add takes one parsed output event.
func (a *Answer) add(c *Chunk) {
	if len(c.Content) > 0 {
		// ParseChunk validated the escapes.
		a.Content, _ = metrics.AppendJSONStringText(a.Content, c.Content)
	}
	if c.Reasoning {
		a.ReasoningEvents++
	}
	if c.ToolCalls {
		a.ToolCallEvents++
	}
}
