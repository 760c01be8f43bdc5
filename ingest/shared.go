package ingest

import (
	"github.com/cespare/xxhash/v2"

	"github.com/agentwatt/agentwatt/workload"
)

// setSharedPrefixes sets each trajectory's SharedPrefixTokens (sub-agents
// included): the longest prefix of its first turn's input, in whole
// segments and blocks, that also begins the first turn of a trajectory of
// the same scope and another family — or its declared prefix when that is
// longer. family groups trajectories that must not count as "others" for
// each other (a Mooncake session and its forks); a trajectory missing from
// it is a family of its own.
func setSharedPrefixes(ts []*workload.Trajectory, blockSize int, declared map[*workload.Trajectory]int, family map[*workload.Trajectory]int) {
	var members []*workload.Trajectory
	for _, t := range ts {
		t.Walk(func(tr *workload.Trajectory, _ int) { members = append(members, tr) })
	}
	type edge struct {
		parent int32
		key    uint64
	}
	type node struct {
		family int
		shared bool // reached by two families
	}
	units := 0
	for _, t := range members {
		for i := range t.Turns[0].Input {
			units += t.Turns[0].Input[i].Units()
		}
	}
	next := make(map[edge]int32, units)
	nodes := make([]node, 0, units)
	roots := map[string]int32{}
	rootOf := func(scope string) int32 {
		r, ok := roots[scope]
		if !ok {
			r = -1 - int32(len(roots))
			roots[scope] = r
		}
		return r
	}
	for i, t := range members {
		f, ok := family[t]
		if !ok {
			f = -1 - i
		}
		cur := rootOf(t.Scope)
		eachUnit(t.Turns[0].Input, blockSize, func(key uint64, _ int) bool {
			e := edge{cur, key}
			n, ok := next[e]
			if !ok {
				n = int32(len(nodes))
				nodes = append(nodes, node{family: f})
				next[e] = n
			} else if nodes[n].family != f {
				nodes[n].shared = true
			}
			cur = n
			return true
		})
	}
	for _, t := range members {
		shared := 0
		cur := rootOf(t.Scope)
		eachUnit(t.Turns[0].Input, blockSize, func(key uint64, tokens int) bool {
			n := next[edge{cur, key}]
			if !nodes[n].shared {
				return false
			}
			shared, cur = tokens, n
			return true
		})
		t.SharedPrefixTokens = max(shared, declared[t])
	}
}

// eachUnit calls fn with the key of each unit of in (a message, or one
// block of a run) and the tokens up to and including it, until fn returns
// false.
func eachUnit(in []workload.Segment, blockSize int, fn func(key uint64, tokens int) bool) {
	tokens := 0
	for i := range in {
		s := &in[i]
		if !s.IsBlocks() {
			tokens += s.Tokens
			if !fn(textUnitKey(s), tokens) {
				return
			}
			continue
		}
		for b, id := range s.Blocks {
			if id < 0 {
				return // a fresh tail block: never shared
			}
			bt := s.BlockTokens(b, blockSize)
			tokens += bt
			if !fn(blockUnitKey(s.Role, id, bt), tokens) {
				return
			}
		}
	}
}

func blockUnitKey(role string, id int64, tokens int) uint64 {
	var b [17]byte
	b[0] = 'b'
	putU64(b[1:], uint64(id))
	putU64(b[9:], uint64(tokens))
	return xxhash.Sum64(append(b[:], role...))
}

func textUnitKey(s *workload.Segment) uint64 {
	d := xxhash.New()
	d.WriteString("t" + s.Role + "\x00")
	d.WriteString(s.Text)
	for _, c := range s.ToolCalls {
		d.WriteString("\x01" + c.ID + "\x00" + c.Name + "\x00" + c.Arguments)
	}
	for _, id := range s.ToolCallIDs {
		d.WriteString("\x02" + id)
	}
	return d.Sum64()
}

func putU64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}
