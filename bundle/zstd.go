package bundle

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// ZstdLimits bound the decompression of one stream. Zero values take
// DefaultZstdLimits.
type ZstdLimits struct {
	MaxDecompressed int64  // total decompressed bytes
	MaxLine         int    // bytes of one line, newline excluded (ReadLine)
	MaxWindow       uint64 // largest zstd window (decoder memory) accepted
}

// DefaultZstdLimits: 64 GiB decompressed, 4 MiB lines (a sampled request
// record carries every chunk offset), 64 MiB windows (zstd -19 uses 8 MiB,
// --long 128 MiB is refused).
var DefaultZstdLimits = ZstdLimits{MaxDecompressed: 64 << 30, MaxLine: 4 << 20, MaxWindow: 64 << 20}

func (l ZstdLimits) withDefaults() ZstdLimits {
	if l.MaxDecompressed <= 0 {
		l.MaxDecompressed = DefaultZstdLimits.MaxDecompressed
	}
	if l.MaxLine <= 0 {
		l.MaxLine = DefaultZstdLimits.MaxLine
	}
	if l.MaxWindow == 0 {
		l.MaxWindow = DefaultZstdLimits.MaxWindow
	}
	return l
}

// LimitedZstdReader decompresses a zstd stream in bounded memory: a stream
// expanding past MaxDecompressed fails with ErrDecompressedTooLarge, a frame
// asking for a window above MaxWindow fails at once, and ReadLine refuses a
// line above MaxLine with ErrLineTooLong. Read it with Read or with ReadLine,
// not both.
type LimitedZstdReader struct {
	dec   *zstd.Decoder
	lim   ZstdLimits
	n     int64
	err   error
	lines *LineReader
}

// NewLimitedZstdReader starts decompressing r. Close releases the decoder
// (it does not close r).
func NewLimitedZstdReader(r io.Reader, lim ZstdLimits) (*LimitedZstdReader, error) {
	lim = lim.withDefaults()
	if lim.MaxWindow < zstd.MinWindowSize {
		lim.MaxWindow = zstd.MinWindowSize
	}
	dec, err := zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(lim.MaxWindow),
		zstd.WithDecoderMaxMemory(lim.MaxWindow))
	if err != nil {
		return nil, fmt.Errorf("zstd reader: %w", err)
	}
	return &LimitedZstdReader{dec: dec, lim: lim}, nil
}

// Read reads decompressed bytes.
func (z *LimitedZstdReader) Read(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if room := z.lim.MaxDecompressed - z.n + 1; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := z.dec.Read(p)
	z.n += int64(n)
	if z.n > z.lim.MaxDecompressed {
		n -= int(z.n - z.lim.MaxDecompressed)
		z.n = z.lim.MaxDecompressed
		z.err = fmt.Errorf("zstd stream: more than %d bytes: %w", z.lim.MaxDecompressed, ErrDecompressedTooLarge)
		return n, z.err
	}
	if err != nil && !errors.Is(err, io.EOF) {
		z.err = fmt.Errorf("zstd stream: %w", err)
		return n, z.err
	}
	return n, err
}

// ReadLine returns the next line without its newline, valid until the next
// call; io.EOF after the last. Errors carry the 1-based line number.
func (z *LimitedZstdReader) ReadLine() ([]byte, error) {
	if z.lines == nil {
		z.lines = NewLineReader(z, z.lim.MaxLine)
	}
	return z.lines.Next()
}

// Decompressed is the number of decompressed bytes read so far.
func (z *LimitedZstdReader) Decompressed() int64 { return z.n }

// Close releases the decoder.
func (z *LimitedZstdReader) Close() error {
	z.dec.Close()
	return nil
}

// LineReader splits a stream into lines of at most a maximum length, in
// memory bounded by that length.
type LineReader struct {
	br   *bufio.Reader
	max  int
	line int
	err  error // sticky: after a failure the stream's position is unknown
}

// LineError locates a line that could not be read.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// NewLineReader reads lines of at most maxLine bytes (newline excluded)
// from r.
func NewLineReader(r io.Reader, maxLine int) *LineReader {
	maxLine = max(maxLine, 16)
	return &LineReader{br: bufio.NewReaderSize(r, maxLine+1), max: maxLine}
}

// Next returns the next line without its newline (and without a "\r"
// before it), valid until the next call; io.EOF after the last line. A
// last line without a newline is returned. A line above the limit is a
// *LineError wrapping ErrLineTooLong; read errors are *LineError too.
func (l *LineReader) Next() ([]byte, error) {
	if l.err != nil {
		return nil, l.err
	}
	b, err := l.br.ReadSlice('\n')
	switch {
	case err == nil:
		l.line++
		b = b[:len(b)-1]
	case errors.Is(err, bufio.ErrBufferFull):
		l.err = &LineError{Line: l.line + 1, Err: fmt.Errorf("more than %d bytes: %w", l.max, ErrLineTooLong)}
		return nil, l.err
	case errors.Is(err, io.EOF):
		if len(b) == 0 {
			l.err = io.EOF
			return nil, io.EOF
		}
		l.line++
	default:
		l.err = &LineError{Line: l.line + 1, Err: err}
		return nil, l.err
	}
	if len(b) > l.max {
		l.err = &LineError{Line: l.line, Err: fmt.Errorf("more than %d bytes: %w", l.max, ErrLineTooLong)}
		return nil, l.err
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b, nil
}

// Line is the 1-based number of the last line returned.
func (l *LineReader) Line() int { return l.line }
