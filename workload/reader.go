package workload

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
)

// Limits bound what a Reader accepts, so that a hostile or broken file
// cannot exhaust memory.
type Limits struct {
	// MaxBytes bounds the uncompressed size of the whole file.
	MaxBytes int64
	// MaxLineBytes bounds one line (one trajectory with its sub-agents).
	MaxLineBytes int
	// MaxNesting bounds JSON nesting depth ({ and [) within a line.
	MaxNesting int
}

// DefaultLimits are generous for real workloads: a 200-turn trajectory with
// a 200K-token literal history is a few MB on one line.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 8 << 30, MaxLineBytes: 64 << 20, MaxNesting: 64}
}

// ReadOption configures a Reader.
type ReadOption func(*Reader)

// WithLimits replaces DefaultLimits.
func WithLimits(l Limits) ReadOption { return func(r *Reader) { r.limits = l } }

// WithName sets the file name used in error messages.
func WithName(name string) ReadOption { return func(r *Reader) { r.name = name } }

// zstdMagic starts every zstd frame.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// maxWindow bounds the zstd window a reader accepts (memory per decoder).
const maxWindow = 64 << 20

// Reader streams a workload: the header first, then one trajectory per Next.
// It never holds more than one line in memory. It reads zstd-compressed
// files and, for convenience, plain JSONL.
type Reader struct {
	name   string
	limits Limits
	closer io.Closer
	dec    *zstd.Decoder
	br     *bufio.Reader
	hash   hash.Hash
	count  *countingReader
	line   int
	buf    []byte
	hdr    Header
	err    error // sticky
	eof    bool
}

// Open opens a workload file. Close releases it.
func Open(path string, opts ...ReadOption) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := NewReader(f, append([]ReadOption{WithName(path)}, opts...)...)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReader reads the header from r and returns a Reader positioned at the
// first trajectory.
func NewReader(src io.Reader, opts ...ReadOption) (*Reader, error) {
	r := &Reader{limits: DefaultLimits(), hash: sha256.New()}
	for _, o := range opts {
		o(r)
	}
	in := bufio.NewReaderSize(src, 64<<10)
	magic, _ := in.Peek(len(zstdMagic))
	var plain io.Reader = in
	if bytes.Equal(magic, zstdMagic) {
		dec, err := zstd.NewReader(in, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(maxWindow), zstd.WithDecoderMaxMemory(uint64(r.limits.MaxBytes)))
		if err != nil {
			return nil, r.fail(0, fmt.Sprintf("zstd: %v", err), err)
		}
		r.dec = dec
		plain = dec
	}
	r.count = &countingReader{r: plain, max: r.limits.MaxBytes}
	r.br = bufio.NewReaderSize(io.TeeReader(r.count, r.hash), 64<<10)
	line, err := r.readLine()
	if err == io.EOF {
		r.err = nil
		err = r.fail(0, "empty file: no header line", nil)
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	if err := r.decodeHeader(line); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Reader) decodeHeader(line []byte) error {
	if err := r.decodeStrict(line, &r.hdr); err != nil {
		return err
	}
	h := &r.hdr
	if h.Format != FormatName {
		return r.fail(r.line, fmt.Sprintf("format: %q, want %q", h.Format, FormatName), nil)
	}
	if h.Version != FormatVersion {
		return r.fail(r.line, fmt.Sprintf("version: %d, this reader reads version %d", h.Version, FormatVersion), nil)
	}
	if err := validateHeader(h); err != nil {
		return locate(err, r.name, r.line)
	}
	return nil
}

// validateHeader checks the header fields that trajectories rely on.
func validateHeader(h *Header) error {
	if err := ValidName(h.Name); err != nil {
		return errAt("name", "%v", err)
	}
	if len(h.Sources) == 0 {
		return errAt("sources", "at least one source is required")
	}
	if h.MaxContext < 0 || h.MaxContext > 1<<30 {
		return errAt("max_context", "%d is outside 0..%d", h.MaxContext, 1<<30)
	}
	ids := make(map[string]bool, len(h.Sources))
	for i, s := range h.Sources {
		p := fmt.Sprintf("sources[%d]", i)
		if s.ID == "" {
			return errAt(p+".id", "empty")
		}
		if ids[s.ID] {
			return errAt(p+".id", "%q repeats another source's id", s.ID)
		}
		ids[s.ID] = true
		if s.BlockSize < 0 || s.BlockSize > 1<<20 {
			return errAt(p+".block_size", "%d is outside 0..%d", s.BlockSize, 1<<20)
		}
		if s.Licence == "" {
			return errAt(p+".licence", "empty (use \"unknown\" when it is not known)")
		}
	}
	return nil
}

// Header returns the workload's header.
func (r *Reader) Header() Header { return r.hdr }

// Next returns the next trajectory, or io.EOF after the last one. An error
// other than io.EOF is a *FormatError (or an I/O error) and is sticky.
func (r *Reader) Next() (*Trajectory, error) {
	if r.err != nil {
		return nil, r.err
	}
	line, err := r.readLine()
	if err != nil {
		return nil, err
	}
	var w wireTrajectory
	if err := r.decodeStrict(line, &w); err != nil {
		return nil, err
	}
	t, err := decodeTrajectory(&r.hdr, &w, "", 0)
	if err != nil {
		r.err = locate(err, r.name, r.line)
		return nil, r.err
	}
	return t, nil
}

// Digest returns the digest of everything read. It reads (and hashes,
// without decoding) whatever Next has not consumed yet.
func (r *Reader) Digest() (Digest, error) {
	if r.err != nil && r.err != io.EOF {
		return "", r.err
	}
	if _, err := io.Copy(io.Discard, r.br); err != nil {
		return "", r.fail(r.line, err.Error(), err)
	}
	return digestOf(r.hash), nil
}

// Close releases the decoder and, for Open, the file.
func (r *Reader) Close() error {
	if r.dec != nil {
		r.dec.Close()
		r.dec = nil
	}
	if r.closer != nil {
		err := r.closer.Close()
		r.closer = nil
		return err
	}
	return nil
}

// readLine returns the next line without its newline, enforcing the line
// and size limits. The slice is valid until the next call.
func (r *Reader) readLine() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.eof {
		return nil, io.EOF
	}
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.buf = append(r.buf, chunk...)
		if len(r.buf) > r.limits.MaxLineBytes+1 {
			return nil, r.fail(r.line+1, fmt.Sprintf("line longer than %d bytes", r.limits.MaxLineBytes), ErrTooLarge)
		}
		if err == nil {
			break
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			r.eof = true
			if len(r.buf) == 0 {
				r.err = io.EOF
				return nil, io.EOF
			}
			break
		}
		if errors.Is(err, ErrTooLarge) || errors.Is(err, zstd.ErrDecoderSizeExceeded) {
			return nil, r.fail(r.line+1, fmt.Sprintf("uncompressed size exceeds %d bytes", r.limits.MaxBytes), ErrTooLarge)
		}
		if errors.Is(err, zstd.ErrWindowSizeExceeded) {
			return nil, r.fail(r.line+1, fmt.Sprintf("zstd window larger than %d bytes", min(int64(maxWindow), r.limits.MaxBytes)), ErrTooLarge)
		}
		return nil, r.fail(r.line+1, err.Error(), err)
	}
	r.line++
	line := bytes.TrimSuffix(r.buf, []byte{'\n'})
	if len(line) > r.limits.MaxLineBytes {
		return nil, r.fail(r.line, fmt.Sprintf("line longer than %d bytes", r.limits.MaxLineBytes), ErrTooLarge)
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return nil, r.fail(r.line, "empty line", nil)
	}
	if off, ok := NestingOK(line, r.limits.MaxNesting); !ok {
		r.err = &FormatError{File: r.name, Line: r.line, Col: off + 1,
			Msg: fmt.Sprintf("JSON nested deeper than %d", r.limits.MaxNesting), Err: ErrTooLarge}
		return nil, r.err
	}
	return line, nil
}

// decodeStrict decodes one JSON object, rejecting unknown fields and
// trailing data, and locates any error at its column.
func (r *Reader) decodeStrict(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		r.err = jsonError(err, r.name, r.line)
		return r.err
	}
	if dec.More() {
		r.err = &FormatError{File: r.name, Line: r.line, Col: int(dec.InputOffset()) + 1, Msg: "data after the JSON object"}
		return r.err
	}
	return nil
}

// jsonError converts an encoding/json error into a located FormatError.
func jsonError(err error, file string, line int) *FormatError {
	fe := &FormatError{File: file, Line: line, Err: err}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		fe.Col = int(se.Offset)
		fe.Msg = "invalid JSON: " + se.Error()
	case errors.As(err, &te):
		fe.Col = int(te.Offset)
		fe.Path = te.Field
		fe.Msg = fmt.Sprintf("want %s, got JSON %s", te.Type, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		fe.Msg = "invalid JSON: unexpected end of line"
	default:
		fe.Msg = err.Error()
	}
	return fe
}

func (r *Reader) fail(line int, msg string, cause error) error {
	r.err = &FormatError{File: r.name, Line: line, Msg: msg, Err: cause}
	return r.err
}

// NestingOK reports whether the JSON brackets in b nest no deeper than max,
// and the 0-based offset where they first do. It is a cheap guard to run
// before decoding untrusted JSON (the workload reader and ingest use it).
func NestingOK(b []byte, max int) (int, bool) {
	depth := 0
	inStr, esc := false, false
	for i, c := range b {
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
			if depth > max {
				return i, false
			}
		case '}', ']':
			depth--
		}
	}
	return 0, true
}

// countingReader fails with ErrTooLarge once more than max bytes were read.
type countingReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		return n, ErrTooLarge
	}
	return n, err
}

// ReadAll reads every trajectory of a workload file into memory, for small
// workloads. It checks that top-level ids are unique.
func ReadAll(r *Reader) ([]*Trajectory, error) {
	var out []*Trajectory
	ids := map[string]int{}
	for {
		t, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if prev, dup := ids[t.ID]; dup {
			return nil, &FormatError{File: r.name, Line: r.line, Path: "id",
				Msg: fmt.Sprintf("%q repeats the id of the trajectory on line %d", t.ID, prev)}
		}
		ids[t.ID] = r.line
		out = append(out, t)
	}
}
