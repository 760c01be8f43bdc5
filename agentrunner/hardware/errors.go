package hardware

import (
	"errors"
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

var (
	// ErrNoNVML: the NVIDIA driver's NVML library is not on this machine (or
	// the driver is not loaded), so it has no GPUs a runner can measure.
	ErrNoNVML = errors.New("no NVIDIA driver (libnvidia-ml.so.1 not found): only --pool sim is possible on this machine")
	// ErrNoGPUs: NVML works but reports no GPU.
	ErrNoGPUs = errors.New("NVML reports no GPUs")
	// ErrUnknownAccelerator: a GPU name that the accelerator table does not
	// know; the operator must give the pool explicitly.
	ErrUnknownAccelerator = errors.New("unknown accelerator")
	// ErrMixedGPUs: the node has GPUs of more than one model, which no single
	// pool describes.
	ErrMixedGPUs = errors.New("GPUs of different models")
)

// NVMLError is an NVML call that failed.
type NVMLError struct {
	Op  string // e.g. "nvmlInit", "device 0: GetName"
	Ret nvml.Return
}

func (e *NVMLError) Error() string {
	return fmt.Sprintf("%s: %s (NVML return %d)", e.Op, e.Ret.Error(), int32(e.Ret))
}

// nvmlErr returns nil for SUCCESS and an *NVMLError otherwise.
func nvmlErr(op string, ret nvml.Return) error {
	if ret == nvml.SUCCESS {
		return nil
	}
	return &NVMLError{Op: op, Ret: ret}
}
