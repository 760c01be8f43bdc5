// Package group owns runner groups: several runners, one per host of a
// rack or multi-node system, that measure one system together. It keeps
// on NATS (the queue's JetStream connection, its own buckets):
//
//   - the group's declaration (Define): its name and its expected size,
//     in the bucket agentwatt-groups, with the fenced group state
//     (State, Leadership.PutState);
//   - each member's liveness entry (Join): host, accelerator, GPUs,
//     inventory, refreshed more often than the bucket's TTL like
//     fleet.Register, in agentwatt-group-members under <group>.<member>;
//   - the leader lease (TryLead, Campaign): one key per group in
//     agentwatt-group-leaders (TTL), created by the member that leads and
//     refreshed by compare-and-set. Its term is the key's revision when it
//     was created: the bucket's revisions only grow, so a later leader's
//     term is always higher. A leader whose refresh finds the key gone or
//     changed, or that could not refresh for a whole TTL, has lost the
//     lease: Lost is closed and every write it makes after that is refused
//     (ErrFenced); the group state refuses a lower term than it holds.
//
// Pool is the pool a group offers: "<accelerator>x<Σ GPUs>" (4 members ×
// 18 gb300 = gb300x72), and only while exactly the declared number of
// members is alive; otherwise ErrIncomplete, and the leader takes no job.
//
// Leader and members talk by NATS request/reply on subjects under
// agentwatt.group.<group>. (messages.go): the leader assigns each member
// its part (Assign), members report readiness (Membership.Ready,
// Leadership.WaitReady), the leader tears down (Teardown), and the leader
// measures each member's clock (MeasureClock: NTP-style rounds, the one
// with the smallest delay kept, metrics.BestClockOffset). A member accepts
// an assignment or teardown only under the current leader's term, and
// tears its part down itself when that leader's lease is gone.
//
// Files:
//
//   - group.go: Config, Open, the buckets, Define, names.
//   - member.go: Member, Join, Membership (refresh, leader watch, Leave).
//   - pool.go: Members, Pool.
//   - leader.go: Leadership, TryLead, Campaign, the lease refresh, Pool
//     (the leader's gate before each job), State and PutState.
//   - messages.go: subjects, Assignment, Teardown, Readiness, the
//     member's handlers and the leader's requests.
//   - clock.go: MeasureClock.
//   - errors.go: sentinel errors.
package group
