package agentrunner

import (
	"context"
	"errors"
	"strings"

	"github.com/agentwatt/agentwatt/queue"
)

// phaseError is a phase that failed.
type phaseError struct {
	phase string
	err   error
}

func (e *phaseError) Error() string {
	msg := e.err.Error()
	if strings.HasPrefix(msg, e.phase+":") {
		return msg // ErrPreflight already names its phase
	}
	return e.phase + ": " + msg
}
func (e *phaseError) Unwrap() error { return e.err }

// phaseName is the phase err interrupted, or "the job".
func phaseName(err error) string {
	var pe *phaseError
	if errors.As(err, &pe) {
		return pe.phase
	}
	return "the job"
}

// runPhase runs one phase of a job: it does not start once the job is
// interrupted, it announces itself (metric, log line, progress event) and
// its error names it. A phase returns what it produced even when it fails,
// so that the bundle holds what was measured and what it started is
// stopped.
func runPhase[T any](ctx context.Context, jr *jobRun, name string, f func() (T, error)) (T, error) {
	if err := context.Cause(ctx); err != nil {
		var none T
		return none, &phaseError{name, err}
	}
	jr.announce(name)
	return step(ctx, name, f)
}

// step runs one more part of the phase name, already announced.
func step[T any](ctx context.Context, name string, f func() (T, error)) (T, error) {
	if err := context.Cause(ctx); err != nil {
		var none T
		return none, &phaseError{name, err}
	}
	v, err := f()
	if err != nil {
		// An interrupted phase says why it was interrupted.
		if c := context.Cause(ctx); c != nil && errors.Is(err, context.Canceled) {
			err = c
		}
		return v, &phaseError{name, err}
	}
	return v, nil
}

// announce marks the start of a phase: metric, log line and progress event.
func (jr *jobRun) announce(name string) {
	jr.r.metrics.setPhase(name)
	jr.log.Info().Str("phase", name).Msg("phase")
	jr.ev.publish(queue.EventProgress, name, ProgressData{Phase: name})
}
