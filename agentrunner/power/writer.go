package power

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/agentwatt/agentwatt/bundle"
)

// FileName is the samples' file in a bundle.
const FileName = bundle.PowerFile

// Writer writes samples as zstd-compressed JSON lines, one sample a line,
// to a temporary file beside its path; Close renames it into place, so the
// path never holds a partial file. It is safe for concurrent use.
type Writer struct {
	mu   sync.Mutex
	path string
	f    *os.File
	zw   *zstd.Encoder
	buf  []byte
	n    int
	err  error
	done bool
}

var _ SampleWriter = (*Writer)(nil)

// CreateWriter starts writing path (e.g. ".../power.jsonl.zst").
func CreateWriter(path string) (*Writer, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("power writer: %w", err)
	}
	zw, err := zstd.NewWriter(f, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, fmt.Errorf("power writer: %w", err)
	}
	return &Writer{path: path, f: f, zw: zw, buf: make([]byte, 0, 512)}, nil
}

// Path is the final path.
func (w *Writer) Path() string { return w.path }

// Write appends one sample.
func (w *Writer) Write(s Sample) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.done {
		return fmt.Errorf("power writer %s: write after close", w.path)
	}
	b, err := bundle.AppendPowerLine(w.buf[:0], &s)
	if err != nil {
		w.err = fmt.Errorf("power writer: encode sample: %w", err)
		return w.err
	}
	w.buf = b
	if _, err := w.zw.Write(w.buf); err != nil {
		w.err = fmt.Errorf("power writer %s: %w", w.path, err)
		return w.err
	}
	w.n++
	return nil
}

// Count is the number of samples written.
func (w *Writer) Count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// Flush pushes what is buffered to the temporary file as a complete zstd
// block.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil || w.done {
		return w.err
	}
	if err := w.zw.Flush(); err != nil {
		w.err = fmt.Errorf("power writer %s: flush: %w", w.path, err)
	}
	return w.err
}

// Close ends the zstd stream, syncs the file and renames it to its path.
// After an earlier write error it removes the temporary file and returns
// that error.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return w.err
	}
	w.done = true
	tmp := w.f.Name()
	if w.err == nil {
		if err := w.zw.Close(); err != nil {
			w.err = fmt.Errorf("power writer %s: %w", w.path, err)
		}
	}
	if w.err == nil {
		if err := w.f.Sync(); err != nil {
			w.err = fmt.Errorf("power writer %s: sync: %w", w.path, err)
		}
	}
	if err := w.f.Close(); err != nil && w.err == nil {
		w.err = fmt.Errorf("power writer %s: close: %w", w.path, err)
	}
	if w.err == nil {
		if err := os.Rename(tmp, w.path); err != nil {
			w.err = fmt.Errorf("power writer: %w", err)
		}
	}
	if w.err != nil {
		_ = os.Remove(tmp)
	}
	return w.err
}

// Abort drops the file.
func (w *Writer) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return nil
	}
	w.done = true
	_ = w.zw.Close()
	_ = w.f.Close()
	return os.Remove(w.f.Name())
}
