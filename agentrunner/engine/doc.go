// Package engine owns the lifecycle of the engine under test on a runner:
// launch, health wait, crash detection, stop, and the reaping of what a dead
// runner left behind.
//
// # Modes
//
// Process mode (Config.Command) is for the runner's own sim and, later,
// engines an operator configures on the runner; a submission never sets the
// command (FromSpec leaves it empty). The program still runs apart from the
// runner, since whatever it serves talks to hostile input: in a directory of
// its own (Config.Dir or one MakeDir makes: cwd, HOME and TMPDIR), with an
// environment of only PATH, LANG, LC_ALL, TZ, the spec's env and the secrets
// (env.go), no descriptor beyond stdin, stdout and stderr (fds.go sets
// close-on-exec on those the runner inherited), and as Config.User (user.go:
// nobody when the runner is root), which cannot read the runner's 0600 key
// or /proc/<runner>/environ. ExecutableFor gives that user a path to the
// runner's binary when the binary's own directory is closed to it.
// Container mode (Config.Image) runs the vendor's untrusted engine through
// the docker or podman CLI, with the isolation DESIGN.md's threat model asks
// for; ContainerArgs is the pure function that builds that command line, and
// its tests are the specification of what the container may see.
//
// # Role replicas
//
// An engine with roles (spec engine.roles: a frontend and its prefill and
// decode workers) is one container per replica, each a Config from
// FromRole: its own name (ReplicaContainerName) and GPUs (--gpus
// "device=…"), on the job's own network (JobNetwork, inter-container
// traffic on, JobNetworkCreateArgs), where it is reached by its replica
// name (prefill-0). Only the frontend's port is published, on loopback;
// {port}, {rank}, {nnodes} and {leader_addr} are filled per replica (and
// per host part of a replica that spans hosts) in one pass.
//
// # Secrets
//
// Config.Secrets holds the values of the secrets a job names (a SecretDir
// resolves them). They reach the engine's environment and nothing else: a
// container gets them by name (--env NAME, the value in the CLI's own
// environment, never on a command line or in the state record); LogTail
// and MaskLog replace their values in the engine's log (mask.go).
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
// member carrying the mark — and force-removes recorded containers (and,
// with a role replica's last container, its job network). A
// process that leaves its group (setsid) escapes this: process mode is for
// trusted engines only.
package engine
