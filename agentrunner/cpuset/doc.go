// Package cpuset restricts the runner's own process to a set of CPUs: the
// load generator's CPUs (`agentwatt runner --client-cpus`), kept apart from
// the engine's (--engine-cpus, applied by package engine to the engine's
// process).
//
// Linux CPU affinity belongs to each thread, not to the process, and a new
// thread inherits the mask of the thread that creates it. Go multiplexes
// goroutines over threads it creates as it needs them, so no goroutine — the
// load generator's included — can be kept on given CPUs unless every thread
// of the process is. Pin therefore sets the mask of every thread listed in
// /proc/self/task (listing again until no new thread appears, so that a
// thread created meanwhile is not missed), and every thread created
// afterwards inherits it. Restore puts every thread back on the CPUs the
// process had before. Check reads every thread's mask back: the bundle
// records what was applied, not what was asked for.
//
// One Pinning exists per process at a time (a second Pin fails with
// ErrPinned): two runners in one process cannot each own the process's
// threads, and everything else in the process (an in-process NATS server
// or S3 gateway under `agentwatt local`) is pinned with them. Pin also sets
// GOMAXPROCS to the pinned CPUs' count and Restore gives the runtime its
// default back (or the GOMAXPROCS environment variable's value); the Report
// records it beside the CPUs.
//
// Only Linux has this; elsewhere every function returns ErrUnsupported.
package cpuset
