// Package engine owns the lifecycle of the engine under test on a runner:
// launch, health wait, crash detection, stop, and the reaping of what a dead
// runner left behind.
//
// # Modes
//
// Process mode (Config.Command) is for the sim and for operators' own
// trusted engines: the program runs with the spec's args ("{port}"
// replaced) and an environment of only the runner's PATH and the spec's env.
// Container mode (Config.Image) runs the vendor's untrusted engine through
// the docker or podman CLI, with the isolation DESIGN.md's threat model asks
// for; ContainerArgs is the pure function that builds that command line, and
// its tests are the specification of what the container may see.
//
// # Lifecycle
//
// Start launches the engine in its own process group (Setpgid) with a
// parent-death signal, its stdout and stderr in Config.LogPath, and its CPU
// affinity set to Config.CPUs: the launching goroutine locks its OS thread,
// narrows that thread's affinity, forks, and restores it, so the child (which
// inherits the forking thread's mask) runs on the engine's CPUs from its
// first instruction, without taskset and without a window in which engine
// threads could start elsewhere. WaitReady polls Config.HealthPath until it
// answers 200 within Config.ReadyTimeout; a failure is a *ReadyError with
// the last answer and the log's tail. Done and Err report a crash mid-run.
// Stop sends SIGTERM to the group (docker stop for a container), SIGKILL
// after the grace period, and returns once no process of the group is left.
//
// # Orphans
//
// The parent-death signal kills the group leader when the runner dies, but
// not the leader's children, and not a container. With Config.StateDir,
// Start records each group (leader pid, start time, command line, and a
// random mark placed in the engine's environment); ReapOrphans, called when
// the runner starts, kills every recorded group that is still the engine's —
// checked through /proc: the leader's start time and command line, or a
// member carrying the mark — and force-removes recorded containers. A
// process that leaves its group (setsid) escapes this: process mode is for
// trusted engines only.
package engine
