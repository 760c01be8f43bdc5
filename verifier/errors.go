package verifier

import "errors"

// Sentinel errors. An error from Verify means the bundle could not be
// verified (exit 2: I/O, bad arguments), never that it was rejected.
var (
	// ErrNoWorkload: the workload the manifest names was not given.
	ErrNoWorkload = errors.New("workload not available")
	// ErrWorkloadMismatch: the given workload is not the one the manifest names.
	ErrWorkloadMismatch = errors.New("workload digest differs from the manifest's")
	// ErrNoKeys: no enrolled runner key was given.
	ErrNoKeys = errors.New("no trusted runner keys")
	// ErrUnreadable: the bundle source could not be read; retry.
	ErrUnreadable = errors.New("bundle unreadable")
)
