package agentrunner

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/agentwatt/agentwatt/agentrunner/engine"
	"github.com/agentwatt/agentwatt/spec"
)

// checkPlacement checks that the job's engine fits this node: an external
// deployment only on a runner pointed at one (and the other way round),
// the roles' GPUs exactly this node's (so no replica spans hosts), and
// declared disaggregated workers no more than the GPUs. The spec's own checks (the roles hold exactly
// system.accelerators) ran in decodeSpec.
func (r *Runner) checkPlacement(sub *spec.Submission) error {
	switch e := sub.Engine; {
	case e.External() && r.cfg.ExternalEndpoint == "":
		return fmt.Errorf("%w: engine.deployment external: this runner launches its engines; an external deployment is driven by a runner its operator points at it (--external-endpoint)", ErrPreflight)
	case !e.External() && r.cfg.ExternalEndpoint != "":
		return fmt.Errorf("%w: this runner drives the external deployment at its --external-endpoint and launches nothing; the job's engine is to be launched (engine.deployment launched)", ErrPreflight)
	}
	gpus := r.cfg.GPUs
	if n := sub.Engine.RoleGPUs(); len(sub.Engine.Roles) > 0 && n != gpus {
		return fmt.Errorf("%w: engine.roles hold %d GPUs, this node has %d", ErrPreflight, n, gpus)
	}
	if dg := sub.System.Disaggregation; dg != nil && len(sub.Engine.Roles) == 0 && dg.PrefillWorkers+dg.DecodeWorkers > gpus {
		return fmt.Errorf("%w: system.disaggregation declares %d prefill and %d decode workers, more than this node's %d GPUs (a worker needs at least one)",
			ErrPreflight, dg.PrefillWorkers, dg.DecodeWorkers, gpus)
	}
	return nil
}

// validateExternalEndpoint checks Config.ExternalEndpoint: an http(s) URL
// of a host, no user info, query or fragment. It comes from the runner's
// operator, never from a submission: a job cannot make the runner dial an
// address of its choosing.
func validateExternalEndpoint(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("external endpoint %q: %v", s, err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "", u.User != nil, u.RawQuery != "", u.Fragment != "",
		strings.Trim(u.Path, "/") != "":
		return fmt.Errorf("external endpoint %q: want http(s)://host[:port] (the engine's base URL)", s)
	}
	return nil
}

// attachExternal is the launch phase of an external deployment: nothing
// starts; the runner waits until the endpoint its operator configured
// answers the spec's health path.
func (jr *jobRun) attachExternal(ctx context.Context, js *jobSpec) (*jobEngine, error) {
	base := strings.TrimRight(jr.r.cfg.ExternalEndpoint, "/")
	e := &jobEngine{external: base}
	health := js.sub.Engine.HealthPath
	if health == "" {
		health = spec.DefaultHealthPath
	}
	jr.log.Info().Str("endpoint", base).Msg("external deployment: launching nothing")
	return e, engine.WaitEndpoint(ctx, base+health, js.sub.Engine.ReadyTimeout.Duration)
}

// launchRoles starts one container per role replica on the job's own
// network, each with its own GPUs (in role order, from device 0), the
// workers first and the frontend last; the frontend is the endpoint, the
// workers' logs sit beside engine.log in the work dir. base is the config
// every replica shares (job, port, CPUs, state dir, grace, secrets).
func (jr *jobRun) launchRoles(ctx context.Context, js *jobSpec, e *jobEngine, base engine.Config) error {
	if err := engine.CreateJobNetwork(ctx, base.Runtime, jr.job.ID); err != nil {
		return err
	}
	e.network = engine.JobNetwork(jr.job.ID)
	cfgs, err := roleConfigs(js.sub.Engine, base)
	if err != nil {
		return err
	}
	for i, cfg := range cfgs {
		if cfg.Replica != frontendReplica {
			cfg.LogPath = filepath.Join(jr.work, "engine-"+cfg.Replica+".log")
		}
		eng, err := engine.Start(ctx, cfg, jr.log.With().Str("replica", cfg.Replica).Logger())
		if err != nil {
			return fmt.Errorf("start %s: %w", cfg.Replica, err)
		}
		if i == len(cfgs)-1 {
			e.eng = eng
		} else {
			e.workers = append(e.workers, eng)
		}
	}
	return nil
}

var frontendReplica = spec.RoleFrontend + "-0"

// roleConfigs is the config of every replica, the frontend last: GPUs
// handed out in role order, the frontend on CPUs and published, the
// workers unpublished, each its own leader (one node: rank 0 of 1).
func roleConfigs(e spec.Engine, base engine.Config) ([]engine.Config, error) {
	var out []engine.Config
	var front *engine.Config
	next := 0
	for _, rep := range e.Replicas() {
		role, _ := e.Role(rep.Role)
		cfg := engine.FromRole(e, role)
		cfg.JobID, cfg.Port, cfg.CPUs, cfg.LogPath = base.JobID, base.Port, base.CPUs, base.LogPath
		cfg.StateDir, cfg.GracePeriod, cfg.Secrets, cfg.Runtime = base.StateDir, base.GracePeriod, base.Secrets, base.Runtime
		cfg.Network = engine.JobNetwork(base.JobID)
		cfg.Replica = fmt.Sprintf("%s-%d", rep.Role, rep.Index)
		cfg.LeaderAddr = fmt.Sprintf("%s:%d", cfg.Replica, engine.DistPort)
		if rep.Role == spec.RoleFrontend {
			cfg.NoGPUs = true
			front = &cfg
			continue
		}
		cfg.Unpublished = true
		for range rep.GPUs {
			cfg.GPUs = append(cfg.GPUs, next)
			next++
		}
		out = append(out, cfg)
	}
	if front == nil {
		return nil, fmt.Errorf("%w: engine.roles has no frontend", ErrPreflight)
	}
	return append(out, *front), nil
}

// waitReady waits for the frontend's health; a worker that exits meanwhile
// fails the launch at once, named, rather than at the ready timeout.
func (e *jobEngine) waitReady(ctx context.Context) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-e.done():
			cancel()
		case <-wctx.Done():
		}
	}()
	err := e.eng.WaitReady(wctx)
	if ended := e.ended(); err != nil && ended != nil && ctx.Err() == nil {
		return ended
	}
	return err
}
