package power

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
)

// copyTree copies a recorded sysfs tree to a temporary directory, so a test
// can change its values between reads as the driver would.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestAMDGPUSourceMI300X(t *testing.T) {
	root := copyTree(t, "testdata/amdgpu/mi300x")
	s, err := NewAMDGPUSource(root)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "amdgpu" || s.Boundary() != BoundaryGPUBoard || len(s.gpus) != 2 {
		t.Fatalf("source %s %s with %d GPUs, want amdgpu gpu-board with 2 (the connector and the NVIDIA card skipped)", s.Name(), s.Boundary(), len(s.gpus))
	}
	clk := NewClock(time.Now())
	a, err := s.Read(context.Background(), clk)
	if err != nil || len(a) != 2 {
		t.Fatalf("Read: %v, %d samples", err, len(a))
	}
	for i, x := range a {
		if !x.Valid() || x.PowerSource != bundle.PowerSourceAMDInput || x.EnergySource != bundle.EnergySourceAMDMetrics || x.GPU != i {
			t.Fatalf("GPU %d: %+v", i, x)
		}
		if want := 352.0 + float64(i); x.PowerW != want {
			t.Errorf("GPU %d power %v W, want %v (power1_input in µW)", i, x.PowerW, want)
		}
		if !strings.Contains(x.Note, "gpu_metrics v1.5") {
			t.Errorf("GPU %d note %q", i, x.Note)
		}
	}
	// 123456789 mJ in 2^-16 J units, as the recorded table holds.
	if got := a[0].EnergyMJ; got < 123456788 || got > 123456790 {
		t.Errorf("GPU 0 energy %v mJ, want 123456789", got)
	}
	// The driver adds 10 J to card0's accumulator.
	p := filepath.Join(root, "card0/device/gpu_metrics")
	b, _ := os.ReadFile(p)
	binary.LittleEndian.PutUint64(b[88:], binary.LittleEndian.Uint64(b[88:])+10*65536)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Read(context.Background(), clk)
	if d := c[0].EnergyMJ - a[0].EnergyMJ; d < 9999.99 || d > 10000.01 {
		t.Errorf("energy rose by %v mJ, want 10000", d)
	}
	if c[0].Note != "" {
		t.Errorf("the note repeats: %q", c[0].Note)
	}
	// A card that disappears (reset, driver unbound) is a failed sample of
	// that GPU only.
	if err := os.Remove(filepath.Join(root, "card1/device/hwmon/hwmon4/power1_input")); err != nil {
		t.Fatal(err)
	}
	d, _ := s.Read(context.Background(), clk)
	if !d[0].Valid() || d[1].Valid() || !strings.Contains(d[1].Err, "card1") {
		t.Errorf("after card1's power went: %+v", d)
	}
}

func TestAMDGPUSourceFallbacks(t *testing.T) {
	t.Run("power1_average and v1.3", func(t *testing.T) {
		s, err := NewAMDGPUSource("testdata/amdgpu/mi210")
		if err != nil {
			t.Fatal(err)
		}
		x := readSingle(t, s)
		if !x.Valid() || x.PowerSource != bundle.PowerSourceAMDAverage || x.PowerW != 43 || x.EnergySource != bundle.EnergySourceAMDMetrics {
			t.Errorf("MI210: %+v", x)
		}
		if want := 5000000.0 * 1000 / 65536; x.EnergyMJ != want {
			t.Errorf("energy %v mJ, want %v", x.EnergyMJ, want)
		}
	})
	t.Run("unknown gpu_metrics version integrates", func(t *testing.T) {
		s, err := NewAMDGPUSource("testdata/amdgpu/newer")
		if err != nil {
			t.Fatal(err)
		}
		clk := NewClock(time.Now())
		a, _ := s.Read(context.Background(), clk)
		time.Sleep(10 * time.Millisecond)
		b, _ := s.Read(context.Background(), clk)
		if !strings.Contains(a[0].Note, "v1.9 is not one this runner reads") || b[0].EnergySource != bundle.EnergySourceIntegrated {
			t.Fatalf("note %q, energy source %q", a[0].Note, b[0].EnergySource)
		}
		want := 1000 * float64(b[0].TMonoNs-a[0].TMonoNs) / 1e6
		if d := b[0].EnergyMJ - a[0].EnergyMJ; d < want*0.999 || d > want*1.001 {
			t.Errorf("integrated %v mJ, want %v", d, want)
		}
	})
	t.Run("no AMD GPU", func(t *testing.T) {
		if _, err := NewAMDGPUSource(t.TempDir()); !errors.Is(err, ErrNoDevices) {
			t.Errorf("empty tree: %v, want ErrNoDevices", err)
		}
	})
}

func TestParseGPUMetrics(t *testing.T) {
	for _, v := range [][2]uint8{{1, 1}, {1, 2}, {1, 3}, {1, 4}, {1, 5}, {1, 6}, {1, 7}} {
		b, err := AppendGPUMetrics(nil, v[0], v[1], 65536*7, 42, 300)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ParseGPUMetrics(b)
		if err != nil || m.EnergyMJ() != 7000 || m.ClockNs != 42 || m.SocketPowerW != 300 || !m.EnergyOK || !m.PowerOK {
			t.Errorf("v%d.%d: %+v, %v", v[0], v[1], m, err)
		}
	}
	recorded, _ := os.ReadFile("testdata/amdgpu/mi300x/card0/device/gpu_metrics")
	for _, tt := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "shorter than the 4-byte header"},
		{"v1.0", []byte{100, 0, 1, 0}, "v1.0 is not one"},
		{"v2.1 (APU)", []byte{100, 0, 2, 1}, "v2.1 is not one"},
		{"truncated", recorded[:200], "shorter than structure_size 360"},
		{"size below the version's", append([]byte{40, 0, 1, 5}, make([]byte, 400)...), "structure_size 40, below"},
	} {
		if _, err := ParseGPUMetrics(tt.b); !errors.Is(err, ErrGPUMetrics) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	b, _ := AppendGPUMetrics(nil, 1, 5, ^uint64(0), 1, 0xFFFF)
	if m, err := ParseGPUMetrics(b); err != nil || m.EnergyOK || m.PowerOK {
		t.Errorf("unavailable fields read as available: %+v, %v", m, err)
	}
}

// FuzzParseGPUMetrics: no blob panics the parser, and whatever it accepts
// has a known version and fits in the blob.
func FuzzParseGPUMetrics(f *testing.F) {
	for _, v := range [][2]uint8{{1, 3}, {1, 4}, {1, 5}, {1, 6}, {1, 7}} {
		b, _ := AppendGPUMetrics(nil, v[0], v[1], 1<<40, 1<<50, 500)
		f.Add(b)
	}
	recorded, _ := os.ReadFile("testdata/amdgpu/mi300x/card0/device/gpu_metrics")
	f.Add(recorded)
	f.Add([]byte{0xff, 0xff, 1, 5})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseGPUMetrics(b)
		if err != nil {
			return
		}
		if _, ok := gpuMetricsLayouts[[2]uint8{m.Format, m.Content}]; !ok || m.Size > len(b) {
			t.Fatalf("accepted %+v from %d bytes", m, len(b))
		}
	})
}
