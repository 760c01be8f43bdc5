package bundle

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

func validCount(lines []PowerLine) int {
	n := 0
	for i := range lines {
		if lines[i].Valid() {
			n++
		}
	}
	return n
}

func TestParsePowerLines(t *testing.T) {
	f, err := os.Open("testdata/power.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ParsePowerLines("power.jsonl", f)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("samples = %d, want 4", len(got))
	}
	if got[1].PowerW != 412.5 || got[1].PowerSource != PowerSourceInstant || got[1].ClockEvents != 4 {
		t.Errorf("sample 1 = %+v", got[1])
	}
	if got[3].Valid() || got[3].Err == "" {
		t.Errorf("sample 3 = %+v, want a failed sample", got[3])
	}
	if n := validCount(got); n != 3 {
		t.Errorf("valid samples = %d, want 3", n)
	}
}

func TestParsePowerLinesErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"syntax error", "{\"gpu\":0}\n{\"gpu\":0,\"energy_mj\":}\n", "f:2:22: bad power sample"},
		{"type error", "{\"gpu\":\"zero\"}\n", "f:1:13: bad power sample: field gpu"},
		{"not an object", "[1,2]\n", "f:1:1: bad power sample: not a JSON object"},
		{"negative gpu", "{\"gpu\":-1}\n", "f:1:1: bad power sample: gpu -1"},
		{"negative energy", "\n\n{\"gpu\":0,\"energy_mj\":-5}\n", "f:3:1: bad power sample: energy_mj -5"},
		{"negative power", "{\"gpu\":0,\"power_w\":-1}\n", "f:1:1: bad power sample: power_w -1"},
		{"line too long", "{\"err\":\"" + strings.Repeat("x", maxPowerLine) + "\"}\n", "f:1: bad power sample: line longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePowerLines("f", strings.NewReader(tt.input))
			if !errors.Is(err, ErrBadPowerLine) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %v, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestReadPowerLinesNotZstd(t *testing.T) {
	if _, err := ReadPowerLines("p.zst", strings.NewReader("{\"gpu\":0}\n")); err == nil {
		t.Error("ReadPowerLines of plain text succeeded, want a zstd error")
	}
}

func FuzzParsePowerLines(f *testing.F) {
	seed, err := os.ReadFile("testdata/power.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("{\"gpu\":0,\"t_mono_ns\":1,\"energy_mj\":1e3,\"power_w\":1}\n"))
	f.Add([]byte("{\"gpu\":1,\"err\":\"x\"}\n\n"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParsePowerLines("fuzz", bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrBadPowerLine) {
				t.Fatalf("error %v is not ErrBadPowerLine", err)
			}
			return
		}
		for _, s := range got {
			if s.GPU < 0 || (s.Valid() && (s.EnergyMJ < 0 || s.PowerW < 0)) {
				t.Fatalf("accepted a bad sample %+v", s)
			}
		}
	})
}
