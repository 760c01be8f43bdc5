package sim

import "errors"

var (
	// ErrUnknownProfile is returned when a profile name is not in the set.
	ErrUnknownProfile = errors.New("unknown sim profile")
	// ErrInvalidProfile wraps validation failures of a profile file.
	ErrInvalidProfile = errors.New("invalid sim profile")
	// ErrInvalidConfig is returned by Config.Validate.
	ErrInvalidConfig = errors.New("invalid sim config")
	// ErrInvalidAccuracySet is returned for a malformed accuracy set file.
	ErrInvalidAccuracySet = errors.New("invalid accuracy set")
	// ErrCrashed is the server's error after the crash fault fired.
	ErrCrashed = errors.New("simulated engine crashed (fault injection)")
	// ErrStopped is what in-flight requests see when the server stops.
	ErrStopped = errors.New("simulated engine stopped")
	// ErrAlreadyStarted is returned by a second Start.
	ErrAlreadyStarted = errors.New("sim server already started")
)
