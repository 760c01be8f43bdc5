package workload

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
)

// Writer writes a workload: the header on creation, then one trajectory per
// Write. Close flushes the zstd stream; Digest is valid after Close.
type Writer struct {
	hdr    Header
	zw     *zstd.Encoder
	bw     *bufio.Writer
	hash   hash.Hash
	enc    *json.Encoder
	n      int
	ids    map[string]bool
	closed bool
}

// WriteOption configures a Writer.
type WriteOption func(*writeConfig)

type writeConfig struct{ plain bool }

// Uncompressed writes plain JSONL instead of zstd (same digest).
func Uncompressed() WriteOption { return func(c *writeConfig) { c.plain = true } }

// NewWriter validates h, fills Format and Version, and writes the header
// line to w, zstd-compressed unless Uncompressed is given.
func NewWriter(w io.Writer, h Header, opts ...WriteOption) (*Writer, error) {
	var cfg writeConfig
	for _, o := range opts {
		o(&cfg)
	}
	h.Format, h.Version = FormatName, FormatVersion
	if err := validateHeader(&h); err != nil {
		return nil, fmt.Errorf("workload header: %w", err)
	}
	wr := &Writer{hdr: h, hash: sha256.New(), ids: map[string]bool{}}
	out := w
	if !cfg.plain {
		zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedBetterCompression),
			zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
		if err != nil {
			return nil, err
		}
		wr.zw, out = zw, zw
	}
	wr.bw = bufio.NewWriterSize(io.MultiWriter(out, wr.hash), 64<<10)
	wr.enc = json.NewEncoder(wr.bw)
	wr.enc.SetEscapeHTML(false)
	if err := wr.enc.Encode(&wr.hdr); err != nil {
		wr.Close()
		return nil, err
	}
	return wr, nil
}

// Header returns the header as written.
func (w *Writer) Header() Header { return w.hdr }

// Write validates t and appends it as one line. Turn.Keep is recomputed from
// the turns' inputs; the caller's value is ignored.
func (w *Writer) Write(t *Trajectory) error {
	if w.closed {
		return errors.New("workload: write after close")
	}
	if w.ids[t.ID] {
		return fmt.Errorf("trajectory %q: %w", t.ID, errAt("id", "repeats an earlier trajectory's id"))
	}
	wt, err := encodeTrajectory(&w.hdr, t)
	if err != nil {
		return fmt.Errorf("trajectory %q: %w", t.ID, err)
	}
	w.ids[t.ID] = true
	w.n++
	return w.enc.Encode(&wt)
}

// Count is the number of trajectories written.
func (w *Writer) Count() int { return w.n }

// Close flushes and ends the zstd stream. It does not close the underlying
// writer.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.bw.Flush()
	if w.zw != nil {
		if cerr := w.zw.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Digest is the digest of the bytes written; call it after Close.
func (w *Writer) Digest() Digest { return digestOf(w.hash) }

// WriteFile writes a workload to path through a temporary file in the same
// directory and a rename, so path is either the complete new file or
// untouched. each produces the trajectories by calling write once per
// trajectory; an error from each (or from write) removes the temporary file.
func WriteFile(path string, h Header, each func(write func(*Trajectory) error) error) (Digest, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w, err := NewWriter(f, h)
	if err != nil {
		return "", err
	}
	if err := each(w.Write); err != nil {
		w.Close()
		return "", err
	}
	if w.Count() == 0 {
		w.Close()
		return "", errors.New("workload: no trajectories")
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	ok = true
	return w.Digest(), nil
}
