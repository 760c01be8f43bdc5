package agentrunner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/agentrunner/accuracy"
	"github.com/agentwatt/agentwatt/agentrunner/cpuset"
	"github.com/agentwatt/agentwatt/agentrunner/engine"
	"github.com/agentwatt/agentwatt/agentrunner/loadgen"
	"github.com/agentwatt/agentwatt/agentrunner/power"
	"github.com/agentwatt/agentwatt/agentrunner/replay"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/sim"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/workload"
)

// Why a job's measurement stopped early, as the context's cause.
var (
	errCanceled    = errors.New("job canceled")
	errLost        = errors.New("lease lost")
	errEngineEnded = errors.New("engine crashed")
)

// jobRun is one attempt of one job on this runner.
type jobRun struct {
	r        *Runner
	shutdown context.Context // ends when the runner is asked to stop
	lease    *queue.Lease
	job      *queue.Job
	log      zerolog.Logger
	ev       *eventPublisher

	sub     spec.Submission
	rules   *spec.Rules
	profile *spec.Profile
	wlName  string
	wlDig   workload.Digest
	wl      *workload.Workload

	work    string // jobs/<job>/<attempt>: raw files
	bw      *bundle.Writer
	eng     *engine.Engine
	engDir  string // the sim's own directory; removed once it stopped
	sampler *power.Sampler
	pw      *power.Writer
	out     *replay.Output
	rep     *replay.Runner
	base    *power.Baseline
	repSum  *replay.Summary
	acc     *accuracy.Result
	started time.Time

	pin      *cpuset.Pinning // the client CPUs, while the load runs
	affinity *clientAffinity

	lastProgress time.Time
	lastRequests int64
}

// runJob runs one leased attempt to its end: uploaded, failed, canceled,
// released (runner shutdown) or abandoned (lease lost). shutdown ends when
// the runner is asked to stop.
func (r *Runner) runJob(shutdown context.Context, lease *queue.Lease) {
	j := lease.Job()
	r.setActive(j.ID, lease.Attempt())
	defer r.setActive(j.ID, 0)
	defer r.metrics.setPhase(PhaseIdle)
	log := r.log.With().Str("job", j.ID).Int("attempt", lease.Attempt()).Logger()
	jr := &jobRun{
		r: r, shutdown: shutdown, lease: lease, job: j, log: log, ev: newEventPublisher(lease, log),
		work: filepath.Join(r.jobsDir(), j.ID, fmt.Sprint(lease.Attempt())), started: time.Now(),
	}
	defer jr.ev.close()
	log.Info().Str("pool", j.Pool).Str("name", j.Name).Msg("job started")

	ctx, cancel := context.WithCancelCause(shutdown)
	defer cancel(nil)
	go func() {
		select {
		case <-lease.Canceled():
			cancel(errCanceled)
		case <-lease.Lost():
			cancel(errLost)
		case <-ctx.Done():
		}
	}()

	err := jr.measure(ctx)
	cleanup := context.WithoutCancel(shutdown)
	switch {
	case isClosed(lease.Lost()):
		jr.lost(cleanup)
	case isClosed(lease.Canceled()):
		jr.end(cleanup, endCanceled, "canceled while running; what was measured is uploaded, marked incomplete")
	case shutdown.Err() != nil:
		jr.end(cleanup, endReleased, "runner shut down during "+jr.phaseName(err))
	case err != nil:
		jr.end(cleanup, endFailed, err.Error())
	default:
		jr.end(cleanup, endComplete, "")
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// phaseError is a phase that failed.
type phaseError struct {
	phase string
	err   error
}

func (e *phaseError) Error() string {
	msg := e.err.Error()
	if strings.HasPrefix(msg, e.phase+":") {
		return msg // ErrPreflight already names its phase
	}
	return e.phase + ": " + msg
}
func (e *phaseError) Unwrap() error { return e.err }

func (jr *jobRun) phaseName(err error) string {
	var pe *phaseError
	if errors.As(err, &pe) {
		return pe.phase
	}
	return "the job"
}

// phase marks the start of a phase: metric, log line and progress event.
func (jr *jobRun) phase(name string) {
	jr.r.metrics.setPhase(name)
	jr.log.Info().Str("phase", name).Msg("phase")
	jr.ev.publish(queue.EventProgress, name, progressData{Phase: name})
}

// measure runs every phase up to the engine's stop. Whatever it started, it
// stops before returning; what it measured stays in jr for the bundle.
func (jr *jobRun) measure(ctx context.Context) (err error) {
	step := func(name string, f func(context.Context) error) error {
		if err := context.Cause(ctx); err != nil {
			return &phaseError{name, err}
		}
		jr.phase(name)
		if err := f(ctx); err != nil {
			if c := context.Cause(ctx); c != nil && errors.Is(err, context.Canceled) {
				err = c
			}
			return &phaseError{name, err}
		}
		return nil
	}
	if err := os.MkdirAll(jr.work, 0o700); err != nil {
		return err
	}
	if jr.bw, err = bundle.NewWriter(jr.r.bundleDir(jr.job.ID, jr.lease.Attempt())); err != nil {
		return err
	}
	defer jr.stopEngine()
	defer jr.unpinClient() // before the engine stops
	type phase struct {
		name string
		f    func(context.Context) error
	}
	// GPUs are measured idle before the engine starts; the sim's power
	// exists only while it runs, so its baseline is the loaded, idle engine.
	launchAndBaseline := []phase{{PhaseBaseline, jr.baseline}, {PhaseLaunch, jr.launch}}
	if jr.r.cfg.Power == nil {
		launchAndBaseline = []phase{{PhaseLaunch, jr.launch}, {PhaseBaseline, jr.baseline}}
	}
	phases := append([]phase{{PhasePreflight, jr.preflight}, {PhaseWorkload, jr.loadWorkload}}, launchAndBaseline...)
	// The load generator runs on the client CPUs from its first request
	// (the accuracy phase) to its last (the search's end).
	loaded := func(ctx context.Context) error {
		if err := jr.pinClient(); err != nil {
			return err
		}
		return jr.accuracy(ctx)
	}
	phases = append(phases, phase{PhaseAccuracy, loaded}, phase{PhaseSearch, jr.search})
	for _, p := range phases {
		if err := step(p.name, p.f); err != nil {
			return err
		}
	}
	jr.unpinClient()
	jr.phase(PhaseStop)
	return nil
}

// preflight decodes the spec and checks that this runner can run it.
func (jr *jobRun) preflight(context.Context) error {
	sub, err := decodeSpec(jr.job.Spec)
	if err != nil {
		return err
	}
	jr.sub = sub
	rules, err := spec.LoadRules(jr.sub.Benchmark.Rules)
	if err != nil {
		return err
	}
	name := jr.job.Profile
	if name == "" {
		name = jr.sub.Benchmark.Profile
	}
	if jr.profile, err = rules.Profile(name); err != nil {
		return err
	}
	jr.rules = rules
	return jr.r.preflight(&jr.sub)
}

// loadWorkload resolves the job's workload (pinned by digest when the job
// names one) and loads it.
func (jr *jobRun) loadWorkload(ctx context.Context) error {
	jr.wlName = jr.job.Workload
	if jr.wlName == "" {
		jr.wlName = jr.sub.WorkloadName()
	}
	want := workload.Digest(jr.job.WorkloadDigest)
	if want == "" {
		want = workload.Digest(jr.sub.WorkloadDigest())
	}
	wl, dig, err := jr.r.workloads.Load(ctx, jr.wlName, want)
	if err != nil {
		return err
	}
	jr.wl = wl
	jr.wlDig = dig
	return nil
}

// launch starts the engine on a free port and waits until it is healthy.
// The engine runs apart from the runner: its own directory (not the work
// dir, which holds the key), the engine user, an environment of only the
// spec's env, the resolved secrets and a few locale and path variables.
func (jr *jobRun) launch(ctx context.Context) error {
	cfg := engine.FromSpec(jr.sub.Engine)
	secrets, err := jr.r.resolveSecrets(jr.sub.Engine.Secrets)
	if err != nil {
		return err
	}
	cfg.Secrets = secrets
	if jr.sub.Engine.Sim() {
		if jr.engDir, err = engine.MakeDir("", jr.r.engineUser); err != nil {
			return err
		}
		args, err := jr.simArgs(jr.engDir)
		if err != nil {
			return err
		}
		cfg.Command, cfg.Args = []string{jr.r.simBin, "sim", "serve"}, args
		cfg.Dir, cfg.User = jr.engDir, jr.r.engineUser
	}
	port, err := engine.FreePort()
	if err != nil {
		return err
	}
	cfg.JobID, cfg.Port, cfg.CPUs = jr.job.ID, port, jr.r.cfg.EngineCPUs
	cfg.LogPath = filepath.Join(jr.work, "engine.log")
	cfg.StateDir, cfg.GracePeriod = jr.r.engineDir(), jr.r.cfg.GracePeriod
	if jr.eng, err = engine.Start(ctx, cfg, jr.log); err != nil {
		return err
	}
	return jr.eng.WaitReady(ctx)
}

// simArgs is the command line of the runner's own sim for the job's
// profile: the spec names the profile and nothing else of it. The sim's
// accuracy oracle answers the questions it is given: the runner writes the
// set it asks into the engine's directory, readable by the engine user.
func (jr *jobRun) simArgs(dir string) ([]string, error) {
	qs, err := accuracy.Subset(jr.rules.Accuracy.Dataset, jr.profile.AccuracyQuestions)
	if err != nil {
		return nil, err
	}
	set := filepath.Join(dir, "accuracy-set.jsonl")
	if err := accuracy.WriteSet(set, qs); err != nil {
		return nil, err
	}
	if err := os.Chmod(set, 0o644); err != nil {
		return nil, err
	}
	return []string{"--addr", "127.0.0.1:" + engine.PortPlaceholder, "--profile", jr.sub.Engine.SimProfile, "--accuracy-set", set}, nil
}

// baseline starts the power sampler and measures the idle baseline: GPUs
// idle before the engine starts, or, for the sim, whose power exists only
// while it runs, the loaded engine with no requests.
func (jr *jobRun) baseline(ctx context.Context) error {
	var src power.Source
	if jr.r.cfg.Power != nil {
		s, err := jr.r.cfg.Power()
		if err != nil {
			return err
		}
		src = s
	} else {
		src = power.NewSimSource(jr.eng.URL())
	}
	pw, err := power.CreateWriter(filepath.Join(jr.work, power.FileName))
	if err != nil {
		return err
	}
	jr.pw = pw
	pcfg := power.ConfigFromRules(jr.rules.Power)
	pcfg.Sink = pw
	jr.started = time.Now()
	if jr.sampler, err = power.NewSampler(src, jr.started, pcfg, jr.log); err != nil {
		return err
	}
	if err := jr.sampler.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	b, err := jr.sampler.Baseline(ctx, jr.r.cfg.IdleBaseline)
	if err != nil {
		return err
	}
	jr.base = &b
	jr.log.Info().Float64("idle_w", b.TotalW).Msg("idle baseline")
	// A sim runner has no GPUs of its own to check in preflight: the engine's
	// profile says how many it simulates, and agents per GPU divides by them.
	if jr.r.cfg.Power == nil && len(b.PerGPUW) != jr.sub.System.Accelerators {
		return fmt.Errorf("%w: system.accelerators %d, the sim engine's profile simulates %d GPUs",
			ErrPreflight, jr.sub.System.Accelerators, len(b.PerGPUW))
	}
	return nil
}

// chatTemplate is the engine's chat-template overhead in tokens. The sim's
// is known; a real engine's is not measured yet and counts as zero.
func (jr *jobRun) chatTemplate() workload.ChatTemplate {
	if jr.sub.Framework.Name == spec.Sim {
		return workload.ChatTemplate{PerRequest: sim.TemplateTokensPerRequest,
			PerMessage: sim.TemplateTokensPerMessage, PerToolCall: sim.TemplateTokensPerToolCall}
	}
	return workload.ChatTemplate{}
}

// accuracy prepares the replay (which asks the engine for its model) and
// asks the accuracy questions, recording every answer in accuracy.jsonl.
func (jr *jobRun) accuracy(ctx context.Context) error {
	out, err := replay.CreateOutput(filepath.Join(jr.work, "replay"))
	if err != nil {
		return err
	}
	jr.out = out
	// A workload the engine cannot hold would turn every long request into
	// an error: say so once, before any load.
	if c, err := replay.CheckContext(ctx, jr.eng.URL(), "", "", jr.wl, jr.chatTemplate()); err != nil {
		if errors.Is(err, replay.ErrContextTooSmall) {
			return fmt.Errorf("%w: %w", ErrPreflight, err)
		}
		jr.log.Warn().Err(err).Msg("context length not checked")
	} else if c.Limit == 0 {
		jr.log.Info().Msg("the engine reports no context length; not checked")
	}
	jr.rep, err = replay.New(ctx, replay.Config{
		Endpoint: jr.eng.URL(), Workload: jr.wl, Rules: jr.rules, Profile: jr.profile,
		Tiers: jr.sub.Benchmark.Tiers, Seed: jr.r.cfg.Seed, Template: jr.chatTemplate(),
		MaxAgents: jr.r.cfg.MaxAgents, MemoryBudget: jr.r.cfg.MemoryBudget,
		Clock: loadgen.NewClock(jr.started), Recorder: out, Log: jr.log,
		Progress: jr.onProgress, Events: jr.onReplayEvent,
	})
	if err != nil {
		return err
	}
	qs, err := accuracy.Subset(jr.rules.Accuracy.Dataset, jr.profile.AccuracyQuestions)
	if err != nil {
		return err
	}
	f, err := jr.bw.Create(bundle.AccuracyFile)
	if err != nil {
		return err
	}
	res, err := accuracy.Run(ctx, accuracy.Config{
		Endpoint: jr.eng.URL(), Model: jr.rep.Model(), MaxTokens: jr.rules.Accuracy.MaxOutputTokens,
		Temperature: jr.rules.Sampling.Temperature, TopP: jr.rules.Sampling.TopP,
	}, qs, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if e := jr.engineEnded(); e != nil {
			return e
		}
		return err
	}
	jr.acc = &res
	jr.log.Info().Int("correct", res.Correct).Int("questions", res.Questions).Msg("accuracy phase")
	jr.ev.publish(queue.EventProgress, fmt.Sprintf("accuracy: %d of %d correct", res.Correct, res.Questions), res)
	return nil
}

// search runs the capacity search (or the fixed N) with the power sampler
// running. An engine that exits meanwhile stops it at once.
func (jr *jobRun) search(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-jr.eng.Done():
			cancel(errEngineEnded)
		case <-ctx.Done():
		}
	}()
	var (
		sum *replay.Summary
		err error
	)
	if n := jr.r.cfg.FixedAgents; n > 0 {
		sum, err = jr.rep.Fixed(ctx, n)
	} else {
		sum, err = jr.rep.Search(ctx)
	}
	jr.repSum = sum
	if e := jr.engineEnded(); e != nil {
		return e
	}
	if err != nil && context.Cause(ctx) != nil {
		return context.Cause(ctx)
	}
	return err
}

// engineEnded is the error of an engine that exited on its own, or nil.
func (jr *jobRun) engineEnded() error {
	if jr.eng == nil || !isClosed(jr.eng.Done()) || jr.eng.Err() == nil {
		return nil
	}
	return fmt.Errorf("%w mid-run: %v", errEngineEnded, jr.eng.Err())
}

// onProgress feeds the live metrics and, at most once a second, a progress
// event.
func (jr *jobRun) onProgress(p replay.Progress) {
	m := jr.r.metrics
	m.agents.Set(float64(p.Agents))
	m.inFlight.Set(float64(p.InFlight))
	for _, s := range jr.samplerLatest() {
		m.setPower(s.GPU, s.PowerW, s.EnergyMJ/1000)
	}
	if time.Since(jr.lastProgress) < time.Second {
		return
	}
	jr.lastProgress = time.Now()
	if d := p.Requests - jr.lastRequests; d > 0 {
		m.requests.Add(float64(d))
		jr.lastRequests = p.Requests
	}
	jr.ev.publish(queue.EventProgress, p.String(), progressData{
		Phase: PhaseSearch, Agents: p.Agents, InFlight: p.InFlight, Requests: p.Requests, Tier: p.Tier,
		PassShare: p.PassShare, Search: p.Search, ProbesDone: p.ProbesDone, ETAS: p.ETA.Seconds(),
	})
}

func (jr *jobRun) samplerLatest() []power.Sample {
	if jr.sampler == nil {
		return nil
	}
	return jr.sampler.Latest()
}

// onReplayEvent publishes each evaluated probe.
func (jr *jobRun) onReplayEvent(e replay.Event) {
	if e.Kind != replay.EventProbe || e.Record == nil {
		return
	}
	rec := e.Record
	d := probeData{Probe: rec.Probe, Agents: rec.Agents, Purpose: rec.Purpose, Requests: rec.Result.Requests,
		Errors: rec.Result.Errors, Valid: rec.Result.Valid, Passed: map[string]bool{}}
	for _, t := range rec.Result.Tiers {
		d.Passed[t.Tier] = t.Passed
	}
	jr.r.metrics.requestErrors.Add(float64(rec.Result.Errors))
	jr.ev.publish(queue.EventProbe, fmt.Sprintf("probe %d: N=%d %s", rec.Probe, rec.Agents, rec.Purpose), d)
}

// stopEngine stops the sampler and the engine; it is safe to call twice.
func (jr *jobRun) stopEngine() {
	if jr.sampler != nil {
		// The last probe window ended just before this; its energy needs a
		// sample at or after its end on every GPU, which a sampler stopped at
		// once (less than one interval later) may not have taken yet.
		jr.awaitSamplesAfter(jr.sampler.Clock().Now(), 2*time.Second)
		if err := jr.sampler.Stop(); err != nil {
			jr.log.Warn().Err(err).Msg("power samples")
		}
	}
	if jr.eng != nil {
		ctx, cancel := context.WithTimeout(context.Background(), jr.r.cfg.GracePeriod+10*time.Second)
		defer cancel()
		if err := jr.eng.Stop(ctx); err != nil {
			jr.log.Warn().Err(err).Msg("stop engine")
		}
		// The log goes into the bundle: no secret the engine printed with it.
		if err := jr.eng.MaskLog(); err != nil {
			jr.log.Warn().Err(err).Msg("engine log")
		}
	}
	if jr.engDir != "" {
		if err := os.RemoveAll(jr.engDir); err != nil {
			jr.log.Warn().Err(err).Msg("remove the engine's directory")
		}
		jr.engDir = ""
	}
}

// awaitSamplesAfter waits, at most limit, until every GPU has a sample taken
// at or after t on the run clock.
func (jr *jobRun) awaitSamplesAfter(t int64, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		latest := jr.sampler.Latest()
		done := len(latest) > 0
		for _, smp := range latest {
			if smp.TMonoNs < t {
				done = false
			}
		}
		if done {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
