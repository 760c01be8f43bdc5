package power

import (
	"context"

	"github.com/agentwatt/agentwatt/spec"
)

// Power boundaries: what a source's power covers (the rules' names).
const (
	// BoundaryGPUBoard is NVML's and amdgpu's: the GPU board and its
	// memory, not the host's CPUs, fans or power supplies.
	BoundaryGPUBoard = spec.BoundaryGPUBoard
	// BoundaryNode is the BMC's (Redfish): the whole node at its power
	// supplies, the boundary of the published Agents/MW figures.
	BoundaryNode = spec.BoundaryNode
	// BoundaryExternal is an external meter's or PDU outlet's: whatever
	// the operator wired through it.
	BoundaryExternal = spec.BoundaryExternal
	// BoundarySimulated is the sim engine's: no hardware at all.
	BoundarySimulated = spec.BoundarySimulated
)

// Source reads every GPU's energy counter and power once per call.
type Source interface {
	// Name is "nvml", "amdgpu", "redfish", "meter" or "sim".
	Name() string
	// Boundary is what the power covers (BoundaryGPUBoard, …).
	Boundary() string
	// Read reads each GPU (or chassis, or meter: a sample's GPU field is
	// the series' index) once and stamps its sample on clk. A GPU that
	// could not be read is a sample with Err; an error means that no GPU
	// could be read at all.
	Read(ctx context.Context, clk Clock) ([]Sample, error)
}
