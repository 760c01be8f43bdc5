package power

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// NVMLSource reads GPUs through NVML. It is not safe for concurrent Reads;
// one Sampler owns it.
type NVMLSource struct {
	gpus     []*nvmlGPU
	auxEvery int // read clocks, temperature and clock events every auxEvery reads; 0 never
	reads    int
}

var _ Source = (*NVMLSource)(nil)

type nvmlGPU struct {
	index int
	dev   nvml.Device
	// instant is true while FI_DEV_POWER_INSTANT works; after a permanent
	// failure the GPU falls back to GetPowerUsage for the rest of the run.
	instant bool
	note    string // the fallback's reason, put on the next sample
}

// NewNVMLSource samples the given devices, or every device of lib when none
// is given. lib must be initialised (hardware.Open does it). A device's GPU
// index is its NVML index.
func NewNVMLSource(lib nvml.Interface, devices ...nvml.Device) (*NVMLSource, error) {
	if len(devices) == 0 {
		n, ret := lib.DeviceGetCount()
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("nvmlDeviceGetCount: %s", ret.Error())
		}
		for i := range n {
			d, ret := lib.DeviceGetHandleByIndex(i)
			if ret != nvml.SUCCESS {
				return nil, fmt.Errorf("nvmlDeviceGetHandleByIndex(%d): %s", i, ret.Error())
			}
			devices = append(devices, d)
		}
	}
	if len(devices) == 0 {
		return nil, ErrNoDevices
	}
	s := &NVMLSource{auxEvery: 1}
	for pos, d := range devices {
		idx, ret := d.GetIndex()
		if ret != nvml.SUCCESS {
			idx = pos
		}
		s.gpus = append(s.gpus, &nvmlGPU{index: idx, dev: d, instant: true})
	}
	return s, nil
}

// SetAuxEvery makes the source read the SM clock, temperature and
// clock-event reasons on every nth read only (1, the default: every read; 0:
// never), to cut its NVML calls from five to two per GPU on the other reads.
// Energy and power are read every time. Call it before sampling starts.
func (s *NVMLSource) SetAuxEvery(n int) { s.auxEvery = max(n, 0) }

// Name is "nvml".
func (s *NVMLSource) Name() string { return "nvml" }

// Boundary is BoundaryGPUBoard.
func (s *NVMLSource) Boundary() string { return BoundaryGPUBoard }

// Read reads every GPU: the energy counter first (its time is the sample's
// time), then power, SM clock, temperature and clock-event reasons.
func (s *NVMLSource) Read(ctx context.Context, clk Clock) ([]Sample, error) {
	out := make([]Sample, 0, len(s.gpus))
	aux := s.auxEvery > 0 && s.reads%s.auxEvery == 0
	s.reads++
	for _, g := range s.gpus {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		out = append(out, g.read(clk, aux))
	}
	return out, nil
}

func (g *nvmlGPU) read(clk Clock, aux bool) (s Sample) {
	s.GPU = g.index
	t0 := clk.Now()
	e, ret := g.dev.GetTotalEnergyConsumption()
	t1 := clk.Now()
	s.TMonoNs = t0 + (t1-t0)/2
	s.TUnixNs = clk.UnixNano(s.TMonoNs)
	defer func() { s.ReadNs = clk.Now() - t0 }()
	if ret != nvml.SUCCESS {
		s.Err = "nvmlDeviceGetTotalEnergyConsumption: " + ret.Error()
		return s
	}
	s.EnergyMJ = float64(e)
	if err := g.power(&s); err != "" {
		s.Err = err
		return s
	}
	if aux {
		g.readAux(&s)
	}
	return s
}

// readAux fills the SM clock, temperature and clock-event reasons; a failure
// is noted in AuxErr and leaves the sample valid.
func (g *nvmlGPU) readAux(s *Sample) {
	var aux []string
	if v, ret := g.dev.GetClockInfo(nvml.CLOCK_SM); ret == nvml.SUCCESS {
		s.SMClockMHz = v
	} else {
		aux = append(aux, "sm clock: "+ret.Error())
	}
	if v, ret := g.dev.GetTemperature(nvml.TEMPERATURE_GPU); ret == nvml.SUCCESS {
		s.TempC = v
	} else {
		aux = append(aux, "temperature: "+ret.Error())
	}
	if v, ret := g.dev.GetCurrentClocksEventReasons(); ret == nvml.SUCCESS {
		s.ClockEvents = v
	} else {
		aux = append(aux, "clock events: "+ret.Error())
	}
	s.AuxErr = strings.Join(aux, "; ")
}

// power fills PowerW, PowerSource and SrcTUnixNs, or returns why it could
// not.
func (g *nvmlGPU) power(s *Sample) string {
	if g.instant {
		fv := []nvml.FieldValue{{FieldId: nvml.FI_DEV_POWER_INSTANT, ScopeId: nvml.POWER_SCOPE_GPU}}
		ret := g.dev.GetFieldValues(fv)
		if ret == nvml.SUCCESS {
			ret = nvml.Return(fv[0].NvmlReturn)
		}
		switch {
		case ret == nvml.SUCCESS:
			mw, ok := FieldValueFloat(fv[0])
			if ok {
				s.PowerW = mw / 1000
				s.PowerSource = SourceInstant
				s.SrcTUnixNs = fv[0].Timestamp * int64(time.Microsecond)
				return ""
			}
			g.fallBack(fmt.Sprintf("FI_DEV_POWER_INSTANT has value type %d", fv[0].ValueType))
		case permanent(ret):
			g.fallBack("FI_DEV_POWER_INSTANT: " + ret.Error())
		default:
			return "nvmlDeviceGetFieldValues(FI_DEV_POWER_INSTANT): " + ret.Error()
		}
	}
	mw, ret := g.dev.GetPowerUsage()
	if ret != nvml.SUCCESS {
		return "nvmlDeviceGetPowerUsage: " + ret.Error()
	}
	s.PowerW = float64(mw) / 1000
	s.PowerSource = SourcePowerUsage
	s.Note, g.note = g.note, ""
	return ""
}

func (g *nvmlGPU) fallBack(reason string) {
	g.instant = false
	g.note = "power falls back to nvmlDeviceGetPowerUsage (a 1 s average on Ampere and newer): " + reason
}

// permanent reports whether an NVML return means the call will never work
// on this GPU and driver, rather than that it failed this time.
func permanent(ret nvml.Return) bool {
	switch ret {
	case nvml.ERROR_NOT_SUPPORTED, nvml.ERROR_INVALID_ARGUMENT, nvml.ERROR_FUNCTION_NOT_FOUND,
		nvml.ERROR_ARGUMENT_VERSION_MISMATCH, nvml.ERROR_NOT_FOUND:
		return true
	}
	return false
}

// FieldValueFloat decodes an NVML field value by its value type. It reports
// false for a type it does not know.
func FieldValueFloat(v nvml.FieldValue) (float64, bool) {
	b := v.Value[:]
	switch nvml.ValueType(v.ValueType) {
	case nvml.VALUE_TYPE_DOUBLE:
		return math.Float64frombits(binary.NativeEndian.Uint64(b)), true
	case nvml.VALUE_TYPE_UNSIGNED_INT:
		return float64(binary.NativeEndian.Uint32(b)), true
	case nvml.VALUE_TYPE_UNSIGNED_LONG, nvml.VALUE_TYPE_UNSIGNED_LONG_LONG:
		return float64(binary.NativeEndian.Uint64(b)), true
	case nvml.VALUE_TYPE_SIGNED_LONG_LONG:
		return float64(int64(binary.NativeEndian.Uint64(b))), true
	case nvml.VALUE_TYPE_SIGNED_INT:
		return float64(int32(binary.NativeEndian.Uint32(b))), true
	case nvml.VALUE_TYPE_UNSIGNED_SHORT:
		return float64(binary.NativeEndian.Uint16(b)), true
	}
	return 0, false
}
