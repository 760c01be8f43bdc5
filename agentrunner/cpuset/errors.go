package cpuset

import "errors"

var (
	// ErrUnsupported: CPU affinity is set on Linux only.
	ErrUnsupported = errors.New("cpu affinity is supported on Linux only")
	// ErrNotAllowed: a CPU list names CPUs this process may not run on.
	ErrNotAllowed = errors.New("cpus outside the ones this process may run on")
	// ErrOverlap: the client's and the engine's CPU lists share CPUs.
	ErrOverlap = errors.New("cpu lists overlap")
	// ErrPinned: the process is already pinned by another Pinning.
	ErrPinned = errors.New("process already pinned")
)
