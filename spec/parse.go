package spec

import (
	"fmt"
	"io"
	"os"
)

// Parse reads a submission from data. filename only labels problems. The
// error, when the document is not a valid submission, is Problems: every
// problem found, each with its line and column. Parse fills in defaults
// (engine.health_path, and benchmark.workload from the profile) on success.
func Parse(filename string, data []byte) (*Submission, error) {
	d := newDecoder(filename, KindSubmission)
	var s Submission
	if d.decodeDocument(data, &s) {
		c := checker{d: d, s: &s}
		c.run()
	}
	if len(d.probs) > 0 {
		sortProblems(d.probs)
		return nil, d.probs
	}
	s.applyDefaults()
	return &s, nil
}

// ParseFile reads and parses the submission in path. A file over
// MaxFileSize is refused without reading it all.
func ParseFile(path string) (*Submission, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > MaxFileSize {
		return nil, Problems{{File: path, Line: 1, Col: 1, kind: ErrTooLarge,
			Message: fmt.Sprintf("file is %d bytes; the limit is %d (1 MiB)", fi.Size(), MaxFileSize)}}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return Parse(path, data)
}

// Validate checks a submission built or changed in code (a retest with a new
// image, say) by the rules Parse applies after decoding. Its Problems have
// no positions.
func (s *Submission) Validate() error {
	d := newDecoder("", KindSubmission)
	d.noPos = true
	c := checker{d: d, s: s}
	c.run()
	if len(d.probs) > 0 {
		return d.probs
	}
	return nil
}

func (s *Submission) applyDefaults() {
	if s.Engine.HealthPath == "" {
		s.Engine.HealthPath = DefaultHealthPath
	}
	if s.Benchmark.Workload == "" {
		if r, err := loadRulesShared(s.Benchmark.Rules); err == nil {
			if p, err := r.Profile(s.Benchmark.Profile); err == nil {
				s.Benchmark.Workload = p.Workload
			}
		}
	}
}
