package replay

import "errors"

var (
	// ErrConfig: the configuration is incomplete or inconsistent.
	ErrConfig = errors.New("invalid replay configuration")
	// ErrUsed: a Runner runs once; Search or Fixed was called again.
	ErrUsed = errors.New("replay runner already used")
	// ErrClientUnhealthy: probes were invalid twice in a row (the client
	// itself could not keep up, or did not hold N sessions), so the search
	// cannot go on.
	ErrClientUnhealthy = errors.New("client unhealthy")
	// ErrOutputClosed: a record arrived after Output.Finish or Abort.
	ErrOutputClosed = errors.New("output closed")
	// ErrContextTooSmall: the workload's longest request does not fit the
	// server's context length (ContextError has the detail).
	ErrContextTooSmall = errors.New("server context too small for the workload")
)
