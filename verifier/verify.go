package verifier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/workload"
)

// Verify checks one bundle and recomputes its figures. It returns a
// verdict (verified or rejected, every check with its reason) or an error
// when the bundle could not be verified at all: the source unreadable, no
// keys, the workload or reference answers missing, a rules version this
// build does not know.
func Verify(ctx context.Context, src bundle.Source, opts Options) (*bundle.Verdict, error) {
	if len(opts.Trusted) == 0 {
		return nil, ErrNoKeys
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	v := &bundle.Verdict{SchemaVersion: bundle.VerdictSchemaVersion, VerifiedAt: now().UTC(), Status: bundle.StatusRejected}
	cl := &checkList{}
	defer func() { v.Checks = cl.checks }()

	b, err := bundle.Open(ctx, src, opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	m, ps := b.VerifyIntegrity(ctx, opts.Trusted)
	if bundle.HasReason(ps, bundle.ReasonRead) {
		return nil, fmt.Errorf("%w: %v", ErrUnreadable, ps)
	}
	if m != nil {
		v.Job, v.Attempt, v.Simulated = m.Job, m.Attempt, m.Simulated
		v.Runner, v.RunnerKeyID = m.Runner.ID, m.Runner.KeyID
		v.RulesVersion, v.Profile = m.Rules.Version, m.Rules.Profile
		v.WorkloadName, v.WorkloadDigest, v.SpecDigest = m.Workload.Name, m.Workload.Digest, m.SpecDigest
	}
	if len(ps) > 0 {
		fails := make([]string, len(ps))
		for i, p := range ps {
			fails[i] = p.Error()
		}
		cl.add(CheckIntegrity, fails, "")
		return v, nil
	}
	if m.Incomplete {
		cl.add(CheckIntegrity, []string{"incomplete bundle: " + m.IncompleteReason}, "")
		return v, nil
	}
	cl.add(CheckIntegrity, nil, fmt.Sprintf("%d files match the manifest, signed by %s (runner %s)", len(m.Files), m.Runner.KeyID, m.Runner.ID))

	// The binding: the job's record (when the queue is asked) and the
	// signing key's scope. Nothing is recomputed for a bundle that is not
	// what its job asked for.
	pool := m.Pool
	// Offline the signed manifest says how many windows the spec asked
	// for (0 in older bundles: the spread is recomputed, its windows not
	// counted); online the job record's spec decides, and the manifest
	// must agree with it (bindJob).
	repeats := m.Repeats
	var started time.Time
	var terms *JobTerms
	if opts.Jobs != nil {
		job, err := opts.Jobs.Get(ctx, m.Job)
		if err != nil {
			return nil, fmt.Errorf("job %s: %w", m.Job, err)
		}
		if job.Attempt != m.Attempt {
			cl.add(CheckAttempt, []string{fmt.Sprintf("stale attempt: the bundle is attempt %d, the job's current attempt is %d", m.Attempt, job.Attempt)}, "")
			return v, nil
		}
		cl.add(CheckAttempt, nil, fmt.Sprintf("attempt %d is the job's current attempt", m.Attempt))
		pool, started = job.Pool, job.Started
		t := TermsOf(job)
		repeats, terms = t.Repeats, &t
		cl.add(CheckJob, bindJob(m, job), fmt.Sprintf("spec %s, pool %s, rules %s/%s, workload %s and runner %s are the job record's",
			m.SpecDigest, job.Pool, m.Rules.Version, m.Rules.Profile, m.Workload.Digest, m.Runner.ID))
	}
	v.Pool = pool
	scopeFails, scopeNote := checkKeyScope(m, opts, pool, started)
	cl.add(CheckKeyScope, scopeFails, scopeNote)
	if len(cl.failed()) > 0 {
		return v, nil
	}

	r := &run{b: b, m: m, opts: opts, v: v, cl: cl, repeats: repeats, terms: terms}
	if err := r.recompute(ctx); err != nil {
		return nil, err
	}
	v.Checks = cl.checks
	if len(v.Failed()) == 0 {
		v.Status = bundle.StatusVerified
	}
	return v, nil
}

// run is one recomputation.
type run struct {
	b     *bundle.Bundle
	m     *bundle.Manifest
	opts  Options
	v     *bundle.Verdict
	cl    *checkList
	rules *spec.Rules
	prof  *spec.Profile
	// repeats is the job's benchmark.repeats; 0 when verified offline.
	repeats int
	// group is a runner group's members' power; nil for one host.
	group *groupIndex
	// terms are the job record's; nil when verified offline.
	terms *JobTerms
}

// reject records a failed check that ends the recomputation (an input the
// rest depends on is malformed).
func (r *run) reject(name string, fails ...string) error {
	r.cl.add(name, fails, "")
	return nil
}

func (r *run) recompute(ctx context.Context) error {
	var err error
	r.rules = r.opts.Rules
	if r.rules == nil {
		if r.rules, err = spec.LoadRules(r.m.Rules.Version); err != nil {
			return fmt.Errorf("rules of the bundle: %w", err)
		}
	}
	if r.prof, err = r.rules.Profile(r.m.Rules.Profile); err != nil {
		return fmt.Errorf("rules of the bundle: %w", err)
	}
	wl := r.opts.Workload
	if wl == nil {
		return fmt.Errorf("%w: %s@%s", ErrNoWorkload, r.m.Workload.Name, r.m.Workload.Digest)
	}
	if string(wl.Digest) != r.m.Workload.Digest {
		return fmt.Errorf("%w: given %s, manifest names %s", ErrWorkloadMismatch, wl.Digest, r.m.Workload.Digest)
	}

	// Inputs: the claim, the environment, the schedule.
	sumData, err := r.readAll(ctx, bundle.SummaryFile, maxSummaryBytes)
	if errors.Is(err, bundle.ErrTooLarge) {
		return r.reject(CheckProbes, err.Error())
	}
	if err != nil {
		return err
	}
	sum, err := bundle.DecodeSummary(sumData)
	if err != nil {
		return r.reject(CheckProbes, err.Error())
	}
	if sum.Simulated != r.m.Simulated || sum.Profile != r.m.Rules.Profile {
		return r.reject(CheckProbes, fmt.Sprintf("summary.json says simulated=%v profile %q, the manifest simulated=%v profile %q",
			sum.Simulated, sum.Profile, r.m.Simulated, r.m.Rules.Profile))
	}
	envData, err := r.readAll(ctx, bundle.EnvironmentFile, maxEnvironmentBytes)
	if errors.Is(err, bundle.ErrTooLarge) {
		return r.reject(CheckRecords, err.Error())
	}
	if err != nil {
		return err
	}
	env, err := bundle.DecodeEnvironment(envData)
	if err != nil {
		return r.reject(CheckRecords, err.Error())
	}
	probesData, err := r.readAll(ctx, bundle.ProbesFile, maxProbesBytes)
	if errors.Is(err, bundle.ErrTooLarge) {
		return r.reject(CheckProbes, err.Error())
	}
	if err != nil {
		return err
	}
	pf, err := bundle.DecodeProbes(probesData)
	if err != nil {
		return r.reject(CheckProbes, err.Error())
	}
	if pf.History != "" && pf.History != bundle.HistoryRecorded {
		return r.reject(CheckTargets, fmt.Sprintf("probes.json history %q: the prompts carried the server's own answers, so their targets cannot be recomputed from the workload; only %s history is verifiable",
			pf.History, bundle.HistoryRecorded))
	}

	// Records: one streaming pass, every probe evaluated as it goes.
	tiers, tiersErr := r.tiers(sum)
	cache := workload.NewCacheTable(wl, env.ChatTemplate)
	probes := newProbeSet(pf, metrics.ProbeRulesOf(r.rules, r.prof), tiers, func(q *metrics.Request) (int64, int64, bool) {
		return cache.Turn(q.Trajectory, q.Subagent, q.Turn)
	})
	rf, err := r.b.OpenFile(ctx, bundle.RequestsFile)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	st, err := scanRecords(rf, newTargets(wl, env.ChatTemplate), r.rules.Verify, r.opts.ZstdLimits, r.opts.MaxRecords, probes)
	rf.Close()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	r.cl.add(CheckRecords, st.recordFails.reasons(), fmt.Sprintf("%d request records decode, in clock order; %d chunk timings agree", st.total, st.chunked))
	r.cl.add(CheckTargets, st.targetFails.reasons(), fmt.Sprintf("every prompt within max(%.0f%%, %d tokens) of the workload's target (%d without usage, not judged)",
		100*r.rules.Verify.PromptTokens.Share, r.rules.Verify.PromptTokens.Tokens, st.noUsage))
	r.forcedCheck(st)

	// Power: one host's, or a group's members' summed (members.go).
	pw, px, err := r.readPower(ctx)
	if err != nil {
		return err
	}

	// Probes and tiers.
	if tiersErr != nil {
		return r.reject(CheckTiers, tiersErr.Error())
	}
	ev := probes.evaluate(px)
	tol := r.rules.Verify.RunnerClaimTolerance
	r.cl.add(CheckProbes, compareProbes(sum, ev, tol), fmt.Sprintf("%d probes recomputed, every claim within %.2f%%", len(ev), 100*tol))
	gpus := px.gpuCount()
	boundary, _ := samplesBoundary(pw.sources)
	if !seriesAreGPUs(boundary) {
		gpus = r.inventoryGPUs() // one series per node: its GPUs are the inventory's
	}
	outs := map[string]tierOutcome{}
	for _, t := range tiers {
		outs[t.Name] = searchOutcome(t.Name, ev, r.rules.Search)
	}
	tierFails := compareTiers(sum, outs, gpus, tol)
	tierFails = append(tierFails, countRepeats(outs, r.repeats)...)
	if len(pw.valid) > 0 && sum.GPUs != gpus {
		tierFails = append(tierFails, fmt.Sprintf("summary.json gpus: claimed %d, the power samples cover %d", sum.GPUs, gpus))
	}
	r.cl.add(CheckTiers, tierFails, "max agents, confirmation and headline figures recomputed")

	res := &bundle.Results{PowerBoundary: sum.PowerBoundary, GPUs: gpus, Requests: st.total, Deployment: r.deployment(env)}
	r.v.Results = res
	r.rulesChecks(ev, outs, tiers)
	r.powerChecks(sum, outs, pw, px, res)
	for _, t := range tiers {
		o := outs[t.Name]
		tr := bundle.TierResult{Tier: t.Name, MinDecodeTPS: t.MinDecodeTPS, MaxTTFTS: t.MaxTTFT.Seconds(),
			MaxAgents: o.maxAgents, Confirmed: o.confirmed, ConfirmProbe: -1}
		if c := o.confirm; c != nil {
			tr.ConfirmProbe = c.rec.Probe
			tr.WindowS = c.res.WindowS
			tr.OutputTokensPerS = c.res.OutputTokensPerS
			if e := c.energy; e != nil {
				tr.EnergyJ, tr.AvgPowerW, tr.JoulesPerToken = e.CounterJ, e.AvgPowerW, e.JoulesPerToken
				tr.AgentsPerMW = metrics.AgentsPerMW(o.maxAgents, e.AvgPowerW)
			}
			tr.AgentsPerGPU = metrics.AgentsPerGPU(o.maxAgents, gpus)
			tr.Repeats = o.repeats
		}
		res.Tiers = append(res.Tiers, tr)
	}

	// Accuracy.
	if err := r.accuracy(ctx, env, res); err != nil {
		return err
	}
	r.cached(st, wl, ev)
	return r.specDecoding(ctx, res)
}

// tiers are the rules' definitions of the tiers the summary reports.
func (r *run) tiers(sum *bundle.Summary) ([]metrics.Tier, error) {
	var out []metrics.Tier
	for _, id := range sortedKeys(sum.Tiers) {
		t, ok := r.rules.Tier(id)
		if !ok {
			return nil, fmt.Errorf("summary.json tier %q is not a tier of rules %s", id, r.rules.Version)
		}
		out = append(out, metrics.TierOf(t))
	}
	if len(out) == 0 {
		return nil, errors.New("summary.json reports no tier")
	}
	return out, nil
}

// forcedCheck judges the forced output lengths: no record may claim a
// length the workload did not force, and answers the engine ended early
// (status truncated) may be at most probe.max_truncated_share of the
// answered window requests.
func (r *run) forcedCheck(st *recordStats) {
	fails := st.forcedFails.reasons()
	limit := r.rules.Probe.MaxTruncatedShare
	answered := st.window - st.windowErrors
	share := 0.0
	if answered > 0 {
		share = float64(st.windowTruncated) / float64(answered)
	}
	if share > limit {
		fails = append(fails, fmt.Sprintf("%d of %d answered window requests (%.2f%%) ended before the forced length, above max_truncated_share %.2f%%",
			st.windowTruncated, answered, 100*share, 100*limit))
	}
	r.cl.add(CheckForced, fails, fmt.Sprintf("completion_tokens equal the forced length; %d of %d answered window requests ended early (≤ %.2f%%), %d of %d answers in all",
		st.windowTruncated, answered, 100*limit, st.truncated, st.total-st.errors))
}

// rulesChecks judges the confirmation windows against the profile.
func (r *run) rulesChecks(ev []evaluated, outs map[string]tierOutcome, tiers []metrics.Tier) {
	var win, errs, health capped
	for _, t := range tiers {
		o := outs[t.Name]
		for i := range ev {
			e := &ev[i]
			if !e.rec.HasWindow() || e.rec.Agents != o.maxAgents || !e.passes(t.Name) {
				continue
			}
			d := time.Duration(e.rec.WindowEndNs - e.rec.WindowStartNs)
			slack := r.prof.Client.MaxSchedLagP99.Duration
			if d < r.prof.Window.Duration || d > r.prof.MaxWindow.Duration+slack {
				win.addf("%s probe %d: window %v outside [%v, %v]", t.Name, e.rec.Probe, d, r.prof.Window.Duration, r.prof.MaxWindow.Duration)
			}
			if e.res.Requests < r.prof.MinRequests {
				win.addf("%s probe %d: %d window requests, fewer than %d", t.Name, e.rec.Probe, e.res.Requests, r.prof.MinRequests)
			}
			if e.res.ErrorShare > r.rules.Probe.MaxErrorShare {
				errs.addf("%s probe %d: error share %.4f above %.4f", t.Name, e.rec.Probe, e.res.ErrorShare, r.rules.Probe.MaxErrorShare)
			}
			for _, reason := range e.res.InvalidReasons {
				health.addf("%s probe %d: %s", t.Name, e.rec.Probe, reason)
			}
		}
	}
	r.cl.add(CheckWindows, win.reasons(), fmt.Sprintf("passing windows at N_max last %v–%v with ≥ %d requests", r.prof.Window.Duration, r.prof.MaxWindow.Duration, r.prof.MinRequests))
	r.cl.add(CheckErrorShare, errs.reasons(), fmt.Sprintf("error share ≤ %.2f%% in the windows at N_max", 100*r.rules.Probe.MaxErrorShare))
	r.cl.add(CheckClientHealth, health.reasons(), fmt.Sprintf("active sessions within %.0f%% of N and the client healthy in the windows at N_max", 100*r.rules.Probe.ActiveSessionTolerance))
}

// power reads power.jsonl.zst.
func (r *run) power(ctx context.Context) (*powerSamples, error) {
	rc, err := r.b.OpenFile(ctx, bundle.PowerFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	defer rc.Close()
	ps, err := readPowerSamples(rc, r.opts.ZstdLimits)
	if errors.Is(err, bundle.ErrDigestMismatch) {
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	if err != nil {
		r.cl.add(CheckPower, []string{err.Error()}, "")
		return &powerSamples{}, nil
	}
	if fails := checkPowerSource(r.m, ps.sources); len(fails) > 0 {
		r.cl.add(CheckPower, fails, "")
	}
	return ps, nil
}

// powerChecks judges each confirmation window's power: sample gaps,
// counter resets, the counter-vs-instant cross-check and the bounds (idle
// baseline ≤ average ≤ Σ power limits).
func (r *run) powerChecks(sum *bundle.Summary, outs map[string]tierOutcome, pw *powerSamples, px energyIndex, res *bundle.Results) {
	if r.cl.has(CheckPower) {
		return // power.jsonl.zst did not decode, or its source contradicts the hardware claim
	}
	var fails capped
	boundary, bfails := samplesBoundary(pw.sources)
	if len(bfails) == 0 && len(pw.valid) > 0 {
		bfails = boundaryFails(sum.PowerBoundary, boundary)
	}
	if len(bfails) > 0 {
		r.cl.add(CheckPower, bfails, "")
		return
	}
	if len(pw.valid) == 0 {
		fails.addf("%s holds no valid power sample (%d failed reads)", bundle.PowerFile, pw.failed)
		r.cl.add(CheckPower, fails.reasons(), "")
		return
	}
	idle := 0.0
	if b := sum.IdleBaseline; b != nil && b.EndNs > b.StartNs {
		if e := px.windowEnergy(b.StartNs, b.EndNs, 0); e != nil {
			idle = e.AvgPowerW
			res.IdlePowerW = idle
			c := &comparer{tol: r.rules.Verify.RunnerClaimTolerance}
			c.num("summary.json idle_baseline.avg_power_w", b.AvgPowerW, idle)
			fails.list = append(fails.list, c.fails.reasons()...)
		} else {
			fails.addf("the power samples do not cover the idle baseline [%d, %d)", b.StartNs, b.EndNs)
		}
	}
	limit := r.powerLimitW()
	if boundary != spec.BoundaryGPUBoard {
		limit = 0 // the GPUs' power limits bound the GPU boards only
	}
	maxGap := r.rules.Power.Limits(boundary).MaxSampleGap.Duration.Seconds()
	// The confirmation window's power is the headline; the repeat windows'
	// is the spread of Agents/MW, held to the same checks.
	for _, name := range sortedKeys(outs) {
		o := outs[name]
		if o.confirm == nil {
			continue
		}
		for k, w := range append([]*evaluated{o.confirm}, o.repeatWindows...) {
			what := "confirmation window"
			if k > 0 {
				what = "repeat window"
			}
			e, p := w.energy, w.rec.Probe
			if e == nil {
				fails.addf("%s probe %d: the power samples do not cover the %s", name, p, what)
				continue
			}
			if e.MaxGapS > maxGap {
				fails.addf("%s probe %d: power sample gap %.3f s above %.3f s", name, p, e.MaxGapS, maxGap)
			}
			if e.CounterResets > 0 {
				fails.addf("%s probe %d: %d energy counter resets in the window", name, p, e.CounterResets)
			}
			if d := metrics.RelativeDifference(e.InstantJ, e.CounterJ); d > r.rules.Power.CrossCheckTolerance {
				fails.addf("%s probe %d: counter energy %.6g J and integral of instantaneous power %.6g J differ by %.2f%%, above %.2f%%",
					name, p, e.CounterJ, e.InstantJ, 100*d, 100*r.rules.Power.CrossCheckTolerance)
			}
			if idle > 0 && e.AvgPowerW < idle {
				fails.addf("%s probe %d: average power %.1f W below the idle baseline %.1f W", name, p, e.AvgPowerW, idle)
			}
			if limit > 0 && e.AvgPowerW > limit {
				fails.addf("%s probe %d: average power %.1f W above the sum of power limits %.1f W", name, p, e.AvgPowerW, limit)
			}
			if r.group != nil {
				r.memberChecks(p, w.rec.WindowStartNs, w.rec.WindowEndNs, maxGap, &fails)
			}
		}
	}
	note := fmt.Sprintf("%d samples (%d failed reads left out); gaps ≤ %.2f s, no resets, cross-check within %.0f%%",
		len(pw.valid), pw.failed, maxGap, 100*r.rules.Power.CrossCheckTolerance)
	if limit == 0 {
		note += "; no power limits in the inventory, upper bound not checked"
	}
	if r.group != nil {
		note += fmt.Sprintf("; %d members of group %s summed, each aligned by its clock offsets measured at every window's start and end", len(r.group.members), r.group.ms.Group)
	}
	r.cl.add(CheckPower, fails.reasons(), note)
}

// accuracy scores accuracy.jsonl against the references and the model's
// reference score.
func (r *run) accuracy(ctx context.Context, env *bundle.Environment, res *bundle.Results) error {
	if len(r.opts.References) == 0 {
		return fmt.Errorf("no reference answers for %s", r.rules.Accuracy.Dataset)
	}
	models := r.opts.Models
	if models == nil {
		var err error
		if models, err = spec.Models(); err != nil {
			return err
		}
	}
	model := r.opts.Model
	switch {
	case model != "":
	case r.m.Simulated:
		model = "sim"
	default:
		model = env.Model
	}
	res.Model = model
	ref, ok := models.Lookup(model)
	if !ok {
		r.cl.add(CheckAccuracy, []string{fmt.Sprintf("model %q has no reference score in models.yaml", model)}, "")
		return nil
	}
	rc, err := r.b.OpenFile(ctx, bundle.AccuracyFile)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	defer rc.Close()
	as, err := scoreAccuracy(rc, r.opts.References, r.prof.AccuracyQuestions)
	if err != nil {
		return fmt.Errorf("score accuracy: %w", err)
	}
	res.Accuracy, res.AccuracyN = as.score(), as.questions
	fails := as.fails
	need := r.rules.Accuracy.MinFraction * ref.Score
	if as.score() < need {
		fails = append(fails, fmt.Sprintf("accuracy %.4f (%d of %d) below %.4f (%.0f%% of %s's reference %.4f)",
			as.score(), as.correct, as.questions, need, 100*r.rules.Accuracy.MinFraction, model, ref.Score))
	}
	r.cl.add(CheckAccuracy, fails, fmt.Sprintf("accuracy %.4f (%d of %d) reaches %.4f", as.score(), as.correct, as.questions, need))
	return nil
}

// cached reports the share of prompt tokens the server served from cache,
// beside the workload's theoretical prefix-cache hit rate, and notes each
// probe whose engine served far less than its requests' theoretical share
// (metrics.CacheGap): a note, never a failure.
func (r *run) cached(st *recordStats, wl *workload.Workload, ev []evaluated) {
	theory := workload.StatsOf(wl).PrefixHitRate
	var msg string
	if st.cachedReported == 0 || st.cachedPrompt == 0 {
		msg = fmt.Sprintf("the server reported no cached tokens; the workload's theoretical prefix hit rate is %.4f", theory)
	} else {
		msg = fmt.Sprintf("%.4f of prompt tokens served from cache over %d requests; the workload's theoretical prefix hit rate is %.4f (reported, not judged)",
			float64(st.cached)/float64(st.cachedPrompt), st.cachedReported, theory)
	}
	var gaps []string
	for i := range ev {
		res := &ev[i].res
		if gap, ok := metrics.CacheGap(res); ok {
			gaps = append(gaps, fmt.Sprintf("probe %d: %.4f theoretical, %.4f reported (%.0f points short)",
				ev[i].rec.Probe, *res.TheoreticalCacheShare, res.CachedTokenShare, 100*gap))
		}
	}
	if len(gaps) > 0 {
		msg += fmt.Sprintf("; the engine's prefix cache served more than %.0f points less than the workload allows in %d probes: %s",
			100*metrics.CacheGapNote, len(gaps), strings.Join(gaps, "; "))
	}
	r.cl.info(CheckCachedShare, msg)
}

// readAll reads a small listed file whole.
func (r *run) readAll(ctx context.Context, name string, limit int64) ([]byte, error) {
	rc, err := r.b.OpenFile(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnreadable, name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: more than %d bytes: %w", name, limit, bundle.ErrTooLarge)
	}
	return data, nil
}
