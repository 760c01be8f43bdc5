// Package queue owns agentwatt's durable job queue on NATS JetStream: the
// streams and their consumers, job records and the state machine in a KV
// bucket, job leases, the events stream, dead letters, the pool and name
// rules every job carries (ValidPool, ValidName), the connection (Connect)
// and the embedded NATS server used by `agentwatt local`.
//
// Beside it, on the same connection (Queue.JetStream), each with its own
// buckets: package accounts (vendors, maintainers and their API tokens) and
// package fleet (enrolled runner keys, runner liveness). They import the
// queue for its pool and name rules; the queue imports neither.
//
// The contract (DESIGN.md, "Queue contract"):
//
//   - Stream AGENTWATT_JOBS (work queue) carries one message per dispatch on
//     agentwatt.jobs.<pool>; one durable pull consumer per pool is created the
//     first time a worker or an enqueue needs it. A runner takes one job at a
//     time (Worker.Next, Fetch(1)) and heartbeats it with InProgress every
//     HeartbeatEvery for as long as it runs.
//   - The job record in KV is the source of truth. Every change is a
//     compare-and-set Update on the record's revision and goes through one
//     transition table (state.go). The attempt number fences stale runners:
//     the server accepts late acks, so a lease acks only after a fenced
//     transition on the record succeeded.
//   - The job id is derived from the spec digest and the trigger (JobID), so an
//     identical resubmission finds the same record (kv.Create) and the stream
//     drops the duplicate publish (Nats-Msg-Id = job id).
//   - Messages that exhaust MaxDeliver stay in a work-queue stream. The
//     MAX_DELIVERIES and MSG_TERMINATED advisories are captured in the stream
//     AGENTWATT_ADVISORIES, so none is lost while no watcher runs; DeadLetters
//     marks the job failed, copies the message to AGENTWATT_DEAD and deletes it
//     from the work queue.
//   - The server redelivers a message, and advises MAX_DELIVERIES, only
//     while some runner pulls. So a lease also keeps a key <job>.<attempt>
//     in the bucket agentwatt-leases (TTL AckWait) fresh with its heartbeat,
//     and the Sweeper (sweeper.go, run by the servers) gives a running job
//     whose key expired back to its pool, or fails it as a dead letter when
//     its deliveries are spent, with no runner polling.
//   - AGENTWATT_VERIFY (work queue) carries verify requests; AGENTWATT_EVENTS
//     (limits retention, agentwatt.events.<job>) carries state changes,
//     progress and log lines that `agentwatt status -f` and the bots follow.
//
// The same code runs against the embedded server (StartEmbedded) and against
// external servers or a cluster (Connect); Config.Replicas selects R1 or R3.
//
// Files:
//
//   - queue.go: stream, subject and bucket names, Config, Open, consumers.
//   - job.go: Job, NewJob, Filter, JobID, the pool and name rules, apply
//     (the one place a record's state changes).
//   - state.go: State and the transition table.
//   - records.go: Get, List, the compare-and-set update, Transition,
//     WatchJob.
//   - resolve.go: Resolve: a job id from a unique prefix of at least
//     MinPrefixLen hex digits, as git and docker take them.
//   - enqueue.go: Enqueue, Cancel, Retry, Release.
//   - worker.go: WorkerConfig, Worker, Next: taking a job (claim).
//   - depth.go: PoolDepth, a pool consumer's pending and ack-pending
//     counts, read-only (the scaler's demand).
//   - lease.go: Lease: a runner's attempt, its lease key and its end
//     (Complete, Fail, Release, AckCanceled, Abandon).
//   - heartbeat.go: InProgress every HeartbeatEvery for a held message.
//   - sweeper.go: Sweeper, the daemon that gives lost leases back.
//   - deadletter.go: DeadLetters, the daemon that fails dead-lettered jobs.
//   - verify.go: VerifyRequest, RequestVerify, NextVerify, VerifyLease.
//   - events.go: Event, PublishEvent, FollowEvents.
//   - connect.go: Connect to external servers (reconnect with backoff).
//   - embedded.go: StartEmbedded, the in-process server.
//   - errors.go: sentinel and typed errors.
package queue
