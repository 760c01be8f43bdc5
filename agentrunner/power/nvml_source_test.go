package power

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
)

func fieldValue(t nvml.ValueType, set func(b []byte)) nvml.FieldValue {
	v := nvml.FieldValue{ValueType: uint32(t)}
	set(v.Value[:])
	return v
}

func TestFieldValueFloat(t *testing.T) {
	ne := binary.NativeEndian
	tests := []struct {
		name   string
		v      nvml.FieldValue
		want   float64
		wantOK bool
	}{
		{"unsigned int", fieldValue(nvml.VALUE_TYPE_UNSIGNED_INT, func(b []byte) { ne.PutUint32(b, 412345) }), 412345, true},
		{"unsigned long long", fieldValue(nvml.VALUE_TYPE_UNSIGNED_LONG_LONG, func(b []byte) { ne.PutUint64(b, 1<<40) }), 1 << 40, true},
		{"unsigned long", fieldValue(nvml.VALUE_TYPE_UNSIGNED_LONG, func(b []byte) { ne.PutUint64(b, 99) }), 99, true},
		{"signed long long", fieldValue(nvml.VALUE_TYPE_SIGNED_LONG_LONG, func(b []byte) { ne.PutUint64(b, uint64(0xFFFFFFFFFFFFFFFF)) }), -1, true},
		{"signed int", fieldValue(nvml.VALUE_TYPE_SIGNED_INT, func(b []byte) { ne.PutUint32(b, uint32(0xFFFFFFFE)) }), -2, true},
		{"unsigned short", fieldValue(nvml.VALUE_TYPE_UNSIGNED_SHORT, func(b []byte) { ne.PutUint16(b, 700) }), 700, true},
		{"double", fieldValue(nvml.VALUE_TYPE_DOUBLE, func(b []byte) { ne.PutUint64(b, math.Float64bits(351.25)) }), 351.25, true},
		{"unknown type", fieldValue(nvml.VALUE_TYPE_COUNT, func([]byte) {}), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := FieldValueFloat(tt.v)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("FieldValueFloat() = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// putValue stores x in v as value type vt.
func putValue(v *nvml.FieldValue, vt nvml.ValueType, x float64) {
	ne := binary.NativeEndian
	v.ValueType = uint32(vt)
	switch vt {
	case nvml.VALUE_TYPE_DOUBLE:
		ne.PutUint64(v.Value[:], math.Float64bits(x))
	case nvml.VALUE_TYPE_UNSIGNED_INT:
		ne.PutUint32(v.Value[:], uint32(x))
	case nvml.VALUE_TYPE_UNSIGNED_LONG, nvml.VALUE_TYPE_UNSIGNED_LONG_LONG:
		ne.PutUint64(v.Value[:], uint64(x))
	case nvml.VALUE_TYPE_SIGNED_LONG_LONG:
		ne.PutUint64(v.Value[:], uint64(int64(x)))
	}
}

// fakeGPU is a go-nvml mock device whose counters and failures the test
// scripts. The energy counter is one counter, whichever way it is read
// (field or nvmlDeviceGetTotalEnergyConsumption).
type fakeGPU struct {
	mu          sync.Mutex
	index       int
	energy      []uint64      // successive counter values; the last repeats
	energyErr   []nvml.Return // per counter read; SUCCESS when short
	energyType  nvml.ValueType
	energyRet   nvml.Return // FI_DEV_TOTAL_ENERGY_CONSUMPTION's own return
	instantMW   uint32
	instantType nvml.ValueType
	instantRet  nvml.Return // FI_DEV_POWER_INSTANT's own return
	callRet     nvml.Return // GetFieldValues' return
	usageMW     uint32
	tempErr     nvml.Return
	calls       map[string]int
	fieldSets   []string // the fields of each GetFieldValues call, "energy+power"
	fieldTimeUs int64
	reads       int // energy counter reads
}

// nextEnergy is the counter's next reading; f.mu is held.
func (f *fakeGPU) nextEnergy() (uint64, nvml.Return) {
	n := f.reads
	f.reads++
	if n < len(f.energyErr) && f.energyErr[n] != nvml.SUCCESS {
		return 0, f.energyErr[n]
	}
	return f.energy[min(n, len(f.energy)-1)], nvml.SUCCESS
}

func (f *fakeGPU) device() *mock.Device {
	f.calls = map[string]int{}
	if f.energyType == 0 {
		f.energyType = nvml.VALUE_TYPE_UNSIGNED_LONG_LONG
	}
	if f.instantType == 0 {
		f.instantType = nvml.VALUE_TYPE_UNSIGNED_INT
	}
	count := func(name string) {
		f.mu.Lock()
		f.calls[name]++
		f.mu.Unlock()
	}
	return &mock.Device{
		GetIndexFunc: func() (int, nvml.Return) { return f.index, nvml.SUCCESS },
		GetTotalEnergyConsumptionFunc: func() (uint64, nvml.Return) {
			count("energy")
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.nextEnergy()
		},
		GetFieldValuesFunc: func(v []nvml.FieldValue) nvml.Return {
			count("fields")
			f.mu.Lock()
			defer f.mu.Unlock()
			var names []string
			for i := range v {
				switch {
				case v[i].ScopeId != nvml.POWER_SCOPE_GPU:
					return nvml.ERROR_INVALID_ARGUMENT
				case v[i].FieldId == nvml.FI_DEV_TOTAL_ENERGY_CONSUMPTION:
					names = append(names, "energy")
				case v[i].FieldId == nvml.FI_DEV_POWER_INSTANT:
					names = append(names, "power")
				default:
					return nvml.ERROR_INVALID_ARGUMENT
				}
			}
			f.fieldSets = append(f.fieldSets, strings.Join(names, "+"))
			if f.callRet != nvml.SUCCESS {
				return f.callRet
			}
			for i := range v {
				v[i].Timestamp = f.fieldTimeUs
				switch v[i].FieldId {
				case nvml.FI_DEV_TOTAL_ENERGY_CONSUMPTION:
					v[i].NvmlReturn = uint32(f.energyRet)
					if f.energyRet != nvml.SUCCESS {
						continue
					}
					e, ret := f.nextEnergy()
					v[i].NvmlReturn = uint32(ret)
					putValue(&v[i], f.energyType, float64(e))
				case nvml.FI_DEV_POWER_INSTANT:
					v[i].NvmlReturn = uint32(f.instantRet)
					putValue(&v[i], f.instantType, float64(f.instantMW))
				}
			}
			return nvml.SUCCESS
		},
		GetPowerUsageFunc: func() (uint32, nvml.Return) {
			count("usage")
			return f.usageMW, nvml.SUCCESS
		},
		GetClockInfoFunc: func(c nvml.ClockType) (uint32, nvml.Return) {
			count("clock")
			if c != nvml.CLOCK_SM {
				return 0, nvml.ERROR_INVALID_ARGUMENT
			}
			return 1980, nvml.SUCCESS
		},
		GetTemperatureFunc: func(nvml.TemperatureSensors) (uint32, nvml.Return) {
			count("temp")
			if f.tempErr != nvml.SUCCESS {
				return 0, f.tempErr
			}
			return 61, nvml.SUCCESS
		},
		GetCurrentClocksEventReasonsFunc: func() (uint64, nvml.Return) {
			count("events")
			return nvml.ClocksEventReasonSwPowerCap, nvml.SUCCESS
		},
	}
}

func readOnce(t *testing.T, src *NVMLSource, clk Clock) []Sample {
	t.Helper()
	got, err := src.Read(context.Background(), clk)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestNVMLOneCall: a sample's energy and instant power come from one
// GetFieldValues call; the SM clock, temperature and clock events are read
// on the first sample and then once a second, not on every sample.
func TestNVMLOneCall(t *testing.T) {
	f := &fakeGPU{index: 3, energy: []uint64{123456789, 123456889}, instantMW: 412500, fieldTimeUs: 1_700_000_000_000_000}
	src, err := NewNVMLSource(nil, f.device())
	if err != nil {
		t.Fatal(err)
	}
	clk := NewClock(time.Now())
	before := clk.Now()
	x := readOnce(t, src, clk)[0]
	after := clk.Now()
	y := readOnce(t, src, clk)[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"gpu", x.GPU, 3},
		{"energy", x.EnergyMJ, 123456789.0},
		{"energy source", x.EnergySource, SourceEnergyField},
		{"power", x.PowerW, 412.5},
		{"power source", x.PowerSource, SourceInstant},
		{"src time", x.SrcTUnixNs, int64(1_700_000_000_000_000_000)},
		{"sm clock", x.SMClockMHz, uint32(1980)},
		{"temp", x.TempC, uint32(61)},
		{"clock events", x.ClockEvents, uint64(nvml.ClocksEventReasonSwPowerCap)},
		{"err", x.Err, ""},
		{"aux err", x.AuxErr, ""},
		{"note", x.Note, ""},
		{"second energy", y.EnergyMJ, 123456889.0},
		{"second sample without temperature", y.TempC, uint32(0)},
		{"field calls", f.calls["fields"], 2},
		{"fields asked", strings.Join(f.fieldSets, ","), "energy+power,energy+power"},
		{"energy calls", f.calls["energy"], 0},
		{"power usage calls", f.calls["usage"], 0},
		{"temperature calls", f.calls["temp"], 1},
		{"calls counted", src.Calls(), int64(2 + 3)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if x.TMonoNs < before || x.TMonoNs > after || x.TUnixNs != clk.UnixNano(x.TMonoNs) {
		t.Errorf("stamps %d/%d outside the read [%d, %d]", x.TMonoNs, x.TUnixNs, before, after)
	}
}

// TestNVMLFieldTypes: the fields are decoded by the value type the driver
// gives; a type the source does not know makes it fall back to the call.
func TestNVMLFieldTypes(t *testing.T) {
	tests := []struct {
		name                   string
		energyType, powerType  nvml.ValueType
		wantEnergy, wantPowerW float64
		wantSources            string
	}{
		{"unsigned long long and unsigned int", nvml.VALUE_TYPE_UNSIGNED_LONG_LONG, nvml.VALUE_TYPE_UNSIGNED_INT, 5e12, 350, SourceEnergyField + "," + SourceInstant},
		{"unsigned long and double", nvml.VALUE_TYPE_UNSIGNED_LONG, nvml.VALUE_TYPE_DOUBLE, 5e12, 350, SourceEnergyField + "," + SourceInstant},
		{"double and signed long long", nvml.VALUE_TYPE_DOUBLE, nvml.VALUE_TYPE_SIGNED_LONG_LONG, 5e12, 350, SourceEnergyField + "," + SourceInstant},
		{"unknown energy type", nvml.VALUE_TYPE_COUNT, nvml.VALUE_TYPE_UNSIGNED_INT, 5e12, 350, SourceEnergyCall + "," + SourceInstant},
		{"unknown power type", nvml.VALUE_TYPE_UNSIGNED_LONG_LONG, nvml.VALUE_TYPE_COUNT, 5e12, 298, SourceEnergyField + "," + SourcePowerUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeGPU{energy: []uint64{5e12}, energyType: tt.energyType, instantMW: 350000, instantType: tt.powerType, usageMW: 298000}
			src, _ := NewNVMLSource(nil, f.device())
			x := readOnce(t, src, NewClock(time.Now()))[0]
			if x.EnergyMJ != tt.wantEnergy || x.PowerW != tt.wantPowerW || x.EnergySource+","+x.PowerSource != tt.wantSources || !x.Valid() {
				t.Errorf("sample = %+v; want %v mJ, %v W from %s", x, tt.wantEnergy, tt.wantPowerW, tt.wantSources)
			}
			if strings.Contains(tt.name, "unknown") && !strings.Contains(x.Note, "has value type") {
				t.Errorf("note = %q, want the unknown type recorded", x.Note)
			}
		})
	}
}

// TestNVMLFallback: a field (or the call) the driver does not support is
// read by its own call from then on, noted once; the other field stays in
// the field call.
func TestNVMLFallback(t *testing.T) {
	tests := []struct {
		name                string
		callRet             nvml.Return
		energyRet           nvml.Return
		instantRet          nvml.Return
		wantEnergy, wantPow string
		wantNote            []string
		wantFields          string // the fields asked on each of three reads
		wantCalls           map[string]int
	}{
		{
			name: "power field not supported", instantRet: nvml.ERROR_NOT_SUPPORTED,
			wantEnergy: SourceEnergyField, wantPow: SourcePowerUsage,
			wantNote:   []string{"power falls back to nvmlDeviceGetPowerUsage", "FI_DEV_POWER_INSTANT: ERROR_NOT_SUPPORTED"},
			wantFields: "energy+power,energy,energy", wantCalls: map[string]int{"fields": 3, "energy": 0, "usage": 3},
		},
		{
			name: "energy field not supported", energyRet: nvml.ERROR_NOT_SUPPORTED,
			wantEnergy: SourceEnergyCall, wantPow: SourceInstant,
			wantNote:   []string{"energy falls back to nvmlDeviceGetTotalEnergyConsumption", "FI_DEV_TOTAL_ENERGY_CONSUMPTION: ERROR_NOT_SUPPORTED"},
			wantFields: "energy+power,power,power", wantCalls: map[string]int{"fields": 3, "energy": 3, "usage": 0},
		},
		{
			name: "neither field supported", energyRet: nvml.ERROR_NOT_SUPPORTED, instantRet: nvml.ERROR_INVALID_ARGUMENT,
			wantEnergy: SourceEnergyCall, wantPow: SourcePowerUsage,
			wantNote:   []string{"energy falls back", "power falls back", "FI_DEV_POWER_INSTANT: ERROR_INVALID_ARGUMENT"},
			wantFields: "energy+power", wantCalls: map[string]int{"fields": 1, "energy": 3, "usage": 3},
		},
		{
			name: "call not supported", callRet: nvml.ERROR_NOT_SUPPORTED,
			wantEnergy: SourceEnergyCall, wantPow: SourcePowerUsage,
			wantNote:   []string{"energy falls back", "power falls back", "nvmlDeviceGetFieldValues: ERROR_NOT_SUPPORTED"},
			wantFields: "energy+power", wantCalls: map[string]int{"fields": 1, "energy": 3, "usage": 3},
		},
		{
			name: "old driver lacks the function", callRet: nvml.ERROR_FUNCTION_NOT_FOUND,
			wantEnergy: SourceEnergyCall, wantPow: SourcePowerUsage,
			wantNote:   []string{"nvmlDeviceGetFieldValues: ERROR_FUNCTION_NOT_FOUND"},
			wantFields: "energy+power", wantCalls: map[string]int{"fields": 1, "energy": 3, "usage": 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeGPU{energy: []uint64{1000, 2000, 3000}, callRet: tt.callRet, energyRet: tt.energyRet, instantRet: tt.instantRet,
				instantMW: 350000, usageMW: 298000}
			src, err := NewNVMLSource(nil, f.device())
			if err != nil {
				t.Fatal(err)
			}
			src.SetAuxEvery(0)
			clk := NewClock(time.Now())
			var xs []Sample
			for range 3 {
				xs = append(xs, readOnce(t, src, clk)[0])
			}
			for i, x := range xs {
				if !x.Valid() || x.EnergySource != tt.wantEnergy || x.PowerSource != tt.wantPow || x.EnergyMJ != float64(1000*(i+1)) {
					t.Errorf("sample %d = %+v; want %.0f mJ from %s, power from %s", i, x, float64(1000*(i+1)), tt.wantEnergy, tt.wantPow)
				}
			}
			for _, n := range tt.wantNote {
				if !strings.Contains(xs[0].Note, n) {
					t.Errorf("first note = %q, want it to say %q", xs[0].Note, n)
				}
			}
			if xs[1].Note != "" || xs[2].Note != "" {
				t.Errorf("later notes %q, %q: want the fallback noted once", xs[1].Note, xs[2].Note)
			}
			if got := strings.Join(f.fieldSets, ","); got != tt.wantFields {
				t.Errorf("fields asked: %s, want %s", got, tt.wantFields)
			}
			for name, want := range tt.wantCalls {
				if f.calls[name] != want {
					t.Errorf("%s calls: %d, want %d (all: %v)", name, f.calls[name], want, f.calls)
				}
			}
		})
	}
}

func TestNVMLAuxEvery(t *testing.T) {
	tests := []struct {
		name      string
		set       func(*NVMLSource)
		wantTemps int
	}{
		{"every read", func(s *NVMLSource) { s.SetAuxEvery(1) }, 6},
		{"every third", func(s *NVMLSource) { s.SetAuxEvery(3) }, 2},
		{"never", func(s *NVMLSource) { s.SetAuxEvery(0) }, 0},
		{"period 0: every read", func(s *NVMLSource) { s.SetAuxPeriod(0) }, 6},
		{"default period: the first read only, within a second", func(*NVMLSource) {}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeGPU{energy: []uint64{1000}, instantMW: 1000}
			src, _ := NewNVMLSource(nil, f.device())
			tt.set(src)
			clk := NewClock(time.Now())
			withTemp := 0
			for range 6 {
				x := readOnce(t, src, clk)[0]
				if !x.Valid() || x.PowerW != 1 {
					t.Fatalf("sample = %+v", x)
				}
				if x.TempC != 0 {
					withTemp++
				}
			}
			if f.calls["temp"] != tt.wantTemps || withTemp != tt.wantTemps || f.calls["fields"] != 6 {
				t.Errorf("temperature read %d times (%d samples have it), field calls %d; want %d and 6", f.calls["temp"], withTemp, f.calls["fields"], tt.wantTemps)
			}
			if want := int64(6 + 3*tt.wantTemps); src.Calls() != want {
				t.Errorf("Calls() = %d, want %d", src.Calls(), want)
			}
		})
	}
}

// TestNVMLAuxPeriod: by period, the auxiliary reads keep to a grid (once a
// second at 10 Hz, not drifting by a sampling interval each second), with
// jittered sample times.
func TestNVMLAuxPeriod(t *testing.T) {
	src := &NVMLSource{auxPeriod: time.Second}
	var due []int64
	jitter := []int64{0, 3e6, -2e6, 1e6, -1e6}
	for i := range 300 { // 30 s at 10 Hz
		now := int64(i)*100e6 + jitter[i%len(jitter)] + 5e9 // the clock is 5 s in
		if now < 0 {
			now = 0
		}
		if src.auxDue(now) {
			due = append(due, now)
		}
	}
	if len(due) != 30 {
		t.Fatalf("%d auxiliary reads in 30 s at 10 Hz, want 30: %v", len(due), due)
	}
	for i := 1; i < len(due); i++ {
		if d := due[i] - due[i-1]; d < 900e6 || d > 1100e6 {
			t.Errorf("auxiliary reads %d and %d are %v apart, want about 1s", i-1, i, time.Duration(d))
		}
	}
}

func TestNVMLErrors(t *testing.T) {
	t.Run("transient power field error is a failed sample, not a fallback", func(t *testing.T) {
		f := &fakeGPU{energy: []uint64{1000}, instantRet: nvml.ERROR_TIMEOUT, usageMW: 1}
		src, _ := NewNVMLSource(nil, f.device())
		clk := NewClock(time.Now())
		x := readOnce(t, src, clk)[0]
		if x.Valid() || !strings.Contains(x.Err, "FI_DEV_POWER_INSTANT): ERROR_TIMEOUT") || f.calls["usage"] != 0 {
			t.Errorf("sample = %+v, calls %v; want a failed sample naming FI_DEV_POWER_INSTANT and ERROR_TIMEOUT", x, f.calls)
		}
		f.instantRet = nvml.SUCCESS
		f.instantMW = 100000
		if y := readOnce(t, src, clk)[0]; y.PowerSource != SourceInstant || y.PowerW != 100 || y.EnergySource != SourceEnergyField {
			t.Errorf("after recovery = %+v, want instant power again", y)
		}
	})
	t.Run("transient energy field error is a failed sample, not a fallback", func(t *testing.T) {
		f := &fakeGPU{energy: []uint64{1000}, energyRet: nvml.ERROR_TIMEOUT, instantMW: 1000}
		src, _ := NewNVMLSource(nil, f.device())
		clk := NewClock(time.Now())
		x := readOnce(t, src, clk)[0]
		if x.Valid() || !strings.Contains(x.Err, "FI_DEV_TOTAL_ENERGY_CONSUMPTION): ERROR_TIMEOUT") || f.calls["energy"] != 0 || f.calls["usage"] != 0 {
			t.Errorf("sample = %+v, calls %v; want a failed sample naming the energy field", x, f.calls)
		}
		f.energyRet = nvml.SUCCESS
		if y := readOnce(t, src, clk)[0]; !y.Valid() || y.EnergySource != SourceEnergyField || y.EnergyMJ != 1000 {
			t.Errorf("after recovery = %+v, want energy from the field again", y)
		}
	})
	t.Run("transient call error", func(t *testing.T) {
		f := &fakeGPU{energy: []uint64{1000}, callRet: nvml.ERROR_UNKNOWN, instantMW: 1000}
		src, _ := NewNVMLSource(nil, f.device())
		clk := NewClock(time.Now())
		x := readOnce(t, src, clk)[0]
		if x.Valid() || x.Err != "nvmlDeviceGetFieldValues: ERROR_UNKNOWN" || x.TMonoNs == 0 || f.calls["energy"] != 0 {
			t.Errorf("sample = %+v, calls %v; want a stamped, failed sample", x, f.calls)
		}
		f.callRet = nvml.SUCCESS
		if y := readOnce(t, src, clk)[0]; !y.Valid() || y.EnergySource != SourceEnergyField || y.PowerSource != SourceInstant {
			t.Errorf("after recovery = %+v, want both fields again", y)
		}
	})
	t.Run("energy counter call error", func(t *testing.T) {
		f := &fakeGPU{energy: []uint64{1000}, energyErr: []nvml.Return{nvml.ERROR_GPU_IS_LOST}, callRet: nvml.ERROR_NOT_SUPPORTED, usageMW: 1000}
		src, _ := NewNVMLSource(nil, f.device())
		x := readOnce(t, src, NewClock(time.Now()))[0]
		if x.Valid() || !strings.Contains(x.Err, "nvmlDeviceGetTotalEnergyConsumption: ERROR_GPU_IS_LOST") || f.calls["usage"] != 0 {
			t.Errorf("sample = %+v, calls %v: want a failed sample and no power read", x, f.calls)
		}
		if !strings.Contains(x.Note, "falls back") {
			t.Errorf("note = %q: want the fallback noted on the failed sample", x.Note)
		}
	})
	t.Run("auxiliary error keeps the sample", func(t *testing.T) {
		f := &fakeGPU{energy: []uint64{1000}, instantMW: 1000, tempErr: nvml.ERROR_NOT_SUPPORTED}
		src, _ := NewNVMLSource(nil, f.device())
		x := readOnce(t, src, NewClock(time.Now()))[0]
		if !x.Valid() || !strings.Contains(x.AuxErr, "temperature: ERROR_NOT_SUPPORTED") || x.TempC != 0 {
			t.Errorf("sample = %+v, want valid with the temperature error noted", x)
		}
	})
}

// TestNVMLSamplerEvents runs the sampler over the NVML adapter, reading
// energy from the field and from the fallback call: a counter that falls is
// a reset, NVML errors are recorded, and a fallback is an event.
func TestNVMLSamplerEvents(t *testing.T) {
	tests := []struct {
		name       string
		gpu        *fakeGPU
		wantEnergy string
		wantPower  string
		wantNote   string // "" none
	}{
		{
			name:       "one field call",
			gpu:        &fakeGPU{instantMW: 50000},
			wantEnergy: SourceEnergyField, wantPower: SourceInstant,
		},
		{
			name:       "fallback calls",
			gpu:        &fakeGPU{callRet: nvml.ERROR_NOT_SUPPORTED, usageMW: 50000},
			wantEnergy: SourceEnergyCall, wantPower: SourcePowerUsage, wantNote: "ERROR_NOT_SUPPORTED",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.gpu
			f.energy = []uint64{1000, 1100, 1200, 5, 105, 205, 305, 405}
			f.energyErr = []nvml.Return{nvml.SUCCESS, nvml.SUCCESS, nvml.SUCCESS, nvml.SUCCESS, nvml.ERROR_UNKNOWN}
			src, err := NewNVMLSource(nil, f.device())
			if err != nil {
				t.Fatal(err)
			}
			s := runSampler(t, src, Config{Interval: 10 * time.Millisecond, MaxGap: 10 * time.Second}, 150*time.Millisecond)
			evs := s.Events()
			if r := eventsOf(evs, EventReset); len(r) != 1 || !strings.Contains(r[0].Detail, "from 1200 mJ to 5 mJ") {
				t.Errorf("reset events = %v, want one from 1200 to 5 mJ", r)
			}
			if e := eventsOf(evs, EventError); len(e) != 1 || !strings.Contains(e[0].Detail, "ERROR_UNKNOWN") {
				t.Errorf("error events = %v, want one ERROR_UNKNOWN", e)
			}
			n := eventsOf(evs, EventNote)
			if tt.wantNote == "" && len(n) != 0 || tt.wantNote != "" && (len(n) != 1 || !strings.Contains(n[0].Detail, tt.wantNote)) {
				t.Errorf("note events = %v, want %q", n, tt.wantNote)
			}
			st := s.Stats()
			if st.Resets != 1 || st.Errors != 1 || st.PowerSources[0] != tt.wantPower || st.EnergySources[0] != tt.wantEnergy {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

// TestNVMLMeasureCalls: Measure reports the NVML calls per sample — one
// with the auxiliary reads off.
func TestNVMLMeasureCalls(t *testing.T) {
	f := &fakeGPU{energy: []uint64{1000}, instantMW: 1000}
	src, _ := NewNVMLSource(nil, f.device())
	src.SetAuxEvery(0)
	m, err := Measure(context.Background(), src, 100*time.Millisecond, Config{Interval: 10 * time.Millisecond, MaxGap: time.Second}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if m.SourceCalls == 0 || m.CallsPerSample != 1 || m.GPUs[0].EnergySource != SourceEnergyField {
		t.Errorf("measurement: %d calls, %v per sample, energy from %q; want 1 per sample from %s", m.SourceCalls, m.CallsPerSample, m.GPUs[0].EnergySource, SourceEnergyField)
	}
}

// TestNVMLSourceAllDevices takes every device of go-nvml's DGX H100 mock
// when none is named.
func TestNVMLSourceAllDevices(t *testing.T) {
	src, err := NewNVMLSource(dgxh100.New())
	if err != nil {
		t.Fatal(err)
	}
	if len(src.gpus) != 8 || src.gpus[7].index != 7 {
		t.Errorf("gpus = %d, last index %d; want 8, 7", len(src.gpus), src.gpus[7].index)
	}
	empty := &mock.Interface{DeviceGetCountFunc: func() (int, nvml.Return) { return 0, nvml.SUCCESS }}
	if _, err := NewNVMLSource(empty); !errors.Is(err, ErrNoDevices) {
		t.Errorf("NewNVMLSource(no GPUs) = %v, want ErrNoDevices", err)
	}
}
