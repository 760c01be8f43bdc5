package engine

import (
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// LabelJob labels engine containers with their job, so that an operator
// (and ReapOrphans) can find them.
const LabelJob = "dev.agentwatt.job"

// ContainerArgs is the argument list (after the runtime binary) that runs
// the engine container, as the threat model asks (DESIGN.md): the image by
// digest; its own network namespace on the runner's bridge network with only
// the serving port published, on loopback; user nobody; a read-only root
// with a private /tmp; no capabilities and no privilege gain; a process
// limit; exactly the spec's env (and HOME=/tmp unless the spec sets HOME),
// always as KEY=VALUE so that nothing is copied from the runner's own
// environment, and the secrets by name alone, their values copied from the
// CLI's environment, where Start puts them and nothing else of the
// runner's; no mount but the model cache, read-only. All GPUs are
// passed: the runner owns the whole node for the job.
func ContainerArgs(c Config) ([]string, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.ProcessMode() {
		return nil, invalidf("container args for a process-mode engine")
	}
	cfg := c.withDefaults()
	port := strconv.Itoa(cfg.Port)
	args := []string{
		"run", "--rm", "--init",
		"--name", ContainerName(cfg.JobID),
		"--label", LabelJob + "=" + cfg.JobID,
		"--pull", "missing",
	}
	if podman(cfg.Runtime) {
		args = append(args, "--device", "nvidia.com/gpu=all")
	} else {
		args = append(args, "--gpus", "all")
	}
	args = append(args,
		"--network", cfg.Network,
		"--publish", "127.0.0.1:"+port+":"+port,
		"--user", ContainerUser,
		"--read-only",
		"--tmpfs", "/tmp:rw,nosuid,nodev",
		"--cap-drop", "ALL",
		"--security-opt", "no-new-privileges",
		"--pids-limit", "4096",
		"--shm-size", cfg.ShmSize,
	)
	if cfg.CPUs != "" {
		args = append(args, "--cpuset-cpus", cfg.CPUs)
	}
	if _, ok := cfg.Env["HOME"]; !ok {
		args = append(args, "--env", "HOME=/tmp")
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.Env)) {
		args = append(args, "--env", k+"="+cfg.Env[k])
	}
	// A secret by name only: the CLI copies its value from its own
	// environment (runtimeEnv), so that it is on no command line.
	for _, k := range slices.Sorted(maps.Keys(cfg.Secrets)) {
		args = append(args, "--env", k)
	}
	if cfg.ModelCache != "" {
		args = append(args, "--mount", "type=bind,src="+cfg.ModelCache+",dst="+ModelMount+",readonly")
	}
	args = append(args, cfg.Image)
	return append(args, cfg.args()...), nil
}

// PullArgs fetches the image ahead of the launch, so that the download does
// not count against the ready timeout (ContainerArgs pulls a missing image
// itself otherwise).
func PullArgs(image string) []string { return []string{"pull", image} }

// StopArgs stops the container: SIGTERM, then SIGKILL after the grace
// period (in whole seconds, at least 1).
func StopArgs(c Config) []string {
	cfg := c.withDefaults()
	return []string{"stop", "--time", strconv.Itoa(graceSeconds(cfg.GracePeriod)), ContainerName(cfg.JobID)}
}

// KillArgs kills the container at once.
func KillArgs(jobID string) []string { return []string{"kill", ContainerName(jobID)} }

// RemoveArgs removes the container whatever its state.
func RemoveArgs(jobID string) []string { return []string{"rm", "--force", ContainerName(jobID)} }

// NetworkInspectArgs and NetworkCreateArgs check for and create the
// runner's bridge network: a user-defined bridge with inter-container
// traffic off. Its containers reach the outside only through the host's
// routing; the host must not serve NATS or S3 on addresses the bridge can
// reach (bind them to loopback or firewall the bridge), per the threat
// model.
func NetworkInspectArgs(name string) []string { return []string{"network", "inspect", name} }

// NetworkCreateArgs creates the runner's engine network (see
// NetworkInspectArgs).
func NetworkCreateArgs(runtime, name string) []string {
	if podman(runtime) {
		return []string{"network", "create", "--driver", "bridge", "--label", LabelJob + "=network", name}
	}
	return []string{"network", "create", "--driver", "bridge",
		"--opt", "com.docker.network.bridge.enable_icc=false",
		"--label", LabelJob + "=network", name}
}

func podman(runtime string) bool { return filepath.Base(runtime) == "podman" }

func graceSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// describe is a short form of the launch for logs.
func (c *Config) describe() string {
	if c.ProcessMode() {
		return fmt.Sprintf("process %s", c.Command[0])
	}
	return fmt.Sprintf("container %s (%s)", c.Image, c.withDefaults().Runtime)
}
