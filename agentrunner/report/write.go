package report

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Files written into a report's directory.
const (
	MarkdownFile = "report.md"
	HTMLFile     = "report.html"
	CSVFile      = "requests.csv"
)

// Write reads the run in dir and writes report.md, report.html and
// requests.csv into out, each under a temporary name and renamed; it
// returns the report.
func Write(dir, out string) (*Report, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	csvTmp, err := os.CreateTemp(out, "."+CSVFile+".*")
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer os.Remove(csvTmp.Name()) // a no-op once renamed
	bw := bufio.NewWriterSize(csvTmp, 256<<10)
	r, err := Load(dir, bw)
	if err == nil {
		err = bw.Flush()
	}
	if err := errors.Join(err, csvTmp.Chmod(0o644), csvTmp.Close()); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var md, html bytes.Buffer
	if err := errors.Join(r.Markdown(&md), r.HTML(&html)); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{MarkdownFile, md.Bytes()}, {HTMLFile, html.Bytes()}} {
		if err := writeFile(filepath.Join(out, f.name), f.data); err != nil {
			return nil, err
		}
	}
	if err := os.Rename(csvTmp.Name(), filepath.Join(out, CSVFile)); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return r, nil
}

// writeFile writes data to path through a temporary file and a rename.
func writeFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	name := f.Name()
	_, err = f.Write(data)
	if err := errors.Join(err, f.Chmod(0o644), f.Close()); err != nil {
		os.Remove(name)
		return fmt.Errorf("report: %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
