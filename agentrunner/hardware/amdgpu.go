package hardware

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/agentwatt/agentwatt/agentrunner/power"
)

// DefaultKFDProcs is where the amdgpu kernel driver (KFD) lists the
// processes that have opened a compute context: one directory per PID.
const DefaultKFDProcs = "/sys/class/kfd/kfd/proc"

// rePCI is a PCI address, the name a device's sysfs directory resolves to.
var rePCI = regexp.MustCompile(`^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f]$`)

// AMDInventory reads the AMD GPUs under a DRM root (power.DefaultDRMRoot,
// or a recorded tree in tests) from the amdgpu driver's sysfs, without
// ROCm: per GPU product_name (the board's FRU; absent on some cards, then
// the name is the PCI device id and the accelerator unknown),
// mem_info_vram_total, unique_id, the PCI address, and the hwmon power
// cap (power1_cap, its default, min and max, µW). Fields NVML gives and
// sysfs does not (clocks, MIG, processes per GPU) are listed in
// Unavailable. It returns ErrNoGPUs when there is no AMD GPU.
func AMDInventory(root string) (Inventory, error) {
	if root == "" {
		root = power.DefaultDRMRoot
	}
	cards, err := power.AMDGPUCards(root)
	if err != nil {
		return Inventory{}, err
	}
	if len(cards) == 0 {
		return Inventory{}, fmt.Errorf("amdgpu: %w under %s", ErrNoGPUs, root)
	}
	inv := Inventory{Source: "amdgpu", CollectedAt: time.Now().UTC(), GPUs: make([]GPU, 0, len(cards))}
	inv.Hostname, _ = os.Hostname()
	if v, err := os.ReadFile("/sys/module/amdgpu/version"); err == nil {
		inv.DriverVersion = string(trimNL(v))
	} else {
		inv.Unavailable = map[string]string{"driver_version": "no /sys/module/amdgpu/version (the in-tree driver)"}
	}
	for i, c := range cards {
		inv.GPUs = append(inv.GPUs, readAMDGPU(i, c))
	}
	return inv, nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

func readAMDGPU(index int, c power.AMDGPUCard) GPU {
	g := GPU{Index: index, Architecture: "amdgpu", Processes: []Process{},
		MIGMode: MIGUnsupported, Unavailable: map[string]string{}}
	read := func(dir, name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			g.Unavailable[name] = "not in sysfs"
			return ""
		}
		return string(trimNL(b))
	}
	if v := read(c.Device, "product_name"); v != "" {
		g.Name = v
		g.Accelerator, _ = Accelerator(v)
	} else {
		g.Name = "AMD GPU " + read(c.Device, "device")
	}
	g.UUID = read(c.Device, "unique_id")
	if v, err := strconv.ParseUint(read(c.Device, "mem_info_vram_total"), 10, 64); err == nil {
		g.MemoryBytes = v
	}
	if p, err := filepath.EvalSymlinks(c.Device); err == nil && rePCI.MatchString(filepath.Base(p)) {
		g.PCIBusID = filepath.Base(p)
	}
	for name, dst := range map[string]*float64{
		"power1_cap": &g.PowerLimitW, "power1_cap_default": &g.DefaultPowerLimitW,
		"power1_cap_min": &g.MinPowerLimitW, "power1_cap_max": &g.MaxPowerLimitW,
	} {
		if w, err := power.ReadMicroWatts(c.Hwmon, name); err == nil {
			*dst = w
		} else {
			g.Unavailable[name] = "not in sysfs"
		}
	}
	g.EnforcedPowerLimitW = g.PowerLimitW
	for _, f := range []string{"sm_clock_mhz", "mem_clock_mhz", "processes"} {
		g.Unavailable[f] = "not read from amdgpu sysfs"
	}
	delete(g.Unavailable, "device")
	if _, ok := g.Unavailable["power1_cap_default"]; ok {
		g.Unavailable["default_power_limit_w"] = "no power1_cap_default"
	}
	if _, ok := g.Unavailable["power1_cap"]; ok {
		g.Unavailable["power_limit_w"] = "no power1_cap"
	}
	return g
}

// AMDComputeProcesses lists the PIDs with a compute context on the amdgpu
// driver (KFD), from dir (DefaultKFDProcs in production). The driver does
// not say which GPU each uses; any one means the node is busy.
func AMDComputeProcesses(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, "pid "+e.Name())
		}
	}
	return out
}
