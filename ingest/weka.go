package ingest

import (
	"fmt"
	"math"
	"strings"

	"github.com/agentwatt/agentwatt/workload"
)

// wekaTrace is the JSON of one conversation (TRACE_FORMAT.md in
// callanjfox/agentic-coding-analysis). Unknown fields are ignored: the
// format grows, and we read only what replay needs.
type wekaTrace struct {
	ID           string        `json:"id"`
	BlockSize    *int          `json:"block_size"`
	ToolTokens   int           `json:"tool_tokens"`
	SystemTokens int           `json:"system_tokens"`
	Requests     []wekaRequest `json:"requests"`
}

type wekaRequest struct {
	T         *float64 `json:"t"`
	Type      string   `json:"type"`
	Model     string   `json:"model"`
	In        *int     `json:"in"`
	Out       *int     `json:"out"`
	HashIDs   *[]int64 `json:"hash_ids"`
	APITime   *float64 `json:"api_time"`
	ThinkTime *float64 `json:"think_time"`
	// Sub-agent entries.
	AgentID      string        `json:"agent_id"`
	SubagentType *string       `json:"subagent_type"`
	DurationMS   *float64      `json:"duration_ms"`
	ToolTokens   int           `json:"tool_tokens"`
	SystemTokens int           `json:"system_tokens"`
	Requests     []wekaRequest `json:"requests"`
}

// convertWeka converts one conversation. Requests of type "n" and "s"
// become turns: in is the whole prompt (system and tool tokens are already
// inside it and inside hash_ids), hash_ids are its full blocks, and the
// unhashed rest becomes a tail block. "subagent" entries become sub-agent
// trajectories starting at their recorded t, with their own requests.
// convertWekaDoc converts one trace document; it also returns the trace's
// id when the document has one, for error reports.
func convertWekaDoc(td traceDoc, index int, src workload.Source, opts Options) (*converted, string, error) {
	d := &doc{file: td.file, data: td.data, line: td.line}
	var tr wekaTrace
	if err := d.decode(&tr, opts.Limits.MaxNesting); err != nil {
		return nil, "", err
	}
	c, err := convertWekaTrace(d, &tr, index, src)
	return c, tr.ID, err
}

func convertWekaTrace(d *doc, tr *wekaTrace, index int, src workload.Source) (*converted, error) {
	root := jpath{}
	if tr.BlockSize == nil {
		return nil, d.errorf(root.key("block_size"), "missing")
	}
	bs := *tr.BlockSize
	if bs <= 0 || bs > 1<<20 {
		return nil, d.errorf(root.key("block_size"), "%d is not a block size", bs)
	}
	if strings.TrimSpace(tr.ID) == "" {
		return nil, d.errorf(root.key("id"), "missing conversation id")
	}
	if len(tr.Requests) == 0 {
		return nil, d.errorf(root.key("requests"), "no requests")
	}
	c := &converted{src: src}
	c.src.BlockSize = bs
	c.src.Notes = wekaNotes
	w := &wekaConv{d: d, bs: bs, scope: tr.ID, source: index, tails: &tailIDs{}}
	t, err := w.trajectory(tr.Requests, root.key("requests"), c.src.ID+"/"+tr.ID, 0)
	if err != nil {
		return nil, err
	}
	c.records = w.records
	c.trajectories = []*workload.Trajectory{t}
	declared := map[*workload.Trajectory]int{t: declaredPrefix(t, tr.SystemTokens+tr.ToolTokens, bs)}
	for i, s := range t.Subagents {
		declared[s] = declaredPrefix(s, w.subPrefix[i], bs)
	}
	setSharedPrefixes(c.trajectories, bs, declared, nil)
	return c, nil
}

// wekaNotes is the Source.Notes of a weka input.
const wekaNotes = "weka: in = whole prompt; hash_ids = its full blocks; unhashed tail = one fresh block; think_s = think_time"

type wekaConv struct {
	d         *doc
	bs        int
	scope     string
	source    int
	tails     *tailIDs
	records   int
	subPrefix []int // system+tool tokens of each top-level sub-agent
}

func (w *wekaConv) trajectory(reqs []wekaRequest, p jpath, id string, depth int) (*workload.Trajectory, error) {
	if depth > workload.MaxSubagentDepth {
		return nil, w.d.errorf(p, "sub-agents nested deeper than %d", workload.MaxSubagentDepth)
	}
	t := &workload.Trajectory{ID: id, Source: w.source, Scope: w.scope}
	subIDs := map[string]bool{}
	var prevEnd float64 // previous request's t + api_time
	for i := range reqs {
		r := &reqs[i]
		rp := p.idx(i)
		if r.T == nil {
			return nil, w.d.errorf(rp.key("t"), "missing")
		}
		if err := seconds(*r.T); err != nil {
			return nil, w.d.errorf(rp.key("t"), "%v", err)
		}
		switch r.Type {
		case "n", "s":
			tu, err := w.turn(r, rp, len(t.Turns) == 0, prevEnd)
			if err != nil {
				return nil, err
			}
			t.Turns = append(t.Turns, tu)
			prevEnd = *r.T
			if r.APITime != nil {
				prevEnd += *r.APITime
			}
		case "subagent":
			if len(r.Requests) == 0 {
				return nil, w.d.errorf(rp.key("requests"), "a sub-agent with no requests")
			}
			sid := r.AgentID
			if sid == "" || subIDs[sid] {
				sid = fmt.Sprintf("subagent-%d", i)
			}
			subIDs[sid] = true
			s, err := w.trajectory(r.Requests, rp.key("requests"), sid, depth+1)
			if err != nil {
				return nil, err
			}
			s.StartS = *r.T
			s.AfterTurns = len(t.Turns)
			if r.SubagentType != nil {
				s.Agent = *r.SubagentType
			}
			if r.DurationMS != nil {
				if err := seconds(*r.DurationMS); err != nil {
					return nil, w.d.errorf(rp.key("duration_ms"), "%v", err)
				}
				s.DurationS = *r.DurationMS / 1000
			}
			if depth == 0 {
				w.subPrefix = append(w.subPrefix, r.SystemTokens+r.ToolTokens)
			}
			t.Subagents = append(t.Subagents, s)
		default:
			return nil, w.d.errorf(rp.key("type"), "%q: want \"n\", \"s\" or \"subagent\"", r.Type)
		}
	}
	if len(t.Turns) == 0 {
		return nil, w.d.errorf(p, "no requests of type \"n\" or \"s\"")
	}
	return t, nil
}

func (w *wekaConv) turn(r *wekaRequest, rp jpath, first bool, prevEnd float64) (workload.Turn, error) {
	if r.In == nil {
		return workload.Turn{}, w.d.errorf(rp.key("in"), "missing")
	}
	if r.Out == nil {
		return workload.Turn{}, w.d.errorf(rp.key("out"), "missing")
	}
	if *r.Out < 0 || *r.Out > maxTokens {
		return workload.Turn{}, w.d.errorf(rp.key("out"), "%d is outside 0..%d", *r.Out, maxTokens)
	}
	if r.HashIDs == nil {
		return workload.Turn{}, w.d.errorf(rp.key("hash_ids"), "missing")
	}
	for k, id := range *r.HashIDs {
		if id < 0 {
			return workload.Turn{}, w.d.errorf(rp.key("hash_ids").idx(k), "%d is negative", id)
		}
	}
	if n := len(*r.HashIDs); n*w.bs > *r.In {
		return workload.Turn{}, w.d.errorf(rp.key("hash_ids"), "%d full blocks of %d tokens exceed in = %d", n, w.bs, *r.In)
	}
	seg, err := blockRun(*r.HashIDs, *r.In, w.bs, w.tails)
	if err != nil {
		return workload.Turn{}, w.d.errorf(rp.key("in"), "%v", err)
	}
	tu := workload.Turn{T: *r.T, Input: []workload.Segment{seg}, OutputTokens: *r.Out, Model: r.Model}
	if r.APITime != nil {
		if err := seconds(*r.APITime); err != nil {
			return workload.Turn{}, w.d.errorf(rp.key("api_time"), "%v", err)
		}
		tu.APIS = *r.APITime
	}
	if !first {
		switch {
		case r.ThinkTime != nil:
			if err := seconds(*r.ThinkTime); err != nil {
				return workload.Turn{}, w.d.errorf(rp.key("think_time"), "%v", err)
			}
			tu.ThinkS = *r.ThinkTime
		default: // older traces: the gap since the previous answer ended
			tu.ThinkS = max(0, *r.T-prevEnd)
		}
	}
	w.records++
	return tu, nil
}

// declaredPrefix is a Weka trajectory's declared shared prefix (system and
// tool tokens), rounded down to whole hashed blocks of its first turn.
func declaredPrefix(t *workload.Trajectory, tokens, bs int) int {
	if tokens <= 0 || len(t.Turns) == 0 || len(t.Turns[0].Input) == 0 {
		return 0
	}
	seg := t.Turns[0].Input[0]
	full := 0
	for _, id := range seg.Blocks {
		if id < 0 || (full+1)*bs > seg.Tokens {
			break
		}
		full++
	}
	return min(tokens/bs, full) * bs
}

func seconds(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return fmt.Errorf("%v is not a time ≥ 0", v)
	}
	return nil
}
