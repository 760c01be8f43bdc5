package loadgen

import (
	"io"
)

// Body is a request body made of byte segments that are never copied nor
// modified: a long shared history is written to the socket straight from the
// workload's memory, so a request costs its segment list, not its size.
// A Body is read once; Clone gives another reader over the same segments.
type Body struct {
	segs [][]byte
	size int64
	seg  int // current segment
	off  int // offset in it
}

// NewBody makes a body of the segments, in order. The segments must not
// change while the body is in use.
func NewBody(segs ...[]byte) *Body {
	b := &Body{segs: segs}
	for _, s := range segs {
		b.size += int64(len(s))
	}
	return b
}

// Len is the body's total size in bytes.
func (b *Body) Len() int64 { return b.size }

// Clone returns a fresh reader over the same segments.
func (b *Body) Clone() *Body { return &Body{segs: b.segs, size: b.size} }

// Read copies the next bytes into p.
func (b *Body) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && b.seg < len(b.segs) {
		c := copy(p[n:], b.segs[b.seg][b.off:])
		n += c
		b.off += c
		if b.off == len(b.segs[b.seg]) {
			b.seg++
			b.off = 0
		}
	}
	if n == 0 && b.seg >= len(b.segs) {
		return 0, io.EOF
	}
	return n, nil
}

// WriteTo writes the remaining segments to w, each in one call.
func (b *Body) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for b.seg < len(b.segs) {
		n, err := w.Write(b.segs[b.seg][b.off:])
		total += int64(n)
		b.off += n
		if err != nil {
			return total, err
		}
		b.seg++
		b.off = 0
	}
	return total, nil
}

// Close does nothing; a Body holds no resources.
func (b *Body) Close() error { return nil }
