package spec

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrInvalid matches (errors.Is) every Problems error: the input is not a
// valid document, as opposed to an I/O failure.
var ErrInvalid = errors.New("invalid submission")

// ErrTooLarge matches (errors.Is) Problems that include a file over
// MaxFileSize.
var ErrTooLarge = errors.New("file too large")

// Problem is one thing wrong with a document, located in it.
type Problem struct {
	File string `json:"file"`
	// Line and Col are 1-based; 0 when the problem has no place in a file
	// (Validate on a Submission built in code).
	Line int `json:"line"`
	Col  int `json:"col"`
	// Field is the dotted path of the field concerned ("system.accelerators",
	// "engine.args[2]"); empty for problems of the document as a whole.
	Field string `json:"field,omitempty"`
	// Message says what is wrong and, where it can, what to write instead. It
	// starts with Field when there is one, so it reads on its own.
	Message string `json:"message"`

	kind error // a sentinel that Problems.Is reports, or nil
}

// String formats p as FILE:LINE:COL: message.
func (p Problem) String() string {
	file := p.File
	if file == "" {
		file = "<input>"
	}
	if p.Line == 0 {
		return file + ": " + p.Message
	}
	return fmt.Sprintf("%s:%d:%d: %s", file, p.Line, p.Col, p.Message)
}

// Problems is every problem found in a document, in the order of their
// positions. Parse returns it as its error.
type Problems []Problem

// Error joins the problems one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Is reports ErrInvalid for any Problems, and ErrTooLarge when one of them is
// a file over MaxFileSize.
func (ps Problems) Is(target error) bool {
	if target == ErrInvalid {
		return true
	}
	for _, p := range ps {
		if p.kind != nil && p.kind == target {
			return true
		}
	}
	return false
}

// sortProblems orders problems by position, keeping the order of discovery
// among problems at the same place.
func sortProblems(ps Problems) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.Col, b.Col)
	})
}
