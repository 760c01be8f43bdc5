package queue

import (
	"errors"
	"fmt"
)

// Sentinel errors that callers branch on.
var (
	// ErrJobNotFound: no job record has this id.
	ErrJobNotFound = errors.New("job not found")
	// ErrBadTransition: the transition table does not allow the change.
	// TransitionError carries the states.
	ErrBadTransition = errors.New("transition not allowed")
	// ErrStaleAttempt: a change or an ack came from an attempt that is no
	// longer the job's current one (another runner took the job over).
	ErrStaleAttempt = errors.New("stale attempt")
	// ErrJobCanceled: a lease found its job canceling and finished it as
	// canceled instead of doing what was asked.
	ErrJobCanceled = errors.New("job canceled")
	// ErrLeaseFinished: the lease was already completed, failed, released or
	// acknowledged as canceled.
	ErrLeaseFinished = errors.New("lease already finished")
	// ErrInvalid: an argument is malformed (empty id, bad pool or name, bad JSON).
	ErrInvalid = errors.New("invalid argument")
	// ErrStop, returned by the callback of FollowEvents or WatchJob, ends the
	// loop without an error.
	ErrStop = errors.New("stop")
	// ErrNoMessage: a poll ended without a message (Worker.TryNext, NextVerify
	// with a deadline).
	ErrNoMessage = errors.New("no message")
)

// TransitionError says which change the table refused. It unwraps to
// ErrBadTransition.
type TransitionError struct {
	Job  string
	From State
	To   State
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("job %s: %s → %s: %v", e.Job, e.From, e.To, ErrBadTransition)
}

func (e *TransitionError) Unwrap() error { return ErrBadTransition }

// StaleAttemptError says which attempt was refused. It unwraps to
// ErrStaleAttempt.
type StaleAttemptError struct {
	Job     string
	Attempt int // the caller's attempt
	Current int // the record's attempt
}

func (e *StaleAttemptError) Error() string {
	return fmt.Sprintf("job %s: attempt %d is not the current attempt %d: %v", e.Job, e.Attempt, e.Current, ErrStaleAttempt)
}

func (e *StaleAttemptError) Unwrap() error { return ErrStaleAttempt }

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}
