package sim

import (
	"math"
	"sync"
	"time"
)

// PowerReading is the body of GET /sim/v1/power. Every value is simulated.
//
// Clocks: t_unix_ns is the wall clock (Unix epoch, ns). t_mono_ns is
// MonoClock: on Linux CLOCK_MONOTONIC in ns, the same clock any other process
// on the host reads (Go's runtime monotonic clock, clock_gettime), so a runner
// on the same machine can place samples on its own monotonic timeline; on
// other systems it is ns since the sim process started. Both are taken at the
// instant the counters are evaluated.
//
// energy_mj is a cumulative counter per GPU in millijoules, like NVML's total
// energy consumption: it starts at an arbitrary seeded value, is monotonic
// and equals the exact integral of power_w over real time (the power model
// is evaluated in closed form, not sampled). The energy-reset fault sets it
// back to zero once.
type PowerReading struct {
	Simulated bool       `json:"simulated"`
	Profile   string     `json:"profile"`
	Clock     string     `json:"clock"`
	TUnixNS   int64      `json:"t_unix_ns"`
	TMonoNS   int64      `json:"t_mono_ns"`
	GPUs      []GPUPower `json:"gpus"`
	// Total sums the GPUs, and a rack member node's overhead (Node).
	Total PowerTotal `json:"total"`
	// Node is set by a rack member's node (NewNode) only.
	Node *NodeReading `json:"node,omitempty"`
}

// GPUPower is one virtual GPU's reading.
type GPUPower struct {
	Index       int     `json:"index"`
	EnergyMJ    uint64  `json:"energy_mj"`
	PowerW      float64 `json:"power_w"`
	Utilization float64 `json:"utilization"`
	TUnixNS     int64   `json:"t_unix_ns"`
	TMonoNS     int64   `json:"t_mono_ns"`
}

// PowerTotal sums a reading.
type PowerTotal struct {
	EnergyMJ uint64  `json:"energy_mj"`
	PowerW   float64 `json:"power_w"`
}

// instant is one clock reading: time since the meter started, and the two
// published timestamps.
type instant struct {
	elapsed time.Duration
	unixNS  int64
	monoNS  int64
}

func realClock() func() instant {
	start := time.Now()
	return func() instant {
		t := time.Now()
		return instant{elapsed: t.Sub(start), unixNS: t.UnixNano(), monoNS: monoNow()}
	}
}

type gpuModel struct {
	idleW, dynW float64
	offsetMJ    float64
	resetMJ     float64 // counter value subtracted after the reset fault
}

// powerMeter integrates the power model in closed form. Utilisation follows a
// first-order low-pass towards the current step's target ut:
//
//	u(t) = ut + (u0 − ut)·e^(−(t−t0)/τ)
//	∫u   = U0 + ut·Δ + (u0 − ut)·τ·(1 − e^(−Δ/τ))
//
// so energy = offset + idle·t + dynamic·∫u exactly, at any read time.
type powerMeter struct {
	mu    sync.Mutex
	clock func() instant
	tau   float64 // s
	t0    float64 // s since start of the current segment
	u0    float64 // utilisation at t0
	ut    float64 // target utilisation
	uInt  float64 // ∫u dt from 0 to t0, s
	gpus  []gpuModel

	resetAt   float64 // s; < 0: no reset fault
	resetDone bool
}

func newPowerMeter(p Profile, seed int64, clock func() instant, resetAfter time.Duration) *powerMeter {
	r := newRNG(mix(uint64(seed), 0x706f776572)) // "power"
	return newMeterOf(gpuModels(p.Power, p.GPUs, r), p.Power.SmoothingMS, clock, resetAfter)
}

// gpuModels draws n GPUs' idle and dynamic watts, spread around the model's,
// and their counters' starting values from r.
func gpuModels(pm PowerModel, n int, r *rng) []gpuModel {
	gs := make([]gpuModel, 0, n)
	for range n {
		spread := func() float64 { return 1 + pm.SpreadPct/100*(2*r.float()-1) }
		gs = append(gs, gpuModel{
			idleW:    pm.IdleW * spread(),
			dynW:     pm.DynamicW * spread(),
			offsetMJ: math.Floor(1e9 + r.float()*1e10),
		})
	}
	return gs
}

// newMeterOf meters gpus that share one utilisation, low-pass filtered with
// time constant smoothingMS.
func newMeterOf(gpus []gpuModel, smoothingMS float64, clock func() instant, resetAfter time.Duration) *powerMeter {
	m := &powerMeter{clock: clock, tau: smoothingMS / 1e3, resetAt: -1, gpus: gpus}
	if resetAfter > 0 {
		m.resetAt = resetAfter.Seconds()
	}
	return m
}

// step sets the utilisation of the step starting now (stepMeter).
func (m *powerMeter) step(pl *stepPlan) {
	if pl == nil {
		m.setUtil(0)
		return
	}
	m.setUtil(pl.util)
}

// at evaluates utilisation and its integral at t within the current segment.
func (m *powerMeter) at(t float64) (u, uInt float64) {
	d := max(t-m.t0, 0)
	if m.tau == 0 {
		return m.ut, m.uInt + m.ut*d
	}
	e := math.Exp(-d / m.tau)
	return m.ut + (m.u0-m.ut)*e, m.uInt + m.ut*d + (m.u0-m.ut)*m.tau*(1-e)
}

func (m *powerMeter) energyMJ(g *gpuModel, t, uInt float64) float64 {
	return g.offsetMJ + (g.idleW*t+g.dynW*uInt)*1e3
}

func (m *powerMeter) checkReset(t float64) {
	if m.resetDone || m.resetAt < 0 || t < m.resetAt {
		return
	}
	_, uInt := m.at(m.resetAt)
	for i := range m.gpus {
		g := &m.gpus[i]
		g.resetMJ = m.energyMJ(g, m.resetAt, uInt)
	}
	m.resetDone = true
}

// setUtil starts a new segment with target utilisation u from now.
func (m *powerMeter) setUtil(u float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.clock().elapsed.Seconds()
	if t < m.t0 {
		t = m.t0
	}
	m.checkReset(t)
	if u == m.ut {
		return // same target: the current segment's curve continues unchanged
	}
	m.u0, m.uInt = m.at(t)
	m.t0, m.ut = t, u
}

// read evaluates every GPU now.
func (m *powerMeter) read() PowerReading {
	m.mu.Lock()
	defer m.mu.Unlock()
	in := m.clock()
	t := max(in.elapsed.Seconds(), m.t0)
	m.checkReset(t)
	u, uInt := m.at(t)
	r := PowerReading{Simulated: true, Clock: "t_mono_ns=" + MonoClock + "; t_unix_ns=wall clock",
		TUnixNS: in.unixNS, TMonoNS: in.monoNS, GPUs: make([]GPUPower, len(m.gpus))}
	for i := range m.gpus {
		g := &m.gpus[i]
		e := m.energyMJ(g, t, uInt)
		if m.resetDone {
			e -= g.resetMJ
		}
		p := g.idleW + g.dynW*u
		r.GPUs[i] = GPUPower{Index: i, EnergyMJ: uint64(max(e, 0)), PowerW: p, Utilization: u,
			TUnixNS: in.unixNS, TMonoNS: in.monoNS}
		r.Total.EnergyMJ += r.GPUs[i].EnergyMJ
		r.Total.PowerW += p
	}
	return r
}
