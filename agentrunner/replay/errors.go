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
	// ErrInconclusive: two probes in a row could not collect a conclusive
	// window (too few requests), so the search stops rather than guess.
	ErrInconclusive = errors.New("two inconclusive probes in a row")
	// ErrAgentLimit: an N above the run's agent limit (the engine's
	// sequence limit, the profile's max_agents, MaxAgents or the memory
	// budget) was asked for.
	ErrAgentLimit = errors.New("over the agent limit")
	// ErrMeasurementInvalid: a fixed run's window could not be measured
	// (an unhealthy client, a short window) and neither could its retry.
	ErrMeasurementInvalid = errors.New("measurement invalid: the machine was too busy")
	// ErrOutputClosed: a record arrived after Output.Finish or Abort.
	ErrOutputClosed = errors.New("output closed")
	// ErrContextTooSmall: the workload's longest request does not fit the
	// server's context length (ContextError has the detail).
	ErrContextTooSmall = errors.New("server context too small for the workload")
)
