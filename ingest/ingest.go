package ingest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/agentwatt/agentwatt/workload"
)

// Version is the version of the conversion rules. It is written into every
// workload header ("agentwatt ingest/<Version>") instead of the binary's
// version, so that the same inputs always give the same digest; bump it
// when a conversion rule changes.
const Version = "1"

// Formats lists the input formats, as named on the command line.
var Formats = []string{FormatWeka, FormatMooncake, FormatOpenAIChat}

// Input format names.
const (
	FormatWeka       = "weka"
	FormatMooncake   = "mooncake"
	FormatOpenAIChat = "openai-chat"
)

// ErrUnknownFormat means a format name is not one of Formats.
var ErrUnknownFormat = errors.New("unknown input format")

// Input is one file to convert.
type Input struct {
	Format string
	Path   string
	// Origin and Licence, when set, are recorded in the source instead of
	// what is detected (Licence: an SPDX id).
	Origin  string
	Licence string
}

// Options configure a conversion.
type Options struct {
	// Name is the workload's name (workload.ValidName).
	Name        string
	Description string
	// Seed goes into the header and every synthesised block.
	Seed     uint64
	Mooncake MooncakeOptions
	Limits   Limits
	// MaxContext, when > 0, cuts every trajectory before its first turn
	// whose input + output tokens exceed it (workload.CapContext) and is
	// recorded in the header.
	MaxContext int
	// SkipInvalid drops a weka trace that cannot be converted (counted
	// and listed in the report) instead of failing the whole ingest.
	SkipInvalid bool
	// Progress, when set, is told how far each pass over an input is.
	Progress func(Progress)
}

// Progress is how far an ingest is. Weka inputs are read twice: pass 1
// checks and counts, pass 2 writes.
type Progress struct {
	Input  string `json:"input"`
	Pass   int    `json:"pass"`
	Bytes  int64  `json:"bytes"` // raw bytes read of the input
	Total  int64  `json:"total"` // raw size of the input; 0 when unknown
	Traces int    `json:"traces"`
	Done   bool   `json:"done"`
}

// Limits bound what an input may hold.
type Limits struct {
	MaxFileBytes int64 // one input file, or one trace of an archive or directory
	MaxLineBytes int   // one JSONL line
	MaxNesting   int   // JSON nesting depth
	// MaxInputBytes bounds the decompressed bytes of one compressed input
	// (a decompression bomb stops there).
	MaxInputBytes int64
}

// DefaultLimits fit every real trace we know with a wide margin.
func DefaultLimits() Limits {
	return Limits{MaxFileBytes: 1 << 30, MaxLineBytes: 64 << 20, MaxNesting: 64, MaxInputBytes: 64 << 30}
}

// Report says what a conversion read and wrote. Turns always equals
// Records: every request becomes exactly one turn.
type Report struct {
	Format       string          `json:"format"`
	Name         string          `json:"name"`
	Records      int             `json:"records"`
	Trajectories int             `json:"trajectories"`
	Subagents    int             `json:"subagents"`
	Turns        int             `json:"turns"`
	Output       string          `json:"output"`
	Bytes        int64           `json:"bytes"`
	Digest       workload.Digest `json:"digest"`
	// EstimatedOutputTurns counts turns whose output length was estimated.
	EstimatedOutputTurns int `json:"estimated_output_turns"`
	// Sessions, Forks, SingleTurn and TurnsPerSession describe Mooncake
	// session reconstruction (summed over Mooncake inputs).
	Sessions        int              `json:"sessions,omitempty"`
	Forks           int              `json:"forks,omitempty"`
	SingleTurn      int              `json:"single_turn,omitempty"`
	TurnsPerSession *workload.Spread `json:"turns_per_session,omitempty"`
	// Traces is how many weka trace documents were read; Skipped how many
	// of them --skip-invalid dropped, SkippedReasons the first few reasons.
	Traces         int      `json:"traces,omitempty"`
	Skipped        int      `json:"skipped,omitempty"`
	SkippedReasons []string `json:"skipped_reasons,omitempty"`
	// MaxContext is the context cap; CutTurns how many turns it removed,
	// CutTrajectories how many top-level trajectories lost turns and
	// DroppedTrajectories how many lost all of them.
	MaxContext          int           `json:"max_context,omitempty"`
	CutTurns            int           `json:"cut_turns,omitempty"`
	CutTrajectories     int           `json:"cut_trajectories,omitempty"`
	DroppedTrajectories int           `json:"dropped_trajectories,omitempty"`
	Inputs              []InputReport `json:"inputs"`
}

// InputReport describes one converted input.
type InputReport struct {
	Format       string `json:"format"`
	File         string `json:"file"`
	SHA256       string `json:"sha256"`
	Licence      string `json:"licence"`
	Records      int    `json:"records"`
	Trajectories int    `json:"trajectories"`
	Turns        int    `json:"turns"`
	// Weka only: trace documents read and skipped.
	Traces  int `json:"traces,omitempty"`
	Skipped int `json:"skipped,omitempty"`
	// Mooncake only.
	Sessions   int `json:"sessions,omitempty"`
	Forks      int `json:"forks,omitempty"`
	SingleTurn int `json:"single_turn,omitempty"`
}

// converted is one input after conversion, before writing.
type converted struct {
	src          workload.Source
	trajectories []*workload.Trajectory
	records      int
	mooncake     *sessionReport
}

func convertOne(in Input, index int, opts Options) (*converted, error) {
	data, src, err := readSource(in, opts.Limits)
	if err != nil {
		return nil, err
	}
	var c *converted
	switch in.Format {
	case FormatMooncake:
		c, err = convertMooncake(data, in.Path, index, src, opts)
	case FormatOpenAIChat:
		c, err = convertOpenAIChat(data, in.Path, index, src, opts)
	default:
		return nil, fmt.Errorf("%w %q (want %s)", ErrUnknownFormat, in.Format, strings.Join(Formats, ", "))
	}
	if err != nil {
		return nil, err
	}
	c.src.Records = c.records
	if c.records == 0 {
		return nil, &workload.FormatError{File: in.Path, Msg: "no requests in this file"}
	}
	return c, nil
}

// ParseInput splits "FORMAT:PATH" into an Input; a plain PATH gets def.
func ParseInput(s, def string) Input {
	if f, p, ok := strings.Cut(s, ":"); ok && slices.Contains(Formats, f) {
		return Input{Format: f, Path: p}
	}
	return Input{Format: def, Path: s}
}

func spreadOf(v []int) workload.Spread {
	if len(v) == 0 {
		return workload.Spread{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	rank := func(q float64) int64 { // nearest rank
		r := int(math.Ceil(q*float64(len(s)))) - 1
		return int64(s[min(max(r, 0), len(s)-1)])
	}
	return workload.Spread{P50: rank(0.5), P90: rank(0.9), Max: int64(s[len(s)-1])}
}
