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
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
)

// endKind is how an attempt ends.
type endKind string

const (
	endComplete endKind = "uploaded"
	endFailed   endKind = "failed"
	endCanceled endKind = "canceled"
	endReleased endKind = "released"
)

// end bundles what was measured and ends the attempt: a complete bundle is
// uploaded (waiting for the store as long as it takes) and the job
// completed; an incomplete one (failure, cancel) is uploaded within
// UploadWait — the spool keeps it otherwise — and the job failed or its
// cancel acknowledged; on a runner shutdown it is spooled and the job
// released.
func (jr *jobRun) end(ctx context.Context, kind endKind, reason string) {
	log := jr.log.With().Str("outcome", string(kind)).Logger()
	if reason != "" {
		log = log.With().Str("reason", reason).Logger()
	}
	jr.phase(PhaseBundle)
	sealed := true
	if err := jr.seal(ctx, kind, reason); err != nil {
		log.Error().Err(err).Msg("seal bundle")
		sealed = false
		if kind == endComplete {
			kind, reason = endFailed, "bundle: "+err.Error()
		}
	}
	dir := jr.bw.Dir()
	attempt := jr.lease.Attempt()
	switch kind {
	case endComplete:
		jr.phase(PhaseUpload)
		// As long as it takes, but a runner shutdown leaves the bundle in
		// the spool and the job with this attempt (spool.go picks it up).
		err := jr.r.uploadUntil(jr.shutdown, dir, jr.job.ID, attempt, jr.lease.Lost())
		switch {
		case errors.Is(err, ErrStale):
			jr.lost(ctx)
			return
		case err != nil: // the runner is stopping: the spool keeps the bundle
			log.Warn().Err(err).Msg("upload interrupted; the bundle stays spooled and the job with this attempt")
			jr.lease.Abandon()
			jr.r.metrics.jobs.WithLabelValues("abandoned").Inc()
			return
		}
		if _, err := jr.lease.Complete(ctx); err != nil {
			switch {
			case errors.Is(err, queue.ErrStaleAttempt):
				jr.lost(ctx)
				return
			case errors.Is(err, queue.ErrJobCanceled):
				log.Info().Msg("canceled while uploading; the bundle is stored, the job canceled")
				kind = endCanceled
			default:
				log.Error().Err(err).Msg("complete job")
			}
		}
		jr.r.removeSpool(jr.job.ID, attempt)
	case endFailed, endCanceled:
		if sealed {
			jr.phase(PhaseUpload)
			uctx, cancel := context.WithTimeout(ctx, jr.r.cfg.UploadWait)
			err := jr.r.uploadUntil(uctx, dir, jr.job.ID, attempt, jr.lease.Lost())
			cancel()
			if errors.Is(err, ErrStale) {
				jr.lost(ctx)
				return
			}
			if err == nil {
				jr.r.removeSpool(jr.job.ID, attempt)
			} else {
				log.Warn().Err(err).Msg("bundle not uploaded yet; the spool keeps it")
			}
		}
		var err error
		if kind == endFailed {
			_, err = jr.lease.Fail(ctx, reason)
		} else {
			_, err = jr.lease.AckCanceled(ctx)
		}
		if err != nil && !errors.Is(err, queue.ErrJobCanceled) {
			log.Error().Err(err).Msg("end job")
		}
	case endReleased:
		if _, err := jr.lease.Release(ctx, reason); err != nil && !errors.Is(err, queue.ErrJobCanceled) {
			log.Error().Err(err).Msg("release job")
		}
	}
	jr.r.metrics.jobs.WithLabelValues(string(kind)).Inc()
	jr.phase(PhaseDone)
	_ = os.RemoveAll(jr.work)
	log.Info().Msg("job ended")
}

// lost ends an attempt the queue has fenced: nothing of it is uploaded.
func (jr *jobRun) lost(context.Context) {
	jr.log.Warn().Msg("attempt fenced by a newer one; dropping its spool")
	jr.lease.Abandon()
	jr.r.removeSpool(jr.job.ID, jr.lease.Attempt())
	_ = os.RemoveAll(jr.work)
	jr.r.metrics.jobs.WithLabelValues("lost").Inc()
}

// seal writes every file that exists into the bundle and signs it.
func (jr *jobRun) seal(ctx context.Context, kind endKind, reason string) error {
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
	if jr.pw != nil {
		if err := jr.pw.Close(); err != nil {
			errs = append(errs, fmt.Errorf("power samples: %w", err))
		}
		add(bundle.PowerFile, jr.pw.Path(), false)
	}
	if jr.out != nil {
		var probes *bundle.Probes
		if jr.rep != nil {
			probes = jr.rep.ProbesFile()
		}
		if err := jr.out.Finish(probes, nil); err != nil {
			errs = append(errs, fmt.Errorf("request records: %w", err))
		}
		add(bundle.RequestsFile, filepath.Join(jr.out.Dir(), replay.RequestsFile), false)
		add(bundle.ProbesFile, filepath.Join(jr.out.Dir(), replay.ProbesName), false)
	}
	add(bundle.EngineLogFile, filepath.Join(jr.work, "engine.log"), true)
	if err := jr.bw.WriteJSON(bundle.EnvironmentFile, jr.environment()); err != nil {
		errs = append(errs, err)
	}
	if jr.repSum != nil {
		if err := jr.bw.WriteJSON(bundle.SummaryFile, jr.summary()); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		if kind == endComplete {
			return err
		}
		jr.log.Warn().Err(err).Msg("incomplete bundle: some files are missing")
	}
	m := jr.manifest()
	if kind != endComplete {
		m.Incomplete, m.IncompleteReason = true, fmt.Sprintf("%s: %s", kind, reason)
	}
	if err := jr.bw.Seal(ctx, m, jr.r.signer); err != nil {
		return err
	}
	return jr.r.selfCheck(ctx, jr.bw.Dir())
}

func (jr *jobRun) manifest() *bundle.Manifest {
	inv := jr.r.cfg.Inventory
	if len(inv) == 0 {
		inv = json.RawMessage(`{"source":"none","gpus":[]}`)
	}
	sw := map[string]string{"agentwatt": jr.r.cfg.Version, "go": runtime.Version()}
	for k, v := range jr.r.cfg.Software {
		sw[k] = v
	}
	if jr.sub.Framework.Name != "" {
		sw["engine"] = jr.sub.Framework.Name + " " + jr.sub.Framework.Version
	}
	m := &bundle.Manifest{
		Job: jr.job.ID, Attempt: jr.lease.Attempt(), SpecDigest: jr.job.SpecDigest, Pool: jr.r.cfg.Pool,
		Runner:    bundle.Runner{ID: jr.r.cfg.ID, Version: jr.r.cfg.Version},
		Inventory: inv, Software: sw,
		Workload:  bundle.Workload{Name: jr.wlName, Digest: string(jr.wlDig)},
		Simulated: jr.r.cfg.Pool == spec.Sim,
	}
	if jr.rules != nil {
		m.Rules = bundle.Rules{Version: jr.rules.Version, Profile: jr.profile.Name}
	}
	return m
}

func (jr *jobRun) environment() *bundle.Environment {
	env := &bundle.Environment{
		GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(),
		EngineCPUs: jr.r.cfg.EngineCPUs, ClientCPUs: jr.r.cfg.ClientCPUs, Mode: replay.ModeSearch,
		FixedAgents: jr.r.cfg.FixedAgents, Seed: jr.r.cfg.Seed, ChatTemplate: jr.chatTemplate(),
		Accuracy: jr.acc,
	}
	// The diagnostics are interfaces: a typed nil in one would be written
	// as null where omitempty leaves a nil out.
	if jr.base != nil {
		env.IdleBaseline = jr.base
	}
	if jr.affinity != nil {
		env.ClientAffinity = jr.affinity
	}
	env.Host, _ = os.Hostname()
	if jr.r.cfg.FixedAgents > 0 {
		env.Mode = replay.ModeFixed
	}
	if jr.eng != nil {
		env.EngineArgv, env.EnginePort = jr.eng.Argv(), jr.eng.Port()
	}
	if jr.rep != nil {
		a := jr.rep.Anchor()
		env.Clock, env.Model = &a, jr.rep.Model()
	}
	if jr.sampler != nil {
		st := jr.sampler.Stats()
		env.PowerStats = &st
		if ev := jr.sampler.Events(); len(ev) > 0 {
			env.PowerEvents = ev
		}
		env.PowerSource, env.PowerBoundary = jr.sampler.Source().Name(), jr.sampler.Source().Boundary()
	}
	return env
}

// summary is summary.json: the replay's own account plus the energy of
// every probe window, the idle baseline and the headline figures.
func (jr *jobRun) summary() *bundle.Summary {
	s := &bundle.Summary{
		SchemaVersion: bundle.SummarySchemaVersion, Simulated: jr.r.cfg.Pool == spec.Sim,
		Profile: jr.profile.Name, Tiers: map[string]bundle.TierSummary{},
	}
	var samples []metrics.PowerSample
	if jr.sampler != nil {
		all := jr.sampler.Samples()
		samples = power.ValidPowerSamples(all)
		s.PowerBoundary = jr.sampler.Source().Boundary()
		gpus := map[int]bool{}
		for _, p := range samples {
			gpus[p.GPU] = true
		}
		s.GPUs = len(gpus)
	}
	if jr.base != nil {
		state := "gpus-idle"
		if jr.r.cfg.Pool == spec.Sim {
			state = "engine-idle"
		}
		per := map[string]float64{}
		for g, w := range jr.base.PerGPUW {
			per[strconv.Itoa(g)] = w
		}
		s.IdleBaseline = &bundle.IdleBaseline{State: state, StartNs: jr.base.StartNs, EndNs: jr.base.EndNs,
			DurationS: jr.base.Duration.Seconds(), EnergyJ: jr.base.Window.CounterJ, AvgPowerW: jr.base.TotalW, PerGPUW: per}
	}
	byIndex := map[int]*bundle.ProbeSummary{}
	if jr.rep != nil {
		for _, rec := range jr.rep.Probes() {
			ps := bundle.ProbeSummaryOf(rec.Probe, rec.Result, rec.WindowStartNs, rec.WindowEndNs, rec.Client)
			ps.Tier, ps.Role = rec.Tier, rec.Purpose
			if rec.WindowStartNs >= 0 && rec.WindowEndNs > rec.WindowStartNs && len(samples) > 0 {
				ps.Energy = bundle.WindowEnergyFrom(samples, rec.WindowStartNs, rec.WindowEndNs, ps.OutputTokensPerS*ps.WindowS)
			}
			s.Probes = append(s.Probes, ps)
		}
		for i := range s.Probes {
			byIndex[s.Probes[i].Index] = &s.Probes[i]
		}
	}
	for id, t := range jr.repSum.Tiers {
		ts := bundle.TierSummary{MaxAgents: t.MaxAgents, Confirmed: t.Confirmed, MinDecodeTPS: t.MinDecodeTPS,
			MaxTTFTS: t.MaxTTFTS, ConfirmProbe: t.ConfirmationProbe, Reason: t.Reason}
		if t.ConfirmationProbe != nil {
			if p := byIndex[*t.ConfirmationProbe]; p != nil && p.Energy != nil {
				ts.SetFigures(p.OutputTokensPerS, p.Energy, s.GPUs)
			}
		}
		s.Tiers[id] = ts
	}
	return s
}
