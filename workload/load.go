package workload

import (
	"bytes"
	"io"
)

// Workload is a whole workload held in memory, for replay (which needs
// random access to trajectories). Turn inputs share their common prefixes,
// so memory grows with what each turn adds, not with history length.
type Workload struct {
	Header       Header
	Digest       Digest
	Trajectories []*Trajectory
}

// Load reads a workload file into memory and computes its digest.
func Load(path string, opts ...ReadOption) (*Workload, error) {
	r, err := Open(path, opts...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return load(r)
}

// LoadBytes reads a workload (zstd-compressed or plain JSONL) from memory.
func LoadBytes(b []byte, opts ...ReadOption) (*Workload, error) {
	r, err := NewReader(bytes.NewReader(b), opts...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return load(r)
}

func load(r *Reader) (*Workload, error) {
	ts, err := ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, &FormatError{File: r.name, Msg: "no trajectories"}
	}
	d, err := r.Digest()
	if err != nil {
		return nil, err
	}
	return &Workload{Header: r.Header(), Digest: d, Trajectories: ts}, nil
}

// Source returns the source of trajectory t.
func (w *Workload) Source(t *Trajectory) *Source { return &w.Header.Sources[t.Source] }

// Write writes w to a stream (zstd-compressed unless Uncompressed) and
// returns its digest.
func (w *Workload) Write(out io.Writer, opts ...WriteOption) (Digest, error) {
	wr, err := NewWriter(out, w.Header, opts...)
	if err != nil {
		return "", err
	}
	for _, t := range w.Trajectories {
		if err := wr.Write(t); err != nil {
			wr.Close()
			return "", err
		}
	}
	if err := wr.Close(); err != nil {
		return "", err
	}
	return wr.Digest(), nil
}

// WriteFile writes w to path through a temporary file and a rename.
func (w *Workload) WriteFile(path string) (Digest, error) {
	return WriteFile(path, w.Header, func(write func(*Trajectory) error) error {
		for _, t := range w.Trajectories {
			if err := write(t); err != nil {
				return err
			}
		}
		return nil
	})
}
