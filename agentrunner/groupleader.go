package agentrunner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/agentrunner/engine"
	"github.com/agentwatt/agentwatt/agentrunner/power"
	"github.com/agentwatt/agentwatt/agentrunner/replay"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/group"
	"github.com/agentwatt/agentwatt/metrics"
)

// groupLead is the leader's side of one group job: the members it
// assigned, their clock offsets at every window's start and end, the
// watch that breaks the job when a member or the lease is gone, and the
// members' power files once they handed them over.
type groupLead struct {
	r       *Runner
	gs      *group.Groups
	l       *group.Leadership
	objects powerObjects
	members []group.Member // the group's members when the job was taken, by name
	log     zerolog.Logger

	job     string
	attempt int

	brokenOnce sync.Once
	brokenCh   chan struct{}
	brokenErr  error

	mu       sync.Mutex
	assigned []string                         // members whose part was assigned
	offsets  map[string][]bundle.MemberOffset // member → its clock measurements, in order
	baseline [2]int64                         // the idle baseline's window on the leader's clock
	ready    bool                             // every part reported ready: their power files are due
	files    map[string]string                // member → its power file, fetched

	marks     chan clockMark
	marksDone sync.WaitGroup
	marksOnce sync.Once
}

// clockMark is a window mark waiting for its clock measurements.
type clockMark struct {
	probe int
	at    string
}

func newGroupLead(r *Runner, gs *group.Groups, l *group.Leadership, members []group.Member, objects powerObjects) *groupLead {
	return &groupLead{r: r, gs: gs, l: l, objects: objects, members: members, brokenCh: make(chan struct{}),
		offsets: map[string][]bundle.MemberOffset{}, files: map[string]string{},
		log: r.log.With().Str("group", l.Group()).Uint64("term", l.Term()).Logger()}
}

// broken is closed when the group broke under the job.
func (gl *groupLead) broken() <-chan struct{} { return gl.brokenCh }

func (gl *groupLead) fail(err error) {
	gl.brokenOnce.Do(func() {
		gl.brokenErr = err
		gl.log.Warn().Err(err).Msg("the group broke; the job stops and is released")
		close(gl.brokenCh)
	})
}

// err is why the group broke, nil while it holds.
func (gl *groupLead) err() error {
	if !isClosed(gl.brokenCh) {
		return nil
	}
	return gl.brokenErr
}

// watch breaks the job when the leader's lease is lost or the group stops
// offering its pool (a member gone), until ctx ends.
func (gl *groupLead) watch(ctx context.Context) {
	every := max(gl.gs.Config().MemberTTL/10, 100*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-gl.l.Lost():
			gl.fail(groupBrokenf("the leader's lease was lost"))
			return
		case <-t.C:
		}
		if _, err := gl.l.Pool(ctx); err != nil && ctx.Err() == nil {
			if errors.Is(err, group.ErrIncomplete) || errors.Is(err, group.ErrFenced) {
				gl.fail(groupBrokenf("%v", err))
				return
			}
			gl.log.Warn().Err(err).Msg("check the group")
		}
	}
}

// startParts assigns every member its node of the sim rack, the frontend
// at frontend, and waits until every part is ready.
func (gl *groupLead) startParts(ctx context.Context, js *jobSpec, frontend string) error {
	// The members read when the job was taken must still make the pool
	// (one may have gone between the leader's check and the read).
	gpus := 0
	for _, m := range gl.members {
		gpus += m.GPUs
	}
	if len(gl.members) == 0 || fmt.Sprintf("%sx%d", gl.members[0].Accelerator, gpus) != gl.r.cfg.Pool {
		gl.fail(groupBrokenf("the group's members (%s) do not make pool %s", strings.Join(memberNames(gl.members), ", "), gl.r.cfg.Pool))
		return gl.err()
	}
	for i, m := range gl.members {
		part, _ := json.Marshal(rackPart{Kind: partSimNode, Profile: js.sub.Engine.SimProfile, Node: i, Frontend: frontend, Power: js.rules.Power,
			Env: js.sub.Engine.Env, ReadyTimeout: engine.FromSpec(js.sub.Engine).ReadyTimeout})
		gl.mu.Lock()
		gl.assigned = append(gl.assigned, m.Name)
		gl.mu.Unlock()
		if err := gl.l.Assign(ctx, m.Name, gl.job, gl.attempt, part); err != nil {
			if !errors.Is(err, group.ErrRefused) { // no answer: the member is gone
				gl.fail(groupBrokenf("assign member %s: %v", m.Name, err))
			}
			return gl.partErr(fmt.Errorf("assign member %s: %w", m.Name, err))
		}
	}
	if err := gl.l.WaitReady(ctx, gl.job, gl.attempt, memberNames(gl.members)); err != nil {
		return gl.partErr(err)
	}
	gl.mu.Lock()
	gl.ready = true
	gl.mu.Unlock()
	gl.marks = make(chan clockMark, 64)
	gl.marksDone.Add(1)
	go gl.measureMarks()
	return nil
}

// partErr is err, or the group's breakage when the group broke meanwhile
// (a member that died does not answer).
func (gl *groupLead) partErr(err error) error {
	if errors.Is(err, group.ErrFenced) {
		gl.fail(groupBrokenf("%v", err))
	}
	if gerr := gl.err(); gerr != nil {
		return gerr
	}
	return err
}

// measureClocks measures every member's clock but the leader's at one
// window mark, on the leader's clock.
func (gl *groupLead) measureClocks(probe int, at string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*gl.gs.Config().RequestTimeout)
	defer cancel()
	for _, m := range gl.members {
		if m.Name == gl.r.cfg.Group.Member {
			continue
		}
		c, err := gl.l.MeasureClock(ctx, m.Name, gl.r.cfg.Group.ClockRounds)
		if err != nil {
			// The window goes without it: the verifier refuses it, naming the member.
			gl.log.Warn().Err(err).Str("member", m.Name).Int("probe", probe).Str("at", at).Msg("clock not measured")
			continue
		}
		gl.mu.Lock()
		gl.offsets[m.Name] = append(gl.offsets[m.Name], bundle.MemberOffset{Probe: probe, At: at, AtNs: c.AtNs,
			OffsetNs: c.OffsetNs, UncertaintyNs: c.UncertaintyNs, Rounds: c.Rounds})
		gl.mu.Unlock()
	}
}

// baselineWindow measures the members' clocks around the idle baseline
// (probe -1), which lasts d on the leader's clock.
func (gl *groupLead) baselineWindow(ctx context.Context, d time.Duration) error {
	gl.measureClocks(-1, bundle.OffsetAtStart)
	start := gl.r.runClock()
	if err := sleepCtx(ctx, d); err != nil {
		return err
	}
	end := gl.r.runClock()
	gl.measureClocks(-1, bundle.OffsetAtEnd)
	gl.mu.Lock()
	gl.baseline = [2]int64{start, end}
	gl.mu.Unlock()
	return nil
}

// onEvent queues the clock measurements of a window mark, off the probe
// loop; other events are ignored.
func (gl *groupLead) onEvent(e replay.Event) {
	var at string
	switch e.Kind {
	case replay.EventWindowStart:
		at = bundle.OffsetAtStart
	case replay.EventWindowEnd:
		at = bundle.OffsetAtEnd
	default:
		return
	}
	select {
	case gl.marks <- clockMark{probe: e.Probe, at: at}:
	default:
		gl.log.Warn().Int("probe", e.Probe).Str("at", at).Msg("clock measurements behind; this mark goes unmeasured")
	}
}

func (gl *groupLead) measureMarks() {
	defer gl.marksDone.Done()
	for m := range gl.marks {
		gl.measureClocks(m.probe, m.at)
	}
}

// finishMarks waits for the queued clock measurements.
func (gl *groupLead) finishMarks() {
	gl.marksOnce.Do(func() {
		if gl.marks != nil {
			close(gl.marks)
			gl.marksDone.Wait()
		}
	})
}

// teardown tells every assigned member to stop its part and fetches the
// power files they hand over into work/power/. A member that does not
// answer, or whose file is refused, breaks the job: its energy is
// unknown.
func (gl *groupLead) teardown(work, reason string) {
	gl.finishMarks()
	gl.mu.Lock()
	assigned := append([]string(nil), gl.assigned...)
	gl.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*gl.gs.Config().RequestTimeout+gl.r.cfg.GracePeriod)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(assigned))
	for i, m := range assigned {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := gl.l.Teardown(ctx, m, reason); err != nil {
				errs[i] = fmt.Errorf("tear down member %s: %w", m, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		gl.fail(groupBrokenf("%v", err))
		return
	}
	gl.mu.Lock()
	ready := gl.ready
	gl.mu.Unlock()
	if gl.err() != nil || !ready {
		return // nothing of a broken attempt is kept; parts that never ran measured nothing
	}
	dir := filepath.Join(work, "power")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		gl.fail(groupBrokenf("%v", err))
		return
	}
	for _, m := range assigned {
		k := powerObjectKey{group: gl.l.Group(), term: gl.l.Term(), job: gl.job, attempt: gl.attempt, member: m}
		path := filepath.Join(dir, m+".jsonl.zst")
		if err := gl.objects.get(ctx, k, path, gl.r.cfg.Group.MaxPowerBytes); err != nil {
			gl.fail(groupBrokenf("%v", err))
			return
		}
		gl.objects.remove(ctx, k)
		gl.mu.Lock()
		gl.files[m] = path
		gl.mu.Unlock()
	}
}

// membersFile is members.json: every member with its inventory and its
// clock offsets.
func (gl *groupLead) membersFile() (*bundle.Members, error) {
	gl.mu.Lock()
	defer gl.mu.Unlock()
	ms := &bundle.Members{Format: bundle.MembersFormat, Version: bundle.MembersVersion,
		Group: gl.l.Group(), Leader: gl.r.cfg.Group.Member}
	for _, m := range gl.members {
		inv, err := bundle.DecodeInventory(m.Inventory)
		if err != nil {
			return nil, fmt.Errorf("member %s: inventory: %w", m.Name, err)
		}
		bm := bundle.Member{Name: m.Name, Host: m.Host, Accelerator: m.Accelerator, GPUs: m.GPUs, Inventory: inv}
		if m.Name != ms.Leader {
			bm.Offsets = gl.offsets[m.Name]
		}
		ms.Members = append(ms.Members, bm)
	}
	return ms, ms.Validate()
}

// energy is the group's window energy: each member's valid samples aligned
// on the leader's clock by its offsets, their window energies summed (as
// the verifier recomputes it), and the members' GPUs.
func (gl *groupLead) energy(ms *bundle.Members) (func(start, end int64, tokens float64) *bundle.WindowEnergy, int, error) {
	type member struct {
		name    string
		samples []metrics.PowerSample
	}
	var parts []member
	gpus := 0
	for _, m := range ms.Members {
		gl.mu.Lock()
		path := gl.files[m.Name]
		gl.mu.Unlock()
		raw, err := readMemberPower(path, m.Name, gl.r.cfg.Group.MaxPowerBytes*memberPowerExpansion)
		if err != nil {
			return nil, 0, fmt.Errorf("member %s: %w", m.Name, err)
		}
		pts := make([]metrics.ClockPoint, len(m.Offsets))
		for i, o := range m.Offsets {
			pts[i] = metrics.ClockPoint{AtNs: o.AtNs, OffsetNs: o.OffsetNs}
		}
		parts = append(parts, member{name: m.Name, samples: metrics.AlignSamples(power.ValidPowerSamples(raw), pts)})
		gpus += m.GPUs
	}
	return func(start, end int64, tokens float64) *bundle.WindowEnergy {
		es := make([]bundle.MemberEnergy, len(parts))
		for i, p := range parts {
			es[i] = bundle.MemberEnergy{Member: p.name, Energy: bundle.WindowEnergyFrom(p.samples, start, end, tokens)}
		}
		return bundle.SumWindowEnergy(es, time.Duration(end-start).Seconds(), tokens)
	}, gpus, nil
}

// idleBaseline is summary.json's idle baseline of a group: the members'
// summed energy over the baseline window; nil when it was not measured.
func (gl *groupLead) idleBaseline(state string, energyOf func(start, end int64, tokens float64) *bundle.WindowEnergy) *bundle.IdleBaseline {
	gl.mu.Lock()
	w := gl.baseline
	gl.mu.Unlock()
	if w[1] <= w[0] {
		return nil
	}
	e := energyOf(w[0], w[1], 0)
	if e == nil {
		return nil
	}
	d := time.Duration(w[1] - w[0]).Seconds()
	per := map[string]float64{}
	for g, j := range e.PerGPUCounterJ {
		per[g] = j / d
	}
	return &bundle.IdleBaseline{State: state, StartNs: w[0], EndNs: w[1], DurationS: d,
		EnergyJ: e.CounterJ, AvgPowerW: e.AvgPowerW, PerGPUW: per}
}

// sealGroup writes the group's files into the bundle: every member's
// power file and members.json. A member's missing file leaves both out
// (a failed job's bundle says what it has).
func (jr *jobRun) sealGroup(gl *groupLead) error {
	ms, err := gl.membersFile()
	if err != nil {
		return fmt.Errorf("%s: %w", bundle.MembersFile, err)
	}
	gl.mu.Lock()
	files := make(map[string]string, len(gl.files))
	for k, v := range gl.files {
		files[k] = v
	}
	gl.mu.Unlock()
	for _, m := range ms.Members {
		if files[m.Name] == "" {
			return fmt.Errorf("member %s: no power file", m.Name)
		}
	}
	for _, m := range ms.Members {
		if err := jr.bw.AddFile(bundle.MemberPowerFile(m.Name), files[m.Name]); err != nil {
			return err
		}
	}
	return jr.bw.WriteJSON(bundle.MembersFile, ms)
}

// memberPowerExpansion bounds a member's power file decompressed, against
// its compressed bound (GroupConfig.MaxPowerBytes): power lines compress
// about tenfold, a zstd bomb a millionfold.
const memberPowerExpansion = 16

// readMemberPower decodes a member's power file, at most limit bytes
// decompressed: the member's file is its own claim, read with the bounds
// of any hostile input.
func readMemberPower(path, member string, limit int64) ([]power.Sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := bundle.NewLimitedZstdReader(f, bundle.ZstdLimits{MaxDecompressed: limit})
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return bundle.ParsePowerLines(bundle.MemberPowerFile(member), zr)
}
