package engine

import (
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults.
const (
	DefaultGracePeriod = 30 * time.Second
	DefaultRuntime     = "docker"
	// DefaultNetwork is the runner's own bridge network for engine
	// containers (see EnsureNetwork).
	DefaultNetwork = "agentwatt-engine"
	// DefaultShmSize is the container's /dev/shm: engines that shard a model
	// over GPUs need more than docker's 64 MiB.
	DefaultShmSize = "16g"
	// ContainerUser is the non-root user engines run as (nobody).
	ContainerUser = "65534:65534"
	// ModelMount is where the model cache appears in the container.
	ModelMount = "/models"
	// PortPlaceholder in Args is replaced by the port; RankPlaceholder,
	// NNodesPlaceholder and LeaderAddrPlaceholder by Rank, NNodes and
	// LeaderAddr (spec.Placeholders lists the same four).
	PortPlaceholder       = "{port}"
	RankPlaceholder       = "{rank}"
	NNodesPlaceholder     = "{nnodes}"
	LeaderAddrPlaceholder = "{leader_addr}"
	// DistPort is the port of a replica's rank-0 part for the engine's
	// distributed init: LeaderAddr is host:DistPort unless set.
	DistPort = 29500
	// MaxGPUIndex bounds a GPU device index.
	MaxGPUIndex = 1023
)

// Config describes one engine launch. Command (process mode) or Image
// (container mode) is set, never both. Command never comes from a
// submission: it is the runner's own sim, or an engine its operator
// configured.
type Config struct {
	JobID string // names the container and the state record

	// From the spec's engine section (and, for Command, the runner).
	Command      []string          // process mode: program and first arguments
	Image        string            // container mode: image pinned by digest
	Args         []string          // after Command or the image's entrypoint; PortPlaceholder replaced
	Env          map[string]string // the spec's env (process mode adds PATH, HOME, TMPDIR, LANG)
	HealthPath   string            // answers 200 once the engine serves
	ReadyTimeout time.Duration

	// Secrets are the values of the spec's engine.secrets, resolved from the
	// runner's secret store: in the engine's environment, never on a command
	// line, in the state record or in a log line; LogTail masks them.
	Secrets map[string]string

	Port int    // serving port, picked by the caller (FreePort)
	Host string // where the runner reaches the engine; default 127.0.0.1

	// CPUs is the engine's CPU set (a Linux CPU list, "2-15"), kept apart
	// from the load generator's; empty leaves affinity alone.
	CPUs string
	// LogPath receives the engine's stdout and stderr (created or
	// truncated, 0600).
	LogPath string
	// GracePeriod is the time between SIGTERM (docker stop) and SIGKILL
	// (docker kill); 0 means DefaultGracePeriod.
	GracePeriod time.Duration
	// StateDir holds a record of each running engine so that ReapOrphans can
	// kill what a dead runner left; empty keeps no record.
	StateDir string

	// Process mode only. Dir is the engine's working directory, HOME and
	// TMPDIR (MakeDir); empty: Start makes one and Stop removes it. User runs
	// the engine as another, unprivileged user (LookupUser); nil: as the
	// runner's own.
	Dir  string
	User *User

	// Container mode only.
	Runtime    string // "docker" (default) or "podman"; a path to the binary is accepted
	Network    string // default DefaultNetwork
	ModelCache string // host directory mounted read-only at ModelMount; empty mounts nothing
	ShmSize    string // default DefaultShmSize

	// Container mode, for one replica of a role (spec engine.roles): one
	// container each. Replica ("prefill-0") names the container
	// (agentwatt-<job>-prefill-0) and is its alias on Network, the job's
	// own network, where the other replicas reach it; empty for a
	// single-container engine. GPUs are the device indices it gets (nil:
	// all of them). Unpublished keeps its port off the host: a worker
	// serves only the job's other containers, the frontend is published.
	// NoGPUs gives it none (the frontend runs on CPUs).
	Replica     string
	GPUs        []int
	NoGPUs      bool
	Unpublished bool
	// Rank, NNodes and LeaderAddr fill {rank}, {nnodes} and {leader_addr}:
	// the part's rank within its replica, the hosts the replica spans
	// (0 means 1) and host:port of its rank-0 part (empty:
	// 127.0.0.1:DistPort, the container itself).
	Rank, NNodes int
	LeaderAddr   string
}

var (
	envKeyRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	jobIDRe    = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`)
	imageRe    = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._/:-]*@sha256:[0-9a-f]{64}$`)
	networkRe  = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`)
	shmSizeRe  = regexp.MustCompile(`^[0-9]+[bkmg]?$`)
	replicaRe  = regexp.MustCompile(`^[a-z][a-z0-9]*-[0-9]{1,4}$`)
	leaderRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,252}:[0-9]{1,5}$`)
	healthPath = regexp.MustCompile(`^/[A-Za-z0-9/._~%!$&'()*+,;=:@?-]*$`)
)

// ProcessMode reports whether the engine runs as a process (Command).
func (c *Config) ProcessMode() bool { return len(c.Command) > 0 }

// Validate checks the config; an error names the field. It changes
// nothing: a zero GracePeriod, Host, Runtime, Network or ShmSize means the
// default, which Start fills (withDefaults), and is checked as that.
func (c *Config) Validate() error {
	cfg := c.withDefaults()
	switch {
	case len(cfg.Command) > 0 && cfg.Image != "":
		return invalidf("both command and image are set")
	case len(cfg.Command) == 0 && cfg.Image == "":
		return invalidf("neither command nor image is set")
	case len(cfg.Command) > 0 && cfg.Command[0] == "":
		return invalidf("command: empty program")
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return invalidf("port %d: want 1-65535", cfg.Port)
	}
	if !healthPath.MatchString(cfg.HealthPath) {
		return invalidf("health path %q: want an absolute URL path", cfg.HealthPath)
	}
	if cfg.ReadyTimeout <= 0 {
		return invalidf("ready timeout %v: must be positive", cfg.ReadyTimeout)
	}
	if cfg.GracePeriod < 0 {
		return invalidf("grace period %v: must not be negative", cfg.GracePeriod)
	}
	if cfg.LogPath == "" {
		return invalidf("log path is empty")
	}
	if !jobIDRe.MatchString(cfg.JobID) {
		return invalidf("job id %q: want letters, digits, '_', '.', '-' (a container name)", cfg.JobID)
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.Env)) {
		if !envKeyRe.MatchString(k) {
			return invalidf("env %q: not a variable name", k)
		}
		if strings.ContainsRune(cfg.Env[k], 0) {
			return invalidf("env %s: value holds a NUL byte", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.Secrets)) {
		switch {
		case !envKeyRe.MatchString(k):
			return invalidf("secret %q: not a variable name", k)
		case strings.ContainsRune(cfg.Secrets[k], 0):
			return invalidf("secret %s: value holds a NUL byte", k)
		case slices.Contains(runtimeKeep, k) || k == markEnv:
			return invalidf("secret %s: a variable of the runner or the container runtime", k)
		}
		if _, ok := cfg.Env[k]; ok {
			return invalidf("secret %s: also set in env", k)
		}
	}
	if cfg.CPUs != "" {
		if _, err := ParseCPUList(cfg.CPUs); err != nil {
			return invalidf("cpus: %v", err)
		}
	}
	if err := cfg.validatePlacement(); err != nil {
		return err
	}
	if cfg.ProcessMode() {
		if cfg.Dir != "" && (!filepath.IsAbs(cfg.Dir) || filepath.Clean(cfg.Dir) == "/") {
			return invalidf("dir %q: want an absolute directory of the engine's own", cfg.Dir)
		}
		return nil
	}
	if !imageRe.MatchString(cfg.Image) {
		return invalidf("image %q: want a reference pinned by digest (name@sha256:<64 hex>)", cfg.Image)
	}
	switch filepath.Base(cfg.Runtime) {
	case "docker", "podman":
	default:
		return invalidf("runtime %q: want docker or podman", cfg.Runtime)
	}
	if !networkRe.MatchString(cfg.Network) || cfg.Network == "host" || cfg.Network == "none" || strings.HasPrefix(cfg.Network, "container") {
		return invalidf("network %q: want the name of a bridge network of the runner's (not host, none or another container's)", cfg.Network)
	}
	if !shmSizeRe.MatchString(cfg.ShmSize) {
		return invalidf("shm size %q: want a size like 16g", cfg.ShmSize)
	}
	if cfg.ModelCache != "" {
		mc := cfg.ModelCache
		if !filepath.IsAbs(mc) || filepath.Clean(mc) != mc || mc == "/" || strings.ContainsAny(mc, ",=\"\n") {
			return invalidf("model cache %q: want a clean absolute directory path without ',', '=' or quotes, not /", mc)
		}
	}
	return nil
}

// validatePlacement checks the replica's name, GPUs and ranks.
func (c *Config) validatePlacement() error {
	if c.ProcessMode() && (c.Replica != "" || c.GPUs != nil || c.NoGPUs || c.Unpublished) {
		return invalidf("replica, GPUs and unpublished are for containers")
	}
	if c.NoGPUs && c.GPUs != nil {
		return invalidf("gpus %v and no GPUs both set", c.GPUs)
	}
	if c.Replica != "" && !replicaRe.MatchString(c.Replica) {
		return invalidf("replica %q: want <role>-<index>, e.g. prefill-0", c.Replica)
	}
	if c.GPUs != nil && len(c.GPUs) == 0 {
		return invalidf("gpus: an empty list (nil gives all)")
	}
	seen := map[int]bool{}
	for _, g := range c.GPUs {
		if g < 0 || g > MaxGPUIndex || seen[g] {
			return invalidf("gpus %v: want distinct device indices 0-%d", c.GPUs, MaxGPUIndex)
		}
		seen[g] = true
	}
	if c.NNodes < 0 || c.Rank < 0 || c.Rank >= max(c.NNodes, 1) {
		return invalidf("rank %d of %d nodes: want 0 <= rank < nnodes", c.Rank, c.NNodes)
	}
	if c.LeaderAddr != "" && !leaderRe.MatchString(c.LeaderAddr) {
		return invalidf("leader addr %q: want host:port", c.LeaderAddr)
	}
	return nil
}

func (c *Config) withDefaults() Config {
	cfg := *c
	if cfg.GracePeriod == 0 {
		cfg.GracePeriod = DefaultGracePeriod
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Runtime == "" {
		cfg.Runtime = DefaultRuntime
	}
	if cfg.Network == "" {
		cfg.Network = DefaultNetwork
	}
	if cfg.ShmSize == "" {
		cfg.ShmSize = DefaultShmSize
	}
	if cfg.NNodes == 0 {
		cfg.NNodes = 1
	}
	if cfg.LeaderAddr == "" {
		cfg.LeaderAddr = "127.0.0.1:" + strconv.Itoa(DistPort)
	}
	return cfg
}

// args is Args with the placeholders filled: {port}, {rank}, {nnodes} and
// {leader_addr}. One pass, so that a value never has a placeholder filled
// in it.
func (c *Config) args() []string {
	cfg := c.withDefaults()
	r := strings.NewReplacer(
		PortPlaceholder, strconv.Itoa(cfg.Port),
		RankPlaceholder, strconv.Itoa(cfg.Rank),
		NNodesPlaceholder, strconv.Itoa(cfg.NNodes),
		LeaderAddrPlaceholder, cfg.LeaderAddr)
	out := make([]string, len(c.Args))
	for i, a := range c.Args {
		out[i] = r.Replace(a)
	}
	return out
}

// ContainerName is the engine container's name: "agentwatt-<job>".
func ContainerName(jobID string) string { return "agentwatt-" + jobID }

// ReplicaContainerName is a role replica's container name:
// "agentwatt-<job>-<replica>".
func ReplicaContainerName(jobID, replica string) string {
	return ContainerName(jobID) + "-" + replica
}

// containerName is the container of this config: the job's, or its
// replica's.
func (c *Config) containerName() string {
	if c.Replica != "" {
		return ReplicaContainerName(c.JobID, c.Replica)
	}
	return ContainerName(c.JobID)
}

// JobNetwork is the network of a job whose engine has roles: its replicas
// reach one another on it, and nothing else of the runner's.
func JobNetwork(jobID string) string { return "agentwatt-job-" + jobID }
