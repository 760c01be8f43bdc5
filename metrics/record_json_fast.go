package metrics

import "encoding/binary"

// The fast path of DecodeJSON: a line exactly as AppendJSON writes it
// (fields in order, no white space, plain ASCII strings, integers without
// a sign other than '-') is read in one pass without looking up keys. Any
// other line, valid or not, falls back to the general decoder, which then
// reads it (or reports where it is wrong) from the start; so the fast path
// accepts nothing the general decoder would read differently
// (FuzzRecordDecodeCanonical holds them equal).

// canonKey is a field's key as AppendJSON writes it, with the '{' or ','
// before it, as little-endian 8-byte words for comparing: the words at
// offsets 0, 8, 16 (those below n−8) and n−8. Every key is 8 to 28 bytes.
type canonKey struct {
	n     int
	words [4]uint64
	count int
}

var canonKeys = func() (k [len(fieldNames)]canonKey) {
	for i, name := range fieldNames {
		s := `,"` + name + `":`
		if i == 0 {
			s = `{"` + name + `":`
		}
		k[i].n = len(s)
		for off := 0; off < len(s); off += 8 {
			o := min(off, len(s)-8)
			k[i].words[k[i].count] = binary.LittleEndian.Uint64([]byte(s[o : o+8]))
			k[i].count++
		}
	}
	return k
}()

// key consumes field idx's canonical key.
func (d *recordDecoder) key(idx int) bool {
	k := &canonKeys[idx]
	b := d.b[d.i:]
	if len(b) < k.n || le64(b) != k.words[0] || le64(b[k.n-8:]) != k.words[k.count-1] || (k.count > 2 && !k.middle(b)) {
		return false
	}
	d.i += k.n
	return true
}

// middle compares the words between the first and the last.
func (k *canonKey) middle(b []byte) bool {
	for j := 1; j < k.count-1; j++ {
		if le64(b[8*j:]) != k.words[j] {
			return false
		}
	}
	return true
}

func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// fastInt64 reads an integer of at most 18 digits (which cannot overflow),
// without leading zeros.
func (d *recordDecoder) fastInt64() (int64, bool) {
	b, i := d.b, d.i
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	start := i
	var v int64
	for ; i < len(b); i++ {
		c := b[i] - '0'
		if c > 9 {
			break
		}
		v = v*10 + int64(c)
	}
	if n := i - start; n == 0 || n > 18 || (b[start] == '0' && n > 1) {
		return 0, false
	}
	d.i = i
	if neg {
		v = -v
	}
	return v, true
}

func (d *recordDecoder) fastInt(dst *int) bool {
	v, ok := d.fastInt64()
	*dst = int(v)
	return ok && int64(*dst) == v // out of range where int has 32 bits
}

// fastStringBytes reads a string of printable ASCII without escapes.
func (d *recordDecoder) fastStringBytes() ([]byte, bool) {
	b, i := d.b, d.i
	if i >= len(b) || b[i] != '"' {
		return nil, false
	}
	i++
	start := i
	for ; i < len(b); i++ {
		c := b[i]
		if c == '"' {
			d.i = i + 1
			return b[start:i], true
		}
		if c < 0x20 || c == '\\' || c >= 0x7f {
			return nil, false
		}
	}
	return nil, false
}

// fastString reads a string into dst, keeping dst when equal.
func (d *recordDecoder) fastString(dst *string) bool {
	s, ok := d.fastStringBytes()
	if ok {
		other(dst, s)
	}
	return ok
}

// fastID reads a trajectory or sub-agent id: from ids when it holds it,
// so that a stream replaying a workload's trajectories does not allocate
// them record after record.
func (d *recordDecoder) fastID(dst *string, ids *interner) bool {
	if ids == nil {
		return d.fastString(dst)
	}
	s, ok := d.fastStringBytes()
	if ok && string(s) != *dst {
		*dst = ids.get(s)
	}
	return ok
}

// interner hands out one string per distinct value, up to a bound (then
// fresh ones): a run's trajectory and sub-agent ids are a workload's few
// thousand, repeated millions of times.
type interner struct {
	m   map[string]string
	max int
}

func newInterner(max int) *interner { return &interner{m: map[string]string{}, max: max} }

func (t *interner) get(b []byte) string {
	if s, ok := t.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(t.m) < t.max {
		t.m[s] = s
	}
	return s
}

// fastText reads Session or Error, or checks and drops it when the
// decoder discards them.
func (d *recordDecoder) fastText(dst *string) bool {
	if !d.discard {
		return d.fastString(dst)
	}
	_, ok := d.fastStringBytes()
	*dst = ""
	return ok
}

// fastPhase, fastStatus and fastSource read the string fields that are
// usually one of a few constants, stored without allocating when they are
// (a switch on constants compares without converting).
func (d *recordDecoder) fastPhase(dst *string) bool {
	s, ok := d.fastStringBytes()
	if !ok {
		return false
	}
	switch string(s) {
	case PhaseWindow:
		*dst = PhaseWindow
	case PhaseWarmup:
		*dst = PhaseWarmup
	case PhaseSettle:
		*dst = PhaseSettle
	default:
		other(dst, s)
	}
	return true
}

func (d *recordDecoder) fastStatus(dst *string) bool {
	s, ok := d.fastStringBytes()
	if !ok {
		return false
	}
	switch string(s) {
	case StatusOK:
		*dst = StatusOK
	case StatusError:
		*dst = StatusError
	case StatusTruncated:
		*dst = StatusTruncated
	default:
		other(dst, s)
	}
	return true
}

func (d *recordDecoder) fastSource(dst *string) bool {
	s, ok := d.fastStringBytes()
	if !ok {
		return false
	}
	switch string(s) {
	case TokenSourceUsage:
		*dst = TokenSourceUsage
	case TokenSourceClient:
		*dst = TokenSourceClient
	default:
		other(dst, s)
	}
	return true
}

// other stores s in dst unless dst holds it already.
func other(dst *string, s []byte) {
	if string(s) != *dst {
		*dst = string(s)
	}
}

func (d *recordDecoder) fastOffsets(r *Request) bool {
	if d.i >= len(d.b) || d.b[d.i] != '[' {
		return false
	}
	d.i++
	out := []int64{}
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		r.ChunkOffsetsNs = out
		return true
	}
	for {
		v, ok := d.fastInt64()
		if !ok || d.i >= len(d.b) {
			return false
		}
		out = append(out, v)
		switch d.b[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			r.ChunkOffsetsNs = out
			return true
		default:
			return false
		}
	}
}

// decodeCanonical reads a line exactly as AppendJSON writes it; false (r
// then partly written) for any other line.
func (r *Request) decodeCanonical(line []byte, discard bool, ids *interner) bool {
	d := recordDecoder{b: line, discard: discard}
	ok := d.key(0) && d.fastInt(&r.Probe) &&
		d.key(1) && d.fastPhase(&r.Phase) &&
		d.key(2) && d.fastInt(&r.Agent) &&
		d.key(3) && d.fastText(&r.Session) &&
		d.key(4) && d.fastID(&r.Subagent, ids) &&
		d.key(5) && d.fastID(&r.Trajectory, ids) &&
		d.key(6) && d.fastInt(&r.Turn)
	if !ok {
		return false
	}
	if !d.key(7) {
		return false
	}
	if r.TSendNs, ok = d.fastInt64(); !ok || !d.key(8) {
		return false
	}
	if r.TFirstNs, ok = d.fastInt64(); !ok || !d.key(9) {
		return false
	}
	if r.TLastNs, ok = d.fastInt64(); !ok || !d.key(10) || !d.fastInt(&r.PromptTokens) || !d.key(11) {
		return false
	}
	if len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "null" {
		d.i += 4
		r.CachedTokens = OptionalInt{}
	} else {
		var v int
		if !d.fastInt(&v) {
			return false
		}
		r.CachedTokens = OptionalInt{Value: v, Known: true}
	}
	ok = d.key(12) && d.fastInt(&r.CompletionTokens) &&
		d.key(13) && d.fastInt(&r.TargetPromptTokens) &&
		d.key(14) && d.fastInt(&r.TargetCompletionTokens) &&
		d.key(15) && d.fastInt(&r.Chunks) &&
		d.key(16) && d.fastStatus(&r.Status) &&
		d.key(17) && d.fastText(&r.Error) &&
		d.key(18) && d.fastSource(&r.TokenCountSource)
	if !ok {
		return false
	}
	if d.i < len(d.b) && d.b[d.i] == ',' && (!d.key(19) || !d.fastOffsets(r)) {
		return false
	}
	return d.i == len(d.b)-1 && d.b[d.i] == '}'
}
