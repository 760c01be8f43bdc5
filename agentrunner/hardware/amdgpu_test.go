package hardware

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"

	"github.com/agentwatt/agentwatt/spec"
)

func TestAMDInventory(t *testing.T) {
	inv, err := AMDInventory("../power/testdata/amdgpu/mi300x")
	if err != nil {
		t.Fatal(err)
	}
	if inv.Source != "amdgpu" || len(inv.GPUs) != 2 {
		t.Fatalf("inventory %+v: want 2 amdgpu GPUs", inv)
	}
	g := inv.GPUs[1]
	if g.Index != 1 || g.Name != "AMD Instinct MI300X" || g.Accelerator != "mi300x" || g.MemoryBytes != 206158430208 ||
		g.PowerLimitW != 750 || g.DefaultPowerLimitW != 750 || g.MaxPowerLimitW != 750 || g.UUID != "a1b2c3d4e5f60711" {
		t.Errorf("GPU 1: %+v", g)
	}
	if g.PowerLimitChanged() {
		t.Errorf("a cap at its default reads as changed")
	}
	if pool, err := inv.Pool(); err != nil || pool != "mi300xx2" {
		t.Errorf("pool %q, %v; want mi300xx2", pool, err)
	}

	inv, err = AMDInventory("../power/testdata/amdgpu/newer")
	if err != nil {
		t.Fatal(err)
	}
	if g := inv.GPUs[0]; g.Accelerator != "" || g.Name != "AMD GPU 0x75a3" || g.Unavailable["product_name"] == "" {
		t.Errorf("card without product_name: %+v", g)
	}
	if _, err := inv.Pool(); !errors.Is(err, ErrUnknownAccelerator) {
		t.Errorf("pool of an unnamed card: %v, want ErrUnknownAccelerator", err)
	}
	if _, err := AMDInventory(t.TempDir()); !errors.Is(err, ErrNoGPUs) {
		t.Errorf("no AMD GPU: %v, want ErrNoGPUs", err)
	}
}

func TestAcceleratorAMD(t *testing.T) {
	for name, want := range map[string]string{"AMD Instinct MI300X": "mi300x", "AMD Instinct MI325X": "mi325x", "AMD Instinct MI355X": "mi355x", "AMD Instinct MI300A": "mi300a"} {
		if got, ok := Accelerator(name); !ok || got != want {
			t.Errorf("Accelerator(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
}

func TestAMDComputeProcesses(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"4242", "not-a-pid"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if got := AMDComputeProcesses(dir); len(got) != 1 || got[0] != "pid 4242" {
		t.Errorf("got %v, want [pid 4242]", got)
	}
	if got := AMDComputeProcesses(filepath.Join(dir, "none")); got != nil {
		t.Errorf("no KFD: %v", got)
	}
}

// TestOpenNodeAMD: a machine without an NVIDIA driver that has AMD GPUs is
// an AMD node of their pool, not a sim runner; --pool sim still makes a
// sim runner of it.
func TestOpenNodeAMD(t *testing.T) {
	kfd := t.TempDir()
	if err := os.Mkdir(filepath.Join(kfd, "777"), 0o755); err != nil {
		t.Fatal(err)
	}
	saved := amdRoots
	t.Cleanup(func() { amdRoots = saved })
	amdRoots.drm, amdRoots.kfd = "../power/testdata/amdgpu/mi300x", kfd
	noDriver := &mock.Interface{InitFunc: func() nvml.Return { return nvml.ERROR_LIBRARY_NOT_FOUND }}

	n, err := OpenNodeLib(noDriver, "")
	if err != nil {
		t.Fatal(err)
	}
	if n.Sim() || !n.AMD() || n.Pool != "mi300xx2" || n.GPUs() != 2 || n.Accelerator() != "mi300x" {
		t.Errorf("AMD node: sim %v amd %v pool %q gpus %d accel %q", n.Sim(), n.AMD(), n.Pool, n.GPUs(), n.Accelerator())
	}
	if raw, err := n.InventoryJSON(); err != nil || !strings.Contains(string(raw), `"source":"amdgpu"`) {
		t.Errorf("inventory %s, %v", raw, err)
	}
	if busy := n.BusyGPUs(); len(busy) != 1 || busy[0] != "pid 777" {
		t.Errorf("busy %v, want [pid 777]", busy)
	}
	if n.Close() != nil {
		t.Error("Close of an AMD node failed")
	}
	if n, err := OpenNodeLib(noDriver, spec.Sim); err != nil || !n.Sim() {
		t.Errorf("--pool sim on an AMD node: %+v, %v; want a sim runner", n, err)
	}
	if n, err := OpenNodeLib(noDriver, "mi300xx1"); err != nil || n.Pool != "mi300xx1" {
		t.Errorf("named pool: %+v, %v", n, err)
	}
}
