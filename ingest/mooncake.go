package ingest

import (
	"bytes"
	"fmt"
	"math"
	"slices"

	"github.com/agentwatt/agentwatt/workload"
)

// MooncakeOptions are the constants of Mooncake session reconstruction.
// Each is written into the source's Notes.
type MooncakeOptions struct {
	// BlockSize is the tokens per hash id (512 in the FAST'25 traces).
	BlockSize int
	// MinSessionBlocks is the shortest shared prefix, in blocks, that
	// continues a session. Every request of the conversation trace starts
	// with block 0 (a shared system prompt), so one block is not a session.
	MinSessionBlocks int
	// DecodeTokensPerSecond is the decode speed assumed for the recorded
	// answer when deriving think time from timestamps.
	DecodeTokensPerSecond float64
	// MaxThinkS caps a derived think time.
	MaxThinkS float64
	// Limit, when > 0, reads only the first Limit requests of each file.
	Limit int
}

func (o MooncakeOptions) withDefaults() MooncakeOptions {
	if o.BlockSize == 0 {
		o.BlockSize = 512
	}
	if o.MinSessionBlocks == 0 {
		o.MinSessionBlocks = 2
	}
	if o.DecodeTokensPerSecond == 0 {
		o.DecodeTokensPerSecond = 50
	}
	if o.MaxThinkS == 0 {
		o.MaxThinkS = 600
	}
	return o
}

type mooncakeRecord struct {
	Timestamp    *float64 `json:"timestamp"`
	InputLength  *int     `json:"input_length"`
	OutputLength *int     `json:"output_length"`
	HashIDs      *[]int64 `json:"hash_ids"`
}

type mooncakeReq struct {
	line int
	ts   float64 // ms
	in   int
	out  int
	ids  []int64
	// filled by reconstruction
	seq  int // arrival order
	traj int // index into trajectories
	turn int // index in its trajectory
	used bool
}

// sessionReport counts what reconstruction found.
type sessionReport struct {
	sessions           int // trajectories that start a new session
	forks              int // trajectories that branch off a request already continued
	singleTurn         int // sessions of one request that nothing continued or forked from
	turnsPerTrajectory []int
}

// convertMooncake reads a Mooncake trace and reconstructs sessions.
//
// Requests are taken in timestamp order (file order among equal times). A
// request R continues an earlier request A when A's hash ids without its
// last (partial) block are a prefix of R's, R's input is longer than A's,
// and the two share at least MinSessionBlocks leading blocks. Among several
// such A, the one sharing the most leading blocks wins, then the most
// recent. If A was not continued yet, R becomes the next turn of A's
// trajectory; if it was, R starts a fork: a new trajectory that shares A's
// prefix (ForkOf names A). A request that continues nothing starts a new
// session. Think time = gap between the two timestamps − A's output at
// DecodeTokensPerSecond, clamped to [0, MaxThinkS].
func convertMooncake(data []byte, path string, index int, src workload.Source, opts Options) (*converted, error) {
	mo := opts.Mooncake
	reqs, err := readMooncake(data, path, mo, opts.Limits)
	if err != nil {
		return nil, err
	}
	c := &converted{src: src, records: len(reqs)}
	c.src.BlockSize = mo.BlockSize
	c.src.Notes = fmt.Sprintf("mooncake: sessions reconstructed by prefix (min %d shared blocks, longest then most recent match, "+
		"a second continuation forks); think_s = timestamp gap - output_length/%g tok/s, clamped to [0, %g] s",
		mo.MinSessionBlocks, mo.DecodeTokensPerSecond, mo.MaxThinkS)
	slices.SortStableFunc(reqs, func(a, b *mooncakeReq) int {
		switch {
		case a.ts < b.ts:
			return -1
		case a.ts > b.ts:
			return 1
		}
		return 0
	})
	for i, r := range reqs {
		r.seq = i
	}

	tails := &tailIDs{}
	totalIDs := 0
	for _, r := range reqs {
		totalIDs += len(r.ids)
	}
	idx := newPrefixIndex(totalIDs)
	type trajState struct {
		t      *workload.Trajectory
		family int
		reqs   []*mooncakeReq
	}
	var trajs []*trajState
	rep := &sessionReport{}
	forkedFrom := map[*mooncakeReq]bool{}
	for _, r := range reqs {
		seg, err := blockRun(r.ids, r.in, mo.BlockSize, tails)
		if err != nil {
			return nil, &workload.FormatError{File: path, Line: r.line, Msg: err.Error()}
		}
		tu := workload.Turn{Input: []workload.Segment{seg}, OutputTokens: r.out}
		parent := idx.best(r, mo.MinSessionBlocks)
		switch {
		case parent == nil: // a new session
			r.traj, r.turn = len(trajs), 0
			trajs = append(trajs, &trajState{
				t:      &workload.Trajectory{ID: fmt.Sprintf("%s/r%d", src.ID, r.line), Source: index},
				family: len(trajs), reqs: []*mooncakeReq{r},
			})
			rep.sessions++
		case !parent.used: // the next turn of parent's trajectory
			parent.used = true
			ts := trajs[parent.traj]
			r.traj, r.turn = parent.traj, len(ts.t.Turns)
			tu.T = round3((r.ts - ts.reqs[0].ts) / 1000)
			tu.ThinkS = thinkTime(parent, r, mo)
			ts.reqs = append(ts.reqs, r)
		default: // parent was continued already: a fork
			pt := trajs[parent.traj]
			forkedFrom[parent] = true
			r.traj, r.turn = len(trajs), 0
			trajs = append(trajs, &trajState{
				t: &workload.Trajectory{ID: fmt.Sprintf("%s/r%d", src.ID, r.line), Source: index,
					ForkOf: &workload.ForkRef{Trajectory: pt.t.ID, Turn: parent.turn}},
				family: pt.family, reqs: []*mooncakeReq{r},
			})
			rep.forks++
		}
		trajs[r.traj].t.Turns = append(trajs[r.traj].t.Turns, tu)
		idx.add(r)
	}

	family := map[*workload.Trajectory]int{}
	for _, ts := range trajs {
		c.trajectories = append(c.trajectories, ts.t)
		family[ts.t] = ts.family
		rep.turnsPerTrajectory = append(rep.turnsPerTrajectory, len(ts.t.Turns))
		if ts.t.ForkOf == nil && len(ts.reqs) == 1 && !forkedFrom[ts.reqs[0]] {
			rep.singleTurn++
		}
	}
	setSharedPrefixes(c.trajectories, mo.BlockSize, nil, family)
	c.mooncake = rep
	return c, nil
}

func thinkTime(prev, r *mooncakeReq, mo MooncakeOptions) float64 {
	gap := (r.ts-prev.ts)/1000 - float64(prev.out)/mo.DecodeTokensPerSecond
	return round3(min(max(gap, 0), mo.MaxThinkS))
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func readMooncake(data []byte, path string, mo MooncakeOptions, lim Limits) ([]*mooncakeReq, error) {
	var reqs []*mooncakeReq
	line := 0
	for len(data) > 0 {
		if mo.Limit > 0 && len(reqs) >= mo.Limit {
			break
		}
		line++
		var text []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			text, data = data[:i], data[i+1:]
		} else {
			text, data = data, nil
		}
		if len(text) > lim.MaxLineBytes {
			return nil, &workload.FormatError{File: path, Line: line, Msg: fmt.Sprintf("line longer than %d bytes", lim.MaxLineBytes), Err: workload.ErrTooLarge}
		}
		text = bytes.TrimSuffix(text, []byte{'\r'})
		if len(bytes.TrimSpace(text)) == 0 {
			continue
		}
		d := &doc{file: path, data: text, line: line}
		var rec mooncakeRecord
		if err := d.decode(&rec, lim.MaxNesting); err != nil {
			return nil, err
		}
		r, err := checkMooncake(d, &rec, mo.BlockSize)
		if err != nil {
			return nil, err
		}
		r.line = line
		reqs = append(reqs, r)
	}
	return reqs, nil
}

func checkMooncake(d *doc, rec *mooncakeRecord, bs int) (*mooncakeReq, error) {
	p := jpath{}
	switch {
	case rec.Timestamp == nil:
		return nil, d.errorf(p.key("timestamp"), "missing")
	case rec.InputLength == nil:
		return nil, d.errorf(p.key("input_length"), "missing")
	case rec.OutputLength == nil:
		return nil, d.errorf(p.key("output_length"), "missing")
	case rec.HashIDs == nil:
		return nil, d.errorf(p.key("hash_ids"), "missing")
	}
	if err := seconds(*rec.Timestamp); err != nil {
		return nil, d.errorf(p.key("timestamp"), "%v", err)
	}
	if *rec.InputLength <= 0 || *rec.InputLength > maxTokens {
		return nil, d.errorf(p.key("input_length"), "%d: want 1..%d", *rec.InputLength, maxTokens)
	}
	if *rec.OutputLength < 0 || *rec.OutputLength > maxTokens {
		return nil, d.errorf(p.key("output_length"), "%d is outside 0..%d", *rec.OutputLength, maxTokens)
	}
	ids := *rec.HashIDs
	for k, id := range ids {
		if id < 0 {
			return nil, d.errorf(p.key("hash_ids").idx(k), "%d is negative", id)
		}
	}
	if n := len(ids); n > 0 && (n-1)*bs >= *rec.InputLength {
		return nil, d.errorf(p.key("hash_ids"), "%d blocks of %d tokens need more than input_length %d", n, bs, *rec.InputLength)
	}
	return &mooncakeReq{ts: *rec.Timestamp, in: *rec.InputLength, out: *rec.OutputLength, ids: ids}, nil
}

// prefixIndex finds, for a request, the earlier requests whose hash ids
// without the last one are a prefix of its ids: a trie over hash ids where
// each request is filed at the node of its ids minus the last.
type prefixIndex struct {
	next  map[[2]int64]int32 // (node, id) → child
	cands [][]*mooncakeReq   // per node, in arrival order
}

// newPrefixIndex sizes the trie for about ids hash ids.
func newPrefixIndex(ids int) *prefixIndex {
	return &prefixIndex{next: make(map[[2]int64]int32, ids), cands: make([][]*mooncakeReq, 1, ids+1)}
}

func (x *prefixIndex) add(r *mooncakeReq) {
	if len(r.ids) == 0 {
		return
	}
	cur := int32(0)
	for _, id := range r.ids[:len(r.ids)-1] {
		k := [2]int64{int64(cur), id}
		n, ok := x.next[k]
		if !ok {
			n = int32(len(x.cands))
			x.cands = append(x.cands, nil)
			x.next[k] = n
		}
		cur = n
	}
	x.cands[cur] = append(x.cands[cur], r)
}

// best returns the request r continues, or nil.
func (x *prefixIndex) best(r *mooncakeReq, minBlocks int) *mooncakeReq {
	path := []int32{0}
	for _, id := range r.ids {
		n, ok := x.next[[2]int64{int64(path[len(path)-1]), id}]
		if !ok {
			break
		}
		path = append(path, n)
	}
	var best *mooncakeReq
	bestM := -1
	for d := len(path) - 1; d >= 0; d-- {
		if d+1 < bestM {
			break
		}
		cands := x.cands[path[d]]
		for i := len(cands) - 1; i >= 0; i-- {
			a := cands[i]
			if r.in <= a.in {
				continue
			}
			m := d
			if d < len(r.ids) && a.ids[len(a.ids)-1] == r.ids[d] {
				m = d + 1
			}
			if m < minBlocks {
				continue
			}
			// longest match, then most recent (requests arrive in order, so
			// a later one in cands or a deeper node's later one wins ties)
			if m > bestM || (m == bestM && later(a, best)) {
				best, bestM = a, m
			}
			if m == d+1 {
				break // nothing earlier at this node can beat it
			}
		}
	}
	return best
}

// later reports whether a arrived after b.
func later(a, b *mooncakeReq) bool { return b == nil || a.seq > b.seq }
