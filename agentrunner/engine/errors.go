package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors.
var (
	// ErrInvalidConfig: a Config that cannot start an engine.
	ErrInvalidConfig = errors.New("invalid engine config")
	// ErrNotReady: the health endpoint did not answer 200 within the ready
	// timeout.
	ErrNotReady = errors.New("engine not ready within its ready timeout")
	// ErrExited: the engine's process ended without being stopped (a crash,
	// or an exit before it became ready).
	ErrExited = errors.New("engine exited")
	// ErrStopped: the engine was stopped.
	ErrStopped = errors.New("engine stopped")
)

// ExitError is an engine process that ended on its own; it wraps ErrExited.
type ExitError struct {
	Code   int    // exit status; -1 when killed by a signal
	Signal string // the signal that killed it, if any
	Err    error  // the wait error
}

func (e *ExitError) Error() string {
	if e.Signal != "" {
		return fmt.Sprintf("engine exited: killed by %s", e.Signal)
	}
	return fmt.Sprintf("engine exited with status %d", e.Code)
}

// Unwrap makes errors.Is(err, ErrExited) true.
func (e *ExitError) Unwrap() error { return ErrExited }

// ReadyError says why an engine did not become ready: Err is ErrNotReady,
// ErrExited (an *ExitError) or the context's error.
type ReadyError struct {
	Err     error
	Waited  time.Duration
	Last    string // the last health answer: a status line or a connection error
	URL     string // the health URL polled
	LogTail string // the end of the engine's log
}

func (e *ReadyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "engine not ready after %v at %s: %v", e.Waited.Round(time.Millisecond), e.URL, e.Err)
	if e.Last != "" {
		fmt.Fprintf(&b, " (last health answer: %s)", e.Last)
	}
	if e.LogTail != "" {
		b.WriteString("\n--- engine log (end) ---\n")
		b.WriteString(strings.TrimRight(e.LogTail, "\n"))
	}
	return b.String()
}

func (e *ReadyError) Unwrap() error { return e.Err }

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
}
