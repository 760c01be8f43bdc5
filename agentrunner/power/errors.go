package power

import (
	"errors"

	"github.com/agentwatt/agentwatt/bundle"
)

var (
	// ErrStarted: Start was called twice.
	ErrStarted = errors.New("power sampler already started")
	// ErrNotStarted: the sampler was never started.
	ErrNotStarted = errors.New("power sampler not started")
	// ErrInvalidConfig: a sampler configuration that cannot work.
	ErrInvalidConfig = errors.New("invalid power sampler config")
	// ErrNoDevices: an NVML source without GPUs.
	ErrNoDevices = errors.New("no GPUs to sample")
	// ErrBadSample: a power.jsonl line that is not a valid sample.
	ErrBadSample = bundle.ErrBadPowerLine
)
