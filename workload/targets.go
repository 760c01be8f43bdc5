package workload

// Replay targets: how a turn becomes chat messages, how a session is salted,
// and how many prompt tokens the server should therefore report. The replay
// client builds requests by these rules and the verifier recomputes every
// request's target_prompt_tokens from the workload alone with
// TargetPromptTokens; both import this file, so they cannot drift apart.

// SaltTokens is the number of tokens a session salt adds to every prompt of
// the session: SaltTokens words of the word list (Words), each one token.
const SaltTokens = 8

// ChatTemplate is the chat-template overhead an engine adds to a prompt, in
// tokens: a fixed part per request (BOS, the generation prompt), a part per
// message (role markers) and a part per tool call. It depends on the engine
// and the model; for the simulated engine it is sim.TemplateTokensPerRequest,
// sim.TemplateTokensPerMessage and sim.TemplateTokensPerToolCall; for a real
// engine it is measured (one request per message count, usage.prompt_tokens
// minus the text's tokens) and recorded with the results.
type ChatTemplate struct {
	PerRequest  int `json:"per_request"`
	PerMessage  int `json:"per_message"`
	PerToolCall int `json:"per_tool_call"`
}

// DefaultRole is the role of a block run that records none.
const DefaultRole = "user"

// SegmentRole is the chat role s is sent with: its own, or DefaultRole for a
// block run without one.
func SegmentRole(s *Segment) string {
	if s.Role == "" {
		return DefaultRole
	}
	return s.Role
}

// ForEachMessage calls fn for each chat message a turn's input becomes, in
// order, with the message's role and the input segments [first, end) it is
// made of. The rule: a literal segment is one message; consecutive block
// runs with the same role (SegmentRole) form one message, their texts
// concatenated. So a history that grows by appending blocks stays one
// message, and its earlier tokens remain a prefix of the later prompt.
func ForEachMessage(input []Segment, fn func(role string, first, end int)) {
	for i := 0; i < len(input); {
		s := &input[i]
		role := SegmentRole(s)
		end := i + 1
		if s.IsBlocks() {
			for end < len(input) && input[end].IsBlocks() && SegmentRole(&input[end]) == role {
				end++
			}
		}
		fn(role, i, end)
		i = end
	}
}

// MessageCount returns how many chat messages and tool calls a turn's input
// is sent as (ForEachMessage's rule).
func MessageCount(input []Segment) (messages, toolCalls int) {
	ForEachMessage(input, func(string, int, int) { messages++ })
	for i := range input {
		toolCalls += len(input[i].ToolCalls)
	}
	return messages, toolCalls
}

// TargetPromptTokens is the prompt length a server should report for turn t
// replayed in a salted session:
//
//	tpl.PerRequest + messages × tpl.PerMessage + tool calls × tpl.PerToolCall
//	+ Σ segment tokens + SaltTokens
//
// with messages and tool calls counted by MessageCount. Segment tokens are
// the workload's counts: exact for block runs (one token per synthesised
// word), an estimate for literal text (EstimateTokens).
func TargetPromptTokens(t *Turn, tpl ChatTemplate) int {
	msgs, calls := MessageCount(t.Input)
	return tpl.PerRequest + msgs*tpl.PerMessage + calls*tpl.PerToolCall + t.InputTokens() + SaltTokens
}

// SaltPoint is where a session's salt goes in a turn's input: right after
// the first `shared` tokens (Trajectory.SharedPrefixTokens), so that the
// prefix the trajectory shares with others stays shareable while nothing
// after it is shared between sessions. The salt goes after unit `Unit` of
// segment `Seg` (a block index for a block run, 0 for a literal segment);
// Seg = -1 means before everything. When the input is shorter than the
// shared prefix (a context reset), the salt goes after its last unit; when
// `shared` falls inside a unit, after that unit.
type SaltPoint struct {
	Seg  int
	Unit int
}

// SaltPosition finds the SaltPoint of an input whose first `shared` tokens
// are shared with other trajectories.
func SaltPosition(input []Segment, shared, blockSize int) SaltPoint {
	if shared <= 0 || len(input) == 0 {
		return SaltPoint{Seg: -1}
	}
	acc := 0
	for i := range input {
		s := &input[i]
		if !s.IsBlocks() {
			acc += s.Tokens
			if acc >= shared {
				return SaltPoint{Seg: i}
			}
			continue
		}
		for b := range s.Blocks {
			acc += s.BlockTokens(b, blockSize)
			if acc >= shared {
				return SaltPoint{Seg: i, Unit: b}
			}
		}
	}
	last := len(input) - 1
	return SaltPoint{Seg: last, Unit: input[last].Units() - 1}
}

// AppendSaltText appends the salt of session: SaltTokens words of the word
// list, each preceded by one space, drawn with SplitMix64 from the state
// session ^ 0x73616c74 ("salt"). Distinct sessions get distinct salts with
// probability 1 − 2⁻⁸⁸ per pair.
func AppendSaltText(dst []byte, session uint64) []byte {
	state := session ^ 0x73616c74
	const perDraw = 64 / wordBits
	const mask = 1<<wordBits - 1
	for n := 0; n < SaltTokens; {
		z := splitmix64(&state)
		for k := 0; k < perDraw && n < SaltTokens; k++ {
			dst = append(dst, ' ')
			dst = append(dst, wordList[z&mask]...)
			z >>= wordBits
			n++
		}
	}
	return dst
}

// SaltText returns AppendSaltText's text.
func SaltText(session uint64) string { return string(AppendSaltText(nil, session)) }
