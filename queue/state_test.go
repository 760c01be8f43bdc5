package queue

import (
	"errors"
	"testing"
	"time"
)

// contract is DESIGN.md's transition list written out independently of the
// table in state.go (plus the two edges documented there).
var contract = [][2]State{
	{Held, Queued}, {Held, Canceled},
	{Queued, Running}, {Queued, Canceling}, {Queued, Failed},
	{Running, Queued}, {Running, Uploaded}, {Running, Failed}, {Running, Canceling},
	{Uploaded, Verifying},
	{Verifying, Verified}, {Verifying, Rejected},
	{Verified, Published},
	{Canceling, Canceled},
}

func TestTransitionTableAllowsTheContract(t *testing.T) {
	for _, tr := range contract {
		if got := CanTransition(tr[0], tr[1]); !got {
			t.Errorf("CanTransition(%s, %s) = false, want true", tr[0], tr[1])
		}
	}
	// Nothing beyond the contract: count every allowed pair.
	allowed := 0
	for _, from := range States() {
		for _, to := range States() {
			if CanTransition(from, to) {
				allowed++
			}
		}
	}
	if allowed != len(contract) {
		t.Errorf("table allows %d transitions, contract lists %d", allowed, len(contract))
	}
}

func TestTransitionTableRefuses(t *testing.T) {
	tests := []struct {
		name     string
		from, to State
	}{
		{"failed is final; retry makes a new job", Failed, Queued},
		{"canceled is final", Canceled, Queued},
		{"held cannot run before release", Held, Running},
		{"queued cannot skip running", Queued, Uploaded},
		{"uploaded is past cancel", Uploaded, Canceling},
		{"verifying cannot fail", Verifying, Failed},
		{"rejected cannot be published", Rejected, Published},
		{"verified cannot go back", Verified, Verifying},
		{"published is final", Published, Queued},
		{"canceling cannot resume", Canceling, Running},
		{"canceling cannot fail", Canceling, Failed},
		{"no self loops", Running, Running},
		{"unknown state", State("bogus"), Queued},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CanTransition(tt.from, tt.to); got {
				t.Errorf("CanTransition(%s, %s) = true, want false", tt.from, tt.to)
			}
			j := &Job{ID: "x", State: tt.from}
			err := j.apply(tt.to, "test", "", time.Now())
			var te *TransitionError
			if !errors.Is(err, ErrBadTransition) || !errors.As(err, &te) || te.From != tt.from || te.To != tt.to {
				t.Errorf("apply: got %v, want a TransitionError %s → %s", err, tt.from, tt.to)
			}
			if j.State != tt.from || len(j.History) != 0 {
				t.Errorf("refused apply changed the job: state %s, history %v", j.State, j.History)
			}
		})
	}
}

func TestStateHelpers(t *testing.T) {
	terminal := map[State]bool{Verified: true, Rejected: true, Published: true, Failed: true, Canceled: true}
	for _, s := range States() {
		if got, want := s.Terminal(), terminal[s]; got != want {
			t.Errorf("%s.Terminal() = %v, want %v", s, got, want)
		}
		got, err := ParseState(string(s))
		if err != nil || got != s {
			t.Errorf("ParseState(%q) = %q, %v", s, got, err)
		}
	}
	if _, err := ParseState("runing"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParseState(runing): got %v, want ErrInvalid", err)
	}
	if got := Running.Next(); len(got) != 4 {
		t.Errorf("Running.Next() = %v, want 4 states", got)
	}
}

func TestJobID(t *testing.T) {
	a := JobID("sha256:aa", "submit:1")
	tests := []struct {
		name string
		got  string
		same bool
	}{
		{"same inputs", JobID("sha256:aa", "submit:1"), true},
		{"other trigger", JobID("sha256:aa", "submit:2"), false},
		{"other digest", JobID("sha256:ab", "submit:1"), false},
		{"no ambiguity across the separator", JobID("sha256:aasubmit:", "1"), false},
	}
	for _, tt := range tests {
		if (tt.got == a) != tt.same {
			t.Errorf("%s: JobID = %s vs %s, want same=%v", tt.name, tt.got, a, tt.same)
		}
	}
	if err := checkJobID(a); err != nil {
		t.Errorf("JobID output fails checkJobID: %v", err)
	}
}
