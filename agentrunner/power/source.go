package power

import "context"

// Power boundaries: what a source's power covers.
const (
	// BoundaryGPUBoard is NVML's: the GPU board and its memory, not the
	// host's CPUs, fans or power supplies.
	BoundaryGPUBoard = "gpu-board"
	// BoundarySimulated is the sim engine's: no hardware at all.
	BoundarySimulated = "simulated"
)

// Source reads every GPU's energy counter and power once per call.
type Source interface {
	// Name is "nvml" or "sim".
	Name() string
	// Boundary is what the power covers (BoundaryGPUBoard, …).
	Boundary() string
	// Read reads each GPU once and stamps its sample on clk. A GPU that
	// could not be read is a sample with Err; an error means that no GPU
	// could be read at all.
	Read(ctx context.Context, clk Clock) ([]Sample, error)
}
