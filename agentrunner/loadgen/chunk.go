package loadgen

import (
	"encoding/json"
	"fmt"

	"github.com/agentwatt/agentwatt/metrics"
)

// Finish reasons interned by ParseChunk; another value is copied.
const (
	FinishLength    = "length"
	FinishStop      = "stop"
	FinishToolCalls = "tool_calls"
	FinishAbort     = "abort"
)

// Chunk is what the load generator reads from one chat-completion chunk.
type Chunk struct {
	// Output: a choice's delta carries non-empty content, reasoning_content
	// or reasoning, or a non-empty tool_calls array. The role-only first
	// chunk and the usage chunk carry none.
	Output       bool
	FinishReason string // the last non-null finish_reason among the choices; "" when none
	// Content is the raw body of the last non-empty delta.content string
	// among the choices, JSON escapes left in place (metrics.AppendJSONStringText
	// decodes it). It points into the parsed data: valid until that data
	// changes, which for an SSEDecoder's event is the next call to Next.
	Content []byte
	// Reasoning and ToolCalls: a delta carried non-empty reasoning_content
	// or reasoning text, or a non-empty tool_calls array.
	Reasoning bool
	ToolCalls bool

	Usage            bool // a usage object (not null) was present
	PromptTokens     int
	CompletionTokens int
	CachedTokens     metrics.OptionalInt // usage.prompt_tokens_details.cached_tokens; unknown when absent or null

	Error        bool   // {"error": …} (or {"object": "error", …}) in the stream
	ErrorMessage string // its message; allocated only for errors
}

// ParseChunk reads one event's data into c, replacing all its fields. It
// scans the JSON once without allocating (except for an error's message),
// validating it strictly, and reads only the fields above; duplicate keys
// resolve as in encoding/json (the last wins).
func ParseChunk(data []byte, c *Chunk) error {
	*c = Chunk{}
	s := chunkScanner{b: data}
	s.ws()
	if !s.is('{') {
		return s.fail("chunk is not a JSON object")
	}
	var objectIsError bool
	var topMessage []byte
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "choices":
			c.Output, c.FinishReason, c.Content, c.Reasoning, c.ToolCalls = false, "", nil, false, false
			return s.choices(c)
		case "usage":
			c.Usage, c.PromptTokens, c.CompletionTokens, c.CachedTokens = false, 0, 0, metrics.OptionalInt{}
			return s.usage(c)
		case "error":
			c.Error, c.ErrorMessage = false, ""
			return s.errorValue(c)
		case "object":
			v, isStr, err := s.stringOrSkip()
			objectIsError = isStr && string(v) == "error"
			return err
		case "message":
			v, isStr, err := s.stringOrSkip()
			topMessage = nil
			if isStr {
				topMessage = v
			}
			return err
		}
		return s.skip()
	})
	if err != nil {
		return err
	}
	s.ws()
	if s.i != len(s.b) {
		return s.fail("data after the chunk object")
	}
	if objectIsError && !c.Error {
		c.Error = true
		c.ErrorMessage = unquote(topMessage)
	}
	return nil
}

// chunkScanner is a minimal strict JSON scanner over one chunk.
type chunkScanner struct {
	b []byte
	i int
}

func (s *chunkScanner) fail(msg string) error {
	return fmt.Errorf("%w at byte %d: %s", ErrMalformedChunk, s.i, msg)
}

func (s *chunkScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *chunkScanner) is(c byte) bool { return s.i < len(s.b) && s.b[s.i] == c }

func (s *chunkScanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// object reads an object at the cursor, calling member for each key with
// the cursor on the value; member must consume the value.
func (s *chunkScanner) object(member func(key []byte) error) error {
	s.ws()
	if !s.is('{') {
		return s.fail("expected an object")
	}
	s.i++
	s.ws()
	if s.is('}') {
		s.i++
		return nil
	}
	for {
		s.ws()
		key, err := s.str()
		if err != nil {
			return err
		}
		s.ws()
		if !s.is(':') {
			return s.fail("expected :")
		}
		s.i++
		s.ws()
		if err := member(key); err != nil {
			return err
		}
		s.ws()
		switch {
		case s.is(','):
			s.i++
		case s.is('}'):
			s.i++
			return nil
		default:
			return s.fail("expected , or }")
		}
	}
}

// array reads an array at the cursor, calling elem with the cursor on each
// element; elem must consume it.
func (s *chunkScanner) array(elem func() error) error {
	if !s.is('[') {
		return s.fail("expected an array")
	}
	s.i++
	s.ws()
	if s.is(']') {
		s.i++
		return nil
	}
	for {
		s.ws()
		if err := elem(); err != nil {
			return err
		}
		s.ws()
		switch {
		case s.is(','):
			s.i++
		case s.is(']'):
			s.i++
			return nil
		default:
			return s.fail("expected , or ]")
		}
	}
}

// str reads a string and returns its raw bytes between the quotes (escapes
// left in place), validating escapes and rejecting control characters.
func (s *chunkScanner) str() ([]byte, error) {
	if !s.is('"') {
		return nil, s.fail("expected a string")
	}
	s.i++
	start := s.i
	for s.i < len(s.b) {
		if !stringSpecial[s.b[s.i]] {
			s.i++
			continue
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], nil
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return nil, s.fail("unterminated string")
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) || !isHex4(s.b[s.i+2:s.i+6]) {
					return nil, s.fail("bad \\u escape")
				}
				s.i += 6
			default:
				return nil, s.fail("bad escape")
			}
		case c < 0x20:
			return nil, s.fail("control character in string")
		default:
			s.i++
		}
	}
	return nil, s.fail("unterminated string")
}

// stringSpecial marks the bytes that end or escape a string, or are not
// allowed in one.
var stringSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// stringOrSkip reads a string, or skips any other value.
func (s *chunkScanner) stringOrSkip() (v []byte, isString bool, err error) {
	if s.is('"') {
		v, err = s.str()
		return v, err == nil, err
	}
	return nil, false, s.skip()
}

// number validates a JSON number and returns its bytes.
func (s *chunkScanner) number() ([]byte, error) {
	start := s.i
	if s.is('-') {
		s.i++
	}
	switch {
	case s.is('0'):
		s.i++
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		return nil, s.fail("bad number")
	}
	if s.is('.') {
		s.i++
		if s.digits() == 0 {
			return nil, s.fail("bad number")
		}
	}
	if s.is('e') || s.is('E') {
		s.i++
		if s.is('+') || s.is('-') {
			s.i++
		}
		if s.digits() == 0 {
			return nil, s.fail("bad number")
		}
	}
	return s.b[start:s.i], nil
}

func (s *chunkScanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

// skip consumes any value, validating it.
func (s *chunkScanner) skip() error {
	return s.skipDepth(0)
}

const maxChunkDepth = 64

func (s *chunkScanner) skipDepth(depth int) error {
	if depth > maxChunkDepth {
		return s.fail("nesting too deep")
	}
	if s.i >= len(s.b) {
		return s.fail("unexpected end")
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, err := s.str()
		return err
	case c == '{':
		return s.object(func([]byte) error { return s.skipDepth(depth + 1) })
	case c == '[':
		return s.array(func() error { return s.skipDepth(depth + 1) })
	case c == 't':
		if s.literal("true") {
			return nil
		}
	case c == 'f':
		if s.literal("false") {
			return nil
		}
	case c == 'n':
		if s.literal("null") {
			return nil
		}
	case c == '-' || c >= '0' && c <= '9':
		_, err := s.number()
		return err
	}
	return s.fail("unexpected character")
}

// choices reads the choices array.
func (s *chunkScanner) choices(c *Chunk) error {
	if s.literal("null") {
		return nil
	}
	return s.array(func() error {
		var d deltaFields
		var finish []byte
		var hasFinish bool
		if !s.is('{') {
			return s.skip()
		}
		err := s.object(func(key []byte) error {
			switch string(key) {
			case "delta":
				return s.delta(&d)
			case "finish_reason":
				v, isStr, err := s.stringOrSkip()
				finish, hasFinish = v, isStr
				return err
			}
			return s.skip()
		})
		if err != nil {
			return err
		}
		c.Output = c.Output || d.hasContent || d.reasoning || d.toolCalls
		c.Reasoning = c.Reasoning || d.reasoning
		c.ToolCalls = c.ToolCalls || d.toolCalls
		if len(d.content) > 0 {
			c.Content = d.content
		}
		if hasFinish {
			c.FinishReason = internFinish(finish)
		}
		return nil
	})
}

// deltaFields is what one choice's delta carries: whether it has content
// (a non-empty string or array), the raw string when it is a string, and
// whether reasoning text or tool calls came with it.
type deltaFields struct {
	content                          []byte
	hasContent, reasoning, toolCalls bool
}

// delta reads a choice's delta into d. Keys repeat as in encoding/json:
// the last one wins.
func (s *chunkScanner) delta(d *deltaFields) error {
	*d = deltaFields{}
	if !s.is('{') {
		return s.skip()
	}
	var reasoningContent, reasoning bool
	err := s.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "content":
			d.content = nil
			if s.is('"') {
				var v []byte
				v, err = s.str()
				if d.hasContent = len(v) > 0; d.hasContent {
					d.content = v
				}
				return err
			}
			d.hasContent, err = s.nonEmpty()
		case "reasoning_content":
			reasoningContent, err = s.nonEmpty()
		case "reasoning":
			reasoning, err = s.nonEmpty()
		case "tool_calls":
			d.toolCalls, err = s.nonEmpty()
		default:
			err = s.skip()
		}
		return err
	})
	d.reasoning = reasoningContent || reasoning
	return err
}

// nonEmpty consumes a value and reports whether it is a non-empty string or
// array (null, "", [] and other types carry nothing).
func (s *chunkScanner) nonEmpty() (bool, error) {
	switch {
	case s.is('"'):
		v, err := s.str()
		return len(v) > 0, err
	case s.is('['):
		start := s.i
		s.i++
		s.ws()
		empty := s.is(']')
		s.i = start
		return !empty, s.skip()
	}
	return false, s.skip()
}

// usage reads the usage object (or null).
func (s *chunkScanner) usage(c *Chunk) error {
	if s.literal("null") {
		return nil
	}
	c.Usage = true
	return s.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "prompt_tokens":
			c.PromptTokens, err = s.count()
		case "completion_tokens":
			c.CompletionTokens, err = s.count()
		case "prompt_tokens_details":
			c.CachedTokens = metrics.OptionalInt{}
			if s.literal("null") {
				return nil
			}
			err = s.object(func(key []byte) error {
				if string(key) != "cached_tokens" {
					return s.skip()
				}
				if s.literal("null") {
					c.CachedTokens = metrics.OptionalInt{}
					return nil
				}
				v, err := s.count()
				c.CachedTokens = metrics.Int(v)
				return err
			})
		default:
			err = s.skip()
		}
		return err
	})
}

// count reads a non-negative integer token count.
func (s *chunkScanner) count() (int, error) {
	if s.literal("null") {
		return 0, nil
	}
	num, err := s.number()
	if err != nil {
		return 0, err
	}
	v := 0
	for _, d := range num {
		if d < '0' || d > '9' {
			return 0, s.fail("token count is not a non-negative integer")
		}
		if v > (1<<53)/10 {
			return 0, s.fail("token count out of range")
		}
		v = v*10 + int(d-'0')
	}
	return v, nil
}

// errorValue reads the value of an "error" key: an object with a message, a
// string, or null (no error).
func (s *chunkScanner) errorValue(c *Chunk) error {
	switch {
	case s.literal("null"):
		return nil
	case s.is('"'):
		v, err := s.str()
		c.Error, c.ErrorMessage = true, unquote(v)
		return err
	case s.is('{'):
		c.Error = true
		var msg []byte
		err := s.object(func(key []byte) error {
			if string(key) == "message" {
				v, isStr, err := s.stringOrSkip()
				msg = nil
				if isStr {
					msg = v
				}
				return err
			}
			return s.skip()
		})
		c.ErrorMessage = unquote(msg)
		return err
	}
	start := s.i
	err := s.skip()
	c.Error, c.ErrorMessage = true, string(s.b[start:s.i])
	return err
}

// unquote turns a raw JSON string body into text (error path only).
func unquote(raw []byte) string {
	if raw == nil {
		return ""
	}
	var out string
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	if err := json.Unmarshal(q, &out); err != nil {
		return string(raw)
	}
	return out
}

func internFinish(v []byte) string {
	switch string(v) {
	case FinishLength:
		return FinishLength
	case FinishStop:
		return FinishStop
	case FinishToolCalls:
		return FinishToolCalls
	case FinishAbort:
		return FinishAbort
	}
	return unquote(v)
}
