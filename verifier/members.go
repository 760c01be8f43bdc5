package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/spec"
)

// A runner group's bundle (bundle.MembersFile listed) measures power on
// every member: power/<member>.jsonl.zst, each on the member's own clock,
// and members.json with each member's GPUs, inventory and clock offsets
// measured at the start and end of every window. The verifier aligns each
// member's samples on the leader's clock by its measured offsets
// (metrics.AlignSamples), computes each window's energy per member with
// the one formula (bundle.WindowEnergyFrom) and sums them
// (bundle.SumWindowEnergy). A judged window is refused, naming the
// member, when a member's samples do not cover it, leave a gap beyond
// power.max_sample_gap, or its clock was not measured at the window's
// start and end within that same bound. The members' accelerators and GPU
// counts must add up to the declared system (the pool). A bundle without
// members.json is verified as one host, exactly as before.

// maxMembersBytes bounds members.json.
const maxMembersBytes = 16 << 20

// energyIndex is where a window's energy comes from: one host's samples
// (powerIndex) or a group's members summed (groupIndex).
type energyIndex interface {
	windowEnergy(start, end int64, outputTokens float64) *bundle.WindowEnergy
	gpuCount() int
}

func (px *powerIndex) gpuCount() int { return len(px.gpus) }

// groupIndex holds each member's samples, aligned on the leader's clock.
type groupIndex struct {
	ms      *bundle.Members
	members []groupMember // members.json's order (by name)
}

type groupMember struct {
	m  *bundle.Member
	px *powerIndex
}

func (g *groupIndex) windowEnergy(start, end int64, outputTokens float64) *bundle.WindowEnergy {
	parts := make([]bundle.MemberEnergy, len(g.members))
	for i, m := range g.members {
		parts[i] = bundle.MemberEnergy{Member: m.m.Name, Energy: m.px.windowEnergy(start, end, outputTokens)}
	}
	return bundle.SumWindowEnergy(parts, time.Duration(end-start).Seconds(), outputTokens)
}

func (g *groupIndex) gpuCount() int {
	n := 0
	for _, m := range g.members {
		n += m.px.gpuCount()
	}
	return n
}

// readPower reads the bundle's power: power.jsonl.zst for one host, the
// members' files for a group. A power file that does not decode, or a
// group whose files and members disagree, fails CheckPower and leaves no
// samples.
func (r *run) readPower(ctx context.Context) (*powerSamples, energyIndex, error) {
	if _, ok := r.m.File(bundle.MembersFile); !ok {
		for _, f := range r.m.Files {
			if _, member := bundle.MemberOfPowerFile(f.Name); member {
				r.cl.add(CheckPower, []string{fmt.Sprintf("%s listed without %s: a member's power file belongs to a group bundle", f.Name, bundle.MembersFile)}, "")
				return &powerSamples{sources: map[string]int{}}, newPowerIndex(nil), nil
			}
		}
		pw, err := r.power(ctx)
		if err != nil {
			return nil, nil, err
		}
		return pw, newPowerIndex(pw.valid), nil
	}
	return r.groupPower(ctx)
}

func (r *run) groupPower(ctx context.Context) (*powerSamples, energyIndex, error) {
	none := &powerSamples{sources: map[string]int{}}
	refuse := func(fails ...string) (*powerSamples, energyIndex, error) {
		r.cl.add(CheckPower, fails, "")
		return none, newPowerIndex(nil), nil
	}
	data, err := r.readAll(ctx, bundle.MembersFile, maxMembersBytes)
	if errors.Is(err, bundle.ErrTooLarge) {
		return refuse(err.Error())
	}
	if err != nil {
		return nil, nil, err
	}
	ms, err := bundle.DecodeMembers(data)
	if err != nil {
		return refuse(err.Error())
	}
	if err := ms.CheckFiles(r.m); err != nil {
		return refuse(strings.Split(err.Error(), "\n")...)
	}
	if fails := checkMemberSystem(ms, r.v.Pool); len(fails) > 0 {
		return refuse(fails...)
	}
	all := &powerSamples{sources: map[string]int{}}
	g := &groupIndex{ms: ms}
	var fails []string
	for i := range ms.Members {
		mem := &ms.Members[i]
		ps, err := r.memberSamples(ctx, mem)
		if err != nil {
			return nil, nil, err
		}
		if ps == nil {
			fails = append(fails, fmt.Sprintf("member %s: %s does not decode", mem.Name, bundle.MemberPowerFile(mem.Name)))
			continue
		}
		aligned := metrics.AlignSamples(ps.valid, clockPoints(mem.Offsets))
		px := newPowerIndex(aligned)
		if n := px.gpuCount(); n != mem.GPUs && len(ps.valid) > 0 {
			fails = append(fails, fmt.Sprintf("member %s: declares %d GPUs, its power samples cover %d", mem.Name, mem.GPUs, n))
		}
		all.valid = append(all.valid, aligned...)
		all.failed += ps.failed
		for src, n := range ps.sources {
			all.sources[src] += n
		}
		g.members = append(g.members, groupMember{m: mem, px: px})
	}
	fails = append(fails, checkPowerSource(r.m, all.sources)...)
	if len(fails) > 0 {
		return refuse(fails...)
	}
	r.group = g
	return all, g, nil
}

// memberSamples decodes one member's power file; nil (and a CheckPower
// reason) when it does not decode.
func (r *run) memberSamples(ctx context.Context, mem *bundle.Member) (*powerSamples, error) {
	name := bundle.MemberPowerFile(mem.Name)
	rc, err := r.b.OpenFile(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	defer rc.Close()
	ps, err := readPowerFile(name, rc, r.opts.ZstdLimits)
	if errors.Is(err, bundle.ErrDigestMismatch) {
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	if err != nil {
		r.cl.add(CheckPower, []string{err.Error()}, "")
		return nil, nil
	}
	return ps, nil
}

// clockPoints are a member's measured offsets in the form metrics reads.
func clockPoints(offs []bundle.MemberOffset) []metrics.ClockPoint {
	pts := make([]metrics.ClockPoint, len(offs))
	for i, o := range offs {
		pts[i] = metrics.ClockPoint{AtNs: o.AtNs, OffsetNs: o.OffsetNs}
	}
	return pts
}

// checkMemberSystem checks that the members' inventories add up to the
// declared system: one accelerator, and for a hardware pool
// ("<accelerator>x<count>", spec.Submission.Pool) that accelerator and
// Σ GPUs = count. A simulated rack's pool ("simx<count>") holds its members,
// which declare no accelerator or "sim", to Σ GPUs = count; the single-host
// sim pool declares no count (its GPU count is held to the summary's by the
// tiers check).
func checkMemberSystem(ms *bundle.Members, pool string) []string {
	acc, total := ms.Members[0].Accelerator, 0
	var fails []string
	var parts []string
	for _, m := range ms.Members {
		total += m.GPUs
		parts = append(parts, fmt.Sprintf("%s %d×%s", m.Name, m.GPUs, firstOf(m.Accelerator, "?")))
		if m.Accelerator != acc {
			fails = append(fails, fmt.Sprintf("member %s: accelerator %q, member %s's is %q: a group is one accelerator", m.Name, m.Accelerator, ms.Members[0].Name, acc))
		}
	}
	if pool == spec.Sim || pool == "" {
		return fails
	}
	if spec.SimPool(pool) && acc == "" {
		acc = spec.Sim // a simulated rack's members declare no hardware
	}
	i := strings.LastIndex(pool, "x")
	n, err := strconv.Atoi(pool[i+1:])
	if i < 1 || err != nil {
		return append(fails, fmt.Sprintf("pool %q does not declare <accelerator>x<count>", pool))
	}
	wantAcc := pool[:i]
	if acc != wantAcc || total != n {
		fails = append(fails, fmt.Sprintf("the members' inventories add up to %sx%d (%s), the declared system is %s",
			firstOf(acc, "?"), total, strings.Join(parts, ", "), pool))
	}
	return fails
}

// memberChecks judges each member's share of a window the verdict rests
// on, naming the member: its samples cover the window without a gap
// beyond maxGap, and (but the leader) its clock was measured at the
// window's start and end within ±maxGap.
func (r *run) memberChecks(probe int, start, end int64, maxGap float64, fails *capped) {
	for _, gm := range r.group.members {
		name := gm.m.Name
		e := gm.px.windowEnergy(start, end, 0)
		switch {
		case e == nil:
			fails.addf("probe %d: member %s: its power samples do not cover the window", probe, name)
		case e.MaxGapS > maxGap:
			fails.addf("probe %d: member %s: power sample gap %.3f s above %.3f s", probe, name, e.MaxGapS, maxGap)
		}
		if name == r.group.ms.Leader {
			continue
		}
		for _, at := range []string{bundle.OffsetAtStart, bundle.OffsetAtEnd} {
			o, ok := offsetOf(gm.m, probe, at)
			switch {
			case !ok:
				fails.addf("probe %d: member %s: its clock was not measured at the window's %s", probe, name, at)
			case time.Duration(o.UncertaintyNs).Seconds() > maxGap:
				fails.addf("probe %d: member %s: clock offset at the window's %s uncertain by ±%.3f s, above %.3f s",
					probe, name, at, time.Duration(o.UncertaintyNs).Seconds(), maxGap)
			}
		}
	}
}

func offsetOf(m *bundle.Member, probe int, at string) (bundle.MemberOffset, bool) {
	for _, o := range m.Offsets {
		if o.Probe == probe && o.At == at {
			return o, true
		}
	}
	return bundle.MemberOffset{}, false
}

// powerLimitW is the sum of the GPUs' power limits (enforced where
// known): the manifest's inventory for one host, every member's for a
// group; 0 when none is known.
func (r *run) powerLimitW() float64 {
	var invs []*bundle.Inventory
	if r.group != nil {
		for _, m := range r.group.ms.Members {
			invs = append(invs, m.Inventory)
		}
	} else {
		var inv bundle.Inventory
		_ = json.Unmarshal(r.m.Inventory, &inv) // what decodes counts; an inventory without limits leaves the upper bound unchecked
		invs = append(invs, &inv)
	}
	limit := 0.0
	for _, inv := range invs {
		for _, g := range inv.GPUs {
			if g.EnforcedPowerLimitW > 0 {
				limit += g.EnforcedPowerLimitW
			} else {
				limit += g.PowerLimitW
			}
		}
	}
	return limit
}
