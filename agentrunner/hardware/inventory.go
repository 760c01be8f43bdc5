package hardware

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// Inventory is what a node's GPUs and driver are, as recorded in a runner's
// registration and in every bundle's manifest.
type Inventory struct {
	// Source is where the inventory came from: "nvml".
	Source   string `json:"source"`
	Hostname string `json:"hostname,omitempty"`
	// DriverVersion is the NVIDIA driver's version, e.g. "550.54.15".
	DriverVersion string `json:"driver_version"`
	// NVMLVersion is the NVML library's version, e.g. "12.550.54.15".
	NVMLVersion string `json:"nvml_version"`
	// CUDAVersion is the newest CUDA version the driver supports, "12.4".
	CUDAVersion string    `json:"cuda_version"`
	CollectedAt time.Time `json:"collected_at"`
	GPUs        []GPU     `json:"gpus"`
	// Unavailable names node-level fields NVML could not report, with its
	// reason.
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// GPU is one device. Power is in watts, clocks in MHz, memory in bytes.
type GPU struct {
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
	Processes []Process `json:"processes"`

	// Unavailable names the fields NVML could not report, with its reason
	// ("serial": "ERROR_NOT_SUPPORTED"). Such a field is zero.
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// Process is a compute process on a GPU.
type Process struct {
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
func (g *GPU) PowerLimitChanged() bool {
	_, a := g.Unavailable["power_limit_w"]
	_, b := g.Unavailable["default_power_limit_w"]
	return !a && !b && g.PowerLimitW != g.DefaultPowerLimitW
}

// Inventory reads the node's driver versions and every GPU now. A field
// NVML cannot report is recorded in Unavailable rather than failing the
// whole inventory.
func (n *NVML) Inventory() Inventory {
	inv := Inventory{Source: "nvml", CollectedAt: time.Now().UTC(), GPUs: make([]GPU, 0, len(n.devices))}
	inv.Hostname, _ = os.Hostname()
	miss := func(field string, ret nvml.Return) bool {
		if ret == nvml.SUCCESS {
			return false
		}
		if inv.Unavailable == nil {
			inv.Unavailable = map[string]string{}
		}
		inv.Unavailable[field] = ret.Error()
		return true
	}
	if v, ret := n.lib.SystemGetDriverVersion(); !miss("driver_version", ret) {
		inv.DriverVersion = v
	}
	if v, ret := n.lib.SystemGetNVMLVersion(); !miss("nvml_version", ret) {
		inv.NVMLVersion = v
	}
	if v, ret := n.lib.SystemGetCudaDriverVersion(); !miss("cuda_version", ret) {
		inv.CUDAVersion = cudaVersion(v)
	}
	for i, d := range n.devices {
		inv.GPUs = append(inv.GPUs, readGPU(i, d))
	}
	return inv
}

// cudaVersion turns NVML's 12040 into "12.4".
func cudaVersion(v int) string { return fmt.Sprintf("%d.%d", v/1000, v%1000/10) }

// readGPU reads one device's inventory.
func readGPU(index int, d nvml.Device) GPU {
	g := GPU{Index: index, Processes: []Process{}}
	miss := func(field string, ret nvml.Return) bool {
		if ret == nvml.SUCCESS {
			return false
		}
		if g.Unavailable == nil {
			g.Unavailable = map[string]string{}
		}
		g.Unavailable[field] = ret.Error()
		return true
	}
	if v, ret := d.GetName(); !miss("name", ret) {
		g.Name = v
		g.Accelerator, _ = Accelerator(v)
	}
	if v, ret := d.GetUUID(); !miss("uuid", ret) {
		g.UUID = v
	}
	if v, ret := d.GetSerial(); !miss("serial", ret) {
		g.Serial = v
	}
	if v, ret := d.GetPciInfo(); !miss("pci_bus_id", ret) {
		g.PCIBusID = cString(v.BusId[:])
	}
	if v, ret := d.GetArchitecture(); !miss("architecture", ret) {
		g.Architecture = ArchitectureName(v)
	}
	if major, minor, ret := d.GetCudaComputeCapability(); !miss("compute_capability", ret) {
		g.ComputeCapability = fmt.Sprintf("%d.%d", major, minor)
	}
	if v, ret := d.GetMemoryInfo(); !miss("memory_bytes", ret) {
		g.MemoryBytes = v.Total
	}

	if v, ret := d.GetPowerManagementLimit(); !miss("power_limit_w", ret) {
		g.PowerLimitW = milliwatts(v)
	}
	if v, ret := d.GetEnforcedPowerLimit(); !miss("enforced_power_limit_w", ret) {
		g.EnforcedPowerLimitW = milliwatts(v)
	}
	if v, ret := d.GetPowerManagementDefaultLimit(); !miss("default_power_limit_w", ret) {
		g.DefaultPowerLimitW = milliwatts(v)
	}
	if lo, hi, ret := d.GetPowerManagementLimitConstraints(); !miss("power_limit_constraints", ret) {
		g.MinPowerLimitW, g.MaxPowerLimitW = milliwatts(lo), milliwatts(hi)
	}

	if v, ret := d.GetClockInfo(nvml.CLOCK_SM); !miss("sm_clock_mhz", ret) {
		g.SMClockMHz = v
	}
	if v, ret := d.GetClockInfo(nvml.CLOCK_MEM); !miss("mem_clock_mhz", ret) {
		g.MemClockMHz = v
	}
	if v, ret := d.GetMaxClockInfo(nvml.CLOCK_SM); !miss("max_sm_clock_mhz", ret) {
		g.MaxSMClockMHz = v
	}
	if v, ret := d.GetMaxClockInfo(nvml.CLOCK_MEM); !miss("max_mem_clock_mhz", ret) {
		g.MaxMemClockMHz = v
	}

	if v, ret := d.GetPersistenceMode(); !miss("persistence_mode", ret) {
		g.PersistenceMode = v == nvml.FEATURE_ENABLED
	}
	switch cur, pending, ret := d.GetMigMode(); ret {
	case nvml.SUCCESS:
		g.MIGMode = migName(cur)
		if pending != cur {
			g.MIGPendingMode = migName(pending)
		}
	case nvml.ERROR_NOT_SUPPORTED:
		g.MIGMode = MIGUnsupported
	default:
		miss("mig_mode", ret)
	}

	if procs, ret := d.GetComputeRunningProcesses(); !miss("processes", ret) {
		for _, p := range procs {
			g.Processes = append(g.Processes, Process{PID: p.Pid, Name: processName(p.Pid), UsedMemoryBytes: p.UsedGpuMemory})
		}
	}
	return g
}

func milliwatts(mw uint32) float64 { return float64(mw) / 1000 }

func migName(mode int) string {
	if mode == nvml.DEVICE_MIG_ENABLE {
		return MIGEnabled
	}
	return MIGDisabled
}

// cString reads a NUL-terminated C char array.
func cString(b []int8) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

// processName is /proc/PID/comm, or "" when it cannot be read.
func processName(pid uint32) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// ArchitectureName is NVML's architecture as a lower-case word ("hopper");
// "unknown(N)" for a value this build does not know.
func ArchitectureName(a nvml.DeviceArchitecture) string {
	switch a {
	case nvml.DEVICE_ARCH_KEPLER:
		return "kepler"
	case nvml.DEVICE_ARCH_MAXWELL:
		return "maxwell"
	case nvml.DEVICE_ARCH_PASCAL:
		return "pascal"
	case nvml.DEVICE_ARCH_VOLTA:
		return "volta"
	case nvml.DEVICE_ARCH_TURING:
		return "turing"
	case nvml.DEVICE_ARCH_AMPERE:
		return "ampere"
	case nvml.DEVICE_ARCH_ADA:
		return "ada"
	case nvml.DEVICE_ARCH_HOPPER:
		return "hopper"
	case nvml.DEVICE_ARCH_BLACKWELL:
		return "blackwell"
	case nvml.DEVICE_ARCH_RUBIN:
		return "rubin"
	}
	return fmt.Sprintf("unknown(%d)", uint32(a))
}
