package queue

import (
	"fmt"
	"slices"
)

// State is where a job is in its life. The transition table below is the only
// definition of which changes are allowed; every change to a job record goes
// through CanTransition.
type State string

// The job states, in the order a job normally passes through them.
const (
	Held      State = "held"      // accepted, waits for a maintainer to release it
	Queued    State = "queued"    // a message for it is in AGENTWATT_JOBS
	Running   State = "running"   // a runner holds the lease of the current attempt
	Uploaded  State = "uploaded"  // the attempt's bundle is in object storage; verify requested
	Verifying State = "verifying" // a verifier is recomputing the bundle
	Verified  State = "verified"  // the verifier accepted it; awaits approval
	Rejected  State = "rejected"  // the verifier refused it
	Published State = "published" // approved and on the leaderboard
	Failed    State = "failed"    // the run failed, or its message was dead-lettered
	Canceling State = "canceling" // cancel requested; the runner stops, then acks
	Canceled  State = "canceled"  // stopped on request
)

// transitions is the one state table (DESIGN.md "Queue contract"), plus two
// edges the contract implies: queued → failed (a queued job's message was
// dead-lettered, e.g. released past MaxDeliver) and held → canceled (a held
// submission is withdrawn; there is nothing to stop). failed and canceled have
// no way out: Retry creates a new job under a new trigger.
var transitions = map[State][]State{
	Held:      {Queued, Canceled},
	Queued:    {Running, Canceling, Failed},
	Running:   {Queued, Uploaded, Failed, Canceling},
	Uploaded:  {Verifying},
	Verifying: {Verified, Rejected},
	Verified:  {Published},
	Canceling: {Canceled},
}

// States lists every state in lifecycle order.
func States() []State {
	return []State{Held, Queued, Running, Uploaded, Verifying, Verified, Rejected, Published, Failed, Canceling, Canceled}
}

// ParseState returns the state named s, or an error naming the valid ones.
func ParseState(s string) (State, error) {
	st := State(s)
	if slices.Contains(States(), st) {
		return st, nil
	}
	return "", invalidf("state %q: want one of %v", s, States())
}

// CanTransition reports whether the table allows from → to.
func CanTransition(from, to State) bool {
	return slices.Contains(transitions[from], to)
}

// Next lists the states the table allows after s.
func (s State) Next() []State { return slices.Clone(transitions[s]) }

// Terminal reports whether the pipeline has finished with a job in state s:
// rejected, published, failed and canceled have no way out, and verified waits
// only for a maintainer's approval. `agentwatt status -f` stops here.
func (s State) Terminal() bool {
	switch s {
	case Verified, Rejected, Published, Failed, Canceled:
		return true
	}
	return false
}

func (s State) String() string { return string(s) }

func checkTransition(job string, from, to State) error {
	if !CanTransition(from, to) {
		return &TransitionError{Job: job, From: from, To: to}
	}
	return nil
}

var _ fmt.Stringer = State("")
