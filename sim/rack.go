package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"
)

// Roles of a rack member's GPUs.
const (
	RolePrefill = "prefill"
	RoleDecode  = "decode"
)

// Rack makes a profile a SIMULATED rack: its GPUs are split evenly among
// member nodes, members 0 to prefill_members−1 running prefill and the
// others decode, disaggregated. The frontend (a Server with the profile)
// schedules the whole rack and reports each member's load at GET
// /sim/v1/rack; each member node (NewNode) turns its load into its own
// power and energy counters.
//
// Per step, the prefill pool's utilisation follows the step's prefill tokens
// and the decode pool's its decode tokens, each against the saturation
// tokens scaled to the pool's share of the GPUs; a pool with no tokens in a
// step is idle. Each prefill token also costs kv_transfer_ns_per_token of
// step time (its KV moves to the decode pool). A member node draws its GPUs'
// power plus node_overhead_w (CPUs, NICs, fans, its share of the switches).
type Rack struct {
	Members        int `yaml:"members" json:"members"`
	GPUsPerMember  int `yaml:"gpus_per_member" json:"gpus_per_member"`
	PrefillMembers int `yaml:"prefill_members" json:"prefill_members"`
	// KVTransferNSPerToken is step time per prefill token, in ns.
	KVTransferNSPerToken float64 `yaml:"kv_transfer_ns_per_token" json:"kv_transfer_ns_per_token"`
	// NodeOverheadW is each member node's constant power beyond its GPUs.
	NodeOverheadW float64 `yaml:"node_overhead_w" json:"node_overhead_w"`
}

// MaxRackMembers bounds a rack's member nodes.
const MaxRackMembers = 64

// DecodeMembers is the number of decode members.
func (r *Rack) DecodeMembers() int { return r.Members - r.PrefillMembers }

// Role is member's role: RolePrefill or RoleDecode.
func (r *Rack) Role(member int) string {
	if member < r.PrefillMembers {
		return RolePrefill
	}
	return RoleDecode
}

func (r *Rack) check(gpus int) (field, msg string) {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case r.Members < 2 || r.Members > MaxRackMembers:
		return "rack.members", fmt.Sprintf("%d: want 2 to %d", r.Members, MaxRackMembers)
	case r.GPUsPerMember < 1 || r.GPUsPerMember > gpus:
		return "rack.gpus_per_member", fmt.Sprintf("%d: want 1 to the profile's %d GPUs", r.GPUsPerMember, gpus)
	case r.Members*r.GPUsPerMember != gpus:
		return "rack.gpus_per_member", fmt.Sprintf("%d members × %d GPUs is not the profile's %d GPUs", r.Members, r.GPUsPerMember, gpus)
	case r.PrefillMembers < 1 || r.PrefillMembers >= r.Members:
		return "rack.prefill_members", fmt.Sprintf("%d: want 1 to %d (at least one member decodes)", r.PrefillMembers, r.Members-1)
	case !finite(r.KVTransferNSPerToken) || r.KVTransferNSPerToken < 0:
		return "rack.kv_transfer_ns_per_token", "must not be negative"
	case !finite(r.NodeOverheadW) || r.NodeOverheadW < 0:
		return "rack.node_overhead_w", "must not be negative"
	}
	return "", ""
}

// poolUtils is the prefill and decode pools' utilisation in a step with
// prefill and decode tokens.
func (r *Rack) poolUtils(pw PowerModel, prefill, decode int) (pu, du float64) {
	u := func(tokens, members int) float64 {
		if tokens <= 0 {
			return 0
		}
		sat := float64(pw.SaturationTokens) * float64(members) / float64(r.Members)
		return pw.BusyFloor + (1-pw.BusyFloor)*math.Min(1, float64(tokens)/max(sat, 1))
	}
	return u(prefill, r.PrefillMembers), u(decode, r.DecodeMembers())
}

// memberGPUs draws member's GPU models: the frontend's rack model and the
// member's node draw the same ones from the same seed.
func memberGPUs(p Profile, seed int64, member int) []gpuModel {
	r := newRNG(mix(uint64(seed), 0x7261636b, uint64(member))) // "rack"
	return gpuModels(p.Power, p.Rack.GPUsPerMember, r)
}

// RackLoad is the body of GET /sim/v1/rack on a rack's frontend: each
// member's load and the rack power model. Every value is simulated.
type RackLoad struct {
	Simulated bool   `json:"simulated"`
	Profile   string `json:"profile"`
	// ElapsedS is seconds since the frontend's rack model started; with
	// MemberLoad.BusyS it gives a member's mean utilisation between reads.
	ElapsedS float64      `json:"elapsed_s"`
	TUnixNS  int64        `json:"t_unix_ns"`
	TMonoNS  int64        `json:"t_mono_ns"`
	Members  []MemberLoad `json:"members"`
	// Total is the rack model's power and energy: GPUs and node overheads.
	Total PowerTotal `json:"total"`
}

// MemberLoad is one member's load and power in the frontend's rack model.
type MemberLoad struct {
	Member int    `json:"member"`
	Role   string `json:"role"`
	GPUs   int    `json:"gpus"`
	// Utilization of the member's GPUs now (low-pass filtered), 0 to 1.
	Utilization float64 `json:"utilization"`
	// BusyS is ∫ utilisation dt since the rack model started, in seconds.
	BusyS float64 `json:"busy_s"`
	// PowerW and EnergyMJ include the node overhead.
	PowerW   float64 `json:"power_w"`
	EnergyMJ uint64  `json:"energy_mj"`
}

// rackMeter is the frontend's rack power model: a meter per pool, its GPUs
// in member order, and a constant node overhead per member.
type rackMeter struct {
	prof            Profile
	clock           func() instant
	prefill, decode *powerMeter
	overheadMJ      []float64 // each member's overhead counter's start
}

func newRackMeter(p Profile, seed int64, clock func() instant, resetAfter time.Duration) *rackMeter {
	m := &rackMeter{prof: p, clock: clock}
	var pre, dec []gpuModel
	for k := range p.Rack.Members {
		gs := memberGPUs(p, seed, k)
		if p.Rack.Role(k) == RolePrefill {
			pre = append(pre, gs...)
		} else {
			dec = append(dec, gs...)
		}
		m.overheadMJ = append(m.overheadMJ, overheadStart(seed, k))
	}
	m.prefill = newMeterOf(pre, p.Power.SmoothingMS, clock, resetAfter)
	m.decode = newMeterOf(dec, p.Power.SmoothingMS, clock, resetAfter)
	return m
}

// overheadStart is member's node-overhead counter's starting value.
func overheadStart(seed int64, member int) float64 {
	return math.Floor(1e9 + newRNG(mix(uint64(seed), 0x6e6f6465, uint64(member))).float()*1e10) // "node"
}

func (m *rackMeter) step(pl *stepPlan) {
	if pl == nil {
		m.prefill.setUtil(0)
		m.decode.setUtil(0)
		return
	}
	m.prefill.setUtil(pl.prefillUtil)
	m.decode.setUtil(pl.decodeUtil)
}

// power is the rack's GPUs in member order, as GET /sim/v1/power serves it.
func (m *rackMeter) power() PowerReading {
	a, b := m.prefill.read(), m.decode.read()
	r := b
	r.GPUs = append(a.GPUs, b.GPUs...)
	r.Total = PowerTotal{}
	for i := range r.GPUs {
		r.GPUs[i].Index = i
		r.Total.EnergyMJ += r.GPUs[i].EnergyMJ
		r.Total.PowerW += r.GPUs[i].PowerW
	}
	return r
}

// load is every member's load and power now.
func (m *rackMeter) load() RackLoad {
	rk := m.prof.Rack
	rd := m.power()
	pu, pInt, t := m.prefill.utilization()
	du, dInt, _ := m.decode.utilization()
	out := RackLoad{Simulated: true, Profile: m.prof.Name, ElapsedS: t, TUnixNS: rd.TUnixNS, TMonoNS: rd.TMonoNS}
	for k := range rk.Members {
		ml := MemberLoad{Member: k, Role: rk.Role(k), GPUs: rk.GPUsPerMember, Utilization: du, BusyS: dInt}
		if ml.Role == RolePrefill {
			ml.Utilization, ml.BusyS = pu, pInt
		}
		e := m.overheadMJ[k] + rk.NodeOverheadW*t*1e3
		ml.PowerW = rk.NodeOverheadW
		for _, g := range rd.GPUs[k*rk.GPUsPerMember : (k+1)*rk.GPUsPerMember] {
			ml.PowerW += g.PowerW
			e += float64(g.EnergyMJ)
		}
		ml.EnergyMJ = uint64(e)
		out.Members = append(out.Members, ml)
		out.Total.PowerW += ml.PowerW
		out.Total.EnergyMJ += ml.EnergyMJ
	}
	return out
}

// utilization is the filtered utilisation now, its integral since start (s)
// and the time since start (s).
func (m *powerMeter) utilization() (u, uInt, t float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t = max(m.clock().elapsed.Seconds(), m.t0)
	u, uInt = m.at(t)
	return u, uInt, t
}

// maxRackBody bounds a GET /sim/v1/rack answer.
const maxRackBody = 1 << 20

// ReadRackLoad decodes a frontend's GET /sim/v1/rack answer from r, reading
// at most 1 MiB, and checks it against the rack profile p: marked
// simulated, the same profile, every member once in order with p's role and
// GPUs, and finite values in range. A node trusts nothing else of it.
func ReadRackLoad(r io.Reader, p Profile) (*RackLoad, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxRackBody+1))
	if err != nil {
		return nil, fmt.Errorf("rack load: read: %w", err)
	}
	if len(data) > maxRackBody {
		return nil, fmt.Errorf("rack load: answer over %d bytes", maxRackBody)
	}
	return DecodeRackLoad(data, p)
}

// DecodeRackLoad is ReadRackLoad for a body already read.
func DecodeRackLoad(data []byte, p Profile) (*RackLoad, error) {
	if p.Rack == nil {
		return nil, fmt.Errorf("rack load: profile %q is not a rack", p.Name)
	}
	var rl RackLoad
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&rl); err != nil {
		return nil, fmt.Errorf("rack load: decode: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("rack load: data after the answer")
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("rack load: "+format, args...)
	}
	fin := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 }
	switch {
	case !rl.Simulated:
		return nil, bad("not marked simulated")
	case rl.Profile != p.Name:
		return nil, bad("profile %.64q, this node's is %q", rl.Profile, p.Name)
	case !fin(rl.ElapsedS):
		return nil, bad("elapsed_s %v: want a finite number ≥ 0", rl.ElapsedS)
	case len(rl.Members) != p.Rack.Members:
		return nil, bad("%d members, the rack has %d", len(rl.Members), p.Rack.Members)
	}
	for i, m := range rl.Members {
		switch {
		case m.Member != i:
			return nil, bad("members[%d] is member %d", i, m.Member)
		case m.Role != p.Rack.Role(i):
			return nil, bad("member %d: role %.32q, the profile's is %s", i, m.Role, p.Rack.Role(i))
		case m.GPUs != p.Rack.GPUsPerMember:
			return nil, bad("member %d: %d GPUs, the profile's is %d", i, m.GPUs, p.Rack.GPUsPerMember)
		case !fin(m.Utilization) || m.Utilization > 1:
			return nil, bad("member %d: utilization %v: want 0 to 1", i, m.Utilization)
		case !fin(m.BusyS) || m.BusyS > rl.ElapsedS*(1+1e-9)+1e-6:
			return nil, bad("member %d: busy_s %v: want 0 to elapsed_s %v", i, m.BusyS, rl.ElapsedS)
		case !fin(m.PowerW):
			return nil, bad("member %d: power_w %v: want a finite number ≥ 0", i, m.PowerW)
		}
	}
	return &rl, nil
}
