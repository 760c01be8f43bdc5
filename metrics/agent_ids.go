package metrics

// agentIDs maps agent ids to small indices. A run's agent ids are dense
// (the runner numbers its agents from 0 and never reuses an id), so most
// live in a table indexed by id − lo, a few KB per thousand agents and
// far cheaper to reach than a map; ids far from the others (any id a
// record may hold) go to a map. The table doubles when the agents would
// fill at least an eighth of it, so its size stays proportional to the
// agents seen, whatever the ids.
type agentIDs struct {
	lo     int     // the table covers ids [lo, lo+len(dense))
	dense  []int32 // 1 + index; 0: not seen
	sparse map[int]int32
	n      int // ids held
}

const minDenseIDs = 1024

// get returns id's index.
func (t *agentIDs) get(id int) (int32, bool) {
	if off := uint64(id) - uint64(t.lo); off < uint64(len(t.dense)) {
		if v := t.dense[off]; v != 0 {
			return v - 1, true
		}
		return 0, false
	}
	v, ok := t.sparse[id]
	return v, ok
}

// put records id's index; id must not be held yet.
func (t *agentIDs) put(id int, idx int32) {
	t.n++
	if off := uint64(id) - uint64(t.lo); off < uint64(len(t.dense)) {
		t.dense[off] = idx + 1
		return
	}
	if len(t.dense) == 0 {
		t.lo = int(uint64(id) - minDenseIDs/2)
		t.dense = make([]int32, minDenseIDs)
		t.dense[minDenseIDs/2] = idx + 1
		return
	}
	if t.grow(id) {
		t.dense[uint64(id)-uint64(t.lo)] = idx + 1
		return
	}
	if t.sparse == nil {
		t.sparse = map[int]int32{}
	}
	t.sparse[id] = idx
}

// grow widens the table to cover id when, at least doubled, it stays at
// most eight times the ids held, and moves the sparse ids it then covers
// into it. Offsets are
// taken modulo 2⁶⁴, as in get, so ids near either end of int need no care.
func (t *agentIDs) grow(id int) bool {
	l := uint64(len(t.dense))
	up := uint64(id) - uint64(t.lo)   // id's offset past lo
	down := uint64(t.lo) - uint64(id) // id's distance before lo
	// Grow towards id the shorter way round (the other is beyond any
	// limit); neither sum can wrap, the shorter distance being below 2⁶³.
	span, forward := up+1, true
	if down < up {
		span, forward = down+l, false
	}
	// The table at least doubles, so that growing costs O(1) per id; it
	// may not outgrow eight times the ids held.
	size := max(span, 2*l)
	if size > uint64(8*(t.n+1)) {
		return false
	}
	grown := make([]int32, size)
	at := uint64(0) // where the old table goes
	if !forward {
		at = size - l
	}
	copy(grown[at:], t.dense)
	t.lo = int(uint64(t.lo) - at)
	t.dense = grown
	for sid, v := range t.sparse {
		if off := uint64(sid) - uint64(t.lo); off < size {
			t.dense[off] = v + 1
			delete(t.sparse, sid)
		}
	}
	return true
}
