package power

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// DefaultAuxPeriod is how often an NVMLSource reads the SM clock, the
// temperature and the clock-event reasons, unless told otherwise.
//
// Energy and instant power are read on every sample in one
// nvmlDeviceGetFieldValues call (FI_DEV_TOTAL_ENERGY_CONSUMPTION and
// FI_DEV_POWER_INSTANT). The other three have no field id to join that
// call: NVML has none for the current SM clock or the GPU's temperature
// (FI_DEV_MEMORY_TEMP is the memory's), and the FI_DEV_CLOCKS_EVENT_REASON_*
// fields are cumulative violation times, not the current reason bits. Each
// costs a driver call of its own, and on an H100 a sample's NVML calls were
// its whole CPU cost (infra/gpu/results/2026-11-26-h100x1.txt: 3.8–4.4 ms per
// sample, 4.4–4.6% of a core at 10 Hz). They describe the GPU's state —
// throttling, heat — and enter no energy figure, which changes on a scale
// of seconds, so once a second is enough: at 10 Hz a GPU costs 1 call per
// sample plus 3 a second, 1.3 per sample instead of 5.
const DefaultAuxPeriod = time.Second

// NVMLSource reads GPUs through NVML. It is not safe for concurrent Reads;
// one Sampler owns it.
type NVMLSource struct {
	gpus []*nvmlGPU
	// The SM clock, temperature and clock events are read on the first read
	// and then every auxPeriod of the run clock, or, after SetAuxEvery, on
	// every auxEvery-th read.
	auxPeriod time.Duration
	auxEvery  int
	byCount   bool
	nextAux   int64
	reads     int
	calls     atomic.Int64
}

var (
	_ Source      = (*NVMLSource)(nil)
	_ CallCounter = (*NVMLSource)(nil)
)

// CallCounter is a Source that counts the calls it makes into its library
// (NVML): what a sample costs, as `agentwatt gpu sample` reports it.
type CallCounter interface {
	Calls() int64
}

type nvmlGPU struct {
	index int
	dev   nvml.Device
	// energyField and powerField are true while FI_DEV_TOTAL_ENERGY_CONSUMPTION
	// and FI_DEV_POWER_INSTANT work. After a permanent failure the GPU
	// reads that value with a call of its own for the rest of the run:
	// nvmlDeviceGetTotalEnergyConsumption (the same counter) or
	// nvmlDeviceGetPowerUsage (a 1 s average on Ampere and newer).
	energyField, powerField bool
	notes                   []string // fallbacks, put on the next sample
	fv                      [2]nvml.FieldValue
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
	s := &NVMLSource{auxPeriod: DefaultAuxPeriod}
	for pos, d := range devices {
		idx, ret := d.GetIndex()
		if ret != nvml.SUCCESS {
			idx = pos
		}
		s.gpus = append(s.gpus, &nvmlGPU{index: idx, dev: d, energyField: true, powerField: true})
	}
	return s, nil
}

// SetAuxPeriod makes the source read the SM clock, temperature and
// clock-event reasons once every d of the run clock (DefaultAuxPeriod
// unless set; 0 or less: on every read). Call it before sampling starts.
func (s *NVMLSource) SetAuxPeriod(d time.Duration) { s.auxPeriod, s.byCount = d, false }

// SetAuxEvery makes the source read the SM clock, temperature and
// clock-event reasons on every nth read instead (1: every read; 0: never).
// Energy and power are read every time. Call it before sampling starts.
func (s *NVMLSource) SetAuxEvery(n int) { s.auxEvery, s.byCount = max(n, 0), true }

// Calls is how many NVML calls the source has made.
func (s *NVMLSource) Calls() int64 { return s.calls.Load() }

// Name is "nvml".
func (s *NVMLSource) Name() string { return "nvml" }

// Boundary is BoundaryGPUBoard.
func (s *NVMLSource) Boundary() string { return BoundaryGPUBoard }

// Read reads every GPU: energy and instant power in one field call (its
// time is the sample's time), and when due the SM clock, temperature and
// clock-event reasons.
func (s *NVMLSource) Read(ctx context.Context, clk Clock) ([]Sample, error) {
	out := make([]Sample, 0, len(s.gpus))
	aux := s.auxDue(clk.Now())
	for _, g := range s.gpus {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		out = append(out, g.read(clk, aux, &s.calls))
	}
	return out, nil
}

// auxDue says whether this read takes the SM clock, temperature and clock
// events. By period, the reads are due on a fixed grid (now, +period, …)
// so that they do not drift by a sampling interval each time; a read a
// twentieth of a period early counts as on time.
func (s *NVMLSource) auxDue(now int64) bool {
	first := s.reads == 0
	s.reads++
	if s.byCount {
		return s.auxEvery > 0 && (s.reads-1)%s.auxEvery == 0
	}
	p := s.auxPeriod.Nanoseconds()
	if p <= 0 {
		return true
	}
	if first {
		s.nextAux = now
	}
	if now < s.nextAux-p/20 {
		return false
	}
	s.nextAux += p
	if s.nextAux <= now {
		s.nextAux = now + p
	}
	return true
}

// read reads one GPU. A value whose field failed for good is read by its
// own call in the same read; a field or call that failed this time fails
// the sample.
func (g *nvmlGPU) read(clk Clock, aux bool, calls *atomic.Int64) (s Sample) {
	s.GPU = g.index
	t0 := clk.Now()
	defer func() {
		s.ReadNs = clk.Now() - t0
		if len(g.notes) > 0 {
			s.Note, g.notes = strings.Join(g.notes, "; "), nil
		}
	}()
	var haveEnergy, havePower bool
	var energyErr, powerErr string
	if fv := g.request(); len(fv) > 0 {
		ta := clk.Now()
		ret := g.dev.GetFieldValues(fv)
		g.stamp(&s, clk, ta, clk.Now())
		calls.Add(1)
		switch {
		case ret == nvml.SUCCESS:
			for i := range fv {
				v, ok, e := g.fieldValue(&fv[i])
				switch fv[i].FieldId {
				case nvml.FI_DEV_TOTAL_ENERGY_CONSUMPTION:
					if ok {
						s.EnergyMJ, s.EnergySource, haveEnergy = v, SourceEnergyField, true
					}
					energyErr = e
				case nvml.FI_DEV_POWER_INSTANT:
					if ok {
						s.PowerW, s.PowerSource, havePower = v/1000, SourceInstant, true
						s.SrcTUnixNs = fv[i].Timestamp * int64(time.Microsecond)
					}
					powerErr = e
				}
			}
		case permanent(ret):
			for i := range fv {
				g.fallBack(fv[i].FieldId, "nvmlDeviceGetFieldValues: "+ret.Error())
			}
		default:
			s.Err = "nvmlDeviceGetFieldValues: " + ret.Error()
			return s
		}
	}
	if energyErr != "" {
		s.Err = energyErr
		return s
	}
	if !haveEnergy {
		ta := clk.Now()
		e, ret := g.dev.GetTotalEnergyConsumption()
		g.stamp(&s, clk, ta, clk.Now())
		calls.Add(1)
		if ret != nvml.SUCCESS {
			s.Err = "nvmlDeviceGetTotalEnergyConsumption: " + ret.Error()
			return s
		}
		s.EnergyMJ, s.EnergySource = float64(e), SourceEnergyCall
	}
	if powerErr != "" {
		s.Err = powerErr
		return s
	}
	if !havePower {
		mw, ret := g.dev.GetPowerUsage()
		calls.Add(1)
		if ret != nvml.SUCCESS {
			s.Err = "nvmlDeviceGetPowerUsage: " + ret.Error()
			return s
		}
		s.PowerW, s.PowerSource = float64(mw)/1000, SourcePowerUsage
	}
	if aux {
		g.readAux(&s, calls)
	}
	return s
}

// stamp times the sample at the middle of the call [ta, tb] that read its
// energy.
func (g *nvmlGPU) stamp(s *Sample, clk Clock, ta, tb int64) {
	s.TMonoNs = ta + (tb-ta)/2
	s.TUnixNs = clk.UnixNano(s.TMonoNs)
}

// request is the fields still read by field: energy, then power.
func (g *nvmlGPU) request() []nvml.FieldValue {
	fv := g.fv[:0]
	if g.energyField {
		fv = append(fv, nvml.FieldValue{FieldId: nvml.FI_DEV_TOTAL_ENERGY_CONSUMPTION, ScopeId: nvml.POWER_SCOPE_GPU})
	}
	if g.powerField {
		fv = append(fv, nvml.FieldValue{FieldId: nvml.FI_DEV_POWER_INSTANT, ScopeId: nvml.POWER_SCOPE_GPU})
	}
	return fv
}

// fieldValue decodes one field of an answer: its value (ok), or the reason
// it failed this time (errText, which fails the sample), or neither when it
// failed for good — then the GPU falls back to the value's own call.
func (g *nvmlGPU) fieldValue(v *nvml.FieldValue) (val float64, ok bool, errText string) {
	name := fieldName(v.FieldId)
	switch ret := nvml.Return(v.NvmlReturn); {
	case ret == nvml.SUCCESS:
		if x, ok := FieldValueFloat(*v); ok {
			return x, true, ""
		}
		g.fallBack(v.FieldId, fmt.Sprintf("%s has value type %d", name, v.ValueType))
	case permanent(ret):
		g.fallBack(v.FieldId, name+": "+ret.Error())
	default:
		return 0, false, "nvmlDeviceGetFieldValues(" + name + "): " + ret.Error()
	}
	return 0, false, ""
}

// fallBack stops reading a field and notes why on the next sample.
func (g *nvmlGPU) fallBack(field uint32, reason string) {
	switch field {
	case nvml.FI_DEV_TOTAL_ENERGY_CONSUMPTION:
		g.energyField = false
		g.notes = append(g.notes, "energy falls back to nvmlDeviceGetTotalEnergyConsumption (a second NVML call per sample): "+reason)
	case nvml.FI_DEV_POWER_INSTANT:
		g.powerField = false
		g.notes = append(g.notes, "power falls back to nvmlDeviceGetPowerUsage (a 1 s average on Ampere and newer): "+reason)
	}
}

func fieldName(id uint32) string {
	switch id {
	case nvml.FI_DEV_TOTAL_ENERGY_CONSUMPTION:
		return "FI_DEV_TOTAL_ENERGY_CONSUMPTION"
	case nvml.FI_DEV_POWER_INSTANT:
		return "FI_DEV_POWER_INSTANT"
	}
	return fmt.Sprintf("field %d", id)
}

// readAux fills the SM clock, temperature and clock-event reasons; a failure
// is noted in AuxErr and leaves the sample valid.
func (g *nvmlGPU) readAux(s *Sample, calls *atomic.Int64) {
	var aux []string
	calls.Add(3)
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
