package replay

import (
	"github.com/agentwatt/agentwatt/bundle"

	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/agentwatt/agentwatt/metrics"
)

// Output file names in a run's directory.
const (
	RequestsFile = bundle.RequestsFile
	ProbesName   = bundle.ProbesFile
	SummaryName  = "summary.json"
)

// Output writes a run's files into a directory: requests.jsonl.zst as
// records arrive (it is a Recorder), then probes.json and summary.json at
// Finish. Every file is written under a temporary name and renamed into
// place, so a reader never sees half a file; summary.json is renamed last,
// so its presence means the set is complete. The runner's bundle writer
// builds on it.
type Output struct {
	dir string

	mu     sync.Mutex
	tmp    *os.File
	bw     *bufio.Writer
	rw     *metrics.RecordWriter
	last   time.Time
	closed bool
}

// flushEvery bounds how much of the record stream a crash can lose.
const flushEvery = 2 * time.Second

// CreateOutput creates dir (and parents) and starts requests.jsonl.zst.
func CreateOutput(dir string) (*Output, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+RequestsFile+".*")
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	rw, err := metrics.NewRecordWriter(bw)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &Output{dir: dir, tmp: f, bw: bw, rw: rw, last: time.Now()}, nil
}

// Dir is the output directory.
func (o *Output) Dir() string { return o.dir }

// Record appends one request record; safe for concurrent use.
func (o *Output) Record(r *metrics.Request) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrOutputClosed
	}
	if err := o.rw.Write(r); err != nil {
		return err
	}
	if time.Since(o.last) >= flushEvery {
		o.last = time.Now()
		if err := o.rw.Flush(); err != nil {
			return err
		}
		return o.bw.Flush()
	}
	return nil
}

// Count is the number of records written.
func (o *Output) Count() int { return o.rw.Count() }

// Finish ends requests.jsonl.zst and writes probes.json and summary.json
// (either may be nil and is then not written). Records arriving later are
// refused.
func (o *Output) Finish(probes *bundle.Probes, sum *Summary) error {
	if err := o.closeRecords(); err != nil {
		return err
	}
	if probes != nil {
		if err := WriteJSONFile(filepath.Join(o.dir, ProbesName), probes); err != nil {
			return err
		}
	}
	if sum != nil {
		if err := WriteJSONFile(filepath.Join(o.dir, SummaryName), sum); err != nil {
			return err
		}
	}
	return nil
}

// Abort discards what was written.
func (o *Output) Abort() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.closed = true
	_ = o.rw.Close()
	o.tmp.Close()
	os.Remove(o.tmp.Name())
}

func (o *Output) closeRecords() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrOutputClosed
	}
	o.closed = true
	name := o.tmp.Name()
	err := errors.Join(o.rw.Close(), o.bw.Flush(), o.tmp.Chmod(0o644), o.tmp.Sync(), o.tmp.Close())
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("output: %s: %w", RequestsFile, err)
	}
	if err := os.Rename(name, filepath.Join(o.dir, RequestsFile)); err != nil {
		os.Remove(name)
		return fmt.Errorf("output: %w", err)
	}
	return nil
}

// WriteJSONFile writes v as indented JSON to path through a temporary file
// in the same directory and a rename.
func WriteJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	b = append(b, '\n')
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	name := f.Name()
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(name)
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := errors.Join(f.Chmod(0o644), f.Sync(), f.Close()); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}
