// Package hardware discovers the GPUs of a runner's node through NVML
// (go-nvml) and derives the runner's pool from them.
//
// Open loads libnvidia-ml.so.1 at run time (dlopen; the binary is built with
// cgo and lazy binding, so it starts on machines without a driver). Without
// a driver it returns ErrNoNVML: such a machine can only run the sim pool,
// and nothing here ever pretends to have GPUs.
//
// Inventory records what a bundle must state about the hardware: per GPU the
// name, UUID, serial, memory, architecture, power limits (current, enforced,
// default, min/max), SM and memory clocks (current and max), persistence and
// MIG mode and the compute processes running on it; per node the driver,
// NVML and CUDA versions. A field NVML cannot report is listed in the GPU's
// Unavailable map with NVML's reason, never silently zero.
//
// Pool maps the GPU model to the accelerator names submissions use
// (Accelerator: "NVIDIA H100 80GB HBM3" → "h100") and counts GPUs:
// "h100x1", "h200x8".
//
// OpenNode is the runner's policy on top: which pool it serves (sim without
// a driver or when --pool sim; the pool --pool names; else the GPUs' pool),
// and what it records of the node (inventory, accelerator, software) and
// checks before a job (BusyGPUs). `agentwatt runner` only wires it in.
//
// AMD GPUs have no NVML: AMDInventory reads them from the amdgpu driver's
// sysfs (/sys/class/drm/card*/device: product_name, mem_info_vram_total,
// the hwmon power cap), and OpenNode makes an AMD node of a machine
// without an NVIDIA driver that has them; BusyGPUs then lists the KFD's
// compute processes. The power source is power.AMDGPUSource.
//
// Everything is written against go-nvml's nvml.Interface and nvml.Device, so
// tests drive it with go-nvml's own mock package.
// Files: nvml.go (Open, the session), inventory.go (Inventory), pool.go
// (Accelerator, PoolName, Inventory.Pool), node.go (Node, OpenNode),
// amdgpu.go (AMDInventory, AMDComputeProcesses), errors.go.
package hardware
