package workload

import (
	"fmt"
	"math"
	"slices"
)

// wireTrajectory and wireTurn are the JSON form of a trajectory line. A turn
// stores only what it adds to the previous turn's input (Keep units kept,
// then Add), so a long history is written once, not once per turn.
type wireTrajectory struct {
	ID                 string           `json:"id"`
	Source             int              `json:"source"`
	Scope              string           `json:"scope,omitempty"`
	SharedPrefixTokens int              `json:"shared_prefix_tokens"`
	ForkOf             *ForkRef         `json:"fork_of,omitempty"`
	Agent              string           `json:"agent,omitempty"`
	StartS             float64          `json:"start_s,omitempty"`
	AfterTurns         int              `json:"after_turns,omitempty"`
	DurationS          float64          `json:"duration_s,omitempty"`
	Turns              []wireTurn       `json:"turns"`
	Subagents          []wireTrajectory `json:"subagents,omitempty"`
}

type wireTurn struct {
	T               float64   `json:"t"`
	ThinkS          float64   `json:"think_s"`
	Keep            int       `json:"keep"`
	Add             []Segment `json:"add"`
	OutputTokens    int       `json:"output_tokens"`
	OutputEstimated bool      `json:"output_estimated,omitempty"`
	Output          *Segment  `json:"output,omitempty"`
	APIS            float64   `json:"api_s,omitempty"`
	Model           string    `json:"model,omitempty"`
}

// MaxSubagentDepth is how deeply sub-agents may nest (a sub-agent of a
// sub-agent is depth 2).
const MaxSubagentDepth = 8

const maxRoleLen = 32

// encodeTrajectory validates t against h and converts it to its wire form,
// computing each turn's Keep and Add from the turns' full inputs.
func encodeTrajectory(h *Header, t *Trajectory) (wireTrajectory, error) {
	if err := validateTrajectory(h, t, "", 0); err != nil {
		return wireTrajectory{}, err
	}
	return toWire(h, t), nil
}

func toWire(h *Header, t *Trajectory) wireTrajectory {
	bs := h.Sources[t.Source].BlockSize
	w := wireTrajectory{
		ID: t.ID, Source: t.Source, Scope: t.Scope, SharedPrefixTokens: t.SharedPrefixTokens,
		ForkOf: t.ForkOf, Agent: t.Agent, StartS: t.StartS, AfterTurns: t.AfterTurns, DurationS: t.DurationS,
		Turns: make([]wireTurn, len(t.Turns)),
	}
	var prev []Segment
	for i := range t.Turns {
		tu := &t.Turns[i]
		keep := commonUnits(prev, tu.Input, bs)
		w.Turns[i] = wireTurn{
			T: tu.T, ThinkS: tu.ThinkS, Keep: keep, Add: dropUnits(tu.Input, keep, bs),
			OutputTokens: tu.OutputTokens, OutputEstimated: tu.OutputEstimated, Output: tu.Output,
			APIS: tu.APIS, Model: tu.Model,
		}
		prev = tu.Input
	}
	for _, s := range t.Subagents {
		w.Subagents = append(w.Subagents, toWire(h, s))
	}
	return w
}

// decodeTrajectory resolves a wire trajectory into full turn inputs and
// validates it. path prefixes error paths ("" at top level).
func decodeTrajectory(h *Header, w *wireTrajectory, path string, depth int) (*Trajectory, error) {
	if depth > MaxSubagentDepth {
		return nil, errAt(path+"subagents", "sub-agents nested deeper than %d", MaxSubagentDepth)
	}
	if w.Source < 0 || w.Source >= len(h.Sources) {
		return nil, errAt(path+"source", "%d is not a source index (header has %d sources)", w.Source, len(h.Sources))
	}
	bs := h.Sources[w.Source].BlockSize
	t := &Trajectory{
		ID: w.ID, Source: w.Source, Scope: w.Scope, SharedPrefixTokens: w.SharedPrefixTokens,
		ForkOf: w.ForkOf, Agent: w.Agent, StartS: w.StartS, AfterTurns: w.AfterTurns, DurationS: w.DurationS,
		Turns: make([]Turn, len(w.Turns)),
	}
	var prev []Segment
	for i := range w.Turns {
		wt := &w.Turns[i]
		tp := fmt.Sprintf("%sturns[%d]", path, i)
		input, err := keepUnits(prev, wt.Keep, bs, len(wt.Add))
		if err != nil {
			return nil, errAt(tp+".keep", "%v", err)
		}
		input = append(input, wt.Add...)
		t.Turns[i] = Turn{
			T: wt.T, ThinkS: wt.ThinkS, Input: input, Keep: wt.Keep,
			OutputTokens: wt.OutputTokens, OutputEstimated: wt.OutputEstimated, Output: wt.Output,
			APIS: wt.APIS, Model: wt.Model,
		}
		prev = input
	}
	for i := range w.Subagents {
		s, err := decodeTrajectory(h, &w.Subagents[i], fmt.Sprintf("%ssubagents[%d].", path, i), depth+1)
		if err != nil {
			return nil, err
		}
		t.Subagents = append(t.Subagents, s)
	}
	if depth == 0 {
		if err := validateTrajectory(h, t, "", 0); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// keepUnits returns a new slice holding the first keep units of prev, with
// room for extra more segments. Segments are shared, not copied: a block run
// cut short is re-sliced with its capacity capped so that nothing can append
// into the shared array.
func keepUnits(prev []Segment, keep, blockSize, extra int) ([]Segment, error) {
	if keep < 0 {
		return nil, fmt.Errorf("%d is negative", keep)
	}
	out := make([]Segment, 0, len(prev)+extra)
	left := keep
	for i := range prev {
		if left == 0 {
			break
		}
		s := prev[i]
		u := s.Units()
		if u <= left {
			out = append(out, s)
			left -= u
			continue
		}
		// Cut inside a block run: only its last block may be partial, so
		// the kept blocks are all full.
		out = append(out, Segment{Role: s.Role, Blocks: s.Blocks[:left:left], Tokens: left * blockSize})
		left = 0
	}
	if left > 0 {
		return nil, fmt.Errorf("keeps %d units but the previous turn's input has %d", keep, keep-left)
	}
	return out, nil
}

// unitCursor walks the units of a segment list.
type unitCursor struct {
	segs  []Segment
	seg   int
	block int
}

func (c *unitCursor) done() bool { return c.seg >= len(c.segs) }

func (c *unitCursor) next() {
	s := &c.segs[c.seg]
	if s.IsBlocks() && c.block+1 < len(s.Blocks) {
		c.block++
		return
	}
	c.seg++
	c.block = 0
}

// unitEqual reports whether the current units of a and b are the same.
func unitEqual(a, b *unitCursor, blockSize int) bool {
	sa, sb := &a.segs[a.seg], &b.segs[b.seg]
	if sa.IsBlocks() != sb.IsBlocks() || sa.Role != sb.Role {
		return false
	}
	if sa.IsBlocks() {
		return sa.Blocks[a.block] == sb.Blocks[b.block] &&
			sa.BlockTokens(a.block, blockSize) == sb.BlockTokens(b.block, blockSize)
	}
	return segmentEqual(sa, sb)
}

func segmentEqual(a, b *Segment) bool {
	return a.Role == b.Role && a.Text == b.Text && a.Tokens == b.Tokens &&
		slices.Equal(a.ToolCalls, b.ToolCalls) && slices.Equal(a.ToolCallIDs, b.ToolCallIDs) &&
		slices.Equal(a.Blocks, b.Blocks)
}

// commonUnits is the number of leading units a and b share.
func commonUnits(a, b []Segment, blockSize int) int {
	ca, cb := unitCursor{segs: a}, unitCursor{segs: b}
	n := 0
	for !ca.done() && !cb.done() && unitEqual(&ca, &cb, blockSize) {
		n++
		ca.next()
		cb.next()
	}
	return n
}

// dropUnits returns the segments of in after its first n units; a block run
// cut by the boundary is re-sliced.
func dropUnits(in []Segment, n, blockSize int) []Segment {
	out := []Segment{}
	for i := range in {
		s := in[i]
		u := s.Units()
		switch {
		case n >= u:
			n -= u
		case n > 0:
			out = append(out, Segment{Role: s.Role, Blocks: s.Blocks[n:], Tokens: s.Tokens - n*blockSize})
			n = 0
		default:
			out = append(out, s)
		}
	}
	return out
}

// validateTrajectory checks t (and its sub-agents) against the rules in
// docs/workload-format.md. Keep is not checked: writers recompute it and
// readers check it while resolving inputs.
func validateTrajectory(h *Header, t *Trajectory, path string, depth int) error {
	if depth > MaxSubagentDepth {
		return errAt(path+"subagents", "sub-agents nested deeper than %d", MaxSubagentDepth)
	}
	if t.ID == "" {
		return errAt(path+"id", "empty")
	}
	if t.Source < 0 || t.Source >= len(h.Sources) {
		return errAt(path+"source", "%d is not a source index (header has %d sources)", t.Source, len(h.Sources))
	}
	bs := h.Sources[t.Source].BlockSize
	if len(t.Turns) == 0 {
		return errAt(path+"turns", "a trajectory needs at least one turn")
	}
	for i := range t.Turns {
		tu := &t.Turns[i]
		tp := fmt.Sprintf("%sturns[%d]", path, i)
		if err := checkSeconds(tp+".t", tu.T); err != nil {
			return err
		}
		if err := checkSeconds(tp+".think_s", tu.ThinkS); err != nil {
			return err
		}
		if err := checkSeconds(tp+".api_s", tu.APIS); err != nil {
			return err
		}
		if tu.OutputTokens < 0 {
			return errAt(tp+".output_tokens", "%d is negative", tu.OutputTokens)
		}
		if len(tu.Input) == 0 {
			return errAt(tp, "empty input")
		}
		for j := range tu.Input {
			if err := checkSegment(&tu.Input[j], bs, fmt.Sprintf("%s.input[%d]", tp, j)); err != nil {
				return err
			}
		}
		if tu.InputTokens() <= 0 {
			return errAt(tp, "input has no tokens")
		}
		if h.MaxContext > 0 && tu.InputTokens()+tu.OutputTokens > h.MaxContext {
			return errAt(tp, "%d input + %d output tokens exceed the header's max_context %d", tu.InputTokens(), tu.OutputTokens, h.MaxContext)
		}
		if tu.Output != nil {
			if tu.Output.IsBlocks() {
				return errAt(tp+".output", "an output is a message, not blocks")
			}
			if err := checkSegment(tu.Output, bs, tp+".output"); err != nil {
				return err
			}
		}
	}
	if err := checkSharedPrefix(t, path, bs); err != nil {
		return err
	}
	if t.ForkOf != nil && (t.ForkOf.Trajectory == "" || t.ForkOf.Turn < 0) {
		return errAt(path+"fork_of", "needs a trajectory id and a turn ≥ 0")
	}
	if err := checkSeconds(path+"start_s", t.StartS); err != nil {
		return err
	}
	if err := checkSeconds(path+"duration_s", t.DurationS); err != nil {
		return err
	}
	if depth == 0 && (t.StartS != 0 || t.AfterTurns != 0) {
		return errAt(path+"start_s", "only sub-agents have a start offset")
	}
	seen := make(map[string]bool, len(t.Subagents))
	for i, s := range t.Subagents {
		sp := fmt.Sprintf("%ssubagents[%d].", path, i)
		if s.Source != t.Source {
			return errAt(sp+"source", "a sub-agent belongs to its parent's source %d, not %d", t.Source, s.Source)
		}
		if s.AfterTurns < 0 || s.AfterTurns > len(t.Turns) {
			return errAt(sp+"after_turns", "%d is outside 0..%d (the parent's turns)", s.AfterTurns, len(t.Turns))
		}
		if seen[s.ID] {
			return errAt(sp+"id", "%q repeats a sibling's id", s.ID)
		}
		seen[s.ID] = true
		if err := validateTrajectory(h, s, sp, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func checkSeconds(path string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return errAt(path, "%v is not a time ≥ 0", v)
	}
	return nil
}

func checkSegment(s *Segment, blockSize int, path string) error {
	if len(s.Role) > maxRoleLen {
		return errAt(path+".role", "longer than %d bytes", maxRoleLen)
	}
	if s.IsBlocks() {
		if blockSize <= 0 {
			return errAt(path+".blocks", "the source has no block size, so it cannot have blocks")
		}
		if s.Text != "" || len(s.ToolCalls) > 0 || len(s.ToolCallIDs) > 0 {
			return errAt(path, "a block run has no text or tool calls")
		}
		n := len(s.Blocks)
		lo, hi := (n-1)*blockSize+1, n*blockSize
		if s.Tokens < lo || s.Tokens > hi {
			return errAt(path+".tokens", "%d blocks of %d tokens hold %d..%d tokens, not %d", n, blockSize, lo, hi, s.Tokens)
		}
		return nil
	}
	if s.Role == "" {
		return errAt(path+".role", "a message needs a role (or blocks)")
	}
	if s.Tokens < 0 {
		return errAt(path+".tokens", "%d is negative", s.Tokens)
	}
	for k, c := range s.ToolCalls {
		if c.Name == "" {
			return errAt(fmt.Sprintf("%s.tool_calls[%d].name", path, k), "empty")
		}
	}
	return nil
}

// checkSharedPrefix checks that SharedPrefixTokens ends on a unit boundary
// of the first turn's input.
func checkSharedPrefix(t *Trajectory, path string, blockSize int) error {
	sp := t.SharedPrefixTokens
	if sp < 0 {
		return errAt(path+"shared_prefix_tokens", "%d is negative", sp)
	}
	if sp == 0 {
		return nil
	}
	if _, ok := UnitsForTokens(t.Turns[0].Input, sp, blockSize); !ok {
		first := t.Turns[0].InputTokens()
		if sp > first {
			return errAt(path+"shared_prefix_tokens", "%d exceeds the first turn's %d input tokens", sp, first)
		}
		return errAt(path+"shared_prefix_tokens", "%d does not end on a segment or block boundary of the first turn", sp)
	}
	return nil
}

// UnitsForTokens returns how many leading units of in hold exactly tokens
// tokens, and false when no unit boundary falls there. blockSize is the
// source's block size.
func UnitsForTokens(in []Segment, tokens, blockSize int) (int, bool) {
	if tokens == 0 {
		return 0, true
	}
	units, acc := 0, 0
	for i := range in {
		s := &in[i]
		if !s.IsBlocks() {
			acc += s.Tokens
			units++
		} else {
			for b := range s.Blocks {
				acc += s.BlockTokens(b, blockSize)
				units++
				if acc >= tokens {
					break
				}
			}
		}
		if acc == tokens {
			return units, true
		}
		if acc > tokens {
			return 0, false
		}
	}
	return 0, false
}

// Validate checks a header as a reader and a writer do.
func (h *Header) Validate() error { return validateHeader(h) }

// ValidateTrajectory checks t against h as a writer does (errors name the
// JSON path of the problem).
func ValidateTrajectory(h *Header, t *Trajectory) error { return validateTrajectory(h, t, "", 0) }
