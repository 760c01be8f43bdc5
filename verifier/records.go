package verifier

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/workload"
)

// slim is what the recomputation keeps of a request record: 48 bytes
// instead of the record's few hundred, so a 5M-request run fits in a few
// hundred MB.
type slim struct {
	tSend, tFirst, tLast int64
	agent                int32
	completion           int32
	prompt               int32
	cached               int32
	flags                uint8
}

const (
	flagSubagent uint8 = 1 << iota
	flagCachedKnown
	flagError
	flagTruncated
)

func slimOf(r *metrics.Request) slim {
	s := slim{tSend: r.TSendNs, tFirst: r.TFirstNs, tLast: r.TLastNs, agent: int32(r.Agent),
		completion: int32(r.CompletionTokens), prompt: int32(r.PromptTokens), cached: int32(r.CachedTokens.Value)}
	if r.Subagent != "" {
		s.flags |= flagSubagent
	}
	if r.CachedTokens.Known {
		s.flags |= flagCachedKnown
	}
	switch r.Status {
	case metrics.StatusError:
		s.flags |= flagError
	case metrics.StatusTruncated:
		s.flags |= flagTruncated
	}
	return s
}

// request rebuilds the fields of a record that metrics.EvaluateProbe reads.
func (s *slim) request() metrics.Request {
	r := metrics.Request{TSendNs: s.tSend, TFirstNs: s.tFirst, TLastNs: s.tLast, Agent: int(s.agent),
		CompletionTokens: int(s.completion), PromptTokens: int(s.prompt), Status: metrics.StatusOK}
	if s.flags&flagSubagent != 0 {
		r.Subagent = "sub"
	}
	if s.flags&flagCachedKnown != 0 {
		r.CachedTokens = metrics.Int(int(s.cached))
	}
	switch {
	case s.flags&flagError != 0:
		r.Status = metrics.StatusError
	case s.flags&flagTruncated != 0:
		r.Status = metrics.StatusTruncated
	}
	return r
}

func (s *slim) end() int64 { return max(s.tLast, s.tSend) }

// targets recomputes each turn's targets from the workload.
type targets struct {
	wl    *workload.Workload
	tpl   workload.ChatTemplate
	roots map[string]*workload.Trajectory
	subs  map[string]*workload.Trajectory // root id + "\x00" + sub path
	// prompts caches TargetPromptTokens by turn.
	prompts map[*workload.Turn]int
}

func newTargets(wl *workload.Workload, tpl workload.ChatTemplate) *targets {
	t := &targets{wl: wl, tpl: tpl, roots: map[string]*workload.Trajectory{}, subs: map[string]*workload.Trajectory{}, prompts: map[*workload.Turn]int{}}
	for _, tr := range wl.Trajectories {
		t.roots[tr.ID] = tr
	}
	return t
}

// turn finds the turn a record replayed: trajectory root id, sub-agent path
// ("a/b", empty for the root) and turn index.
func (t *targets) turn(root, path string, k int) (*workload.Turn, error) {
	tr := t.roots[root]
	if tr == nil {
		return nil, fmt.Errorf("trajectory %q is not in the workload", root)
	}
	if path != "" {
		key := root + "\x00" + path
		sub, ok := t.subs[key]
		if !ok {
			cur := tr
			for _, id := range strings.Split(path, "/") {
				var next *workload.Trajectory
				for _, s := range cur.Subagents {
					if s.ID == id {
						next = s
						break
					}
				}
				if next == nil {
					cur = nil
					break
				}
				cur = next
			}
			t.subs[key] = cur
			sub = cur
		}
		if sub == nil {
			return nil, fmt.Errorf("sub-agent %q of trajectory %q is not in the workload", path, root)
		}
		tr = sub
	}
	if k < 0 || k >= len(tr.Turns) {
		return nil, fmt.Errorf("turn %d of trajectory %q (sub-agent %q): it has %d turns", k, root, path, len(tr.Turns))
	}
	return &tr.Turns[k], nil
}

// prompt is the turn's target prompt length, computed once per turn.
func (t *targets) prompt(turn *workload.Turn) int {
	if n, ok := t.prompts[turn]; ok {
		return n
	}
	n := workload.TargetPromptTokens(turn, t.tpl)
	t.prompts[turn] = n
	return n
}

// lineRef locates a record in a reason; it is formatted only when used.
type lineRef int

func (l lineRef) String() string { return fmt.Sprintf("%s:%d", bundle.RequestsFile, int(l)) }

// recordStats is what one pass over requests.jsonl.zst yields.
type recordStats struct {
	records   []slim
	total     int
	truncated int
	errors    int
	early     int // status ok below the forced length: impossible, flagged
	noUsage   int // prompt tokens not reported (client token count)
	chunked   int // records with chunk timings checked

	recordFails capped // decoding, clock order, chunk timings
	targetFails capped // prompt tokens, recorded targets
	forcedFails capped // completion tokens vs the forced length
}

// scanRecords streams the records once: per-record checks against the
// workload's targets, and the slim copy the probes are evaluated on.
func scanRecords(r io.Reader, tg *targets, vr spec.VerifyRules, lim bundle.ZstdLimits, maxRecords int) (*recordStats, error) {
	if lim.MaxDecompressed <= 0 {
		lim.MaxDecompressed = bundle.DefaultZstdLimits.MaxDecompressed
	}
	if maxRecords <= 0 {
		maxRecords = DefaultMaxRecords
	}
	opt := metrics.RecordReaderOptions{MaxLineBytes: lim.MaxLine, MaxTotalBytes: lim.MaxDecompressed}
	if lim.MaxWindow > 0 {
		opt.MaxWindowMB = int(max(1, lim.MaxWindow>>20))
	}
	rr, err := metrics.NewRecordReaderWithOptions(r, opt)
	if err != nil {
		return nil, err
	}
	defer rr.Close()
	st := &recordStats{}
	var rec metrics.Request
	for {
		err := rr.Next(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if errors.Is(err, bundle.ErrDigestMismatch) {
				return nil, err // changed since the integrity check: not a judgement
			}
			// A record that does not decode rejects the bundle; the stream's
			// position after it is not trusted, so reading stops.
			st.recordFails.addf("%s: %v", bundle.RequestsFile, err)
			break
		}
		if st.total >= maxRecords {
			st.recordFails.addf("%s: more than %d records", bundle.RequestsFile, maxRecords)
			break
		}
		st.total++
		line := rr.Line()
		st.checkRecord(&rec, line, tg, vr)
		st.records = append(st.records, slimOf(&rec))
	}
	bySend := func(a, b slim) int { return cmp.Compare(a.tSend, b.tSend) }
	if !slices.IsSortedFunc(st.records, bySend) {
		slices.SortFunc(st.records, bySend)
	}
	return st, nil
}

func (st *recordStats) checkRecord(r *metrics.Request, line int, tg *targets, vr spec.VerifyRules) {
	at := lineRef(line)
	switch r.Status {
	case metrics.StatusOK, metrics.StatusTruncated, metrics.StatusError:
	default:
		st.recordFails.addf("%s: status %q", at, r.Status)
	}
	if r.TSendNs < 0 {
		st.recordFails.addf("%s: t_send_ns %d negative", at, r.TSendNs)
	}
	if r.TFirstNs > 0 {
		if r.TFirstNs < r.TSendNs {
			st.recordFails.addf("%s: first token at %d before the request was sent at %d", at, r.TFirstNs, r.TSendNs)
		}
		if r.TLastNs < r.TFirstNs {
			st.recordFails.addf("%s: last token at %d before the first at %d", at, r.TLastNs, r.TFirstNs)
		}
	}
	if n := len(r.ChunkOffsetsNs); n > 0 {
		st.chunked++
		switch {
		case n != r.Chunks:
			st.recordFails.addf("%s: %d chunk offsets for %d chunks", at, n, r.Chunks)
		case r.ChunkOffsetsNs[0] != r.TFirstNs-r.TSendNs:
			st.recordFails.addf("%s: first chunk at +%d ns, t_first_ns − t_send_ns is %d", at, r.ChunkOffsetsNs[0], r.TFirstNs-r.TSendNs)
		case r.ChunkOffsetsNs[n-1] != r.TLastNs-r.TSendNs:
			st.recordFails.addf("%s: last chunk at +%d ns, t_last_ns − t_send_ns is %d", at, r.ChunkOffsetsNs[n-1], r.TLastNs-r.TSendNs)
		case !slices.IsSorted(r.ChunkOffsetsNs):
			st.recordFails.addf("%s: chunk offsets out of order", at)
		}
	}
	switch r.Status {
	case metrics.StatusError:
		st.errors++
	case metrics.StatusTruncated:
		st.truncated++
	}
	turn, err := tg.turn(r.Trajectory, r.Subagent, r.Turn)
	if err != nil {
		st.targetFails.addf("%s: %v", at, err)
		return
	}
	wantPrompt := tg.prompt(turn)
	wantOut := max(1, turn.OutputTokens)
	if r.TargetPromptTokens != wantPrompt {
		st.targetFails.addf("%s: target_prompt_tokens %d, the workload gives %d", at, r.TargetPromptTokens, wantPrompt)
	}
	if r.TargetCompletionTokens != wantOut {
		st.forcedFails.addf("%s: target_completion_tokens %d, the workload gives %d", at, r.TargetCompletionTokens, wantOut)
	}
	if r.Status == metrics.StatusError {
		return
	}
	if r.TokenCountSource == metrics.TokenSourceClient || r.PromptTokens == 0 {
		st.noUsage++
	} else {
		tol := max(vr.PromptTokens.Share*float64(wantPrompt), float64(vr.PromptTokens.Tokens))
		if d := float64(r.PromptTokens - wantPrompt); d > tol || -d > tol {
			st.targetFails.addf("%s: prompt_tokens %d, target %d (tolerance ±%.0f)", at, r.PromptTokens, wantPrompt, tol)
		}
	}
	switch {
	case r.CompletionTokens > wantOut:
		st.forcedFails.addf("%s: completion_tokens %d above the forced length %d", at, r.CompletionTokens, wantOut)
	case r.Status == metrics.StatusOK && r.CompletionTokens < wantOut && r.TokenCountSource != metrics.TokenSourceClient:
		st.early++
		st.forcedFails.addf("%s: status ok with completion_tokens %d below the forced length %d", at, r.CompletionTokens, wantOut)
	}
}
