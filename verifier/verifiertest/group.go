package verifiertest

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
)

// GroupOptions make a runner group's bundle: members.json and one power
// file per member (bundle.MemberPowerFile) instead of power.jsonl.zst.
type GroupOptions struct {
	// Members is the group's size; each member simulates one GPU drawing
	// the single-host bundle's power times 1 + k/10 (member k from 0).
	Members int
	// Skew puts the last member's clock Skew ahead of the leader's (its
	// samples are stamped on it), and OffsetError is what its measured
	// offsets miss the skew by (within their uncertainty, MeasuredUncertainty).
	Skew, OffsetError time.Duration
	// NoOffsets leaves the last member's clock unmeasured.
	NoOffsets bool
}

// MeasuredUncertainty is the uncertainty a group bundle's offsets record.
const MeasuredUncertainty = 500 * time.Microsecond

// MemberName is member k's name: node-0 (the leader), node-1, …
func MemberName(k int) string { return fmt.Sprintf("node-%d", k) }

// memberScale is member k's power against the single host's.
func memberScale(k int) float64 { return 1 + float64(k)/10 }

// writeGroup writes the members' power files and members.json into w from
// the one-GPU samples, and returns the window energy the leader reports:
// the members' energies on their true (leader) times, summed.
func writeGroup(w *bundle.Writer, o GroupOptions, samples []metrics.PowerSample, probes []bundle.ProbeRecord, idle [2]int64) (func(start, end int64, tokens float64) *bundle.WindowEnergy, error) {
	ms := &bundle.Members{Format: bundle.MembersFormat, Version: bundle.MembersVersion, Group: "rack-test", Leader: MemberName(0)}
	truth := make([][]metrics.PowerSample, o.Members)
	for k := 0; k < o.Members; k++ {
		name := MemberName(k)
		skew := int64(0)
		if k == o.Members-1 && k > 0 {
			skew = int64(o.Skew)
		}
		mine := make([]metrics.PowerSample, len(samples))
		f, err := w.CreateZstd(bundle.MemberPowerFile(name))
		if err != nil {
			return nil, err
		}
		enc := json.NewEncoder(f)
		for i, s := range samples {
			s.PowerW *= memberScale(k)
			s.EnergyMJ *= memberScale(k)
			mine[i] = s
			s.TMonoNs += skew // stamped on the member's clock
			if err := enc.Encode(bundle.PowerLine{PowerSample: s, TUnixNs: 1_700_000_000_000_000_000 + s.TMonoNs, PowerSource: bundle.PowerSourceSim}); err != nil {
				return nil, err
			}
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		truth[k] = mine
		m := bundle.Member{Name: name, Host: name + ".rack.test", Accelerator: "", GPUs: 1,
			Inventory: &bundle.Inventory{Source: "sim", Hostname: name, GPUs: []bundle.InventoryGPU{{Index: 0, PowerLimitW: 700}}}}
		if k > 0 && !(o.NoOffsets && k == o.Members-1) {
			off := skew + int64(o.OffsetError)
			add := func(probe int, at string, t int64) {
				m.Offsets = append(m.Offsets, bundle.MemberOffset{Probe: probe, At: at, AtNs: t, OffsetNs: off, UncertaintyNs: int64(MeasuredUncertainty), Rounds: 5})
			}
			add(-1, bundle.OffsetAtStart, idle[0])
			add(-1, bundle.OffsetAtEnd, idle[1])
			for _, p := range probes {
				add(p.Probe, bundle.OffsetAtStart, p.WindowStartNs)
				add(p.Probe, bundle.OffsetAtEnd, p.WindowEndNs)
			}
		}
		ms.Members = append(ms.Members, m)
	}
	if err := w.WriteJSON(bundle.MembersFile, ms); err != nil {
		return nil, err
	}
	return func(start, end int64, tokens float64) *bundle.WindowEnergy {
		parts := make([]bundle.MemberEnergy, len(truth))
		for k, s := range truth {
			parts[k] = bundle.MemberEnergy{Member: MemberName(k), Energy: bundle.WindowEnergyFrom(s, start, end, tokens)}
		}
		return bundle.SumWindowEnergy(parts, time.Duration(end-start).Seconds(), tokens)
	}, nil
}

// EditMemberPower rewrites member's power file in dir, keeping the samples
// keep returns true for.
func EditMemberPower(dir, member string, keep func(s *bundle.PowerLine) bool) error {
	return editPowerFile(filepath.Join(dir, filepath.FromSlash(bundle.MemberPowerFile(member))), keep)
}
