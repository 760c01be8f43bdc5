package loadgen

import (
	"io"
	"unicode/utf8"
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

// AppendJSONStringContent appends s escaped for use inside a JSON string,
// without the quotes, so that text can be stored once as a ready-to-send
// segment of a message's "content". Invalid UTF-8 becomes U+FFFD.
func AppendJSONStringContent(dst []byte, s []byte) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}
