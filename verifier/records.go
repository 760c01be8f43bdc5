package verifier

import (
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

// targets recomputes each turn's targets from the workload.
type targets struct {
	tpl   workload.ChatTemplate
	roots map[string]*trajTargets
	subs  map[subKey]*trajTargets // nil: not in the workload
	// The trajectory found last: a run of records often replays one.
	lastRoot, lastPath string
	last               *trajTargets
}

// subKey names a sub-agent trajectory: its root's id and its path.
type subKey struct{ root, path string }

// trajTargets is one trajectory (root or sub-agent) with its turns'
// targets: the forced output length, and the target prompt length,
// computed once per turn.
type trajTargets struct {
	tr      *workload.Trajectory
	prompts []int // by turn; -1 until computed
	outputs []int // by turn: the forced output length
}

func newTargets(wl *workload.Workload, tpl workload.ChatTemplate) *targets {
	t := &targets{tpl: tpl, roots: make(map[string]*trajTargets, len(wl.Trajectories)), subs: map[subKey]*trajTargets{}}
	for _, tr := range wl.Trajectories {
		t.roots[tr.ID] = newTrajTargets(tr)
	}
	return t
}

func newTrajTargets(tr *workload.Trajectory) *trajTargets {
	n := len(tr.Turns)
	tt := &trajTargets{tr: tr, prompts: make([]int, n), outputs: make([]int, n)}
	for i := range tt.prompts {
		tt.prompts[i] = -1
		tt.outputs[i] = max(1, tr.Turns[i].OutputTokens)
	}
	return tt
}

// trajectory finds the trajectory a record replayed: root id and sub-agent
// path ("a/b", empty for the root).
func (t *targets) trajectory(root, path string) (*trajTargets, error) {
	if t.last != nil && root == t.lastRoot && path == t.lastPath {
		return t.last, nil
	}
	tt := t.roots[root]
	if tt == nil {
		return nil, fmt.Errorf("trajectory %q is not in the workload", root)
	}
	if path != "" {
		key := subKey{root, path}
		sub, ok := t.subs[key]
		if !ok {
			cur := tt.tr
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
			if cur != nil {
				sub = newTrajTargets(cur)
			}
			t.subs[key] = sub
		}
		if sub == nil {
			return nil, fmt.Errorf("sub-agent %q of trajectory %q is not in the workload", path, root)
		}
		tt = sub
	}
	t.lastRoot, t.lastPath, t.last = root, path, tt
	return tt, nil
}

// targetsOf returns the targets of the turn a record replayed: its prompt
// length (salt and chat-template overhead included) and its forced output
// length.
func (t *targets) targetsOf(root, path string, k int) (prompt, output int, err error) {
	tt, err := t.trajectory(root, path)
	if err != nil {
		return 0, 0, err
	}
	if k < 0 || k >= len(tt.prompts) {
		return 0, 0, fmt.Errorf("turn %d of trajectory %q (sub-agent %q): it has %d turns", k, root, path, len(tt.prompts))
	}
	if tt.prompts[k] < 0 {
		tt.prompts[k] = workload.TargetPromptTokens(&tt.tr.Turns[k], t.tpl)
	}
	return tt.prompts[k], tt.outputs[k], nil
}

// lineRef locates a record in a reason; it is formatted only when used.
type lineRef int

func (l lineRef) String() string { return fmt.Sprintf("%s:%d", bundle.RequestsFile, int(l)) }

// recordStats is what one pass over requests.jsonl.zst yields besides the
// probes' accumulators: no record is kept.
type recordStats struct {
	total     int
	truncated int
	errors    int
	early     int // status ok below the forced length: impossible, flagged
	noUsage   int // prompt tokens not reported (client token count)
	chunked   int // records with chunk timings checked

	// Window requests (sent inside a probe's measurement window) and, of
	// those, the errored and the truncated: the truncated share is judged
	// among the answered ones.
	window, windowErrors, windowTruncated int

	// Cached tokens, over the records that reported them.
	cachedReported       int
	cached, cachedPrompt int64

	recordFails capped // decoding, clock order, chunk timings, duplicates
	targetFails capped // prompt tokens, recorded targets
	forcedFails capped // completion tokens vs the forced length

	// streams is the last request of each agent's stream (the root agent,
	// or one sub-agent path of it): its turns are sent one after another,
	// so each request is sent no earlier than the previous one ended.
	streams        map[streamKey]streamLast
	tooManyStreams bool
}

// maxStreams bounds the sequence check's memory (about 100 bytes a
// stream): far more agents and sub-agents than any probe runs.
const maxStreams = 2_000_000

// streamKey names one sequential stream of requests: an agent's own, or
// one of its sub-agents'. Agent ids are not reused within a run.
type streamKey struct {
	agent int
	sub   string
}

// streamLast is what the sequence check keeps of a stream's last request.
type streamLast struct {
	sendNs, endNs int64
	turn          int
	line          int
}

// streamName names r's stream in a reason; only a failing record pays for it.
func streamName(r *metrics.Request) string {
	if r.Subagent != "" {
		return fmt.Sprintf("agent %d (sub-agent %s)", r.Agent, r.Subagent)
	}
	return fmt.Sprintf("agent %d", r.Agent)
}

// checkSequence rejects a record that a sequential agent cannot have
// produced: a copy of its previous request (same turn and send time), or
// one sent before its previous request ended. Records of one stream come in
// the order they ended, which for a sequential stream is the order they
// were sent. Memory: one entry per stream.
func (st *recordStats) checkSequence(r *metrics.Request, line int) {
	if st.streams == nil {
		st.streams = map[streamKey]streamLast{}
	}
	k := streamKey{agent: r.Agent, sub: r.Subagent}
	prev, seen := st.streams[k]
	if !seen && len(st.streams) >= maxStreams {
		if !st.tooManyStreams {
			st.tooManyStreams = true
			st.recordFails.addf("%s: more than %d agent streams (agents and their sub-agents): not a run the rules allow", lineRef(line), maxStreams)
		}
		return
	}
	cur := streamLast{sendNs: r.TSendNs, endNs: r.EndNs(), turn: r.Turn, line: line}
	if seen {
		switch {
		case r.TSendNs == prev.sendNs && r.Turn == prev.turn:
			st.recordFails.addf("%s: duplicate of %s: %s turn %d sent at %d twice", lineRef(line), lineRef(prev.line), streamName(r), r.Turn, r.TSendNs)
		case r.TSendNs < prev.endNs:
			st.recordFails.addf("%s: %s sent turn %d at %d, before its previous request (%s) ended at %d: an agent sends its turns one after another",
				lineRef(line), streamName(r), r.Turn, r.TSendNs, lineRef(prev.line), prev.endNs)
		}
		if prev.endNs > cur.endNs {
			cur.endNs = prev.endNs // an overlap reported once is not the next record's fault
		}
	}
	st.streams[k] = cur
}

// scanRecords streams the records once: per-record checks against the
// workload's targets, and each record handed to the probes it belongs to
// (none when probes is nil).
func scanRecords(r io.Reader, tg *targets, vr spec.VerifyRules, lim bundle.ZstdLimits, maxRecords int, probes *probeSet) (*recordStats, error) {
	if lim.MaxDecompressed <= 0 {
		lim.MaxDecompressed = bundle.DefaultZstdLimits.MaxDecompressed
	}
	if maxRecords <= 0 {
		maxRecords = DefaultMaxRecords
	}
	// The file is read through its manifest digest (bundle's checked
	// reader): the zstd checksum would check the same bytes again. Nothing
	// here reads a record's session or error text.
	opt := metrics.RecordReaderOptions{MaxLineBytes: lim.MaxLine, MaxTotalBytes: lim.MaxDecompressed, SkipChecksum: true, DiscardText: true}
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
		st.checkRecord(&rec, rr.Line(), tg, vr)
		st.checkSequence(&rec, rr.Line())
		if rec.CachedTokens.Known {
			st.cachedReported++
			st.cached += int64(rec.CachedTokens.Value)
			st.cachedPrompt += int64(rec.PromptTokens)
		}
		if probes != nil && probes.add(&rec) {
			st.window++
			switch rec.Status {
			case metrics.StatusError:
				st.windowErrors++
			case metrics.StatusTruncated:
				st.windowTruncated++
			}
		}
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
	wantPrompt, wantOut, err := tg.targetsOf(r.Trajectory, r.Subagent, r.Turn)
	if err != nil {
		st.targetFails.addf("%s: %v", at, err)
		return
	}
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
