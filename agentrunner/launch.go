package agentrunner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/agentrunner/accuracy"
	"github.com/agentwatt/agentwatt/agentrunner/engine"
)

// jobEngine is what the launch phase produced: the engine (with roles, the
// frontend, and its workers beside it) and, for the sim, its own
// directory; or, for an external deployment, only its endpoint.
type jobEngine struct {
	eng      *engine.Engine   // the endpoint; nil when it did not start or is external
	workers  []*engine.Engine // the other role replicas
	network  string           // the job's own network (roles); removed once they stopped
	external string           // an external deployment's base URL
	dir      string           // the sim's directory; removed once it stopped
	stopped  bool
}

// url is the base URL of the engine the runner drives.
func (e *jobEngine) url() string {
	if e.external != "" {
		return e.external
	}
	return e.eng.URL()
}

// done is closed when the endpoint or any worker ends; never for an
// external deployment, whose failures show in the requests.
func (e *jobEngine) done() <-chan struct{} {
	if e.eng == nil {
		return nil
	}
	if len(e.workers) == 0 {
		return e.eng.Done()
	}
	ch := make(chan struct{})
	var once sync.Once
	for _, w := range append([]*engine.Engine{e.eng}, e.workers...) {
		go func() { // ends when w does: stop ends every engine
			<-w.Done()
			once.Do(func() { close(ch) })
		}()
	}
	return ch
}

// launch starts the engine on a free port and waits until it is healthy.
// The engine runs apart from the runner: its own directory (not the work
// dir, which holds the key), the engine user, an environment of only the
// spec's env, the resolved secrets and a few locale and path variables.
// What it started is returned with a failure, to be stopped.
func (jr *jobRun) launch(ctx context.Context, js *jobSpec) (*jobEngine, error) {
	if js.sub.Engine.External() {
		return jr.attachExternal(ctx, js)
	}
	cfg := engine.FromSpec(js.sub.Engine)
	secrets, err := jr.r.resolveSecrets(js.sub.Engine.Secrets)
	if err != nil {
		return nil, err
	}
	cfg.Secrets = secrets
	e := &jobEngine{}
	if js.sub.Engine.Sim() {
		if e.dir, err = engine.MakeDir("", jr.r.engineUser); err != nil {
			return nil, err
		}
		args, err := simArgs(js, e.dir)
		if err != nil {
			return e, err
		}
		cfg.Command, cfg.Args = []string{jr.r.simBin, "sim", "serve"}, args
		cfg.Dir, cfg.User = e.dir, jr.r.engineUser
	}
	port, err := engine.FreePort()
	if err != nil {
		return e, err
	}
	cfg.JobID, cfg.Port, cfg.CPUs = jr.job.ID, port, jr.r.cfg.EngineCPUs
	cfg.LogPath = filepath.Join(jr.work, "engine.log")
	cfg.StateDir, cfg.GracePeriod = jr.r.engineDir(), jr.r.cfg.GracePeriod
	if len(js.sub.Engine.Roles) > 0 {
		if err := jr.launchRoles(ctx, js, e, cfg); err != nil {
			return e, err
		}
		return e, e.waitReady(ctx)
	}
	if e.eng, err = engine.Start(ctx, cfg, jr.log); err != nil {
		return e, err
	}
	if err := e.eng.WaitReady(ctx); err != nil {
		return e, err
	}
	if jr.grp != nil {
		// The frontend serves; every member now runs its node against it.
		return e, jr.grp.startParts(ctx, js, e.eng.URL())
	}
	return e, nil
}

// simArgs is the command line of the runner's own sim for the job's
// profile at its framework.version (the profile's versions may simulate a
// release): the spec names the profile and nothing else of it. The sim's
// accuracy oracle answers the questions it is given: the runner writes the
// set it asks into the engine's directory, readable by the engine user.
func simArgs(js *jobSpec, dir string) ([]string, error) {
	qs, err := accuracy.Subset(js.rules.Accuracy.Dataset, js.profile.AccuracyQuestions)
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
	args := []string{"--addr", "127.0.0.1:" + engine.PortPlaceholder, "--profile", js.sub.Engine.SimProfile,
		"--framework-version", js.sub.Framework.Version, "--accuracy-set", set}
	if o := js.sub.Optimizations; o != nil && o.SpeculativeDecoding != nil {
		args = append(args, "--spec-accept", strconv.FormatFloat(simSpecAccept, 'g', -1, 64))
	}
	return args, nil
}

// simSpecAccept is the acceptance the sim simulates for a submission that
// declares speculative decoding; the runner measures it back from the
// sim's /metrics like any engine's.
const simSpecAccept = 0.7

// ended is the error of an engine (or role replica) that exited on its
// own, or nil.
func (e *jobEngine) ended() error {
	if e == nil {
		return nil
	}
	for _, eng := range append([]*engine.Engine{e.eng}, e.workers...) {
		if eng != nil && isClosed(eng.Done()) && eng.Err() != nil {
			return fmt.Errorf("%w mid-run: %v", errEngineEnded, eng.Err())
		}
	}
	return nil
}

// stop stops the engine within grace (plus a margin), masks the secrets
// in its log (which goes into the bundle) and removes its directory. It is
// safe on a nil engine and a second time.
func (e *jobEngine) stop(grace time.Duration, log zerolog.Logger) {
	if e == nil || e.stopped {
		return
	}
	e.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), grace+10*time.Second)
	defer cancel()
	// Every replica together: the load has ended, and one grace period
	// bounds them all.
	var wg sync.WaitGroup
	for _, eng := range append([]*engine.Engine{e.eng}, e.workers...) {
		if eng == nil {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); stopEngine(ctx, eng, log) }()
	}
	wg.Wait()
	if e.network != "" {
		if err := engine.RemoveNetwork(context.WithoutCancel(ctx), "", e.network); err != nil {
			log.Warn().Err(err).Msg("remove the job's network")
		}
	}
	if e.dir != "" {
		if err := os.RemoveAll(e.dir); err != nil {
			log.Warn().Err(err).Msg("remove the engine's directory")
		}
	}
}

// stopEngine stops one engine and masks the secrets in its log (the log
// goes into the bundle: no secret the engine printed with it).
func stopEngine(ctx context.Context, eng *engine.Engine, log zerolog.Logger) {
	if err := eng.Stop(ctx); err != nil {
		log.Warn().Err(err).Msg("stop engine")
	}
	if err := eng.MaskLog(); err != nil {
		log.Warn().Err(err).Msg("engine log")
	}
}

// stopEngine stops the power sampler, then the engine; it is safe to call
// twice.
func (jr *jobRun) stopEngine(m *measured) {
	m.power.stop(jr.log)
	if jr.grp != nil {
		jr.grp.teardown(jr.work, "the job's measurement ended")
	}
	m.engine.stop(jr.r.cfg.GracePeriod, jr.log)
}
