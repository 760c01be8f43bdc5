package agentrunner

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/agentrunner/cpuset"
	"github.com/agentwatt/agentwatt/agentrunner/engine"
	"github.com/agentwatt/agentwatt/agentrunner/power"
	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/workload"
)

// ObjectStore is where bundles go (a *blob.Store).
type ObjectStore interface {
	PutFile(ctx context.Context, key, path string) error
	Stat(ctx context.Context, key string) (blob.Info, error)
}

// WorkloadResolver turns a job's workload reference into a verified local
// file (a *workload.Registry); a workload.Loader over it loads the job's
// workload.
type WorkloadResolver = workload.Resolver

// SecretStore resolves the names of a job's engine.secrets to their values
// (an engine.SecretDir). Jobs name secrets; only the runner holds them.
type SecretStore interface {
	Secret(name string) (string, error)
}

// PowerSourceFunc opens the node's GPU power source (NVML) for one job. Nil
// on a sim runner, whose power source is the sim engine it launched.
type PowerSourceFunc func() (power.Source, error)

// Config configures a Runner.
type Config struct {
	// ID names the runner: its liveness entry and the name its key is
	// enrolled under. Pool is the queue pool it takes jobs from.
	ID, Pool string
	// Version is the agentwatt version recorded in every bundle.
	Version string
	// WorkDir holds the spool (spool/), the per-job work files (jobs/), the
	// engines' state records (engines/) and the workload cache (cache/).
	WorkDir string
	// Key signs bundles (bundle.LoadOrCreateKey).
	Key ed25519.PrivateKey

	Queue *queue.Queue
	// Fleet keeps the runner's liveness entry (fleet.Runner), refreshed
	// every RunnerTTL/3 while it runs.
	Fleet     *fleet.Fleet
	Store     ObjectStore
	Workloads WorkloadResolver

	// Inventory is the node's hardware, as registered and written in every
	// manifest; GPUs is its GPU count (0 on a sim runner).
	Inventory json.RawMessage
	GPUs      int
	// Accelerator is the node's accelerator name ("h100"); "sim" on a sim
	// runner.
	Accelerator string
	// BusyGPUs, when set, lists compute processes found on the GPUs at
	// preflight (hardware inventory); a non-empty answer fails the job.
	BusyGPUs func() []string
	// Power opens the GPUs' power source; nil on a sim runner.
	Power PowerSourceFunc
	// Software is recorded in manifests (driver, cuda, …); agentwatt's own
	// version is added.
	Software map[string]string

	// FixedAgents > 0 judges that one N instead of searching (tests and quick
	// checks; the result is labelled mode "fixed").
	FixedAgents int
	// MaxAgents, when > 0, caps every job's search (and FixedAgents) below
	// the profile's max_agents and the engine's reported sequence limit.
	// MemoryBudget is the memory, in bytes, a job's agents may use (0:
	// replay.DefaultMemoryBudget at each job).
	MaxAgents    int
	MemoryBudget int64
	// IdleBaseline is the idle-power window before load (default 5s).
	IdleBaseline time.Duration
	// GracePeriod bounds an engine's stop and a cancel (default 30s).
	GracePeriod time.Duration
	// EngineCPUs and ClientCPUs keep the engine and the load generator on
	// separate CPUs (Linux CPU lists); empty leaves them unset. EngineCPUs
	// is the engine process's affinity. ClientCPUs pins every thread of
	// this process (package cpuset) from the accuracy phase to the end of
	// the search; it must lie within the CPUs the process may use and share
	// none with EngineCPUs.
	EngineCPUs, ClientCPUs string
	// Self is the path of this agentwatt binary: a sim job's engine is
	// `Self sim serve --profile <engine.sim_profile>`, launched by the runner
	// (a submission never names a program).
	Self string
	// EngineUser is the user a process-mode engine (the sim) runs as, apart
	// from the runner so that it cannot read the key or the runner's
	// environment: a name, uid or uid:gid. Empty: nobody when the runner
	// runs as root, else the runner's own user.
	EngineUser string
	// Secrets resolves the secrets a job's engine.secrets names; nil fails
	// every job that names one.
	Secrets SecretStore
	// ExternalEndpoint is the base URL of an engine deployed by this
	// runner's operator (engine.deployment external): set, the runner takes
	// only external jobs and launches nothing; empty, only launched ones.
	ExternalEndpoint string
	// Seed makes the replay reproducible (default 1).
	Seed uint64
	// ScanEvery is how often the spool is scanned for bundles to upload
	// (default 30s); UploadRetryMax caps the upload backoff (default 30s).
	ScanEvery, UploadRetryMax time.Duration
	// UploadWait bounds how long a failed or canceled job waits for its
	// bundle's upload before it ends; the spool keeps it (default 30s).
	UploadWait time.Duration

	// Once makes the runner ephemeral: it takes at most one job, finishes it
	// (upload included) and Run returns. IdleExit > 0 makes Run return after
	// that long without a job. Either way Run returns nil and the exit's
	// reason is logged and counted (agentwatt_runner_exits_total).
	Once     bool
	IdleExit time.Duration
	// Instance is the cloud instance (EC2 instance id, pod name) the runner
	// runs on, written in its liveness entry: the scaler protects the
	// instance of a busy runner from scale-in.
	Instance string

	// Group, when set, makes the runner a member of a runner group
	// (group.go): Pool is then the group's pool, which only its leader
	// takes jobs from.
	Group *GroupConfig

	Metrics prometheus.Registerer
	Log     zerolog.Logger
}

// Validate checks the config; an error names the field. It changes
// nothing: a zero duration, Seed, Self, Version, Accelerator (on a sim
// runner) or Metrics means the default, which New fills (withDefaults).
func (c *Config) Validate() error {
	var errs []string
	if c.ID == "" {
		errs = append(errs, "ID is required")
	}
	if !queue.ValidPool(c.Pool) {
		errs = append(errs, fmt.Sprintf("pool %q is not a valid pool", c.Pool))
	}
	if c.WorkDir == "" {
		errs = append(errs, "WorkDir is required")
	}
	if len(c.Key) != ed25519.PrivateKeySize {
		errs = append(errs, "Key is required (an ed25519 private key)")
	}
	if c.Queue == nil || c.Fleet == nil || c.Store == nil || c.Workloads == nil {
		errs = append(errs, "Queue, Fleet, Store and Workloads are required")
	}
	if c.Group != nil {
		errs = append(errs, c.Group.validate()...)
		if c.Once || c.IdleExit > 0 {
			errs = append(errs, "a group member runs until stopped: Once and IdleExit do not apply")
		}
		if c.Pool == spec.Sim {
			errs = append(errs, "a group's pool is <accelerator>x<Σ GPUs>, not sim")
		}
	}
	if spec.SimPool(c.Pool) && c.Power != nil {
		errs = append(errs, "a sim runner samples the sim engine; Power must be nil")
	}
	if !spec.SimPool(c.Pool) && c.Power == nil {
		errs = append(errs, fmt.Sprintf("pool %s needs a GPU power source (NVML)", c.Pool))
	}
	if c.ClientCPUs != "" {
		if err := cpuset.Validate(c.ClientCPUs, c.EngineCPUs); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if err := validateExternalEndpoint(c.ExternalEndpoint); err != nil {
		errs = append(errs, err.Error())
	}
	if c.IdleExit < 0 {
		errs = append(errs, fmt.Sprintf("IdleExit %s must not be negative", c.IdleExit))
	}
	if c.FixedAgents < 0 || c.MaxAgents < 0 || c.MemoryBudget < 0 {
		errs = append(errs, "FixedAgents, MaxAgents and MemoryBudget must not be negative")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(errs, "; "))
	}
	return nil
}

// withDefaults is c with its zero fields defaulted.
func (c Config) withDefaults() Config {
	if c.Accelerator == "" && spec.SimPool(c.Pool) {
		c.Accelerator = spec.Sim
	}
	if c.Group != nil {
		g := c.Group.withDefaults(c.ID)
		c.Group = &g
	}
	if c.IdleBaseline <= 0 {
		c.IdleBaseline = 5 * time.Second
	}
	if c.GracePeriod <= 0 {
		c.GracePeriod = engine.DefaultGracePeriod
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.ScanEvery <= 0 {
		c.ScanEvery = 30 * time.Second
	}
	if c.UploadRetryMax <= 0 {
		c.UploadRetryMax = 30 * time.Second
	}
	if c.UploadWait <= 0 {
		c.UploadWait = 30 * time.Second
	}
	if c.Self == "" {
		c.Self, _ = os.Executable()
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Metrics == nil {
		c.Metrics = prometheus.NewRegistry()
	}
	return c
}

// Runner is the daemon. Run it once.
type Runner struct {
	cfg       Config
	log       zerolog.Logger
	signer    *bundle.Signer
	metrics   *runnerMetrics
	workloads *workload.Loader

	zero       time.Time    // the runner's clock's zero (a group's run clock)
	engineUser *engine.User // nil: the runner's own
	simBin     string       // Self, where the engine user can execute it (Run)

	mu     sync.Mutex
	active map[string]int // job → attempt held by this process (the spool scanner leaves it alone)
	// seen asks registerLoop to refresh the liveness entry now: a job
	// started or ended, and the scaler must see a busy runner as busy
	// before it picks instances to scale in.
	seen   chan struct{}
	scanMu sync.Mutex // one spool scan at a time
}

// New checks cfg and builds a runner.
func New(cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	eu, err := engineUser(cfg.EngineUser)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	m, err := newRunnerMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	return &Runner{
		cfg: cfg, signer: bundle.NewSigner(cfg.Key), metrics: m, active: map[string]int{}, seen: make(chan struct{}, 1),
		workloads:  workload.NewLoader(cfg.Workloads),
		engineUser: eu, simBin: cfg.Self, zero: time.Now(),
		log: cfg.Log.With().Str("runner", cfg.ID).Str("pool", cfg.Pool).Logger(),
	}, nil
}

// engineUser resolves Config.EngineUser.
func engineUser(name string) (*engine.User, error) {
	if name == "" {
		return engine.DefaultEngineUser()
	}
	return engine.LookupUser(name)
}

// KeyID is the KeyID of the runner's signing key.
func (r *Runner) KeyID() string { return bundle.KeyID(r.cfg.Key.Public().(ed25519.PublicKey)) }

func (r *Runner) spoolDir() string  { return filepath.Join(r.cfg.WorkDir, "spool") }
func (r *Runner) jobsDir() string   { return filepath.Join(r.cfg.WorkDir, "jobs") }
func (r *Runner) engineDir() string { return filepath.Join(r.cfg.WorkDir, "engines") }

// Run reaps engines a dead runner left, uploads what the spool holds,
// registers the runner and takes jobs one at a time until ctx ends. A job
// running when ctx ends has its current phase interrupted, its engine
// stopped and what was measured spooled, and is released to the queue.
func (r *Runner) Run(ctx context.Context) error {
	for _, d := range []string{r.spoolDir(), r.jobsDir(), r.engineDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	// One runner per work dir: a second one would reap the first's engine as
	// an orphan and upload its spool twice.
	unlock, err := lockWorkDir(r.cfg.WorkDir)
	if err != nil {
		return err
	}
	defer unlock()
	if err := hideProcess(); err != nil {
		return err
	}
	if spec.SimPool(r.cfg.Pool) {
		bin, cleanup, err := engine.ExecutableFor(r.cfg.Self, r.engineUser)
		if err != nil {
			return err
		}
		defer cleanup()
		r.simBin = bin
	}
	r.log.Info().Str("engine_user", r.engineUser.String()).Msg("engines run apart from the runner")
	if n, err := engine.ReapOrphans(ctx, r.engineDir(), r.log); err != nil {
		r.log.Warn().Err(err).Msg("reap orphan engines")
	} else if n > 0 {
		r.log.Warn().Int("killed", n).Msg("reaped engines left by a runner that died")
	}

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.scanLoop(bg) }()
	go func() { defer wg.Done(); r.registerLoop(bg) }()
	defer func() {
		stopBG()
		wg.Wait()
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.cfg.Fleet.Deregister(dctx, r.cfg.ID); err != nil {
			r.log.Debug().Err(err).Msg("deregister runner")
		}
	}()

	if r.cfg.Group != nil {
		return r.runGroup(ctx)
	}
	w, err := r.cfg.Queue.NewWorker(queue.WorkerConfig{Pool: r.cfg.Pool, Runner: r.cfg.ID, PollWait: 2 * time.Second})
	if err != nil {
		r.exited(ExitError)
		return err
	}
	r.log.Info().Str("key_id", r.KeyID()).Bool("once", r.cfg.Once).Dur("idle_exit", r.cfg.IdleExit).
		Msg("runner ready; waiting for jobs")
	for {
		lease, reason, err := r.next(ctx, w)
		if lease == nil {
			if reason == ExitError {
				r.exited(reason)
				return err
			}
			r.exited(reason)
			r.drainSpool(ctx, reason)
			return nil
		}
		r.runJob(ctx, lease)
		switch {
		case ctx.Err() != nil:
			r.exited(ExitStopped)
			return nil
		case r.cfg.Once:
			r.exited(ExitOnce)
			r.drainSpool(ctx, ExitOnce)
			return nil
		}
	}
}

// Why Run returns, as logged and counted (agentwatt_runner_exits_total's
// reason label).
const (
	ExitStopped = "stopped" // asked to stop (SIGTERM, the context ended)
	ExitOnce    = "once"    // Once: the one job ended
	ExitIdle    = "idle"    // IdleExit passed without a job
	ExitError   = "error"   // the queue could not be used
)

// next waits for a job. It polls the pool (never a canceled claim: a
// message fetched is claimed on ctx, so a runner that gives up waiting
// leaves nothing half-taken) and returns no lease, with the reason, when
// ctx ends or IdleExit passes without a job.
func (r *Runner) next(ctx context.Context, w *queue.Worker) (*queue.Lease, string, error) {
	const poll = 2 * time.Second
	idleSince := time.Now()
	backoff := 100 * time.Millisecond
	for {
		if ctx.Err() != nil {
			return nil, ExitStopped, nil
		}
		wait := poll
		if r.cfg.IdleExit > 0 {
			left := r.cfg.IdleExit - time.Since(idleSince)
			if left <= 0 {
				return nil, ExitIdle, nil
			}
			wait = max(min(wait, left), 50*time.Millisecond)
		}
		l, err := w.TryNext(ctx, wait)
		switch {
		case err == nil:
			return l, "", nil
		case ctx.Err() != nil:
			return nil, ExitStopped, nil
		case errors.Is(err, queue.ErrNoMessage):
			backoff = 100 * time.Millisecond
		case errors.Is(err, queue.ErrInvalid):
			return nil, ExitError, err
		default:
			r.log.Warn().Err(err).Msg("fetch job; retrying")
			if sleepCtx(ctx, backoff) != nil {
				return nil, ExitStopped, nil
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}
}

// exited logs and counts why Run returns.
func (r *Runner) exited(reason string) {
	r.metrics.exits.WithLabelValues(reason).Inc()
	r.log.Info().Str("reason", reason).Msg("runner stopping")
}

// drainSpool, when an ephemeral runner leaves (its instance may go with
// it), tries once more, within UploadWait, to upload what the spool holds
// (a failed job's bundle the store refused earlier), and says what stays.
func (r *Runner) drainSpool(ctx context.Context, reason string) {
	if !r.cfg.Once && r.cfg.IdleExit <= 0 {
		return
	}
	if reason == ExitStopped {
		return // asked to stop: the next start uploads it
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.UploadWait)
	defer cancel()
	if left := r.ScanSpool(uctx); left > 0 {
		r.log.Warn().Int("bundles", left).Str("spool", r.spoolDir()).
			Msg("bundles still spooled at exit; a runner started on this work dir uploads them")
	}
}

// registerLoop keeps the runner's liveness entry fresh.
func (r *Runner) registerLoop(ctx context.Context) {
	started := time.Now().UTC()
	every := r.cfg.Fleet.Config().RunnerTTL / 3
	if every <= 0 {
		every = 30 * time.Second
	}
	for {
		job, attempt := r.current()
		info := fleet.Runner{
			ID: r.cfg.ID, Pool: r.cfg.Pool, Version: r.cfg.Version, KeyName: r.cfg.ID, Instance: r.cfg.Instance,
			Job: job, Attempt: attempt, Inventory: r.cfg.Inventory, StartedAt: started,
		}
		info.Host, _ = os.Hostname()
		if err := r.cfg.Fleet.Register(ctx, info); err != nil && ctx.Err() == nil {
			r.log.Warn().Err(err).Msg("register runner")
		} else if err == nil {
			r.metrics.heartbeat.SetToCurrentTime()
		}
		select {
		case <-ctx.Done():
			return
		case <-r.seen:
		case <-time.After(every):
		}
	}
}

func (r *Runner) setActive(job string, attempt int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case r.seen <- struct{}{}:
	default: // a refresh is already due
	}
	if attempt == 0 {
		delete(r.active, job)
		return
	}
	r.active[job] = attempt
}

func (r *Runner) isActive(job string, attempt int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active[job] == attempt
}

func (r *Runner) current() (string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for j, a := range r.active {
		return j, a
	}
	return "", 0
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
