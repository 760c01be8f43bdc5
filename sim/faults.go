package sim

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Faults are failures the sim injects on purpose, for testing clients,
// runners and verifiers. Rates are per-request probabilities in [0, 1],
// decided by a generator seeded from Config.Seed and the request's arrival
// number, so a seed and an arrival order give the same faults.
type Faults struct {
	// MidStreamErrorRate: after HTTP 200 and part of the output, the stream
	// gets data: {"error": …} and data: [DONE] (a non-streaming request gets
	// HTTP 500 instead).
	MidStreamErrorRate float64
	// ServerErrorRate: the request is answered HTTP 500 before any output.
	ServerErrorRate float64
	// StallRate and StallFor: the stream pauses StallFor once, mid-output,
	// while the engine keeps generating (the tokens then arrive in a burst).
	StallRate float64
	StallFor  time.Duration
	// CrashAfterRequests: when request N+1 arrives the engine "crashes":
	// every connection is cut, the server stops, and `sim serve` exits 3.
	CrashAfterRequests int
	// SlowStart: /health answers 503 (and chat requests 503) for this long
	// after the server is created.
	SlowStart time.Duration
	// IgnoreMinTokensRate: the engine ignores min_tokens and ignore_eos and
	// stops early, with finish_reason "stop", at a seeded length below
	// max_tokens.
	IgnoreMinTokensRate float64
	// EnergyResetAfter: the energy counters drop to zero once at this time
	// after start and count up from there.
	EnergyResetAfter time.Duration
	// PowerGapAfter and PowerGapFor: /sim/v1/power answers 503 during
	// [PowerGapAfter, PowerGapAfter+PowerGapFor), leaving a gap in samples.
	PowerGapAfter time.Duration
	PowerGapFor   time.Duration
}

// Validate checks the rates and durations; each error names the field.
func (f Faults) Validate() error {
	var errs []error
	rates := []struct {
		name string
		v    float64
	}{
		{"MidStreamErrorRate", f.MidStreamErrorRate},
		{"ServerErrorRate", f.ServerErrorRate},
		{"StallRate", f.StallRate},
		{"IgnoreMinTokensRate", f.IgnoreMinTokensRate},
	}
	for _, r := range rates {
		if math.IsNaN(r.v) || r.v < 0 || r.v > 1 {
			errs = append(errs, fmt.Errorf("%w: Faults.%s %g: want 0 to 1", ErrInvalidConfig, r.name, r.v))
		}
	}
	durs := []struct {
		name string
		v    time.Duration
	}{
		{"StallFor", f.StallFor}, {"SlowStart", f.SlowStart}, {"EnergyResetAfter", f.EnergyResetAfter},
		{"PowerGapAfter", f.PowerGapAfter}, {"PowerGapFor", f.PowerGapFor},
	}
	for _, d := range durs {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%w: Faults.%s %v: must not be negative", ErrInvalidConfig, d.name, d.v))
		}
	}
	if f.CrashAfterRequests < 0 {
		errs = append(errs, fmt.Errorf("%w: Faults.CrashAfterRequests %d: must not be negative", ErrInvalidConfig, f.CrashAfterRequests))
	}
	if f.StallRate > 0 && f.StallFor == 0 {
		errs = append(errs, fmt.Errorf("%w: Faults.StallFor: a stall rate needs a stall duration", ErrInvalidConfig))
	}
	return errors.Join(errs...)
}

// requestFaults is what the fault generator decided for one request.
// Positions are fractions of the output, resolved once its length is known.
type requestFaults struct {
	serverError     bool
	midStream       bool
	midStreamFrac   float64
	stall           bool
	stallFrac       float64
	ignoreMinTokens bool
	earlyFrac       float64 // where an early stop lands
}

// decide draws one request's faults. Every draw happens whatever the rates,
// so enabling one fault does not shift another's decisions.
func (f *Faults) decide(r *rng) requestFaults {
	var rf requestFaults
	rf.serverError = r.chance(f.ServerErrorRate)
	rf.midStream = r.chance(f.MidStreamErrorRate)
	rf.midStreamFrac = r.float()
	rf.stall = r.chance(f.StallRate)
	rf.stallFrac = r.float()
	rf.ignoreMinTokens = r.chance(f.IgnoreMinTokensRate)
	rf.earlyFrac = r.float()
	return rf
}

// position maps a fraction to a token index in [0, n).
func position(frac float64, n int) int {
	if n <= 1 {
		return 0
	}
	return min(int(frac*float64(n)), n-1)
}
