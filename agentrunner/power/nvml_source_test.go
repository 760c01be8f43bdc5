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

// fakeGPU is a go-nvml mock device whose counters the test scripts.
type fakeGPU struct {
	mu          sync.Mutex
	index       int
	energy      []uint64      // successive counter values; the last repeats
	energyErr   []nvml.Return // per call; SUCCESS when short
	instantMW   uint32
	instantRet  nvml.Return // the field's own return
	callRet     nvml.Return // GetFieldValues' return
	usageMW     uint32
	tempErr     nvml.Return
	calls       map[string]int
	fieldTimeUs int64
}

func (f *fakeGPU) device() *mock.Device {
	f.calls = map[string]int{}
	count := func(name string) { f.calls[name]++ }
	return &mock.Device{
		GetIndexFunc: func() (int, nvml.Return) { return f.index, nvml.SUCCESS },
		GetTotalEnergyConsumptionFunc: func() (uint64, nvml.Return) {
			f.mu.Lock()
			defer f.mu.Unlock()
			n := f.calls["energy"]
			count("energy")
			if n < len(f.energyErr) && f.energyErr[n] != nvml.SUCCESS {
				return 0, f.energyErr[n]
			}
			return f.energy[min(n, len(f.energy)-1)], nvml.SUCCESS
		},
		GetFieldValuesFunc: func(v []nvml.FieldValue) nvml.Return {
			f.mu.Lock()
			defer f.mu.Unlock()
			count("fields")
			if len(v) != 1 || v[0].FieldId != nvml.FI_DEV_POWER_INSTANT || v[0].ScopeId != nvml.POWER_SCOPE_GPU {
				return nvml.ERROR_INVALID_ARGUMENT
			}
			if f.callRet != nvml.SUCCESS {
				return f.callRet
			}
			v[0].NvmlReturn = uint32(f.instantRet)
			v[0].ValueType = uint32(nvml.VALUE_TYPE_UNSIGNED_INT)
			v[0].Timestamp = f.fieldTimeUs
			binary.NativeEndian.PutUint32(v[0].Value[:], f.instantMW)
			return nvml.SUCCESS
		},
		GetPowerUsageFunc: func() (uint32, nvml.Return) {
			f.mu.Lock()
			defer f.mu.Unlock()
			count("usage")
			return f.usageMW, nvml.SUCCESS
		},
		GetClockInfoFunc: func(c nvml.ClockType) (uint32, nvml.Return) {
			if c != nvml.CLOCK_SM {
				return 0, nvml.ERROR_INVALID_ARGUMENT
			}
			return 1980, nvml.SUCCESS
		},
		GetTemperatureFunc: func(nvml.TemperatureSensors) (uint32, nvml.Return) {
			f.mu.Lock()
			count("temp")
			f.mu.Unlock()
			if f.tempErr != nvml.SUCCESS {
				return 0, f.tempErr
			}
			return 61, nvml.SUCCESS
		},
		GetCurrentClocksEventReasonsFunc: func() (uint64, nvml.Return) {
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

func TestNVMLInstantPower(t *testing.T) {
	f := &fakeGPU{index: 3, energy: []uint64{123456789}, instantMW: 412500, fieldTimeUs: 1_700_000_000_000_000}
	src, err := NewNVMLSource(nil, f.device())
	if err != nil {
		t.Fatal(err)
	}
	clk := NewClock(time.Now())
	before := clk.Now()
	x := readOnce(t, src, clk)[0]
	after := clk.Now()
	checks := []struct {
		name      string
		got, want any
	}{
		{"gpu", x.GPU, 3},
		{"energy", x.EnergyMJ, 123456789.0},
		{"power", x.PowerW, 412.5},
		{"source", x.PowerSource, SourceInstant},
		{"src time", x.SrcTUnixNs, int64(1_700_000_000_000_000_000)},
		{"sm clock", x.SMClockMHz, uint32(1980)},
		{"temp", x.TempC, uint32(61)},
		{"clock events", x.ClockEvents, uint64(nvml.ClocksEventReasonSwPowerCap)},
		{"err", x.Err, ""},
		{"aux err", x.AuxErr, ""},
		{"note", x.Note, ""},
		{"usage not called", f.calls["usage"], 0},
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

func TestNVMLFallbackToPowerUsage(t *testing.T) {
	tests := []struct {
		name       string
		callRet    nvml.Return
		instantRet nvml.Return
	}{
		{"field not supported", nvml.SUCCESS, nvml.ERROR_NOT_SUPPORTED},
		{"call not supported", nvml.ERROR_NOT_SUPPORTED, nvml.SUCCESS},
		{"old driver lacks the function", nvml.ERROR_FUNCTION_NOT_FOUND, nvml.SUCCESS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeGPU{energy: []uint64{1000, 2000, 3000}, callRet: tt.callRet, instantRet: tt.instantRet, usageMW: 298000}
			src, err := NewNVMLSource(nil, f.device())
			if err != nil {
				t.Fatal(err)
			}
			clk := NewClock(time.Now())
			first := readOnce(t, src, clk)[0]
			second := readOnce(t, src, clk)[0]
			if first.PowerW != 298 || first.PowerSource != SourcePowerUsage || !first.Valid() {
				t.Errorf("first = %+v, want 298 W from %s", first, SourcePowerUsage)
			}
			if !strings.Contains(first.Note, "falls back to nvmlDeviceGetPowerUsage") {
				t.Errorf("first note = %q, want the fallback recorded", first.Note)
			}
			if second.Note != "" || second.PowerSource != SourcePowerUsage {
				t.Errorf("second = %+v, want the fallback noted once", second)
			}
			if f.calls["fields"] != 1 || f.calls["usage"] != 2 {
				t.Errorf("calls = %v, want the field tried once, power usage twice", f.calls)
			}
		})
	}
}

func TestNVMLAuxEvery(t *testing.T) {
	tests := []struct {
		name      string
		every     int
		wantTemps int
	}{
		{"every read", 1, 6},
		{"every third", 3, 2},
		{"never", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeGPU{energy: []uint64{1000}, instantMW: 1000}
			src, _ := NewNVMLSource(nil, f.device())
			src.SetAuxEvery(tt.every)
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
			if f.calls["temp"] != tt.wantTemps || withTemp != tt.wantTemps || f.calls["energy"] != 6 {
				t.Errorf("temperature read %d times (%d samples have it), energy %d; want %d and 6", f.calls["temp"], withTemp, f.calls["energy"], tt.wantTemps)
			}
		})
	}
}

func TestNVMLErrors(t *testing.T) {
	t.Run("transient field error is a failed sample, not a fallback", func(t *testing.T) {
		f := &fakeGPU{energy: []uint64{1000}, instantRet: nvml.ERROR_TIMEOUT, usageMW: 1}
		src, _ := NewNVMLSource(nil, f.device())
		clk := NewClock(time.Now())
		x := readOnce(t, src, clk)[0]
		if x.Valid() || !strings.Contains(x.Err, "ERROR_TIMEOUT") {
			t.Errorf("sample = %+v, want a failed sample naming ERROR_TIMEOUT", x)
		}
		f.instantRet = nvml.SUCCESS
		f.instantMW = 100000
		if y := readOnce(t, src, clk)[0]; y.PowerSource != SourceInstant || y.PowerW != 100 {
			t.Errorf("after recovery = %+v, want instant power again", y)
		}
	})
	t.Run("energy counter error", func(t *testing.T) {
		f := &fakeGPU{energy: []uint64{1000}, energyErr: []nvml.Return{nvml.ERROR_GPU_IS_LOST}, instantMW: 1000}
		src, _ := NewNVMLSource(nil, f.device())
		x := readOnce(t, src, NewClock(time.Now()))[0]
		if x.Valid() || !strings.Contains(x.Err, "ERROR_GPU_IS_LOST") || f.calls["fields"] != 0 {
			t.Errorf("sample = %+v, calls %v: want a failed sample and no power read", x, f.calls)
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

// TestNVMLSamplerEvents runs the sampler over the NVML adapter: a counter
// that falls is a reset, NVML errors are recorded, and the fallback is an
// event.
func TestNVMLSamplerEvents(t *testing.T) {
	f := &fakeGPU{
		energy:    []uint64{1000, 1100, 1200, 5, 105, 205, 305, 405},
		energyErr: []nvml.Return{nvml.SUCCESS, nvml.SUCCESS, nvml.SUCCESS, nvml.SUCCESS, nvml.ERROR_UNKNOWN},
		callRet:   nvml.ERROR_NOT_SUPPORTED, usageMW: 50000,
	}
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
	if n := eventsOf(evs, EventNote); len(n) != 1 || !strings.Contains(n[0].Detail, "ERROR_NOT_SUPPORTED") {
		t.Errorf("note events = %v, want the fallback", n)
	}
	st := s.Stats()
	if st.Resets != 1 || st.Errors != 1 || st.PowerSources[0] != SourcePowerUsage {
		t.Errorf("stats = %+v", st)
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
