package agentrunner

import "errors"

// Sentinel errors.
var (
	// ErrInvalidConfig is a Config that Validate refuses.
	ErrInvalidConfig = errors.New("invalid runner config")
	// ErrPreflight is a job this runner cannot run (wrong pool, multi-node,
	// accelerator or count not on this node, GPUs busy).
	ErrPreflight = errors.New("preflight")
	// ErrStale is an attempt that the queue has fenced: another attempt
	// holds the job now.
	ErrStale = errors.New("stale attempt")
	// ErrWorkDirBusy is a work directory another runner process holds.
	ErrWorkDirBusy = errors.New("work dir in use")
)

// Why a job's measurement stopped early, as the context's cause.
var (
	errCanceled    = errors.New("job canceled")
	errLost        = errors.New("lease lost")
	errEngineEnded = errors.New("engine crashed")
)

// errNoBundle: the job ended before its bundle could be made (its work
// directory could not be created); there is nothing to seal or upload.
var errNoBundle = errors.New("no bundle: the job's work directory was never made")
