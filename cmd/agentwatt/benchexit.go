package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/agentwatt/agentwatt/agentrunner/replay"
)

// bench's exit statuses beyond 0 (every tier passed: an N_max for each, or
// the fixed N held).
const (
	exitBenchFailed  = 1 // a tier failed: a valid, conclusive window did not pass it
	exitBenchInvalid = 3 // the measurement is invalid: the client was unhealthy or windows could not be measured
)

// benchExit turns a run's outcome into bench's exit status: 3 when the run
// ended because windows could not be measured (an unhealthy client,
// inconclusive windows) or a tier has no N_max and no valid, conclusive
// window failed it (its only failures were invalid probes); 1 when a tier
// has no N_max and a measured window failed it; else 0. An interrupt stays
// an interrupt.
func benchExit(s *replay.Summary, runErr error) error {
	if errors.Is(runErr, context.Canceled) {
		return runErr
	}
	if errors.Is(runErr, replay.ErrClientUnhealthy) || errors.Is(runErr, replay.ErrMeasurementInvalid) || errors.Is(runErr, replay.ErrInconclusive) {
		return &exitError{code: exitBenchInvalid, err: fmt.Errorf("measurement invalid: %w", runErr)}
	}
	if runErr != nil {
		return runErr
	}
	var failed, invalid []string
	ids := make([]string, 0, len(s.Tiers))
	for id := range s.Tiers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		t := s.Tiers[id]
		if t.MaxAgents > 0 {
			continue
		}
		measuredFail, invalidProbes := false, []string{}
		for _, p := range s.Probes {
			switch {
			case !p.Valid:
				invalidProbes = append(invalidProbes, fmt.Sprintf("probe %d: %s", p.Index, strings.Join(p.InvalidReasons, "; ")))
			case p.Conclusive && !p.Tiers[id].Passed:
				measuredFail = true
			}
		}
		switch {
		case measuredFail:
			failed = append(failed, fmt.Sprintf("%s: %s", id, t.Reason))
		case len(invalidProbes) > 0:
			invalid = append(invalid, fmt.Sprintf("%s: no valid window (%s)", id, strings.Join(invalidProbes, "; ")))
		default:
			invalid = append(invalid, fmt.Sprintf("%s: no window measured (%s)", id, t.Reason))
		}
	}
	switch {
	case len(invalid) > 0:
		return &exitError{code: exitBenchInvalid, err: fmt.Errorf("measurement invalid: %s", esc(strings.Join(invalid, "; ")))}
	case len(failed) > 0:
		return &exitError{code: exitBenchFailed, err: fmt.Errorf("tier failed: %s", esc(strings.Join(failed, "; ")))}
	}
	return nil
}
