package hardware

import (
	"fmt"
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// NVML is an initialised NVML session with the node's device handles, in
// NVML index order. Close shuts NVML down.
type NVML struct {
	lib     nvml.Interface
	devices []nvml.Device
	close   sync.Once
}

// noDriverError is ErrNoNVML with a more precise message.
type noDriverError struct{ msg string }

func (e *noDriverError) Error() string        { return e.msg }
func (e *noDriverError) Is(target error) bool { return target == ErrNoNVML }

// Open loads the system's libnvidia-ml.so.1, initialises NVML and takes a
// handle on every GPU. Without the library (no driver installed) it returns
// ErrNoNVML; with the library but no loaded kernel driver it returns an error
// that also matches ErrNoNVML.
func Open() (*NVML, error) { return OpenLib(nvml.New()) }

// OpenLib is Open on a given NVML implementation: nvml.New(options…) for a
// library at another path, or go-nvml's mock package in tests.
func OpenLib(lib nvml.Interface) (*NVML, error) {
	switch ret := lib.Init(); ret {
	case nvml.SUCCESS:
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		return nil, ErrNoNVML
	case nvml.ERROR_DRIVER_NOT_LOADED:
		return nil, &noDriverError{msg: "NVIDIA driver not loaded (libnvidia-ml.so.1 found, but nvmlInit: ERROR_DRIVER_NOT_LOADED): only --pool sim is possible on this machine"}
	default:
		return nil, &NVMLError{Op: "nvmlInit", Ret: ret}
	}
	n := &NVML{lib: lib}
	count, ret := lib.DeviceGetCount()
	if err := nvmlErr("nvmlDeviceGetCount", ret); err != nil {
		_ = n.Close()
		return nil, err
	}
	for i := range count {
		d, ret := lib.DeviceGetHandleByIndex(i)
		if err := nvmlErr(fmt.Sprintf("nvmlDeviceGetHandleByIndex(%d)", i), ret); err != nil {
			_ = n.Close()
			return nil, err
		}
		n.devices = append(n.devices, d)
	}
	return n, nil
}

// Lib is the NVML implementation, for the power sampler.
func (n *NVML) Lib() nvml.Interface { return n.lib }

// Devices are the GPU handles in NVML index order (device i is GPU i).
func (n *NVML) Devices() []nvml.Device { return n.devices }

// Close shuts NVML down once; later calls return nil.
func (n *NVML) Close() error {
	var err error
	n.close.Do(func() { err = nvmlErr("nvmlShutdown", n.lib.Shutdown()) })
	return err
}
