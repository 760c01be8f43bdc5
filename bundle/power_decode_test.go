package bundle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/agentwatt/agentwatt/metrics"
)

func runnerLines() [][]byte {
	samples := []PowerLine{
		{PowerSample: metrics.PowerSample{GPU: 0, TMonoNs: 100_000_000, EnergyMJ: 123456789.25, PowerW: 412.5}, TUnixNs: 1_700_000_000_100_000_000, PowerSource: "nvml-instant",
			SMClockMHz: 1980, TempC: 61, ClockEvents: 4, SrcTUnixNs: 1_700_000_000_099_000_000, ReadNs: 81234},
		{PowerSample: metrics.PowerSample{GPU: 7, TMonoNs: 0, EnergyMJ: 0, PowerW: 0}, Err: "nvml: GPU is lost", AuxErr: "clock: not supported"},
		{PowerSample: metrics.PowerSample{GPU: 3, TMonoNs: 5, EnergyMJ: 1e21, PowerW: 1e-7}, Note: "fell back to nvmlDeviceGetPowerUsage"},
		{PowerSample: metrics.PowerSample{GPU: -1, TMonoNs: -5, EnergyMJ: -0.5, PowerW: 3}},
	}
	var out [][]byte
	for _, s := range samples {
		b, _ := json.Marshal(&s)
		out = append(out, b)
	}
	return out
}

func TestDecodePowerFastMatchesEncodingJSON(t *testing.T) {
	lines := runnerLines()
	for _, l := range []string{
		`{}`,
		`{"gpu":1,"t_mono_ns":2,"energy_mj":3,"power_w":4,"err":""}`,
		`{"gpu":1,"extra":"x","more":-1.5e-3,"t_mono_ns":2}`,
	} {
		lines = append(lines, []byte(l))
	}
	for _, line := range lines {
		t.Run(string(line), func(t *testing.T) {
			var fast, std PowerReading
			if !decodePowerFast(line, &fast) {
				t.Fatalf("fast path refused a runner's line")
			}
			if err := json.Unmarshal(line, &std); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(fast, std) {
				t.Fatalf("fast %+v, encoding/json %+v", fast, std)
			}
		})
	}
}

// TestDecodePowerFastFallsBack: lines the fast path must leave to
// encoding/json, which reads or refuses them.
func TestDecodePowerFastFallsBack(t *testing.T) {
	for _, line := range []string{
		` {"gpu":1}`,                   // white space
		`{"gpu": 1}`,                   // white space
		`{"GPU":1}`,                    // a key in another case: encoding/json takes it
		`{"gpu":1,"gpu":2}`,            // repeated key
		`{"gpu":1.5}`,                  // a fraction for an integer
		`{"gpu":"1"}`,                  // a string for a number
		`{"err":5}`,                    // a number for a string
		`{"err":"a\"b"}`,               // an escape
		`{"energy_mj":1e999}`,          // out of range
		`{"note":null}`,                // null (encoding/json skips it)
		`{"x":{"y":1}}`,                // nested
		`{"gpu":01}`,                   // not JSON
		`{"gpu":1,}`,                   // not JSON
		`{"gpu":1}x`,                   // trailing data
		`{"gpu":99999999999999999999}`, // out of range
		`[1]`,
		`"s"`,
	} {
		var s PowerReading
		if decodePowerFast([]byte(line), &s) {
			t.Errorf("fast path read %q as %+v", line, s)
		}
	}
}

// FuzzDecodePowerFast: whatever the fast path reads, encoding/json reads
// the same.
func FuzzDecodePowerFast(f *testing.F) {
	for _, l := range runnerLines() {
		f.Add(l)
	}
	f.Add([]byte(`{"gpu":1,"t_mono_ns":2,"energy_mj":3,"power_w":4,"err":"x","Note":"y"}`))
	f.Add([]byte(`{"Gpu":1}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var fast PowerReading
		if !decodePowerFast(line, &fast) {
			return
		}
		var std PowerReading
		if err := json.Unmarshal(line, &std); err != nil {
			t.Fatalf("fast path read what encoding/json refuses (%v): %q", err, line)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Fatalf("fast %+v, encoding/json %+v: %q", fast, std, line)
		}
	})
}

// BenchmarkDecodePowerLines: a run's power samples as the runner writes
// them, by the fast path and by encoding/json.
func BenchmarkDecodePowerLines(b *testing.B) {
	var buf bytes.Buffer
	const n = 100_000
	for i := range n {
		s := PowerLine{PowerSample: metrics.PowerSample{GPU: i % 8, TMonoNs: int64(i) * 12_500_000, EnergyMJ: 1e8 + float64(i)*41.25, PowerW: 300 + float64(i%97)/3},
			TUnixNs: 1_700_000_000_000_000_000 + int64(i)*12_500_000, PowerSource: "nvml-instant", SMClockMHz: 1980, TempC: 60, SrcTUnixNs: 1_700_000_000_000_000_000 + int64(i)*12_500_000, ReadNs: 80_000}
		line, _ := json.Marshal(&s)
		buf.Write(append(line, '\n'))
	}
	data := buf.Bytes()
	for _, fast := range []bool{true, false} {
		b.Run(fmt.Sprintf("fast=%v", fast), func(b *testing.B) {
			for b.Loop() {
				lr := NewLineReader(bytes.NewReader(data), 1024)
				count := 0
				for {
					line, err := lr.Next()
					if err != nil {
						break
					}
					var s PowerReading
					if !fast || !decodePowerFast(line, &s) {
						if err := json.Unmarshal(line, &s); err != nil {
							b.Fatal(err)
						}
					}
					count++
				}
				if count != n {
					b.Fatalf("%d lines", count)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/line")
		})
	}
}
