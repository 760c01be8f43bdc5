package scaler

import "time"

// Observation is what one tick saw of a pool: its queue, its runners and
// its back-end.
type Observation struct {
	Waiting, Running int // the pool consumer's pending and ack-pending counts
	Idle, Busy       int // live runners of the pool without and with a job
	Actual           int // the back-end's desired capacity now
}

// Action is what a decision does to the back-end.
type Action string

const (
	ActionHold     Action = "hold"      // nothing to change
	ActionScaleOut Action = "scale_out" // immediate
	ActionScaleIn  Action = "scale_in"  // after the cooldown, idle capacity only
	ActionCooldown Action = "cooldown"  // scale-in wanted, cooldown running
	ActionWait     Action = "wait"      // scale-in wanted, but a running job is on no known runner
)

// Decision is a tick's outcome for a pool.
type Decision struct {
	Desired int    // waiting + running within the pool's bounds
	Target  int    // the capacity to set (Actual on hold)
	Action  Action //
	Why     string // for the log
}

// decide computes a pool's capacity. Scale-out is immediate; scale-in
// happens once demand has been below the capacity for the cooldown
// (belowSince is when that began, zero if it has not), and never below the
// busy runners: only idle capacity goes. While more jobs run than busy
// runners are known (a runner's liveness entry not yet refreshed), it does
// not scale in at all: the job's host cannot be told apart.
func decide(o Observation, minN, maxN int, belowSince, now time.Time, cooldown time.Duration) Decision {
	desired := clamp(o.Waiting+o.Running, minN, maxN)
	d := Decision{Desired: desired, Target: o.Actual, Action: ActionHold}
	switch {
	case desired > o.Actual:
		d.Target, d.Action, d.Why = desired, ActionScaleOut, "demand above capacity"
	case desired == o.Actual:
		d.Why = "capacity matches demand"
	case o.Running > o.Busy:
		d.Action, d.Why = ActionWait, "a running job's runner is not known yet; no scale-in until it is"
	case belowSince.IsZero() || now.Sub(belowSince) < cooldown:
		d.Action, d.Why = ActionCooldown, "demand below capacity; waiting out the cooldown"
	default:
		t := max(desired, o.Busy, minN)
		if t >= o.Actual {
			d.Why = "every instance above demand is busy"
			return d
		}
		d.Target, d.Action, d.Why = t, ActionScaleIn, "demand below capacity for the cooldown; removing idle capacity"
	}
	return d
}

func clamp(n, lo, hi int) int {
	if n < lo {
		n = lo
	}
	if hi > 0 && n > hi {
		n = hi
	}
	return n
}
