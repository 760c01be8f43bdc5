// Package agentrunner is the runner daemon: it takes one job at a time from
// its pool's queue, runs the whole benchmark on its node and leaves a signed,
// complete bundle in object storage.
//
// A job's life is Runner.runJob (job.go), read top to bottom: ordered
// phases, each a function that takes what earlier phases produced and
// returns its own result into one measured record, each publishing a
// progress event: preflight → workload → engine launch and health → idle
// baseline (the two swap on a GPU node: jobPlan) → accuracy (client CPUs
// pinned, the load prepared, the questions asked) → capacity search (or a
// fixed N) with the power sampler running → engine stop → bundle → seal →
// upload → Complete. Early exits end the job by what caused them, in one
// switch (finish.go): a failure (Fail, with the engine log uploaded in an
// incomplete bundle), a cancel (an incomplete bundle of what was measured,
// then AckCanceled), a runner shutdown (the same bundle spooled, then
// Release) or a lost lease (the attempt was fenced: its spool is removed,
// nothing is uploaded).
//
// Files: job.go (jobRun, measured, runJob, measure), phase.go (running a
// phase, phaseError), errors.go (sentinels, the interruption causes),
// plan.go (jobPlan: the sim/GPU difference), preflight.go, workload.go,
// launch.go, roles.go (an engine's role replicas on this node, an external
// deployment), baseline.go, affinity.go, load.go, accuracy.go, search.go (one
// phase or part of one each), progress.go (live metrics and events during
// the load), enginescrape.go (the engine's /metrics at each window mark,
// scraped off the probe loop), seal.go (the bundle from measured), finish.go (the end
// switch), upload.go and spool.go (bundles to the store), runner.go
// (Config, Runner.Run, the ephemeral modes Once and IdleExit and why Run
// returns), events.go, metrics.go, keyfile.go, hide.go,
// workdir.go; a runner group's: group.go (GroupConfig, joining, leading,
// the group's job loop), groupleader.go (the leader's side of a job:
// parts, clock offsets, the members' power and members.json),
// groupmember.go (a member's part and its power), grouppower.go (power
// files handed over through a JetStream object store).
//
// In a runner group (Config.Group) every member joins and campaigns; the
// leader takes the group's pool's jobs, while all members are alive, and
// runs them as above with the members' parts, clocks and power files; a
// group that breaks under a job (a member gone, the lease lost) releases
// it and uploads nothing.
//
// A job's spec is hostile input even inside the queue: preflight.go decodes
// it strictly and validates it again, so a record that names a program
// (engine.command) never runs. The engine is launched by the runner: a
// container from the spec's pinned image, or the runner's own sim for the
// spec's sim_profile (or one container per role replica, each with its own
// GPUs on a network of the job's own), run apart from the runner (package engine: its own
// directory and environment, no inherited descriptors, the engine user);
// the runner is non-dumpable (hide.go) and refuses a key it does not own
// (keyfile.go). Secrets the spec names are read from the runner's
// SecretStore at launch and masked in the engine log. An external
// deployment (the operator's engine) is driven at the runner's own
// Config.ExternalEndpoint, never at an address from the job.
//
// Bundles are built in the spool (WORK/spool/runs/<job>/<attempt>/) and
// uploaded from there, manifest.dsse.json last (upload.go). A bundle whose
// upload fails stays spooled; the spool scanner (spool.go) retries it while
// the runner runs and after a restart, and removes bundles of attempts that
// the queue has fenced.
//
// Collaborators: package queue (lease, events, registration), engine
// (process or container lifecycle), power (sampler), replay (the load and the
// capacity search), accuracy (the accuracy phase), bundle (writing and
// sealing), blob (upload) and workload (resolving the job's workload).
package agentrunner
