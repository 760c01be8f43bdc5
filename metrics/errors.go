package metrics

import "errors"

var (
	// ErrEmptyWindow: a window whose end is not after its start.
	ErrEmptyWindow = errors.New("empty window")
	// ErrNoSamples: no power samples at all.
	ErrNoSamples = errors.New("no power samples")
	// ErrNotBracketed: a GPU has no sample at or before the window's start or
	// none at or after its end, so the window's energy cannot be measured.
	ErrNotBracketed = errors.New("window not bracketed by power samples")
	// ErrLineTooLong: a record line longer than the reader's limit.
	ErrLineTooLong = errors.New("record line too long")
	// ErrTooLarge: more decompressed record bytes than the reader's limit.
	ErrTooLarge = errors.New("records exceed size limit")
)
