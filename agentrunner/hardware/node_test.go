package hardware

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"

	"github.com/agentwatt/agentwatt/spec"
)

// dgx is a mock DGX H100 whose GPU 3 runs a compute process.
func dgx() *server.Server {
	s := dgxh100.New()
	for i, d := range s.Devices {
		var procs []nvml.ProcessInfo
		if i == 3 {
			procs = []nvml.ProcessInfo{{Pid: uint32(os.Getpid()), UsedGpuMemory: 1 << 30}}
		}
		fillDevice(d.(*server.Device), 700000, procs)
	}
	return s
}

func TestOpenNode(t *testing.T) {
	noDriver := &mock.Interface{InitFunc: func() nvml.Return { return nvml.ERROR_LIBRARY_NOT_FOUND }}
	tests := []struct {
		name     string
		lib      nvml.Interface
		pool     string
		wantPool string
		wantGPUs int
		noDriver bool
		wantErr  string // "" for none
	}{
		{"no driver, no pool: sim", noDriver, "", spec.Sim, 0, true, ""},
		{"no driver, pool sim", noDriver, spec.Sim, spec.Sim, 0, true, ""},
		{"no driver, a sim rack's pool", noDriver, "simx4", "simx4", 0, true, ""},
		{"no driver, a hardware pool", noDriver, "h100x8", "", 0, false, "--pool h100x8: "},
		{"GPUs, no pool: derived", dgx(), "", "h100x8", 8, false, ""},
		{"GPUs, pool sim: GPUs unused", dgx(), spec.Sim, spec.Sim, 0, false, ""},
		{"GPUs, a sim rack's pool: GPUs unused", dgx(), "simx72", "simx72", 0, false, ""},
		{"GPUs, pool named", dgx(), "h100x4", "h100x4", 8, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := OpenNodeLib(tt.lib, tt.pool)
			if tt.wantErr != "" {
				if n != nil || err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || !errors.Is(err, ErrNoNVML) {
					t.Fatalf("OpenNodeLib = %v, %v; want an error starting %q", n, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			if n.Pool != tt.wantPool || n.GPUs() != tt.wantGPUs || n.NoDriver != tt.noDriver || n.Sim() != (tt.wantGPUs == 0) {
				t.Errorf("node: pool %s, %d GPUs, no driver %v, sim %v; want %s, %d, %v", n.Pool, n.GPUs(), n.NoDriver, n.Sim(), tt.wantPool, tt.wantGPUs, tt.noDriver)
			}
			inv, err := n.InventoryJSON()
			if err != nil || (len(inv) == 0) != n.Sim() {
				t.Errorf("InventoryJSON: %d bytes, %v", len(inv), err)
			}
			if n.Sim() {
				if n.Accelerator() != "" || n.Software() != nil || n.BusyGPUs() != nil {
					t.Errorf("a sim node claims hardware: %q %v %v", n.Accelerator(), n.Software(), n.BusyGPUs())
				}
				return
			}
			if n.Accelerator() != "h100" || n.Software()["driver"] != "550.54.15" || n.Software()["cuda"] != "12.4" {
				t.Errorf("accelerator %q, software %v", n.Accelerator(), n.Software())
			}
			if busy := n.BusyGPUs(); len(busy) != 1 || !strings.HasPrefix(busy[0], "gpu 3: ") {
				t.Errorf("BusyGPUs = %q, want GPU 3's process", busy)
			}
		})
	}
}

// A node of mixed GPUs has no pool to derive: the operator names it.
func TestOpenNodeMixedGPUs(t *testing.T) {
	s := dgx()
	s.Devices[7].(*server.Device).GetNameFunc = func() (string, nvml.Return) { return "NVIDIA A100-SXM4-80GB", nvml.SUCCESS }
	n, err := OpenNodeLib(s, "")
	if n != nil || !errors.Is(err, ErrMixedGPUs) || !strings.HasPrefix(err.Error(), "derive the pool from the GPUs (name it with --pool): ") {
		t.Fatalf("OpenNodeLib = %v, %v; want ErrMixedGPUs", n, err)
	}
}
