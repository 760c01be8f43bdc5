package hardware

import (
	"errors"
	"os"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh200"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

// fillDevice gives a mock server's device the calls the shared mock server
// leaves unset (power limits, clocks, serial, processes), with values like
// an H100 SXM's.
func fillDevice(d *server.Device, limitMW uint32, procs []nvml.ProcessInfo) {
	d.GetSerialFunc = func() (string, nvml.Return) { return "165000000000" + string(rune('0'+d.Index)), nvml.SUCCESS }
	d.GetPowerManagementLimitFunc = func() (uint32, nvml.Return) { return limitMW, nvml.SUCCESS }
	d.GetEnforcedPowerLimitFunc = func() (uint32, nvml.Return) { return limitMW, nvml.SUCCESS }
	d.GetPowerManagementDefaultLimitFunc = func() (uint32, nvml.Return) { return 700000, nvml.SUCCESS }
	d.GetPowerManagementLimitConstraintsFunc = func() (uint32, uint32, nvml.Return) { return 200000, 700000, nvml.SUCCESS }
	d.GetClockInfoFunc = func(c nvml.ClockType) (uint32, nvml.Return) {
		if c == nvml.CLOCK_SM {
			return 345, nvml.SUCCESS
		}
		return 2619, nvml.SUCCESS
	}
	d.GetMaxClockInfoFunc = func(c nvml.ClockType) (uint32, nvml.Return) {
		if c == nvml.CLOCK_SM {
			return 1980, nvml.SUCCESS
		}
		return 2619, nvml.SUCCESS
	}
	d.GetPersistenceModeFunc = func() (nvml.EnableState, nvml.Return) { return nvml.FEATURE_ENABLED, nvml.SUCCESS }
	d.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) { return procs, nvml.SUCCESS }
}

func openMock(t *testing.T, s *server.Server) *NVML {
	t.Helper()
	n, err := OpenLib(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

func TestInventoryDGXH100(t *testing.T) {
	s := dgxh100.New()
	self := uint32(os.Getpid())
	for i, d := range s.Devices {
		var procs []nvml.ProcessInfo
		if i == 3 {
			procs = []nvml.ProcessInfo{{Pid: self, UsedGpuMemory: 1 << 30}}
		}
		limit := uint32(700000)
		if i == 5 {
			limit = 500000 // an operator capped this one
		}
		fillDevice(d.(*server.Device), limit, procs)
	}
	s.Devices[7].(*server.Device).GetSerialFunc = func() (string, nvml.Return) { return "", nvml.ERROR_NOT_SUPPORTED }

	n := openMock(t, s)
	inv := n.Inventory()

	if got, want := len(inv.GPUs), 8; got != want {
		t.Fatalf("GPUs = %d, want %d", got, want)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"source", inv.Source, "nvml"},
		{"driver", inv.DriverVersion, "550.54.15"},
		{"nvml", inv.NVMLVersion, "12.550.54.15"},
		{"cuda", inv.CUDAVersion, "12.4"},
		{"name", inv.GPUs[0].Name, "NVIDIA H100 80GB HBM3"},
		{"accelerator", inv.GPUs[0].Accelerator, "h100"},
		{"uuid", inv.GPUs[2].UUID, s.Devices[2].(*server.Device).UUID},
		{"serial", inv.GPUs[1].Serial, "1650000000001"},
		{"architecture", inv.GPUs[0].Architecture, "hopper"},
		{"compute capability", inv.GPUs[0].ComputeCapability, "9.0"},
		{"memory", inv.GPUs[0].MemoryBytes, uint64(81920) << 20},
		{"power limit", inv.GPUs[0].PowerLimitW, 700.0},
		{"enforced", inv.GPUs[5].EnforcedPowerLimitW, 500.0},
		{"default", inv.GPUs[5].DefaultPowerLimitW, 700.0},
		{"min", inv.GPUs[0].MinPowerLimitW, 200.0},
		{"max", inv.GPUs[0].MaxPowerLimitW, 700.0},
		{"limit unchanged", inv.GPUs[0].PowerLimitChanged(), false},
		{"limit changed", inv.GPUs[5].PowerLimitChanged(), true},
		{"sm clock", inv.GPUs[0].SMClockMHz, uint32(345)},
		{"mem clock", inv.GPUs[0].MemClockMHz, uint32(2619)},
		{"max sm clock", inv.GPUs[0].MaxSMClockMHz, uint32(1980)},
		{"persistence", inv.GPUs[0].PersistenceMode, true},
		{"mig", inv.GPUs[0].MIGMode, MIGDisabled},
		{"no processes", len(inv.GPUs[0].Processes), 0},
		{"processes on gpu 3", len(inv.GPUs[3].Processes), 1},
		{"serial unavailable", inv.GPUs[7].Unavailable["serial"], "ERROR_NOT_SUPPORTED"},
		{"serial zero", inv.GPUs[7].Serial, ""},
		{"gpu 0 complete", len(inv.GPUs[0].Unavailable), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	p := inv.GPUs[3].Processes[0]
	if p.PID != self || p.UsedMemoryBytes != 1<<30 || p.Name == "" {
		t.Errorf("process = %+v, want pid %d with a name and 1 GiB", p, self)
	}
	pool, err := inv.Pool()
	if err != nil || pool != "h100x8" {
		t.Errorf("Pool() = %q, %v; want h100x8", pool, err)
	}
}

func TestInventoryMIGAndPool(t *testing.T) {
	s := dgxh200.New()
	s.Devices = s.Devices[:1]
	d := s.Devices[0].(*server.Device)
	fillDevice(d, 700000, nil)
	d.MigMode = nvml.DEVICE_MIG_ENABLE
	d.GetMigModeFunc = func() (int, int, nvml.Return) { return nvml.DEVICE_MIG_ENABLE, nvml.DEVICE_MIG_DISABLE, nvml.SUCCESS }

	n := openMock(t, s)
	inv := n.Inventory()
	g := inv.GPUs[0]
	if g.MIGMode != MIGEnabled || g.MIGPendingMode != MIGDisabled {
		t.Errorf("MIG = %q pending %q, want enabled pending disabled", g.MIGMode, g.MIGPendingMode)
	}
	if pool, err := inv.Pool(); err != nil || pool != "h200x1" {
		t.Errorf("Pool() = %q, %v; want h200x1", pool, err)
	}

	d.GetMigModeFunc = func() (int, int, nvml.Return) { return 0, 0, nvml.ERROR_NOT_SUPPORTED }
	if got := n.Inventory().GPUs[0].MIGMode; got != MIGUnsupported {
		t.Errorf("MIG mode without support = %q, want %q", got, MIGUnsupported)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name    string
		init    nvml.Return
		noNVML  bool
		wantMsg string
	}{
		{"library missing", nvml.ERROR_LIBRARY_NOT_FOUND, true, ErrNoNVML.Error()},
		{"driver not loaded", nvml.ERROR_DRIVER_NOT_LOADED, true, "NVIDIA driver not loaded (libnvidia-ml.so.1 found, but nvmlInit: ERROR_DRIVER_NOT_LOADED): only --pool sim is possible on this machine"},
		{"no permission", nvml.ERROR_NO_PERMISSION, false, "nvmlInit: ERROR_NO_PERMISSION (NVML return 4)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lib := &mock.Interface{InitFunc: func() nvml.Return { return tt.init }}
			n, err := OpenLib(lib)
			if n != nil || err == nil {
				t.Fatalf("OpenLib() = %v, %v; want an error", n, err)
			}
			if got := errors.Is(err, ErrNoNVML); got != tt.noNVML {
				t.Errorf("errors.Is(err, ErrNoNVML) = %v, want %v", got, tt.noNVML)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("error = %q, want %q", err, tt.wantMsg)
			}
		})
	}
}

func TestOpenDeviceCountFails(t *testing.T) {
	shut := 0
	lib := &mock.Interface{
		InitFunc:           func() nvml.Return { return nvml.SUCCESS },
		ShutdownFunc:       func() nvml.Return { shut++; return nvml.SUCCESS },
		DeviceGetCountFunc: func() (int, nvml.Return) { return 0, nvml.ERROR_UNKNOWN },
	}
	_, err := OpenLib(lib)
	var ne *NVMLError
	if !errors.As(err, &ne) || ne.Ret != nvml.ERROR_UNKNOWN {
		t.Fatalf("OpenLib() error = %v, want an NVMLError with ERROR_UNKNOWN", err)
	}
	if shut != 1 {
		t.Errorf("Shutdown called %d times, want 1", shut)
	}
}

// TestOpenWithoutDriver runs the real loader: on a machine without the
// NVIDIA driver (CI) it must say so and never pretend to have GPUs.
func TestOpenWithoutDriver(t *testing.T) {
	n, err := Open()
	if err == nil {
		_ = n.Close()
		t.Skip("this machine has an NVIDIA driver")
	}
	if !errors.Is(err, ErrNoNVML) {
		t.Fatalf("Open() error = %v, want ErrNoNVML", err)
	}
}
