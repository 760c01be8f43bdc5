package ingest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/agentwatt/agentwatt/workload"
)

// maxSkippedReasons is how many skipped traces the report names.
const maxSkippedReasons = 20

// TraceError is a problem with one trace of a weka input: which trace (its
// id, when it could be read) and which of its requests.
type TraceError struct {
	Trace   string // the trace's id; "" when unreadable
	Request int    // index in the trace's requests; -1 when not tied to one
	Err     error  // a *workload.FormatError, or a problem with the member
}

func (e *TraceError) Error() string {
	var b strings.Builder
	b.WriteString("trace ")
	if e.Trace != "" {
		b.WriteString(strconv.Quote(e.Trace))
	} else {
		b.WriteString("(no id)")
	}
	if e.Request >= 0 {
		fmt.Fprintf(&b, " request %d", e.Request)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *TraceError) Unwrap() error { return e.Err }

var reRequest = regexp.MustCompile(`^requests\[(\d+)\]`)

func newTraceError(id string, err error) *TraceError {
	te := &TraceError{Trace: id, Request: -1, Err: err}
	var fe *workload.FormatError
	if errors.As(err, &fe) {
		if m := reRequest.FindStringSubmatch(fe.Path); m != nil {
			te.Request, _ = strconv.Atoi(m[1])
		}
	}
	return te
}

// sinkFunc receives the header and a function that produces the
// trajectories; it returns the digest of what it wrote.
type sinkFunc func(h workload.Header, each func(write func(*workload.Trajectory) error) error) (workload.Digest, error)

// Convert reads and converts inputs into an in-memory workload (not yet
// written). It is Run without the file.
func Convert(ctx context.Context, inputs []Input, opts Options) (*workload.Workload, *Report, error) {
	wl := &workload.Workload{}
	rep, err := run(ctx, inputs, opts, func(h workload.Header, each func(func(*workload.Trajectory) error) error) (workload.Digest, error) {
		wl.Header = h
		return "", each(func(t *workload.Trajectory) error {
			wl.Trajectories = append(wl.Trajectories, t)
			return nil
		})
	})
	if err != nil {
		return nil, nil, err
	}
	return wl, rep, nil
}

// Run converts inputs and writes the workload to out, streaming (through a
// temporary file and a rename: on any error nothing is left at out). A weka
// input is read twice, one trace at a time: pass 1 checks it and counts
// its records for the header, pass 2 converts and writes; memory is
// bounded by the largest trace, not the input.
func Run(ctx context.Context, inputs []Input, out string, opts Options) (*Report, error) {
	rep, err := run(ctx, inputs, opts, func(h workload.Header, each func(func(*workload.Trajectory) error) error) (workload.Digest, error) {
		return workload.WriteFile(out, h, each)
	})
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(out)
	if err != nil {
		return nil, err
	}
	rep.Output, rep.Bytes = out, fi.Size()
	return rep, nil
}

// plan is one input after pass 1.
type plan struct {
	in    Input
	index int
	src   workload.Source
	conv  *converted // mooncake, openai-chat: converted whole in pass 1
	total int64      // raw size, for progress
}

func run(ctx context.Context, inputs []Input, opts Options, sink sinkFunc) (*Report, error) {
	if len(inputs) == 0 {
		return nil, errors.New("ingest: no inputs")
	}
	if err := workload.ValidName(opts.Name); err != nil {
		return nil, err
	}
	if opts.Limits == (Limits{}) {
		opts.Limits = DefaultLimits()
	}
	if opts.Limits.MaxInputBytes <= 0 {
		opts.Limits.MaxInputBytes = DefaultLimits().MaxInputBytes
	}
	if opts.MaxContext < 0 {
		return nil, fmt.Errorf("max context %d: want a token count ≥ 0", opts.MaxContext)
	}
	opts.Mooncake = opts.Mooncake.withDefaults()
	hdr := workload.Header{
		Format: workload.FormatName, Version: workload.FormatVersion,
		Name: opts.Name, Description: opts.Description,
		CreatedBy: "agentwatt ingest/" + Version, Seed: opts.Seed, MaxContext: opts.MaxContext,
	}
	rep := &Report{Name: opts.Name, MaxContext: opts.MaxContext}
	plans := make([]*plan, 0, len(inputs))
	formats := map[string]bool{}
	for i, in := range inputs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := &plan{in: in, index: i}
		var err error
		switch in.Format {
		case FormatWeka:
			err = p.checkWeka(ctx, opts, rep)
		default:
			p.conv, err = convertOne(in, i, opts)
			if err == nil {
				p.src = p.conv.src
			}
		}
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(hdr.Sources, func(s workload.Source) bool { return s.ID == p.src.ID }) {
			return nil, fmt.Errorf("%s: the same content as an earlier input (%s)", in.Path, p.src.ID)
		}
		hdr.Sources = append(hdr.Sources, p.src)
		formats[in.Format] = true
		plans = append(plans, p)
	}
	var perSession []int
	digest, err := sink(hdr, func(write func(*workload.Trajectory) error) error {
		for _, p := range plans {
			ir := InputReport{Format: p.in.Format, File: p.in.Path, SHA256: p.src.SHA256, Licence: p.src.Licence}
			var err error
			if p.in.Format == FormatWeka {
				err = p.writeWeka(ctx, opts, rep, &ir, write)
			} else {
				err = p.writeConverted(opts, rep, &ir, write)
				if m := p.conv.mooncake; m != nil {
					perSession = append(perSession, m.turnsPerTrajectory...)
				}
				p.conv = nil
			}
			if err != nil {
				return err
			}
			rep.Records += ir.Records
			rep.Turns += ir.Turns
			rep.Trajectories += ir.Trajectories
			rep.Inputs = append(rep.Inputs, ir)
		}
		if rep.Trajectories == 0 {
			return errors.New("ingest: no trajectory left to write (every one was skipped or cut)")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep.Digest = digest
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
	return rep, nil
}

// writeConverted writes an input converted whole in pass 1.
func (p *plan) writeConverted(opts Options, rep *Report, ir *InputReport, write func(*workload.Trajectory) error) error {
	c := p.conv
	ir.Records = c.records
	if m := c.mooncake; m != nil {
		ir.Sessions, ir.Forks, ir.SingleTurn = m.sessions, m.forks, m.singleTurn
		rep.Sessions += m.sessions
		rep.Forks += m.forks
		rep.SingleTurn += m.singleTurn
	}
	turns := 0
	for _, t := range c.trajectories {
		turns += t.TurnCount()
		if err := emit(t, opts, rep, ir, write); err != nil {
			return err
		}
	}
	if turns != c.records {
		return fmt.Errorf("%s: internal error: %d records became %d turns", p.in.Path, c.records, turns)
	}
	return nil
}

// emit caps t to the context limit, counts it and writes it (unless the
// cap left nothing).
func emit(t *workload.Trajectory, opts Options, rep *Report, ir *InputReport, write func(*workload.Trajectory) error) error {
	if cut := workload.CapContext(t, opts.MaxContext); cut > 0 {
		rep.CutTurns += cut
		rep.CutTrajectories++
		if len(t.Turns) == 0 {
			rep.DroppedTrajectories++
			return nil
		}
	}
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
	ir.Trajectories++
	return write(t)
}

// checkWeka is pass 1 over a weka input: every trace is converted and
// dropped, to find the input's hash, block size and record count and
// which traces are invalid.
func (p *plan) checkWeka(ctx context.Context, opts Options, rep *Report) error {
	p.total = inputSize(p.in.Path)
	var traces, records, skipped, bs int
	var first error
	r, err := p.eachWekaTrace(ctx, opts, 1, func(c *converted, err error) error {
		traces++
		if err != nil {
			if !opts.SkipInvalid {
				return err
			}
			skipped++
			if first == nil {
				first = err
			}
			if len(rep.SkippedReasons) < maxSkippedReasons {
				rep.SkippedReasons = append(rep.SkippedReasons, err.Error())
			}
			return nil
		}
		if bs == 0 {
			bs = c.src.BlockSize
		}
		records += c.records
		return nil
	}, &bs)
	if err != nil {
		return err
	}
	if traces == 0 {
		return &workload.FormatError{File: p.in.Path, Msg: "no traces in this input"}
	}
	if records == 0 {
		return &workload.FormatError{File: p.in.Path, Msg: fmt.Sprintf("no valid trace among %d (%d skipped; the first: %v)", traces, skipped, first), Err: first}
	}
	p.src = newSource(p.in, r.SHA256(), r.bytes)
	if fi, err := os.Stat(p.in.Path); err == nil && fi.IsDir() {
		if file, spdx := detectLicence(p.in.Path); file != "" && p.in.Licence == "" {
			p.src.LicenceFile, p.src.Licence = file, spdx
		}
	}
	p.src.BlockSize, p.src.Records = bs, records
	p.src.Notes = wekaNotes
	rep.Traces += traces
	rep.Skipped += skipped
	return nil
}

// writeWeka is pass 2: the same traces, converted and written.
func (p *plan) writeWeka(ctx context.Context, opts Options, rep *Report, ir *InputReport, write func(*workload.Trajectory) error) error {
	bs := p.src.BlockSize
	r, err := p.eachWekaTrace(ctx, opts, 2, func(c *converted, err error) error {
		ir.Traces++
		if err != nil {
			if opts.SkipInvalid {
				ir.Skipped++
				return nil
			}
			return err
		}
		ir.Records += c.records
		return emit(c.trajectories[0], opts, rep, ir, write)
	}, &bs)
	if err != nil {
		return err
	}
	if r.SHA256() != p.src.SHA256 {
		return fmt.Errorf("%s: changed while it was read (sha256 %s, then %s)", p.in.Path, p.src.SHA256, r.SHA256())
	}
	return nil
}

// eachWekaTrace converts the traces of a weka input one at a time and
// calls fn with each, or with a *TraceError for one that cannot be
// converted (fn decides whether that ends the read). *bs is the input's
// block size once known: a trace with another is an error.
func (p *plan) eachWekaTrace(ctx context.Context, opts Options, pass int, fn func(*converted, error) error, bs *int) (*traceReader, error) {
	var raw int64
	r := newTraceReader(p.in.Path, opts.Limits, func(n int64) { raw = n })
	src := p.src
	if src.ID == "" {
		src.ID = "check"
	}
	ids := map[string]bool{}
	traces := 0
	report := func(done bool) {
		if opts.Progress != nil {
			opts.Progress(Progress{Input: p.in.Path, Pass: pass, Bytes: raw, Total: p.total, Traces: traces, Done: done})
		}
	}
	err := r.each(ctx, func(td traceDoc, entryErr error) error {
		traces++
		defer report(false)
		if entryErr != nil {
			return fn(nil, newTraceError("", entryErr))
		}
		c, id, err := convertWekaDoc(td, p.index, src, opts)
		switch {
		case err != nil:
			return fn(nil, newTraceError(id, err))
		case c.records == 0:
			return fn(nil, newTraceError(id, &workload.FormatError{File: td.file, Msg: "no requests"}))
		case *bs != 0 && c.src.BlockSize != *bs:
			return fn(nil, newTraceError(id, &workload.FormatError{File: td.file, Path: "block_size",
				Msg: fmt.Sprintf("%d differs from the input's block size %d (its first valid trace)", c.src.BlockSize, *bs)}))
		case ids[id]:
			return fn(nil, newTraceError(id, &workload.FormatError{File: td.file, Path: "id", Msg: "repeats an earlier trace's id"}))
		}
		ids[id] = true
		if turns := c.trajectories[0].TurnCount(); turns != c.records {
			return fmt.Errorf("%s: internal error: %d records became %d turns", td.file, c.records, turns)
		}
		return fn(c, nil)
	})
	report(true)
	return r, err
}

// inputSize is the raw size of a file, or of the trace files under a
// directory.
func inputSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	if !fi.IsDir() {
		return fi.Size()
	}
	var n int64
	filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && isTraceName(d.Name()) {
			if i, err := d.Info(); err == nil {
				n += i.Size()
			}
		}
		return nil
	})
	return n
}
