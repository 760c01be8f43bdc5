package verifier

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
)

// runnerLine is a power line with every field the runner's power.Sample
// writes (the verifier may not import the runner).
type runnerLine struct {
	metrics.PowerSample
	TUnixNs     int64  `json:"t_unix_ns"`
	PowerSource string `json:"power_source,omitempty"`
	SMClockMHz  uint32 `json:"sm_clock_mhz,omitempty"`
	TempC       uint32 `json:"temp_c,omitempty"`
	ClockEvents uint64 `json:"clock_events,omitempty"`
	SrcTUnixNs  int64  `json:"src_t_unix_ns,omitempty"`
	ReadNs      int64  `json:"read_ns,omitempty"`
	Err         string `json:"err,omitempty"`
	AuxErr      string `json:"aux_err,omitempty"`
	Note        string `json:"note,omitempty"`
}

func runnerLines() [][]byte {
	samples := []runnerLine{
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
			var fast, std powerLine
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
		var s powerLine
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
		var fast powerLine
		if !decodePowerFast(line, &fast) {
			return
		}
		var std powerLine
		if err := json.Unmarshal(line, &std); err != nil {
			t.Fatalf("fast path read what encoding/json refuses (%v): %q", err, line)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Fatalf("fast %+v, encoding/json %+v: %q", fast, std, line)
		}
	})
}

// TestDecodePowerLinesErrors: bad lines are refused with their line
// number, whichever path reads them.
func TestDecodePowerLinesErrors(t *testing.T) {
	good := string(runnerLines()[0])
	tests := []struct {
		name, data, want string
	}{
		{"not JSON", good + "\n{\"gpu\":\n", bundle.PowerFile + ":2:"},
		{"wrong type", good + "\n" + good + "\n{\"gpu\":\"zero\"}\n", bundle.PowerFile + ":3:"},
		{"negative gpu", "{\"gpu\":-2,\"t_mono_ns\":1}\n", bundle.PowerFile + ":1: gpu -2 negative"},
		{"blank", good + "\n\n", bundle.PowerFile + ":2: blank line"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lr := bundle.NewLineReader(strings.NewReader(tc.data), 1024)
			_, err := decodePowerLines(lr.Next)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// BenchmarkDecodePowerLines: a run's power samples as the runner writes
// them, by the fast path and by encoding/json.
func BenchmarkDecodePowerLines(b *testing.B) {
	var buf bytes.Buffer
	const n = 100_000
	for i := range n {
		s := runnerLine{PowerSample: metrics.PowerSample{GPU: i % 8, TMonoNs: int64(i) * 12_500_000, EnergyMJ: 1e8 + float64(i)*41.25, PowerW: 300 + float64(i%97)/3},
			TUnixNs: 1_700_000_000_000_000_000 + int64(i)*12_500_000, PowerSource: "nvml-instant", SMClockMHz: 1980, TempC: 60, SrcTUnixNs: 1_700_000_000_000_000_000 + int64(i)*12_500_000, ReadNs: 80_000}
		line, _ := json.Marshal(&s)
		buf.Write(append(line, '\n'))
	}
	data := buf.Bytes()
	for _, fast := range []bool{true, false} {
		b.Run(fmt.Sprintf("fast=%v", fast), func(b *testing.B) {
			for b.Loop() {
				lr := bundle.NewLineReader(bytes.NewReader(data), 1024)
				count := 0
				for {
					line, err := lr.Next()
					if err != nil {
						break
					}
					var s powerLine
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
