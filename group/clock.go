package group

import (
	"context"
	"errors"
	"fmt"

	"github.com/agentwatt/agentwatt/metrics"
)

// ClockMeasurement is a member's clock against the leader's: the round
// with the smallest delay of Rounds (metrics.BestClockOffset), taken at
// leader time AtNs (the middle of that round).
type ClockMeasurement struct {
	Member string
	AtNs   int64
	metrics.ClockOffset
	Rounds int
}

// MeasureClock runs rounds NTP-style exchanges with member (T1 and T4 on
// this process's Config.Clock, T2 and T3 on the member's) and keeps the
// one with the smallest delay. The leader calls it at the start and end
// of every window.
func (l *Leadership) MeasureClock(ctx context.Context, member string, rounds int) (ClockMeasurement, error) {
	if err := checkName("member", member); err != nil {
		return ClockMeasurement{}, err
	}
	if rounds < 1 {
		return ClockMeasurement{}, invalidf("clock rounds %d: want at least 1", rounds)
	}
	clock := l.g.cfg.Clock
	var got []metrics.ClockRound
	var errs []error
	for range rounds {
		t1 := clock()
		r, err := l.g.request(ctx, memberSubject(l.group, member, "clock"), struct{}{})
		t4 := clock()
		if err != nil {
			if ctx.Err() != nil {
				return ClockMeasurement{}, ctx.Err()
			}
			errs = append(errs, err)
			continue
		}
		got = append(got, metrics.ClockRound{T1: t1, T2: r.T2, T3: r.T3, T4: t4})
	}
	best, err := metrics.BestClockOffset(got)
	if err != nil {
		return ClockMeasurement{}, fmt.Errorf("group %s: clock of %s: %w", l.group, member, errors.Join(append(errs, err)...))
	}
	m := ClockMeasurement{Member: member, ClockOffset: best, Rounds: len(got)}
	for _, r := range got {
		if o, err := r.Offset(); err == nil && o == best {
			m.AtNs = r.T1/2 + r.T4/2
			break
		}
	}
	return m, nil
}
