package replay

import (
	"strconv"
	"sync"

	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/workload"
)

// Request bodies are never built as one buffer. A turn's messages are a list
// of byte pieces handed to loadgen as immutable segments: JSON punctuation
// shared by every request, each block's synthesised text cached once per run
// (blockTexts), each literal message rendered once per trajectory
// (trajPlan), and the session's salt rendered once per session. A request
// costs its piece list (24 bytes a piece), not its size.

// Fixed JSON pieces.
var (
	pOpenArray  = []byte("[")
	pCloseArray = []byte("]")
	pComma      = []byte(",")
	pCloseText  = []byte(`"}`)
)

// blockKey names one synthesised block: its interned (source, scope), id and
// token count.
type blockKey struct {
	scope  int32
	tokens int32
	id     int64
}

// blockTexts synthesises block text on first use and keeps it for the run:
// shared prefixes and histories are held once, whatever the number of agents.
// Texts are packed into large arenas (no per-block allocation, no size-class
// rounding): the text is the bulk of a long-history run's memory.
type blockTexts struct {
	h      *workload.Header
	mu     sync.RWMutex
	scopes map[scopeKey]int32
	names  []scopeKey
	texts  map[blockKey][]byte
	arena  []byte
	bytes  int64
}

type scopeKey struct {
	source int
	scope  string
}

// arenaSize is the size of one text arena.
const arenaSize = 4 << 20

// maxWordBytes bounds a synthesised token's bytes (a space and a piece).
var maxWordBytes = workload.MaxBlockTokenBytes()

func newBlockTexts(h *workload.Header) *blockTexts {
	return &blockTexts{h: h, scopes: map[scopeKey]int32{}, texts: map[blockKey][]byte{}}
}

// scopeID interns a trajectory's (source, scope).
func (c *blockTexts) scopeID(t *workload.Trajectory) int32 {
	k := scopeKey{t.Source, t.Scope}
	c.mu.RLock()
	id, ok := c.scopes[k]
	c.mu.RUnlock()
	if ok {
		return id
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if id, ok := c.scopes[k]; ok {
		return id
	}
	id = int32(len(c.names))
	c.scopes[k] = id
	c.names = append(c.names, k)
	return id
}

// text returns the block's text (JSON-safe: words of the word list, each
// after a space). The slice is shared and must not be modified.
func (c *blockTexts) text(scope int32, id int64, tokens int) []byte {
	k := blockKey{scope: scope, tokens: int32(tokens), id: id}
	c.mu.RLock()
	b, ok := c.texts[k]
	c.mu.RUnlock()
	if ok {
		return b
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.texts[k]; ok {
		return b
	}
	bound := tokens * maxWordBytes
	if cap(c.arena)-len(c.arena) < bound {
		c.arena = make([]byte, 0, max(arenaSize, bound))
	}
	sk := c.names[scope]
	start := len(c.arena)
	c.arena = workload.AppendBlockText(c.arena, c.h.Sources[sk.source].ID, sk.scope, id, tokens, c.h.Seed)
	b = c.arena[start:len(c.arena):len(c.arena)]
	c.texts[k] = b
	c.bytes += int64(len(b))
	return b
}

// Bytes is the text held so far.
func (c *blockTexts) Bytes() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.bytes
}

// literal is a literal message rendered once: open is `{"role":…,"content":"`,
// text the escaped content, close the rest (closing quote, tool calls,
// tool_call_id, brace). The salt can go before or after text.
type literal struct {
	open, text, close []byte
}

// trajPlan holds a trajectory's rendered literal messages per turn and
// segment; a segment a turn shares with the previous one reuses its
// rendering, so a literal history is rendered once, not once per turn.
type trajPlan struct {
	once     sync.Once
	literals [][]*literal // [turn][segment]; nil for block runs
	// kept[k] is how many leading literal messages turn k shares with turn
	// k-1 (the same rendering); 0 for turn 0.
	kept []int
}

func (p *trajPlan) build(t *workload.Trajectory) {
	p.once.Do(func() {
		p.literals = make([][]*literal, len(t.Turns))
		p.kept = make([]int, len(t.Turns))
		var prev []workload.Segment
		var prevLit []*literal
		for k := range t.Turns {
			in := t.Turns[k].Input
			lits := make([]*literal, len(in))
			for i := range in {
				s := &in[i]
				if s.IsBlocks() {
					continue
				}
				if i < len(prev) && i < len(prevLit) && prevLit[i] != nil && sameLiteral(&prev[i], s) {
					lits[i] = prevLit[i]
					continue
				}
				lits[i] = renderLiteral(s)
			}
			p.literals[k] = lits
			for k > 0 && p.kept[k] < len(lits) && p.kept[k] < len(prevLit) && lits[p.kept[k]] != nil && lits[p.kept[k]] == prevLit[p.kept[k]] {
				p.kept[k]++
			}
			prev, prevLit = in, lits
		}
	})
}

// sameLiteral compares two literal segments; shared strings compare by
// pointer first, so a kept history costs nothing.
func sameLiteral(a, b *workload.Segment) bool {
	if a.Role != b.Role || a.Text != b.Text || len(a.ToolCalls) != len(b.ToolCalls) || len(a.ToolCallIDs) != len(b.ToolCallIDs) || a.IsBlocks() || b.IsBlocks() {
		return false
	}
	for i := range a.ToolCalls {
		if a.ToolCalls[i] != b.ToolCalls[i] {
			return false
		}
	}
	for i := range a.ToolCallIDs {
		if a.ToolCallIDs[i] != b.ToolCallIDs[i] {
			return false
		}
	}
	return true
}

func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = metrics.AppendJSONString(dst, s, false)
	return append(dst, '"')
}

func renderLiteral(s *workload.Segment) *literal {
	open := []byte(`{"role":`)
	open = appendJSONString(open, s.Role)
	open = append(open, `,"content":"`...)
	text := metrics.AppendJSONString(nil, s.Text, false)
	cl := []byte(`"`)
	if len(s.ToolCalls) > 0 {
		cl = append(cl, `,"tool_calls":[`...)
		for i, tc := range s.ToolCalls {
			if i > 0 {
				cl = append(cl, ',')
			}
			cl = append(cl, `{"id":`...)
			id := tc.ID
			if id == "" {
				id = "call_" + strconv.Itoa(i)
			}
			cl = appendJSONString(cl, id)
			cl = append(cl, `,"type":"function","function":{"name":`...)
			cl = appendJSONString(cl, tc.Name)
			cl = append(cl, `,"arguments":`...)
			cl = appendJSONString(cl, tc.Arguments)
			cl = append(cl, "}}"...)
		}
		cl = append(cl, ']')
	}
	if len(s.ToolCallIDs) > 0 {
		cl = append(cl, `,"tool_call_id":`...)
		cl = appendJSONString(cl, s.ToolCallIDs[0])
	}
	cl = append(cl, '}')
	return &literal{open: open, text: text, close: cl}
}

// blockOpen returns the shared `{"role":ROLE,"content":"` piece of a block
// message.
var blockOpens sync.Map // role → []byte

func blockOpen(role string) []byte {
	if b, ok := blockOpens.Load(role); ok {
		return b.([]byte)
	}
	b := []byte(`{"role":`)
	b = appendJSONString(b, role)
	b = append(b, `,"content":"`...)
	v, _ := blockOpens.LoadOrStore(role, b)
	return v.([]byte)
}

// renderer builds request pieces for one workload.
type renderer struct {
	w     *workload.Workload
	texts *blockTexts
	plans map[*workload.Trajectory]*trajPlan
	mu    sync.Mutex
}

func newRenderer(w *workload.Workload) *renderer {
	return &renderer{w: w, texts: newBlockTexts(&w.Header), plans: map[*workload.Trajectory]*trajPlan{}}
}

func (r *renderer) plan(t *workload.Trajectory) *trajPlan {
	r.mu.Lock()
	p, ok := r.plans[t]
	if !ok {
		p = &trajPlan{}
		r.plans[t] = p
	}
	r.mu.Unlock()
	p.build(t)
	return p
}

// salt is a session's salt, rendered once: with a leading space per word,
// and a variant with a trailing space for use before text that does not
// start with whitespace.
type salt struct {
	text, textSpace []byte
}

func newSalt(session uint64) *salt {
	t := workload.AppendSaltText(nil, session)
	ts := append(append(make([]byte, 0, len(t)+1), t...), ' ')
	return &salt{text: t[:len(t):len(t)], textSpace: ts}
}

// messages returns the JSON array of turn k's messages (brackets included)
// as pieces, with the session's salt after the trajectory's shared prefix.
// live, sorted by segment, replaces recorded literal messages (live
// history); nil for none. dst is reused when it has room.
func (r *renderer) messages(dst [][]byte, t *workload.Trajectory, k int, s *salt, live []liveMessage) [][]byte {
	in := t.Turns[k].Input
	lits := r.plan(t).literals[k]
	bs := r.w.Source(t).BlockSize
	scope := r.texts.scopeID(t)
	sp := workload.SaltPosition(in, t.SharedPrefixTokens, bs)
	dst = append(dst[:0], pOpenArray)
	first := true
	workload.ForEachMessage(in, func(role string, i, end int) {
		if !first {
			dst = append(dst, pComma)
		}
		first = false
		if !in[i].IsBlocks() {
			l := lits[i]
			for len(live) > 0 && live[0].seg < i {
				live = live[1:]
			}
			if len(live) > 0 && live[0].seg == i {
				l = live[0].lit
			}
			dst = append(dst, l.open)
			if sp.Seg == -1 && i == 0 {
				if len(l.text) > 0 && !isSpace(l.text[0]) {
					dst = append(dst, s.textSpace)
				} else {
					dst = append(dst, s.text)
				}
			}
			if len(l.text) > 0 {
				dst = append(dst, l.text)
			}
			if sp.Seg == i {
				dst = append(dst, s.text)
			}
			dst = append(dst, l.close)
			return
		}
		dst = append(dst, blockOpen(role))
		if sp.Seg == -1 && i == 0 {
			dst = append(dst, s.text)
		}
		for j := i; j < end; j++ {
			seg := &in[j]
			for b, id := range seg.Blocks {
				dst = append(dst, r.texts.text(scope, id, seg.BlockTokens(b, bs)))
				if sp.Seg == j && sp.Unit == b {
					dst = append(dst, s.text)
				}
			}
		}
		dst = append(dst, pCloseText)
	})
	return append(dst, pCloseArray)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
