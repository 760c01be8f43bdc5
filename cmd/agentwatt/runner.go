package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/agentrunner"
	"github.com/agentwatt/agentwatt/agentrunner/cpuset"
	"github.com/agentwatt/agentwatt/agentrunner/engine"
	"github.com/agentwatt/agentwatt/agentrunner/hardware"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/workload/blobstore"
)

// runnerFlags are the daemon's flags.
type runnerFlags struct {
	nf                     natsFlags
	sf                     s3Flags
	id, pool, workDir, key string
	metricsAddr            string
	fixedAgents, maxAgents int
	memoryBudgetMiB        int64
	idle, grace            time.Duration
	engineCPUs, clientCPUs string
	engineUser, secretsDir string
	seed                   uint64
	enrol                  enrolFlags     // runner_enrol.go
	ext                    externalFlags  // runner_external.go
	pw                     powerFlags     // runner_power.go
	eph                    ephemeralFlags // runner_ephemeral.go
	group                  groupFlags     // runner_group.go
}

// newRunnerCmd builds 'agentwatt runner', the daemon; its subcommand
// 'runner trust' (runner_trust.go) enrols runner keys.
func newRunnerCmd(a *app) *cobra.Command {
	var f runnerFlags
	cmd := &cobra.Command{Use: "runner"}
	cmd.Short = "Run the benchmark runner daemon (and enrol runner keys with 'runner trust')"
	cmd.Long = `runner is the daemon on a GPU node (or, for tests and the demo, beside the
sim engine). It takes the jobs of its pool from the queue one at a time and runs
each through every phase: preflight (the spec's accelerator and count against
this node), workload, engine launch and health, idle-power baseline, the
accuracy phase (GSM8K subset, greedy), the capacity search per tier with the
power sampler running, engine stop, then a signed bundle uploaded to
runs/<job>/<attempt>/ and the job marked uploaded for verification. Progress
events at every phase and probe are what 'agentwatt status -f' shows.

The pool comes from the GPUs (NVML: "h100x1", "h200x8") unless --pool names it.
Without an NVIDIA driver only --pool sim is possible: the runner then launches
the sim engine of each job and samples its simulated power; it never pretends
to have GPUs.

The signing key (--key, default WORK/runner.key) is created on first start,
readable only by its owner; its public half is written beside it (.pub). A
maintainer must enrol it ('agentwatt runner trust KEY.pub --name ID --pool POOL') before the
verifier accepts the runner's bundles.

Bundles are built in WORK/spool. If object storage is unreachable they stay
there and are uploaded when it returns, also after a restart. SIGTERM interrupts
the job's current phase, stops the engine, spools what was measured and releases
the job to the queue.

--once makes the runner ephemeral: it takes at most one job, finishes it
(upload included) and exits 0. --idle-exit 15m exits 0 after 15 minutes
without a job. Asked to stop between jobs, either exits at once. Each exit's
reason is logged and counted (agentwatt_runner_exits_total). Autoscaled
capacity ('agentwatt scaler', KEDA) runs runners this way.

--engine-cpus and --client-cpus keep the engine and the load generator on
separate CPUs (Linux CPU lists, "2-15", "0,1"). The engine process starts with
--engine-cpus as its affinity. --client-cpus pins every thread of the runner
process (Go runs goroutines on any of its threads, so the load generator
cannot be pinned alone) from the accuracy phase to the end of the search, and
puts them back afterwards; it must lie within the CPUs the runner may use and
share none with --engine-cpus. environment.json in the bundle records both
lists and, for the client, the CPUs read back from every thread when the pin
was applied and when it was lifted.

A sim job's engine is this binary's own 'sim serve' with the profile the job
names (engine.sim_profile): a submission never names a program to run. Every
engine runs apart from the runner: in a fresh directory of its own (not
WORK, which holds the key), with none of the runner's environment (only PATH,
LANG, LC_ALL, TZ, the job's engine.env and its secrets), no inherited file
descriptors and, when the runner runs as root, as --engine-user (default
nobody), so that it can read neither the 0600 key nor /proc/<runner>/environ.
The runner makes itself non-dumpable, so that an engine of its own user
cannot read its /proc files or memory either. A container engine gets only
the job's env and secrets, as the container user nobody.

--secrets-dir DIR is the runner's secret store: one file per secret, named as
the variable the engine reads (DIR/HF_TOKEN holds the token). A job names
its secrets (engine.secrets: [HF_TOKEN]) and the runner fills them in at
launch; a secret not in DIR fails the job in preflight, before any engine
starts. Keep DIR readable by the runner's user only, and put there only what
any engine of the pool may hold (any job may name any secret in it), never the
runner's own credentials. Secret values never
appear in job records, events, command lines or environment.json, and are
masked in the engine log's tail that a failure reason quotes.

A job whose engine has roles (engine.roles: a frontend and its prefill and
decode workers on this node) runs one container per replica, each with its
own GPUs, on a network of the job's own; the frontend is the endpoint. With
--external-endpoint URL the runner drives an engine its operator deployed
(Kubernetes, a DynamoGraphDeployment): it takes only jobs with
engine.deployment external, launches nothing, waits for URL's health path
and records the deployment as external in the bundle. A job never names the
URL the runner dials.

--group NAME makes the runner one member of a runner group: one runner per
host of a rack or multi-node system (--group-size members, this one named
--member). Only the group's leader takes jobs, of the group's pool
<accelerator>x<Σ GPUs>, and only while every member is alive; each member runs
its part and samples its own power, and the leader seals one bundle with every
member's power file. --sim-rack-profile P makes the member a node of a
SIMULATED rack (pool simx<GPUs>). See docs/operations.md "Runner groups".

--fixed-agents N judges one N (two windows) instead of searching: for tests and
quick checks; such a run is labelled mode "fixed".

A search never probes more agents than the least of the rules profile's
max_agents, the engine's reported sequence limit (max_num_seqs in /v1/models),
--max-agents and what --memory-budget-mib holds (default: half the memory
available when the job starts).`
	cmd.Example = `  agentwatt runner --pool sim --work-dir /var/lib/agentwatt-runner
  agentwatt runner --id gpu-node-7 --metrics-addr 127.0.0.1:9464
  agentwatt runner --engine-cpus 8-63 --client-cpus 0-7
  agentwatt runner --secrets-dir /etc/agentwatt/secrets --engine-user agentwatt-engine
  agentwatt runner --group rack-a --group-size 4 --member node-0 --id rack-a-node-0
  agentwatt runner trust /var/lib/agentwatt-runner/runner.key.pub --name gpu-node-7 --pool h200x8 --by alice`
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return runRunnerDaemon(cmd.Context(), a, &f) }
	fl := cmd.Flags()
	addNATSFlags(fl, &f.nf)
	addS3Flags(fl, &f.sf)
	host, _ := os.Hostname()
	fl.StringVar(&f.id, "id", host, "runner id: its liveness entry and the name its key is enrolled under")
	fl.StringVar(&f.pool, "pool", "", "pool to take jobs from (default: derived from the GPUs; sim without a driver)")
	fl.StringVar(&f.workDir, "work-dir", "agentwatt-runner", "work directory: spool, job files, engine records, workload cache")
	fl.StringVar(&f.key, "key", "", "ed25519 signing key, created on first start (default WORK/runner.key)")
	fl.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address (e.g. 127.0.0.1:9464); empty: off")
	fl.IntVar(&f.fixedAgents, "fixed-agents", 0, "judge this N instead of searching (tests, quick checks)")
	fl.IntVar(&f.maxAgents, "max-agents", 0, "the most agents any job's search probes (0: the profile's max_agents and the engine's limit)")
	fl.Int64Var(&f.memoryBudgetMiB, "memory-budget-mib", 0, "memory a job's agents may use, in MiB; a search refuses an N that needs more (0: half the available memory)")
	fl.DurationVar(&f.idle, "idle-baseline", 5*time.Second, "idle-power baseline window before load")
	fl.DurationVar(&f.grace, "grace-period", 30*time.Second, "engine stop grace period (SIGTERM, then SIGKILL)")
	fl.StringVar(&f.engineCPUs, "engine-cpus", "", "CPU list for the engine process (e.g. 2-15); empty: unrestricted")
	fl.StringVar(&f.clientCPUs, "client-cpus", "", "CPU list the runner's threads (the load generator) are pinned to during a job's load, apart from --engine-cpus; recorded in the bundle")
	fl.StringVar(&f.engineUser, "engine-user", "", "user that process-mode engines (the sim) run as: a name, uid or uid:gid (default: nobody when the runner runs as root, else the runner's own user)")
	fl.StringVar(&f.secretsDir, "secrets-dir", "", "secret store: one file per secret, named as the variable (DIR/HF_TOKEN); jobs name secrets in engine.secrets")
	fl.Uint64Var(&f.seed, "seed", 1, "replay seed")
	addEnrolFlags(fl, &f.enrol)
	addExternalFlags(fl, &f.ext)
	addPowerFlags(fl, &f.pw)
	addEphemeralFlags(fl, &f.eph)
	addGroupFlags(fl, &f.group)
	return cmd
}

func runRunnerDaemon(ctx context.Context, a *app, f *runnerFlags) error {
	// Checked again by agentrunner.New; here before any connection, so that
	// a bad list is the one error shown.
	if f.clientCPUs != "" {
		if err := cpuset.Validate(f.clientCPUs, f.engineCPUs); err != nil {
			return fmt.Errorf("--client-cpus: %w", err)
		}
	}
	if err := checkSecretsDir(f.secretsDir); err != nil {
		return err
	}
	if err := f.enrol.takeToken(); err != nil {
		return err
	}
	if f.key == "" {
		f.key = filepath.Join(f.workDir, "runner.key")
	}
	key, err := bundle.LoadOrCreateKey(f.key)
	if err != nil {
		return fmt.Errorf("runner key: %w", err)
	}
	if err := agentrunner.CheckKeyOwner(f.key); err != nil {
		return fmt.Errorf("runner key: %w", err)
	}
	cfg, closeHW, err := runnerHardware(a.log, f.group.hardwarePool(f.pool), &f.pw)
	if err != nil {
		return err
	}
	defer closeHW()
	if err := f.group.setPool(&cfg); err != nil {
		return err
	}
	q, closeQ, err := connectQueue(ctx, a, &f.nf)
	if err != nil {
		return err
	}
	defer closeQ()
	fl, err := openFleet(ctx, q, a.log)
	if err != nil {
		return err
	}
	f.enrol.instance = f.eph.instance // one --instance flag: runner_ephemeral.go
	if err := enrolRunner(ctx, &f.enrol, fl, q.JetStream().Conn(), f.id, cfg.Pool, key, a.log); err != nil {
		return err
	}
	st, err := openStore(ctx, &f.sf)
	if err != nil {
		return err
	}
	g := runGroup{log: a.log}
	reg := newServiceRegistry()
	if f.metricsAddr != "" {
		m, err := newMetricsService(f.metricsAddr, reg)
		if err != nil {
			return err
		}
		g.add(ctx, m)
		a.log.Info().Str("url", m.URL()+"/metrics").Msg("serving metrics")
	}
	cfg.ID, cfg.Version, cfg.WorkDir, cfg.Key = f.id, agentwattVersion(), f.workDir, key
	cfg.Queue, cfg.Fleet, cfg.Store = q, fl, st
	cfg.Workloads = blobstore.NewRegistry(st, filepath.Join(f.workDir, "cache"))
	cfg.FixedAgents, cfg.IdleBaseline, cfg.GracePeriod = f.fixedAgents, f.idle, f.grace
	cfg.MaxAgents, cfg.MemoryBudget = f.maxAgents, f.memoryBudgetMiB<<20
	cfg.EngineCPUs, cfg.ClientCPUs, cfg.Seed = f.engineCPUs, f.clientCPUs, f.seed
	cfg.EngineUser = f.engineUser
	f.ext.apply(&cfg)
	f.group.apply(&cfg, q.JetStream().Conn(), q.Config().Replicas)
	if f.secretsDir != "" {
		cfg.Secrets = engine.SecretDir(f.secretsDir)
	}
	cfg.Metrics, cfg.Log = reg, a.log
	if err := f.eph.apply(&cfg); err != nil {
		return err
	}
	r, err := agentrunner.New(cfg)
	if err != nil {
		return err
	}
	a.log.Info().Str("id", cfg.ID).Str("pool", cfg.Pool).Str("key", f.key).Str("key_id", r.KeyID()).
		Msg("runner starting; its key must be enrolled ('agentwatt runner trust') for its bundles to verify")
	// SIGTERM ends ctx: the group interrupts the runner, which stops the
	// job's current phase and engine and releases the job before Run returns.
	g.add(ctx, r)
	g.untilDone(ctx, nil)
	return g.Run()
}

// checkSecretsDir refuses a secret store that is not a directory or that
// group or others may read.
func checkSecretsDir(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("--secrets-dir %s: not a directory", dir)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("--secrets-dir %s (mode %04o): group or others may read it, an engine run as another user too; chmod 700 it",
			dir, fi.Mode().Perm())
	}
	return nil
}

// runnerHardware opens the node (hardware.OpenNode decides the pool) and
// puts what the runner needs of it in a config.
func runnerHardware(log zerolog.Logger, pool string, pw *powerFlags) (agentrunner.Config, func(), error) {
	n, err := hardware.OpenNode(pool)
	if err != nil {
		return agentrunner.Config{}, nil, err
	}
	closeHW := func() { _ = n.Close() }
	if n.NoDriver && n.Sim() {
		log.Info().Msg("no NVIDIA driver: running as a sim runner (--pool sim); power comes from each job's sim engine")
	}
	inv, err := n.InventoryJSON()
	if err != nil {
		closeHW()
		return agentrunner.Config{}, nil, err
	}
	cfg := agentrunner.Config{Pool: n.Pool, Inventory: inv, GPUs: n.GPUs(), Accelerator: n.Accelerator(), Software: n.Software()}
	if !n.Sim() {
		if cfg.Power, err = runnerPowerSource(n, pw, log); err != nil {
			closeHW()
			return agentrunner.Config{}, nil, err
		}
		cfg.BusyGPUs = n.BusyGPUs
	} else if pw.source != "" {
		closeHW()
		return agentrunner.Config{}, nil, fmt.Errorf("--power-source %s: a sim runner's power is its sim engine's", pw.source)
	}
	return cfg, closeHW, nil
}
