package workload

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors callers branch on.
var (
	// ErrFormat means a workload file (or trajectory) is malformed. Every
	// *FormatError matches it.
	ErrFormat = errors.New("malformed workload")
	// ErrTooLarge means a file, line or nesting exceeded a reader limit.
	ErrTooLarge = errors.New("workload exceeds a limit")
	// ErrDigestMismatch means content did not hash to the digest it was
	// fetched or named by.
	ErrDigestMismatch = errors.New("workload digest mismatch")
	// ErrNotFound means a registry name or digest does not exist. An
	// ObjectStore's Get and GetBytes return an error matching it for an
	// absent key.
	ErrNotFound = errors.New("workload not found")
	// ErrInvalidRef means a string is not a valid name, digest or
	// name@sha256:… reference.
	ErrInvalidRef = errors.New("invalid workload reference")
)

// FormatError locates a problem in a workload file: FILE:LINE:COL, the JSON
// path inside the line when known, and what is wrong.
type FormatError struct {
	File string // empty when reading from an unnamed stream
	Line int    // 1-based; 0 when not tied to a line
	Col  int    // 1-based byte column in the line; 0 when unknown
	Path string // JSON path inside the line, e.g. "turns[3].add[0].tokens"
	Msg  string
	// Err is an underlying cause (ErrTooLarge, a JSON error), if any.
	Err error
}

func (e *FormatError) Error() string {
	var b strings.Builder
	loc := e.File
	if loc == "" {
		loc = "workload"
	}
	b.WriteString(loc)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap makes a FormatError match ErrFormat and its cause.
func (e *FormatError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrFormat, e.Err}
	}
	return []error{ErrFormat}
}

// pathError is a validation problem at a JSON path, before the file and line
// are known.
type pathError struct {
	path string
	msg  string
}

func (e *pathError) Error() string { return e.path + ": " + e.msg }

func errAt(path, format string, args ...any) error {
	return &pathError{path: path, msg: fmt.Sprintf(format, args...)}
}

// locate turns a validation error into a FormatError at file:line.
func locate(err error, file string, line int) *FormatError {
	var fe *FormatError
	if errors.As(err, &fe) {
		if fe.File == "" {
			fe.File = file
		}
		if fe.Line == 0 {
			fe.Line = line
		}
		return fe
	}
	var pe *pathError
	if errors.As(err, &pe) {
		return &FormatError{File: file, Line: line, Path: pe.path, Msg: pe.msg}
	}
	return &FormatError{File: file, Line: line, Msg: err.Error(), Err: err}
}
