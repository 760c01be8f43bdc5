package power

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrGPUMetrics: an amdgpu gpu_metrics table this package does not read (a
// version it does not know, or a blob shorter than its header says).
var ErrGPUMetrics = errors.New("amdgpu gpu_metrics")

// GPUMetrics is what the amdgpu driver's binary gpu_metrics table
// (/sys/class/drm/cardN/device/gpu_metrics) gives a power sampler.
//
// The table starts with a header — u16 structure_size, u8 format_revision
// (1: dGPU, 2 and 3: APU), u8 content_revision — and is a C struct of the
// kernel's drivers/gpu/drm/amd/include/kgd_pp_interface.h
// (gpu_metrics_vF_C), little-endian, naturally aligned. The versions read
// here are the dGPU ones that carry energy_accumulator (a u64 in units of
// 2^-16 J, 15.259 µJ, as the header's comment says since v1.4; the same
// counter in v1.1–v1.3) and system_clock_counter (ns) at fixed offsets:
//
//	version   energy  clock  power (W, u16)            sizeof
//	v1.1–1.3  24      32     22 average_socket_power   ≥ 40
//	v1.4      24      32     10 curr_socket_power      288
//	v1.5      88      96     10 curr_socket_power      360
//	v1.6      16      24     10 curr_socket_power      ≥ 32
//	v1.7      24      32     10 curr_socket_power      ≥ 40
//
// (v1.4 and v1.5 are MI300's on the kernels of 2024; v1.6 and v1.7 are
// later MI300-series tables.) Any other version, and v1.0 (not naturally
// aligned, a u32 accumulator), is refused with ErrGPUMetrics: the source
// then integrates hwmon power instead of guessing at an offset.
type GPUMetrics struct {
	Format, Content uint8
	Size            int
	// Energy is the accumulator in units of 2^-16 J; EnergyOK is false
	// where the firmware reports it unavailable (all ones).
	Energy   uint64
	EnergyOK bool
	// ClockNs is the driver's timestamp of the table.
	ClockNs uint64
	// SocketPowerW is the table's socket power; PowerOK false where the
	// firmware reports it unavailable (0xFFFF).
	SocketPowerW uint16
	PowerOK      bool
}

// EnergyMJ is the accumulator in millijoules.
func (m GPUMetrics) EnergyMJ() float64 { return float64(m.Energy) * 1000 / 65536 }

type gpuMetricsLayout struct{ energy, clock, power, minSize int }

var gpuMetricsLayouts = map[[2]uint8]gpuMetricsLayout{
	{1, 1}: {24, 32, 22, 40},
	{1, 2}: {24, 32, 22, 40},
	{1, 3}: {24, 32, 22, 40},
	{1, 4}: {24, 32, 10, 288},
	{1, 5}: {88, 96, 10, 360},
	{1, 6}: {16, 24, 10, 32},
	{1, 7}: {24, 32, 10, 40},
}

// maxGPUMetrics bounds a table: the largest known is under 2 KiB.
const maxGPUMetrics = 64 << 10

// ParseGPUMetrics reads a gpu_metrics blob.
func ParseGPUMetrics(b []byte) (GPUMetrics, error) {
	if len(b) < 4 {
		return GPUMetrics{}, fmt.Errorf("%w: %d bytes, shorter than the 4-byte header", ErrGPUMetrics, len(b))
	}
	m := GPUMetrics{Size: int(binary.LittleEndian.Uint16(b)), Format: b[2], Content: b[3]}
	l, ok := gpuMetricsLayouts[[2]uint8{m.Format, m.Content}]
	switch {
	case !ok:
		return m, fmt.Errorf("%w: version v%d.%d is not one this runner reads (v1.1–v1.7)", ErrGPUMetrics, m.Format, m.Content)
	case m.Size < l.minSize:
		return m, fmt.Errorf("%w: v%d.%d structure_size %d, below the version's %d", ErrGPUMetrics, m.Format, m.Content, m.Size, l.minSize)
	case len(b) < m.Size:
		return m, fmt.Errorf("%w: %d bytes, shorter than structure_size %d", ErrGPUMetrics, len(b), m.Size)
	}
	m.Energy = binary.LittleEndian.Uint64(b[l.energy:])
	m.EnergyOK = m.Energy != ^uint64(0)
	m.ClockNs = binary.LittleEndian.Uint64(b[l.clock:])
	m.SocketPowerW = binary.LittleEndian.Uint16(b[l.power:])
	m.PowerOK = m.SocketPowerW != 0xFFFF
	return m, nil
}

// AppendGPUMetrics writes a gpu_metrics table of version (format,
// content), with its version's size, the given accumulator, clock and
// socket power, the other fields zero: the recorded trees of the tests,
// and the fuzz seeds.
func AppendGPUMetrics(dst []byte, format, content uint8, energy, clockNs uint64, powerW uint16) ([]byte, error) {
	l, ok := gpuMetricsLayouts[[2]uint8{format, content}]
	if !ok {
		return dst, fmt.Errorf("%w: version v%d.%d", ErrGPUMetrics, format, content)
	}
	b := make([]byte, l.minSize)
	binary.LittleEndian.PutUint16(b, uint16(l.minSize))
	b[2], b[3] = format, content
	binary.LittleEndian.PutUint64(b[l.energy:], energy)
	binary.LittleEndian.PutUint64(b[l.clock:], clockNs)
	binary.LittleEndian.PutUint16(b[l.power:], powerW)
	return append(dst, b...), nil
}
