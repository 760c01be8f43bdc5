package workload

// FormatName is the value of Header.Format in every workload file.
const FormatName = "agentwatt-workload"

// FormatVersion is the version of the file format this package reads and
// writes. A reader refuses any other version.
const FormatVersion = 1

// Header is the first line of a workload file.
type Header struct {
	// Format is always FormatName; Version is FormatVersion.
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Name is the workload's registry name (see ValidName).
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// CreatedBy names the tool and version that wrote the file. There is no
	// creation time: the same inputs give the same bytes and so the same
	// digest.
	CreatedBy string `json:"created_by"`
	// Seed is mixed into every synthesised block (BlockText).
	Seed uint64 `json:"seed"`
	// Sources lists the inputs; Trajectory.Source indexes into it.
	Sources []Source `json:"sources"`
	// MaxContext, when > 0, is the context cap the workload was cut to
	// (CapContext): no turn's input plus output tokens exceed it. The
	// runner's context preflight passes an engine whose context is at
	// least this.
	MaxContext int `json:"max_context,omitempty"`
}

// Source is one input a workload was built from.
type Source struct {
	// ID is unique within the workload and is the "source" argument of
	// block synthesis: "<format>:<first 16 hex digits of the input's sha256>".
	// Two workloads built from the same input file therefore synthesise the
	// same text, and unrelated inputs never collide.
	ID     string `json:"id"`
	Format string `json:"format"`
	// File is the input's base name; SHA256 and Bytes describe its content.
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
	// Records is how many requests (turns) the input held.
	Records int `json:"records"`
	// BlockSize is the number of tokens in one hashed block; 0 for sources
	// with literal text only.
	BlockSize int `json:"block_size,omitempty"`
	// Licence is an SPDX identifier ("MIT", "Apache-2.0") or "unknown";
	// LicenceFile names the licence text found beside the input, if any.
	Licence     string `json:"licence"`
	LicenceFile string `json:"licence_file,omitempty"`
	// Origin says where the input came from (repository, path, commit).
	Origin string `json:"origin,omitempty"`
	// Notes records how the input was converted (rules, constants used).
	Notes string `json:"notes,omitempty"`
}

// Trajectory is one agent session: turns in order, and the sub-agents it
// spawned.
type Trajectory struct {
	// ID is unique among the workload's top-level trajectories; a
	// sub-agent's ID is unique among its parent's sub-agents.
	ID string
	// Source indexes Header.Sources. Scope is the hash-id scope: block ids
	// are only comparable between trajectories of the same source and scope.
	Source int
	Scope  string
	// SharedPrefixTokens is how many leading tokens of this trajectory's
	// first input it shares with other trajectories of its source (a system
	// prompt, tool definitions). During replay each agent salts its session
	// right after this many tokens. It always ends on a segment or block
	// boundary of the first turn's input.
	SharedPrefixTokens int
	// ForkOf is set when this trajectory branched off another one (a
	// reconstructed Mooncake session continued twice from the same request).
	ForkOf *ForkRef
	// Agent labels a sub-agent ("Explore", "general-purpose"), if recorded.
	Agent string
	// StartS (sub-agents only) is the recorded start, in seconds from the
	// parent's start; AfterTurns is how many of the parent's turns had been
	// sent by then.
	StartS     float64
	AfterTurns int
	// DurationS (sub-agents only) is the recorded run time, if known.
	DurationS float64

	Turns     []Turn
	Subagents []*Trajectory
}

// ForkRef names the trajectory and turn a fork branched from.
type ForkRef struct {
	Trajectory string `json:"trajectory"`
	Turn       int    `json:"turn"`
}

// Turn is one request of a trajectory and its recorded answer.
type Turn struct {
	// T is the recorded send time in seconds from the trajectory's start.
	T float64
	// ThinkS is the recorded time in seconds between the previous answer
	// and this request (tool execution, user time); 0 for a first turn.
	ThinkS float64
	// Input is the whole prompt. Segments shared with the previous turn are
	// the same values (same backing arrays and strings), never copies; treat
	// them as immutable.
	Input []Segment
	// Keep is how many leading input units (a literal segment is one unit,
	// each block of a block run is one unit) this turn shares with the
	// previous turn's input. Readers fill it; writers compute it from Input.
	Keep int
	// OutputTokens is the recorded answer length; OutputEstimated says it
	// was counted by EstimateTokens because the source had no usage figure.
	OutputTokens    int
	OutputEstimated bool
	// Output is the recorded answer, when the source has its text.
	Output *Segment
	// APIS is the recorded response time in seconds, if known.
	APIS float64
	// Model is the model that answered, if recorded.
	Model string
}

// InputTokens is the number of tokens in the turn's whole prompt.
func (t *Turn) InputTokens() int {
	n := 0
	for i := range t.Input {
		n += t.Input[i].Tokens
	}
	return n
}

// Segment is part of a turn's input: either a literal chat message (Role is
// set, Blocks is empty) or a run of hashed blocks (Blocks is set).
//
// In a block run every block holds the source's BlockSize tokens except the
// last, which holds Tokens - (len(Blocks)-1)*BlockSize (at least 1). For a
// literal message Tokens is the EstimateTokens count of its text and tool
// calls.
type Segment struct {
	Role        string     `json:"role,omitempty"`
	Text        string     `json:"text,omitempty"`
	ToolCalls   []ToolCall `json:"tool_calls,omitempty"`
	ToolCallIDs []string   `json:"tool_call_ids,omitempty"`
	Blocks      []int64    `json:"blocks,omitempty"`
	Tokens      int        `json:"tokens"`
}

// IsBlocks reports whether s is a block run.
func (s *Segment) IsBlocks() bool { return len(s.Blocks) > 0 }

// Units is how many units s counts for in Turn.Keep.
func (s *Segment) Units() int {
	if s.IsBlocks() {
		return len(s.Blocks)
	}
	return 1
}

// BlockTokens returns the token count of block i of a block run.
func (s *Segment) BlockTokens(i, blockSize int) int {
	if i < len(s.Blocks)-1 {
		return blockSize
	}
	return s.Tokens - (len(s.Blocks)-1)*blockSize
}

// ToolCall is a function call an assistant message made.
type ToolCall struct {
	ID        string `json:"id,omitempty"`
	Name      string `json:"name"`
	Arguments string `json:"arguments,omitempty"`
}

// Walk calls fn for t and each of its sub-agents, depth first, parents first.
func (t *Trajectory) Walk(fn func(t *Trajectory, depth int)) { t.walk(fn, 0) }

func (t *Trajectory) walk(fn func(*Trajectory, int), depth int) {
	fn(t, depth)
	for _, s := range t.Subagents {
		s.walk(fn, depth+1)
	}
}
