package bundle

import (
	"encoding/json"
	"fmt"
	"time"
)

// Inventory is what a node's GPUs and driver are, as recorded in a runner's
// registration and in every bundle's manifest (Manifest.Inventory).
type Inventory struct {
	// Source is where the inventory came from: "nvml".
	Source   string `json:"source"`
	Hostname string `json:"hostname,omitempty"`
	// DriverVersion is the NVIDIA driver's version, e.g. "550.54.15".
	DriverVersion string `json:"driver_version"`
	// NVMLVersion is the NVML library's version, e.g. "12.550.54.15".
	NVMLVersion string `json:"nvml_version"`
	// CUDAVersion is the newest CUDA version the driver supports, "12.4".
	CUDAVersion string         `json:"cuda_version"`
	CollectedAt time.Time      `json:"collected_at"`
	GPUs        []InventoryGPU `json:"gpus"`
	// Unavailable names node-level fields NVML could not report, with its
	// reason.
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// InventoryGPU is one device. Power is in watts, clocks in MHz, memory in bytes.
type InventoryGPU struct {
	Index int    `json:"index"`
	Name  string `json:"name"` // NVML's name, e.g. "NVIDIA H100 80GB HBM3"
	// Accelerator is the name submissions use ("h100"); "" when the
	// accelerator table does not know Name.
	Accelerator       string `json:"accelerator,omitempty"`
	UUID              string `json:"uuid"`
	Serial            string `json:"serial,omitempty"`
	PCIBusID          string `json:"pci_bus_id,omitempty"`
	Architecture      string `json:"architecture"`
	ComputeCapability string `json:"compute_capability,omitempty"`
	MemoryBytes       uint64 `json:"memory_bytes"`

	// PowerLimitW is the power management limit now set; EnforcedPowerLimitW
	// the one in force (the lower of it and other limits); DefaultPowerLimitW
	// the board's default. Min/Max bound what an operator may set.
	PowerLimitW         float64 `json:"power_limit_w"`
	EnforcedPowerLimitW float64 `json:"enforced_power_limit_w"`
	DefaultPowerLimitW  float64 `json:"default_power_limit_w"`
	MinPowerLimitW      float64 `json:"min_power_limit_w"`
	MaxPowerLimitW      float64 `json:"max_power_limit_w"`

	SMClockMHz     uint32 `json:"sm_clock_mhz"`
	MemClockMHz    uint32 `json:"mem_clock_mhz"`
	MaxSMClockMHz  uint32 `json:"max_sm_clock_mhz"`
	MaxMemClockMHz uint32 `json:"max_mem_clock_mhz"`

	PersistenceMode bool `json:"persistence_mode"`
	// MIGMode is "enabled", "disabled" or "unsupported"; MIGPendingMode is
	// the mode after the next GPU reset when it differs.
	MIGMode        string `json:"mig_mode"`
	MIGPendingMode string `json:"mig_pending_mode,omitempty"`

	// Processes are the compute processes on the GPU when the inventory was
	// taken.
	Processes []InventoryProcess `json:"processes"`

	// Unavailable names the fields NVML could not report, with its reason
	// ("serial": "ERROR_NOT_SUPPORTED"). Such a field is zero.
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// InventoryProcess is a compute process on a GPU.
type InventoryProcess struct {
	PID uint32 `json:"pid"`
	// Name is the process's command name from /proc; "" when it is in
	// another PID namespace or gone.
	Name            string `json:"name,omitempty"`
	UsedMemoryBytes uint64 `json:"used_memory_bytes"`
}

// MIG modes.
const (
	MIGEnabled     = "enabled"
	MIGDisabled    = "disabled"
	MIGUnsupported = "unsupported"
)

// PowerLimitChanged reports whether the power limit now set differs from
// the board's default (both known). Such a run is recorded as such, never
// hidden.
func (g *InventoryGPU) PowerLimitChanged() bool {
	_, a := g.Unavailable["power_limit_w"]
	_, b := g.Unavailable["default_power_limit_w"]
	return !a && !b && g.PowerLimitW != g.DefaultPowerLimitW
}

// DecodeInventory reads a manifest's inventory.
func DecodeInventory(raw json.RawMessage) (*Inventory, error) {
	var inv Inventory
	if err := json.Unmarshal(raw, &inv); err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	return &inv, nil
}
