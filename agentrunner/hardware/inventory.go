package hardware

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/agentwatt/agentwatt/bundle"
)

// Inventory is the inventory's schema, which package bundle owns (a
// manifest carries it), with the node's own methods (Pool).
type Inventory bundle.Inventory

// GPU and Process are the inventory's devices and their processes.
type (
	GPU     = bundle.InventoryGPU
	Process = bundle.InventoryProcess
)

// MIG modes.
const (
	MIGEnabled     = bundle.MIGEnabled
	MIGDisabled    = bundle.MIGDisabled
	MIGUnsupported = bundle.MIGUnsupported
)

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
