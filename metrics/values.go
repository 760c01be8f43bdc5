package metrics

import "math"

// valueList collects a probe's values of one kind (the TTFTs or the decode
// rates of its successful window requests) in chunks, so that a long list
// grows without copying and with at most one partly used chunk, and finds
// their nearest-rank quantiles without sorting them.
type valueList struct {
	chunks [][]float64
	n      int
}

const maxValueChunk = 8192

func (l *valueList) add(v float64) {
	if k := len(l.chunks); k == 0 || len(l.chunks[k-1]) == cap(l.chunks[k-1]) {
		size := maxValueChunk
		if k == 0 {
			size = 64
		} else if c := 2 * cap(l.chunks[k-1]); c < size {
			size = c
		}
		l.chunks = append(l.chunks, make([]float64, 0, size))
	}
	last := &l.chunks[len(l.chunks)-1]
	*last = append(*last, v)
	l.n++
}

// flat returns the values as one slice and empties the list.
func (l *valueList) flat() []float64 {
	var out []float64
	if len(l.chunks) == 1 {
		out = l.chunks[0]
	} else if l.n > 0 {
		out = make([]float64, 0, l.n)
		for _, c := range l.chunks {
			out = append(out, c...)
		}
	}
	l.chunks, l.n = nil, 0
	return out
}

// smallList is the length up to which valueList.quantiles selects on a
// copy of the values; longer lists are searched by histograms instead,
// without a copy.
const smallList = 1 << 15

// quantiles returns the nearest-rank p and q quantiles (p ≤ q) of the
// list, non-finite ones as 0 (0, 0 for an empty list). It empties the
// list.
func (l *valueList) quantiles(p, q float64) (float64, float64) {
	n := l.n
	if n <= smallList {
		return quantilePair(l.flat(), p, q)
	}
	h := l.histogram(0, 0)
	vp := l.kth(nearestRank(n, p)-1, h)
	vq := l.kth(nearestRank(n, q)-1, h)
	l.chunks, l.n = nil, 0
	return zeroNaN(vp), zeroNaN(vq)
}

// orderKey maps a float64 (not NaN) to a uint64 in the same order.
func orderKey(v float64) uint64 {
	b := math.Float64bits(v)
	if b>>63 != 0 {
		return ^b
	}
	return b | 1<<63
}

// histogram counts the values by bits 48–63 of their order key (level 0)
// or, among those whose top 16 bits are top, by bits 32–47 (level 1).
func (l *valueList) histogram(level int, top uint64) *[1 << 16]uint32 {
	var h [1 << 16]uint32
	for _, c := range l.chunks {
		for _, v := range c {
			k := orderKey(v)
			switch {
			case level == 0:
				h[k>>48]++
			case k>>48 == top:
				h[k>>32&0xffff]++
			}
		}
	}
	return &h
}

// bucket finds the bucket holding the k-th smallest (0-based) counted
// value, and k's rank within it.
func bucket(h *[1 << 16]uint32, k int) (uint64, int) {
	for b, c := range h {
		if k < int(c) {
			return uint64(b), k
		}
		k -= int(c)
	}
	panic("metrics: rank beyond the histogram")
}

// kth is the k-th smallest (0-based) value of the list, narrowed down by
// the top 16 bits of the order key (h), then the next 16, then selected
// among the few values left.
func (l *valueList) kth(k int, h *[1 << 16]uint32) float64 {
	b1, k := bucket(h, k)
	b2, k := bucket(l.histogram(1, b1), k)
	prefix := b1<<16 | b2
	var rest []float64
	for _, c := range l.chunks {
		for _, v := range c {
			if orderKey(v)>>32 == prefix {
				rest = append(rest, v)
			}
		}
	}
	return selectKth(rest, k)
}
