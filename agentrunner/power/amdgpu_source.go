package power

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/agentwatt/agentwatt/bundle"
)

// DefaultDRMRoot is where the kernel lists the DRM devices.
const DefaultDRMRoot = "/sys/class/drm"

// amdVendor is AMD's PCI vendor id, as device/vendor reads it.
const amdVendor = "0x1002"

var reCard = regexp.MustCompile(`^card([0-9]+)$`)

// AMDGPUCard is one amdgpu device under the DRM root: its card number, its
// device directory and its hwmon directory.
type AMDGPUCard struct {
	Card   int
	Device string
	Hwmon  string
}

// AMDGPUCards lists the AMD GPUs under root (DefaultDRMRoot, or a recorded
// tree in tests), by card number: the cardN entries (not connectors like
// card0-DP-1) whose device/vendor is AMD's and that have a hwmon directory.
func AMDGPUCards(root string) ([]AMDGPUCard, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("amdgpu: %w", err)
	}
	var cards []AMDGPUCard
	for _, e := range ents {
		m := reCard.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		dev := filepath.Join(root, e.Name(), "device")
		if v, err := readSysfs(dev, "vendor"); err != nil || v != amdVendor {
			continue
		}
		hw, _ := filepath.Glob(filepath.Join(dev, "hwmon", "hwmon*"))
		if len(hw) == 0 {
			continue
		}
		slices.Sort(hw)
		n, _ := strconv.Atoi(m[1])
		cards = append(cards, AMDGPUCard{Card: n, Device: dev, Hwmon: hw[0]})
	}
	slices.SortFunc(cards, func(a, b AMDGPUCard) int { return a.Card - b.Card })
	return cards, nil
}

// readSysfs reads a small sysfs attribute, trimmed.
func readSysfs(dir, name string) (string, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return "", err
	}
	defer f.Close()
	b := make([]byte, 4096)
	n, err := f.Read(b)
	if err != nil && n == 0 {
		return "", err
	}
	return strings.TrimSpace(string(b[:n])), nil
}

// ReadMicroWatts reads a hwmon power attribute (µW) in watts.
func ReadMicroWatts(dir, name string) (float64, error) {
	s, err := readSysfs(dir, name)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a number of microwatts", name, s)
	}
	return float64(v) / 1e6, nil
}

// AMDGPUSource reads AMD GPUs through the amdgpu driver's sysfs, without
// ROCm: power from hwmon's power1_input (current socket power; Linux 6.6
// and later) or else power1_average, and energy from the energy
// accumulator of the binary gpu_metrics table where its version is one
// ParseGPUMetrics reads and the firmware fills it; otherwise the energy is
// integrated from the power readings (EnergySourceIntegrated). A GPU's
// index is its position among the AMD cards. Its boundary is the GPU board
// (the socket), like NVML's. It is not safe for concurrent Reads.
type AMDGPUSource struct {
	gpus []*amdGPU
}

var _ Source = (*AMDGPUSource)(nil)

type amdGPU struct {
	index int
	card  AMDGPUCard
	// power is "power1_input" or "power1_average"; metrics says whether
	// gpu_metrics gives the energy.
	power   string
	metrics bool
	integ   integrator
	note    string
	buf     []byte
}

// NewAMDGPUSource finds the AMD GPUs under root ("" for DefaultDRMRoot)
// and how to read each.
func NewAMDGPUSource(root string) (*AMDGPUSource, error) {
	if root == "" {
		root = DefaultDRMRoot
	}
	cards, err := AMDGPUCards(root)
	if err != nil {
		return nil, err
	}
	if len(cards) == 0 {
		return nil, fmt.Errorf("amdgpu: %w under %s", ErrNoDevices, root)
	}
	s := &AMDGPUSource{}
	for i, c := range cards {
		g := &amdGPU{index: i, card: c, buf: make([]byte, maxGPUMetrics)}
		var notes []string
		for _, name := range []string{"power1_input", "power1_average"} {
			if _, err := ReadMicroWatts(c.Hwmon, name); err == nil {
				g.power = name
				break
			}
		}
		if g.power == "" {
			return nil, fmt.Errorf("amdgpu: card%d: neither hwmon power1_input nor power1_average can be read", c.Card)
		}
		notes = append(notes, "power from hwmon "+g.power)
		if m, err := g.readMetrics(); err != nil {
			notes = append(notes, "energy integrated from power ("+err.Error()+")")
		} else if !m.EnergyOK {
			notes = append(notes, fmt.Sprintf("energy integrated from power (gpu_metrics v%d.%d reports no energy accumulator)", m.Format, m.Content))
		} else {
			g.metrics = true
			notes = append(notes, fmt.Sprintf("energy from gpu_metrics v%d.%d energy_accumulator", m.Format, m.Content))
		}
		g.note = fmt.Sprintf("amdgpu card%d: %s", c.Card, strings.Join(notes, "; "))
		s.gpus = append(s.gpus, g)
	}
	return s, nil
}

// Name is "amdgpu".
func (s *AMDGPUSource) Name() string { return "amdgpu" }

// Boundary is BoundaryGPUBoard.
func (s *AMDGPUSource) Boundary() string { return BoundaryGPUBoard }

// Read reads every GPU.
func (s *AMDGPUSource) Read(ctx context.Context, clk Clock) ([]Sample, error) {
	out := make([]Sample, 0, len(s.gpus))
	for _, g := range s.gpus {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		out = append(out, g.read(clk))
	}
	return out, nil
}

func (g *amdGPU) readMetrics() (GPUMetrics, error) {
	f, err := os.Open(filepath.Join(g.card.Device, "gpu_metrics"))
	if err != nil {
		return GPUMetrics{}, fmt.Errorf("%w: %w", ErrGPUMetrics, err)
	}
	defer f.Close()
	n, err := f.Read(g.buf)
	if err != nil && n == 0 {
		return GPUMetrics{}, fmt.Errorf("%w: %w", ErrGPUMetrics, err)
	}
	return ParseGPUMetrics(g.buf[:n])
}

func (g *amdGPU) read(clk Clock) (x Sample) {
	x.GPU = g.index
	t0 := clk.Now()
	defer func() {
		t1 := clk.Now()
		x.ReadNs, x.TMonoNs = t1-t0, t0+(t1-t0)/2
		x.TUnixNs = clk.UnixNano(x.TMonoNs)
		if x.Err == "" && !g.metrics {
			x.EnergyMJ = g.integ.add(x.TMonoNs, x.PowerW)
		}
		if g.note != "" {
			x.Note, g.note = g.note, ""
		}
	}()
	w, err := ReadMicroWatts(g.card.Hwmon, g.power)
	if err != nil {
		x.Err = fmt.Sprintf("amdgpu card%d: %v", g.card.Card, err)
		return x
	}
	x.PowerW, x.PowerSource = w, bundle.PowerSourceAMDInput
	if g.power == "power1_average" {
		x.PowerSource = bundle.PowerSourceAMDAverage
	}
	x.EnergySource = bundle.EnergySourceIntegrated
	if g.metrics {
		m, err := g.readMetrics()
		if err == nil && !m.EnergyOK {
			err = fmt.Errorf("%w: energy accumulator unavailable", ErrGPUMetrics)
		}
		if err != nil {
			x.Err = fmt.Sprintf("amdgpu card%d: %v", g.card.Card, err)
			return x
		}
		x.EnergyMJ, x.EnergySource = m.EnergyMJ(), bundle.EnergySourceAMDMetrics
	}
	return x
}
