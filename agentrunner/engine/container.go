package engine

import (
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
// passed (the runner owns the whole node for the job), or, for a role
// replica, its own GPUs only; a replica's port is published only for the
// frontend, and its name is its alias on the job's network.
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
		"--name", cfg.containerName(),
		"--label", LabelJob + "=" + cfg.JobID,
		"--pull", "missing",
	}
	if !cfg.NoGPUs {
		args = append(args, gpuArgs(cfg.Runtime, cfg.GPUs)...)
	}
	args = append(args, "--network", cfg.Network)
	if cfg.Replica != "" {
		args = append(args, "--network-alias", cfg.Replica)
	}
	if !cfg.Unpublished {
		args = append(args, "--publish", "127.0.0.1:"+port+":"+port)
	}
	args = append(args,
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

// gpuArgs passes all GPUs, or the devices listed. docker reads --gpus as
// CSV, so a list of devices is quoted: "device=0,1".
func gpuArgs(runtime string, gpus []int) []string {
	if podman(runtime) {
		if gpus == nil {
			return []string{"--device", "nvidia.com/gpu=all"}
		}
		var out []string
		for _, g := range gpus {
			out = append(out, "--device", "nvidia.com/gpu="+strconv.Itoa(g))
		}
		return out
	}
	if gpus == nil {
		return []string{"--gpus", "all"}
	}
	ids := make([]string, len(gpus))
	for i, g := range gpus {
		ids[i] = strconv.Itoa(g)
	}
	return []string{"--gpus", `"device=` + strings.Join(ids, ",") + `"`}
}

// PullArgs fetches the image ahead of the launch, so that the download does
// not count against the ready timeout (ContainerArgs pulls a missing image
// itself otherwise).
func PullArgs(image string) []string { return []string{"pull", image} }

// StopArgs stops the container: SIGTERM, then SIGKILL after the grace
// period (in whole seconds, at least 1).
func StopArgs(c Config) []string {
	cfg := c.withDefaults()
	return []string{"stop", "--time", strconv.Itoa(graceSeconds(cfg.GracePeriod)), cfg.containerName()}
}

// KillArgs kills the named container at once.
func KillArgs(container string) []string { return []string{"kill", container} }

// RemoveArgs removes the named container whatever its state.
func RemoveArgs(container string) []string { return []string{"rm", "--force", container} }

// JobNetworkCreateArgs creates a job's own network (JobNetwork) for an
// engine of several containers: a bridge with inter-container traffic on,
// so that the replicas reach one another, and no other job's container on
// it. Like the runner's network, the host must not serve NATS or S3 where
// the bridge can reach.
func JobNetworkCreateArgs(jobID string) []string {
	return []string{"network", "create", "--driver", "bridge",
		"--label", LabelJob + "=" + jobID, JobNetwork(jobID)}
}

// NetworkRemoveArgs removes a network.
func NetworkRemoveArgs(name string) []string { return []string{"network", "rm", name} }

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
