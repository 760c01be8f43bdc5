package metrics

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// RecordWriter writes request records as zstd-compressed JSON lines
// (requests.jsonl.zst). It is safe for concurrent use by many agents.
type RecordWriter struct {
	mu  sync.Mutex
	zw  *zstd.Encoder
	buf []byte
	n   int
	err error
}

// NewRecordWriter starts a zstd stream on w. Close ends the stream; it does
// not close w.
func NewRecordWriter(w io.Writer) (*RecordWriter, error) {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return nil, fmt.Errorf("record writer: %w", err)
	}
	return &RecordWriter{zw: zw, buf: make([]byte, 0, 1024)}, nil
}

// Write appends one record as a line.
func (w *RecordWriter) Write(r *Request) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.buf = append(r.AppendJSON(w.buf[:0]), '\n')
	if _, err := w.zw.Write(w.buf); err != nil {
		w.err = fmt.Errorf("write record: %w", err)
		return w.err
	}
	w.n++
	return nil
}

// Count is the number of records written.
func (w *RecordWriter) Count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// Flush pushes what is buffered to the underlying writer as a complete zstd
// block, so that a crash loses at most what came after.
func (w *RecordWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if err := w.zw.Flush(); err != nil {
		w.err = fmt.Errorf("flush records: %w", err)
	}
	return w.err
}

// Close ends the zstd stream.
func (w *RecordWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.zw.Close()
	if w.err == nil && err != nil {
		w.err = fmt.Errorf("close records: %w", err)
		return w.err
	}
	return nil
}

// RecordReaderOptions bound what a reader accepts. Zero values take the
// defaults.
type RecordReaderOptions struct {
	MaxLineBytes  int   // longest line; default 4 MiB (a sampled record carries every chunk offset)
	MaxTotalBytes int64 // most decompressed bytes; default unlimited (0)
	MaxWindowMB   int   // largest zstd window accepted, MiB; default 64
	// SkipChecksum skips the zstd frames' content checksums, for a stream
	// whose compressed bytes are verified otherwise (a bundle file read
	// through its manifest's sha256): the decompressed bytes are then known
	// already, and the checksum costs a few percent of the reading.
	SkipChecksum bool
	// DiscardText reads each record's session and error (they must be JSON
	// strings) without keeping them: Next leaves them empty. For a reader
	// that uses neither, every record then allocates nothing for them (a
	// runner's file interleaves agents, so each record has another session).
	DiscardText bool
}

// RecordError locates a bad record: its 1-based line.
type RecordError struct {
	Line int
	Err  error
}

func (e *RecordError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *RecordError) Unwrap() error { return e.Err }

// RecordReader reads request records from a zstd JSON-lines stream in
// bounded memory.
type RecordReader struct {
	zr    *zstd.Decoder
	br    *bufio.Reader
	lim   RecordReaderOptions
	ids   *interner // trajectory and sub-agent ids, shared between records
	line  int
	total int64
	long  []byte
}

// maxInternedIDs bounds the distinct trajectory and sub-agent ids a reader
// shares (a few hundred KB); past it, ids are allocated per record.
const maxInternedIDs = 1 << 14

// NewRecordReader reads a requests.jsonl.zst stream with default limits.
func NewRecordReader(r io.Reader) (*RecordReader, error) {
	return NewRecordReaderWithOptions(r, RecordReaderOptions{})
}

// NewRecordReaderWithOptions reads a requests.jsonl.zst stream within the
// given limits. Close releases the decoder.
func NewRecordReaderWithOptions(r io.Reader, opt RecordReaderOptions) (*RecordReader, error) {
	if opt.MaxLineBytes <= 0 {
		opt.MaxLineBytes = 4 << 20
	}
	if opt.MaxWindowMB <= 0 {
		opt.MaxWindowMB = 64
	}
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(uint64(opt.MaxWindowMB)<<20),
		zstd.WithDecoderMaxMemory(uint64(opt.MaxWindowMB)<<21),
		zstd.IgnoreChecksum(opt.SkipChecksum))
	if err != nil {
		return nil, fmt.Errorf("record reader: %w", err)
	}
	return &RecordReader{zr: zr, br: bufio.NewReaderSize(zr, 256<<10), lim: opt, ids: newInterner(maxInternedIDs)}, nil
}

// Next decodes the next record into r, replacing all its fields (Session
// and Error left empty with DiscardText), and returns io.EOF after the
// last. Reusing one Request across calls avoids allocating
// (see Request.DecodeJSON). Errors are *RecordError with the line number. A
// final line without a newline is read; blank lines are errors.
func (rr *RecordReader) Next(r *Request) error {
	line, err := rr.readLine()
	if err != nil {
		return err
	}
	if err := r.decode(line, rr.lim.DiscardText, rr.ids); err != nil {
		return &RecordError{Line: rr.line, Err: err}
	}
	return nil
}

// Line is the number of lines read so far.
func (rr *RecordReader) Line() int { return rr.line }

// Close releases the decoder's resources.
func (rr *RecordReader) Close() { rr.zr.Close() }

func (rr *RecordReader) readLine() ([]byte, error) {
	rr.long = rr.long[:0]
	for {
		frag, err := rr.br.ReadSlice('\n')
		rr.total += int64(len(frag))
		if rr.lim.MaxTotalBytes > 0 && rr.total > rr.lim.MaxTotalBytes {
			return nil, &RecordError{Line: rr.line + 1, Err: ErrTooLarge}
		}
		if len(rr.long)+len(frag) > rr.lim.MaxLineBytes+1 {
			return nil, &RecordError{Line: rr.line + 1, Err: ErrLineTooLong}
		}
		switch {
		case err == nil:
			rr.line++
			if len(rr.long) > 0 {
				rr.long = append(rr.long, frag...)
				return checkLine(bytes.TrimSuffix(rr.long, []byte{'\n'}), rr.line)
			}
			return checkLine(frag[:len(frag)-1], rr.line)
		case errors.Is(err, bufio.ErrBufferFull):
			rr.long = append(rr.long, frag...)
		case errors.Is(err, io.EOF):
			rr.long = append(rr.long, frag...)
			if len(rr.long) == 0 {
				return nil, io.EOF
			}
			rr.line++
			return checkLine(rr.long, rr.line)
		default:
			return nil, &RecordError{Line: rr.line + 1, Err: fmt.Errorf("read records: %w", err)}
		}
	}
}

func checkLine(b []byte, line int) ([]byte, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, &RecordError{Line: line, Err: fmt.Errorf("%w: blank line", errSyntax)}
	}
	return b, nil
}
