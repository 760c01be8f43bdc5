package agentrunner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/agentwatt/agentwatt/agentrunner/power"
	"github.com/agentwatt/agentwatt/agentrunner/replay"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/spec"
)

// seal is the bundle phase's work: it writes into the bundle every file
// that the phases that ran produced, and signs it.
func (jr *jobRun) seal(ctx context.Context, m *measured, kind endKind, reason string) error {
	if jr.bw == nil {
		return errNoBundle
	}
	var errs []error
	add := func(name, path string, zstd bool) {
		if _, err := os.Stat(path); err != nil {
			return
		}
		var err error
		if zstd {
			err = jr.bw.AddFileZstd(name, path)
		} else {
			err = jr.bw.AddFile(name, path)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if p := m.power; p != nil && p.pw != nil {
		if err := p.pw.Close(); err != nil {
			errs = append(errs, fmt.Errorf("power samples: %w", err))
		}
		add(bundle.PowerFile, p.pw.Path(), false)
	}
	if gl := jr.grp; gl != nil {
		errs = append(errs, jr.sealGroup(gl))
	}
	if l := m.load; l != nil {
		var probes *bundle.Probes
		if l.rep != nil {
			probes = l.rep.ProbesFile()
		}
		if err := l.out.Finish(probes, nil); err != nil {
			errs = append(errs, fmt.Errorf("request records: %w", err))
		}
		add(bundle.RequestsFile, filepath.Join(l.out.Dir(), replay.RequestsFile), false)
		add(bundle.ProbesFile, filepath.Join(l.out.Dir(), replay.ProbesName), false)
		if sc := l.scrapes; sc != nil {
			if err := sc.close(); err != nil {
				errs = append(errs, fmt.Errorf("engine metrics: %w", err))
			}
			add(bundle.EngineMetricsFile, sc.path, true)
		}
	}
	add(bundle.EngineLogFile, filepath.Join(jr.work, "engine.log"), true)
	if err := jr.bw.WriteJSON(bundle.EnvironmentFile, jr.environment(m)); err != nil {
		errs = append(errs, err)
	}
	if m.search != nil {
		s, err := jr.summary(m)
		if err == nil {
			err = jr.bw.WriteJSON(bundle.SummaryFile, s)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		if kind == endComplete {
			return err
		}
		jr.log.Warn().Err(err).Msg("incomplete bundle: some files are missing")
	}
	man := jr.manifest(m)
	if kind != endComplete {
		man.Incomplete, man.IncompleteReason = true, fmt.Sprintf("%s: %s", kind, reason)
	}
	if err := jr.bw.Seal(ctx, man, jr.r.signer); err != nil {
		return err
	}
	return jr.r.selfCheck(ctx, jr.bw.Dir())
}

func (jr *jobRun) manifest(m *measured) *bundle.Manifest {
	inv := jr.r.cfg.Inventory
	if len(inv) == 0 {
		inv = json.RawMessage(`{"source":"none","gpus":[]}`)
	}
	sw := map[string]string{"agentwatt": jr.r.cfg.Version, "go": runtime.Version()}
	for k, v := range jr.r.cfg.Software {
		sw[k] = v
	}
	man := &bundle.Manifest{
		Job: jr.job.ID, Attempt: jr.lease.Attempt(), SpecDigest: jr.job.SpecDigest, Pool: jr.r.cfg.Pool,
		Runner:    bundle.Runner{ID: jr.r.cfg.ID, Version: jr.r.cfg.Version},
		Inventory: inv, Software: sw, Simulated: jr.plan.simulated,
	}
	if js := m.spec; js != nil {
		if f := js.sub.Framework; f.Name != "" {
			sw["engine"] = f.Name + " " + f.Version
		}
		if js.rules != nil {
			man.Rules = bundle.Rules{Version: js.rules.Version, Profile: js.profile.Name}
		}
		man.Repeats = js.sub.Benchmark.RepeatCount()
	}
	if w := m.workload; w != nil {
		man.Workload = bundle.Workload{Name: w.name, Digest: string(w.digest)}
	}
	return man
}

func (jr *jobRun) environment(m *measured) *bundle.Environment {
	env := &bundle.Environment{
		GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(),
		EngineCPUs: jr.r.cfg.EngineCPUs, ClientCPUs: jr.r.cfg.ClientCPUs, Mode: replay.ModeSearch,
		FixedAgents: jr.r.cfg.FixedAgents, Seed: jr.r.cfg.Seed, ChatTemplate: m.spec.chatTemplate(),
		Accuracy: m.accuracy,
	}
	// The diagnostics are interfaces: a typed nil in one would be written
	// as null where omitempty leaves a nil out.
	if p := m.power; p != nil && p.base != nil {
		env.IdleBaseline = p.base
	}
	if m.pin != nil {
		env.ClientAffinity = m.pin.affinity
	}
	env.Host, _ = os.Hostname()
	if jr.r.cfg.FixedAgents > 0 {
		env.Mode = replay.ModeFixed
	}
	if e := m.engine; e != nil && e.eng != nil {
		env.EngineArgv, env.EnginePort = e.eng.Argv(), e.eng.Port()
	}
	if m.spec != nil && m.spec.sub.Engine.External() {
		env.Deployment = spec.DeploymentExternal
	}
	if l := m.load; l != nil && l.rep != nil {
		a := l.rep.Anchor()
		env.Clock, env.Model = &a, l.rep.Model()
	}
	if p := m.power; p != nil && p.sampler != nil {
		st := p.sampler.Stats()
		env.PowerStats = &st
		if ev := p.sampler.Events(); len(ev) > 0 {
			env.PowerEvents = ev
		}
		env.PowerSource, env.PowerBoundary = p.sampler.Source().Name(), p.sampler.Source().Boundary()
	}
	if jr.grp != nil { // the members' sim nodes
		env.PowerSource, env.PowerBoundary = bundle.PowerSourceSim, power.BoundarySimulated
	}
	return env
}

// summary is summary.json: the replay's own account plus the energy of
// every probe window, the idle baseline and the headline figures. It is
// written once the search ran, so the spec and the load are there.
func (jr *jobRun) summary(m *measured) (*bundle.Summary, error) {
	s := &bundle.Summary{
		SchemaVersion: bundle.SummarySchemaVersion, Simulated: jr.plan.simulated,
		Profile: m.spec.profile.Name, Tiers: map[string]bundle.TierSummary{},
	}
	// energyOf is a window's energy, the one formula: this host's samples,
	// or a group's members' summed.
	var energyOf func(start, end int64, tokens float64) *bundle.WindowEnergy
	if p := m.power; p != nil && p.sampler != nil {
		samples := power.ValidPowerSamples(p.sampler.Samples())
		s.PowerBoundary = p.sampler.Source().Boundary()
		gpus := map[int]bool{}
		for _, p := range samples {
			gpus[p.GPU] = true
		}
		s.GPUs = len(gpus)
		if b := s.PowerBoundary; b == power.BoundaryNode || b == power.BoundaryExternal {
			s.GPUs = jr.r.cfg.GPUs // one series for the whole node
		}
		if len(samples) > 0 {
			energyOf = func(start, end int64, tokens float64) *bundle.WindowEnergy {
				return bundle.WindowEnergyFrom(samples, start, end, tokens)
			}
		}
	}
	if gl := jr.grp; gl != nil {
		ms, err := gl.membersFile()
		if err != nil {
			return nil, err
		}
		if energyOf, s.GPUs, err = gl.energy(ms); err != nil {
			return nil, err
		}
		s.PowerBoundary = power.BoundarySimulated
		s.IdleBaseline = gl.idleBaseline(jr.plan.baselineState, energyOf)
	}
	if p := m.power; p != nil && p.base != nil {
		b := p.base
		per := map[string]float64{}
		for g, w := range b.PerGPUW {
			per[strconv.Itoa(g)] = w
		}
		s.IdleBaseline = &bundle.IdleBaseline{State: jr.plan.baselineState, StartNs: b.StartNs, EndNs: b.EndNs,
			DurationS: b.Duration.Seconds(), EnergyJ: b.Window.CounterJ, AvgPowerW: b.TotalW, PerGPUW: per}
	}
	byIndex := map[int]*bundle.ProbeSummary{}
	for _, rec := range m.load.rep.Probes() {
		ps := bundle.ProbeSummaryOf(rec.Probe, rec.Result, rec.WindowStartNs, rec.WindowEndNs, rec.Client)
		ps.Tier, ps.Role = rec.Tier, rec.Purpose
		if rec.WindowStartNs >= 0 && rec.WindowEndNs > rec.WindowStartNs && energyOf != nil {
			ps.Energy = energyOf(rec.WindowStartNs, rec.WindowEndNs, ps.OutputTokensPerS*ps.WindowS)
		}
		s.Probes = append(s.Probes, ps)
	}
	for i := range s.Probes {
		byIndex[s.Probes[i].Index] = &s.Probes[i]
	}
	for id, t := range m.search.Tiers {
		ts := bundle.TierSummary{MaxAgents: t.MaxAgents, Confirmed: t.Confirmed, MinDecodeTPS: t.MinDecodeTPS,
			MaxTTFTS: t.MaxTTFTS, ConfirmProbe: t.ConfirmationProbe, Reason: t.Reason}
		if t.ConfirmationProbe != nil {
			if p := byIndex[*t.ConfirmationProbe]; p != nil && p.Energy != nil {
				ts.SetFigures(p.OutputTokensPerS, p.Energy, s.GPUs)
			}
			ts.Repeats = bundle.RepeatSpreadOfProbes(id, t.MaxAgents, *t.ConfirmationProbe, t.RepeatProbes, s.Probes)
		}
		s.Tiers[id] = ts
	}
	return s, nil
}
