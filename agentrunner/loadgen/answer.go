package loadgen

import (
	"unicode/utf16"
	"unicode/utf8"
)

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
		a.Content = AppendJSONStringText(a.Content, c.Content)
	}
	if c.Reasoning {
		a.ReasoningEvents++
	}
	if c.ToolCalls {
		a.ToolCallEvents++
	}
}

// AppendJSONStringText appends the text of a JSON string body (the bytes
// between the quotes, escapes in place, as ParseChunk validated them) to
// dst, decoding escapes exactly as encoding/json does: \uXXXX surrogate
// pairs become one rune, a lone surrogate and every invalid UTF-8 byte
// become U+FFFD. A malformed escape (which ParseChunk never lets through) is
// copied as it is.
func AppendJSONStringText(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			if i+1 >= len(raw) {
				return append(dst, raw[i:]...)
			}
			switch e := raw[i+1]; e {
			case '"', '\\', '/':
				dst = append(dst, e)
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(raw[i+2:])
				if r < 0 {
					dst = append(dst, raw[i:i+2]...)
					i += 2
					continue
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if len(raw) >= i+6 && raw[i] == '\\' && raw[i+1] == 'u' {
						if r2 := hex4(raw[i+2:]); r2 >= 0 {
							if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
								dst = utf8.AppendRune(dst, d)
								i += 6
								continue
							}
						}
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default:
				dst = append(dst, raw[i:i+2]...)
			}
			i += 2
		case c < utf8.RuneSelf:
			j := i + 1
			for j < len(raw) && raw[j] < utf8.RuneSelf && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, raw[i:i+size]...)
			}
			i += size
		}
	}
	return dst
}

// hex4 reads four hex digits; -1 when b does not start with them.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}
