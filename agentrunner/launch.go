package agentrunner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/agentrunner/accuracy"
	"github.com/agentwatt/agentwatt/agentrunner/engine"
)

// jobEngine is what the launch phase produced: the engine and, for the sim,
// its own directory.
type jobEngine struct {
	eng     *engine.Engine // nil when it did not start
	dir     string         // the sim's directory; removed once it stopped
	stopped bool
}

// launch starts the engine on a free port and waits until it is healthy.
// The engine runs apart from the runner: its own directory (not the work
// dir, which holds the key), the engine user, an environment of only the
// spec's env, the resolved secrets and a few locale and path variables.
// What it started is returned with a failure, to be stopped.
func (jr *jobRun) launch(ctx context.Context, js *jobSpec) (*jobEngine, error) {
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
	if e.eng, err = engine.Start(ctx, cfg, jr.log); err != nil {
		return e, err
	}
	return e, e.eng.WaitReady(ctx)
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

// ended is the error of an engine that exited on its own, or nil.
func (e *jobEngine) ended() error {
	if e == nil || e.eng == nil || !isClosed(e.eng.Done()) || e.eng.Err() == nil {
		return nil
	}
	return fmt.Errorf("%w mid-run: %v", errEngineEnded, e.eng.Err())
}

// stop stops the engine within grace (plus a margin), masks the secrets
// in its log (which goes into the bundle) and removes its directory. It is
// safe on a nil engine and a second time.
func (e *jobEngine) stop(grace time.Duration, log zerolog.Logger) {
	if e == nil || e.stopped {
		return
	}
	e.stopped = true
	if e.eng != nil {
		ctx, cancel := context.WithTimeout(context.Background(), grace+10*time.Second)
		defer cancel()
		if err := e.eng.Stop(ctx); err != nil {
			log.Warn().Err(err).Msg("stop engine")
		}
		// The log goes into the bundle: no secret the engine printed with it.
		if err := e.eng.MaskLog(); err != nil {
			log.Warn().Err(err).Msg("engine log")
		}
	}
	if e.dir != "" {
		if err := os.RemoveAll(e.dir); err != nil {
			log.Warn().Err(err).Msg("remove the engine's directory")
		}
	}
}

// stopEngine stops the power sampler, then the engine; it is safe to call
// twice.
func (jr *jobRun) stopEngine(m *measured) {
	m.power.stop(jr.log)
	m.engine.stop(jr.r.cfg.GracePeriod, jr.log)
}
