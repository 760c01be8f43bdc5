package agentrunner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/agentrunner/accuracy"
	"github.com/agentwatt/agentwatt/agentrunner/replay"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/queue"
)

// jobRun is one attempt of one job on this runner: what every phase needs.
// What the phases produce is in measured, not here.
type jobRun struct {
	r        *Runner
	plan     jobPlan
	shutdown context.Context // ends when the runner is asked to stop
	lease    *queue.Lease
	job      *queue.Job
	log      zerolog.Logger
	ev       *eventPublisher
	work     string         // jobs/<job>/<attempt>: raw files
	bw       *bundle.Writer // the bundle, in the spool
	grp      *groupLead     // the group's side, when this runner leads a group; else nil
}

// measured is what a job's phases produced, as far as the job got; each
// is nil until its phase ran. The bundle is written from it, complete or
// not.
type measured struct {
	spec     *jobSpec         // preflight
	workload *jobWorkload     // workload
	engine   *jobEngine       // engine_launch
	power    *powerRun        // idle_baseline: the sampler runs from here to the engine's stop
	pin      *clientPin       // accuracy: the client CPUs, while the load runs
	load     *loadRun         // accuracy: the replay runner and its records
	accuracy *accuracy.Result // accuracy
	search   *replay.Summary  // capacity_search (also when interrupted)
}

// runJob runs one leased attempt to its end: uploaded, failed, canceled,
// released (runner shutdown) or abandoned (lease lost). shutdown ends when
// the runner is asked to stop.
func (r *Runner) runJob(shutdown context.Context, lease *queue.Lease) {
	r.runJobIn(shutdown, lease, nil)
}

// runJobIn is runJob; gl, when set, is the group this runner leads, whose
// members run their parts of the job: a group that breaks under it stops
// the job and releases it, with nothing uploaded.
func (r *Runner) runJobIn(shutdown context.Context, lease *queue.Lease, gl *groupLead) {
	j := lease.Job()
	r.setActive(j.ID, lease.Attempt())
	defer r.setActive(j.ID, 0)
	defer r.metrics.setPhase(PhaseIdle)
	log := r.log.With().Str("job", j.ID).Int("attempt", lease.Attempt()).Logger()
	jr := &jobRun{
		r: r, plan: planFor(r.cfg), shutdown: shutdown, lease: lease, job: j, log: log,
		ev: newEventPublisher(lease, log), work: filepath.Join(r.jobsDir(), j.ID, fmt.Sprint(lease.Attempt())),
		grp: gl,
	}
	var broken <-chan struct{} // nil: never
	if gl != nil {
		gl.job, gl.attempt = j.ID, lease.Attempt()
		broken = gl.broken()
	}
	defer jr.ev.close()
	log.Info().Str("pool", j.Pool).Str("name", j.Name).Msg("job started")

	// A cancel or a lost lease interrupts the phase running, with its cause.
	ctx, cancel := context.WithCancelCause(shutdown)
	defer cancel(nil)
	go func() {
		select {
		case <-lease.Canceled():
			cancel(errCanceled)
		case <-lease.Lost():
			cancel(errLost)
		case <-broken:
			cancel(gl.err())
		case <-ctx.Done():
		}
	}()
	stopWatch := func() {}
	if gl != nil {
		var wctx context.Context
		wctx, stopWatch = context.WithCancel(ctx)
		go gl.watch(wctx)
	}

	m := &measured{}
	err := jr.measure(ctx, m)
	stopWatch() // the members' part ended with the measurement

	// The job ends by what stopped it, on a context its cancel cannot reach.
	cleanup := context.WithoutCancel(shutdown)
	switch {
	case isClosed(lease.Lost()):
		jr.lost(cleanup)
	case gl != nil && gl.err() != nil:
		jr.releaseBroken(cleanup, gl.err())
	case isClosed(lease.Canceled()):
		jr.end(cleanup, m, endCanceled, "canceled while running; what was measured is uploaded, marked incomplete")
	case shutdown.Err() != nil:
		jr.end(cleanup, m, endReleased, "runner shut down during "+phaseName(err))
	case err != nil:
		jr.end(cleanup, m, endFailed, err.Error())
	default:
		jr.end(cleanup, m, endComplete, "")
	}
}

// measure runs the phases up to the engine's stop, each on what the earlier
// ones produced, and records what each produced in m. Whatever it started,
// it stops before returning.
func (jr *jobRun) measure(ctx context.Context, m *measured) (err error) {
	if err := os.MkdirAll(jr.work, 0o700); err != nil {
		return err
	}
	if jr.bw, err = bundle.NewWriter(jr.r.bundleDir(jr.job.ID, jr.lease.Attempt())); err != nil {
		return err
	}
	defer jr.stopEngine(m)
	defer func() { m.pin.unpin(jr.log) }()          // before the engine stops
	defer func() { m.load.finishScrapes(jr.log) }() // the last window's scrape, before the engine stops

	if m.spec, err = runPhase(ctx, jr, PhasePreflight, jr.preflight); err != nil {
		return err
	}
	if m.workload, err = runPhase(ctx, jr, PhaseWorkload, func() (*jobWorkload, error) {
		return jr.loadWorkload(ctx, m.spec)
	}); err != nil {
		return err
	}

	// The engine and the idle baseline, in the plan's order.
	launch := func() (err error) {
		m.engine, err = runPhase(ctx, jr, PhaseLaunch, func() (*jobEngine, error) { return jr.launch(ctx, m.spec) })
		return err
	}
	baseline := func() (err error) {
		m.power, err = runPhase(ctx, jr, PhaseBaseline, func() (*powerRun, error) { return jr.baseline(ctx, m.spec, m.engine) })
		return err
	}
	first, second := launch, baseline
	if jr.plan.idleBeforeLaunch {
		first, second = baseline, launch
	}
	if err := first(); err != nil {
		return err
	}
	if err := second(); err != nil {
		return err
	}

	// The load generator runs on the client CPUs from its first request
	// (the accuracy questions) to its last (the search's end). The load is
	// prepared first: the questions go to the model it resolved, and a
	// workload the engine cannot hold fails before any request.
	if m.pin, err = runPhase(ctx, jr, PhaseAccuracy, jr.pinClient); err != nil {
		return err
	}
	if m.load, err = step(ctx, PhaseAccuracy, func() (*loadRun, error) {
		return jr.prepareLoad(ctx, m.spec, m.workload, m.engine, m.power)
	}); err != nil {
		return err
	}
	if m.accuracy, err = step(ctx, PhaseAccuracy, func() (*accuracy.Result, error) {
		return jr.accuracy(ctx, m.spec, m.engine, m.load)
	}); err != nil {
		return err
	}
	if m.search, err = runPhase(ctx, jr, PhaseSearch, func() (*replay.Summary, error) {
		return jr.search(ctx, m.engine, m.load)
	}); err != nil {
		return err
	}
	m.pin.unpin(jr.log)
	jr.announce(PhaseStop)
	return nil
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
