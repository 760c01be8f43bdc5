package ingest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
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
}

// Limits bound what an input may hold.
type Limits struct {
	MaxFileBytes int64 // one input file
	MaxLineBytes int   // one JSONL line
	MaxNesting   int   // JSON nesting depth
}

// DefaultLimits fit every real trace we know with a wide margin.
func DefaultLimits() Limits {
	return Limits{MaxFileBytes: 1 << 30, MaxLineBytes: 64 << 20, MaxNesting: 64}
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
	Inputs          []InputReport    `json:"inputs"`
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

// Convert reads and converts inputs into an in-memory workload (not yet
// written). It is Run without the file.
func Convert(ctx context.Context, inputs []Input, opts Options) (*workload.Workload, *Report, error) {
	if len(inputs) == 0 {
		return nil, nil, errors.New("ingest: no inputs")
	}
	if err := workload.ValidName(opts.Name); err != nil {
		return nil, nil, err
	}
	if opts.Limits == (Limits{}) {
		opts.Limits = DefaultLimits()
	}
	opts.Mooncake = opts.Mooncake.withDefaults()
	hdr := workload.Header{
		Format: workload.FormatName, Version: workload.FormatVersion,
		Name: opts.Name, Description: opts.Description,
		CreatedBy: "agentwatt ingest/" + Version, Seed: opts.Seed,
	}
	rep := &Report{Name: opts.Name}
	var all []*workload.Trajectory
	var perSession []int
	formats := map[string]bool{}
	for i, in := range inputs {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		c, err := convertOne(in, i, opts)
		if err != nil {
			return nil, nil, err
		}
		if slices.ContainsFunc(hdr.Sources, func(s workload.Source) bool { return s.ID == c.src.ID }) {
			return nil, nil, fmt.Errorf("%s: the same content as an earlier input (%s)", in.Path, c.src.ID)
		}
		hdr.Sources = append(hdr.Sources, c.src)
		formats[in.Format] = true
		ir := InputReport{Format: in.Format, File: in.Path, SHA256: c.src.SHA256, Licence: c.src.Licence,
			Records: c.records, Trajectories: len(c.trajectories)}
		for _, t := range c.trajectories {
			t.Walk(func(tr *workload.Trajectory, depth int) {
				ir.Turns += len(tr.Turns)
				if depth > 0 {
					rep.Subagents++
				}
				for k := range tr.Turns {
					if tr.Turns[k].OutputEstimated {
						rep.EstimatedOutputTurns++
					}
				}
			})
		}
		if ir.Turns != c.records {
			return nil, nil, fmt.Errorf("%s: internal error: %d records became %d turns", in.Path, c.records, ir.Turns)
		}
		if m := c.mooncake; m != nil {
			ir.Sessions, ir.Forks, ir.SingleTurn = m.sessions, m.forks, m.singleTurn
			rep.Sessions += m.sessions
			rep.Forks += m.forks
			rep.SingleTurn += m.singleTurn
			perSession = append(perSession, m.turnsPerTrajectory...)
		}
		rep.Records += c.records
		rep.Turns += ir.Turns
		rep.Trajectories += len(c.trajectories)
		rep.Inputs = append(rep.Inputs, ir)
		all = append(all, c.trajectories...)
	}
	if len(perSession) > 0 {
		s := spreadOf(perSession)
		rep.TurnsPerSession = &s
	}
	keys := make([]string, 0, len(formats))
	for f := range formats {
		keys = append(keys, f)
	}
	slices.Sort(keys)
	rep.Format = strings.Join(keys, "+")
	return &workload.Workload{Header: hdr, Trajectories: all}, rep, nil
}

// Run converts inputs and writes the workload to out (through a temporary
// file and a rename: on any error nothing is left at out).
func Run(ctx context.Context, inputs []Input, out string, opts Options) (*Report, error) {
	w, rep, err := Convert(ctx, inputs, opts)
	if err != nil {
		return nil, err
	}
	d, err := w.WriteFile(out)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", out, err)
	}
	fi, err := os.Stat(out)
	if err != nil {
		return nil, err
	}
	rep.Output, rep.Digest, rep.Bytes = out, d, fi.Size()
	return rep, nil
}

func convertOne(in Input, index int, opts Options) (*converted, error) {
	data, src, err := readSource(in, opts.Limits)
	if err != nil {
		return nil, err
	}
	var c *converted
	switch in.Format {
	case FormatWeka:
		c, err = convertWeka(data, in.Path, index, src, opts)
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
