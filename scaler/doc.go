// Package scaler keeps each pool's runner capacity at its queue's demand:
// `agentwatt scaler` and `agentwatt local --autoscale`.
//
// Every interval it reads, per pool, the jobs waiting and running from the
// pool's JetStream consumer (queue.PoolDepth: pending and ack-pending) and
// the idle and busy runners from the fleet's liveness bucket, and decides
// (decide.go): desired = waiting + running within the pool's min and max;
// scale-out at once; scale-in only after demand has stayed below capacity
// for the cooldown, only of idle capacity, and not while a running job's
// runner is unknown. Busy runners' instances are protected from scale-in
// before any change. Every decision is logged with its inputs and exported
// as agentwatt_scaler_* metrics.
//
// Files:
//   - scaler.go: Config, Scaler (Run, Tick), protection of busy instances
//   - decide.go: the decision, a pure function of one observation
//   - backend.go: the Backend interface a pool's capacity sits behind
//   - aws.go: AWSGroup, an EC2 Auto Scaling group (aws-sdk-go-v2)
//   - processes.go: Processes, runner processes on this machine (local stack)
//   - config.go: the config file (YAML, strict, errors at file:line:col)
//   - metrics.go: the Prometheus metrics
package scaler
