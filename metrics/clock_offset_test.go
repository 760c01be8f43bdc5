package metrics

import (
	"errors"
	"testing"
)

func TestClockRoundOffset(t *testing.T) {
	const s = int64(1e9)
	tests := []struct {
		name string
		r    ClockRound
		want ClockOffset
		err  bool
	}{
		{"same clock, symmetric", ClockRound{T1: 100, T2: 150, T3: 160, T4: 210}, ClockOffset{OffsetNs: 0, UncertaintyNs: 50, DelayNs: 100}, false},
		{"member 2 s ahead", ClockRound{T1: 0, T2: 2*s + 10, T3: 2*s + 20, T4: 30}, ClockOffset{OffsetNs: 2 * s, UncertaintyNs: 10, DelayNs: 20}, false},
		{"member 2 s behind", ClockRound{T1: 5 * s, T2: 3*s + 10, T3: 3*s + 20, T4: 5*s + 30}, ClockOffset{OffsetNs: -2 * s, UncertaintyNs: 10, DelayNs: 20}, false},
		{"asymmetric paths stay within uncertainty", ClockRound{T1: 0, T2: 90, T3: 90, T4: 100}, ClockOffset{OffsetNs: 40, UncertaintyNs: 50, DelayNs: 100}, false},
		{"odd delay rounds the uncertainty up", ClockRound{T1: 0, T2: 1, T3: 1, T4: 3}, ClockOffset{OffsetNs: -1, UncertaintyNs: 2, DelayNs: 3}, false},
		{"far-apart clocks do not overflow", ClockRound{T1: 10, T2: 1 << 62, T3: 1<<62 + 10, T4: 40}, ClockOffset{OffsetNs: 1<<62 - 20, UncertaintyNs: 10, DelayNs: 20}, false},
		{"leader clock backwards", ClockRound{T1: 10, T2: 0, T3: 0, T4: 5}, ClockOffset{}, true},
		{"member clock backwards", ClockRound{T1: 0, T2: 10, T3: 5, T4: 20}, ClockOffset{}, true},
		{"member slower than the round trip", ClockRound{T1: 0, T2: 0, T3: 100, T4: 10}, ClockOffset{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.r.Offset()
			if (err != nil) != tt.err {
				t.Fatalf("Offset() error = %v, want error %v", err, tt.err)
			}
			if got != tt.want {
				t.Errorf("Offset() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestBestClockOffsetKeepsSmallestDelay(t *testing.T) {
	rounds := []ClockRound{
		{T1: 0, T2: 700, T3: 710, T4: 1000},      // delay 990, offset 205
		{T1: 2000, T2: 2105, T3: 2110, T4: 2015}, // delay 10, offset 100
		{T1: 3000, T2: 0, T3: 0, T4: 2000},       // broken: skipped
		{T1: 4000, T2: 4150, T3: 4160, T4: 4110}, // delay 100, offset 100
	}
	got, err := BestClockOffset(rounds)
	if err != nil {
		t.Fatal(err)
	}
	if want := (ClockOffset{OffsetNs: 100, UncertaintyNs: 5, DelayNs: 10}); got != want {
		t.Errorf("BestClockOffset = %+v, want %+v", got, want)
	}
	if _, err := BestClockOffset(rounds[2:3]); !errors.Is(err, ErrNoClockRound) {
		t.Errorf("BestClockOffset(broken only) error = %v, want ErrNoClockRound", err)
	}
	if _, err := BestClockOffset(nil); !errors.Is(err, ErrNoClockRound) {
		t.Errorf("BestClockOffset(nil) error = %v, want ErrNoClockRound", err)
	}
}

func TestOffsetAt(t *testing.T) {
	pts := []ClockPoint{{AtNs: 100, OffsetNs: 1000}, {AtNs: 200, OffsetNs: 2000}, {AtNs: 300, OffsetNs: 2000}}
	tests := []struct {
		t, want int64
	}{{0, 1000}, {100, 1000}, {150, 1500}, {200, 2000}, {250, 2000}, {400, 2000}}
	for _, tt := range tests {
		if got, ok := OffsetAt(pts, tt.t); !ok || got != tt.want {
			t.Errorf("OffsetAt(%d) = %d, %v, want %d", tt.t, got, ok, tt.want)
		}
	}
	if _, ok := OffsetAt(nil, 5); ok {
		t.Error("OffsetAt(no points) ok, want not ok")
	}
}

func TestAlignSamples(t *testing.T) {
	const skew = int64(2e9)
	samples := []PowerSample{{GPU: 0, TMonoNs: skew + 10, PowerW: 1}, {GPU: 0, TMonoNs: skew + 20, PowerW: 2}}
	got := AlignSamples(samples, []ClockPoint{{AtNs: 0, OffsetNs: skew}, {AtNs: 100, OffsetNs: skew}})
	if got[0].TMonoNs != 10 || got[1].TMonoNs != 20 || got[1].PowerW != 2 {
		t.Errorf("AlignSamples = %+v, want times 10 and 20", got)
	}
	if samples[0].TMonoNs != skew+10 {
		t.Error("AlignSamples changed its input")
	}
}
