package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/vbauerster/mpb/v8"

	"github.com/agentwatt/agentwatt/agentrunner/replay"
)

// benchSnapshot is a search in t20's window with t50 waiting and t100 done.
func benchSnapshot() replay.Progress {
	return replay.Progress{
		Probe: 3, Phase: "window", Agents: 16, InFlight: 15, Requests: 140, MinRequests: 100,
		WindowElapsed: 12 * time.Second, WindowMin: 30 * time.Second, WindowMax: 90 * time.Second,
		Tiers: []replay.TierProgress{
			{Tier: "t20", State: "searching", Lo: 8, Hi: 12, PassShare: 0.973},
			{Tier: "t50", State: "waiting", Hi: 12},
			{Tier: "t100", State: "done", MaxAgents: 4, Confirmed: true},
		},
		ProbesDone: 3, Elapsed: 97 * time.Second, ETA: 154 * time.Second, ETAReason: "probes take 40s, not 30s",
	}
}

func TestBenchProgressTierLines(t *testing.T) {
	tests := []struct {
		tier replay.TierProgress
		want string
	}{
		{replay.TierProgress{Tier: "t20", State: "searching", Lo: 8, Hi: 12, PassShare: 0.973}, "t20: 8 ≤ N_max < 12 searching pass 97.3%"},
		{replay.TierProgress{Tier: "t20", State: "searching", Lo: 8}, "t20: N_max ≥ 8 searching pass 0.0%"},
		{replay.TierProgress{Tier: "t50", State: "waiting"}, "t50: N_max unknown waiting"},
		{replay.TierProgress{Tier: "t50", State: "confirming", Lo: 10, Hi: 11, PassShare: 1}, "t50: 10 ≤ N_max < 11 confirming pass 100.0%"},
		{replay.TierProgress{Tier: "t100", State: "done", MaxAgents: 4, Confirmed: true}, "t100: N_max = 4 (confirmed) done"},
		{replay.TierProgress{Tier: "t100", State: "done", MaxAgents: 4}, "t100: N_max = 4 (unconfirmed) done"},
	}
	for _, tc := range tests {
		if got := tierText(tc.tier); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

// TestBenchProgressPlainLines: off a terminal, one plain line per phase
// change and one every plainEvery otherwise, with every tier and the ETA.
func TestBenchProgressPlainLines(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	p := &lineProgress{w: &buf, l: zerolog.Nop(), every: 15 * time.Second, now: func() time.Time { return now }}
	s := benchSnapshot()
	p.show(s)
	now = now.Add(5 * time.Second)
	p.show(s) // same phase, too soon: nothing
	now = now.Add(11 * time.Second)
	p.show(s) // 16 s later: repeated
	s.Phase = "drain"
	p.show(s) // a new phase at once
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), buf.String())
	}
	want := "progress: probe 3 window N=16 12s/30s requests 140/100 in-flight 15" +
		" | t20: 8 ≤ N_max < 12 searching pass 97.3% | t50: 0 ≤ N_max < 12 waiting | t100: N_max = 4 (confirmed) done" +
		" | 3 probes in 1m37s, ETA 2m34s (up: probes take 40s, not 30s)"
	if lines[0] != want {
		t.Errorf("line\n%s\nwant\n%s", lines[0], want)
	}
	if !strings.HasPrefix(lines[2], "progress: probe 3 drain N=16 in-flight 15 |") {
		t.Errorf("drain line %q", lines[2])
	}
	for _, l := range lines {
		if strings.ContainsAny(l, "\r\033") {
			t.Errorf("control characters in a plain line: %q", l)
		}
	}
}

// TestBenchProgressLogsAboveBars: on a terminal, a log line written while
// the bars run comes out whole, on its own line, not inside a bar's line.
func TestBenchProgressLogsAboveBars(t *testing.T) {
	var buf bytes.Buffer
	tp := newTermProgress(&buf, zerolog.InfoLevel, mpb.ForceTTY(), mpb.WithAutoRefresh(), mpb.WithWidth(200), mpb.WithRefreshRate(10*time.Millisecond))
	tp.show(benchSnapshot())
	time.Sleep(50 * time.Millisecond)
	log := tp.log()
	log.Info().Int("probe", 3).Msg("probe evaluated")
	time.Sleep(50 * time.Millisecond)
	tp.done()
	out := buf.String()
	found := false
	for _, l := range strings.Split(out, "\n") {
		if !strings.Contains(l, "probe evaluated") {
			continue
		}
		found = true
		if strings.Contains(l, "N_max") || strings.Contains(l, "ETA") || strings.Contains(l, "requests") {
			t.Errorf("log line shares its line with a bar: %q", l)
		}
	}
	if !found {
		t.Fatalf("the log line is missing:\n%q", out)
	}
	if testing.Verbose() {
		t.Logf("%q", out)
	}
	for _, want := range []string{"t20: 8 ≤ N_max < 12 searching pass 97.3%", "t100: N_max = 4 (confirmed) done", "ETA 2m34s", "requests 140/100"} {
		if !strings.Contains(out, want) {
			t.Errorf("the bars do not show %q", want)
		}
	}
}

// TestBenchProgressActivity: the spinner long commands show on a terminal
// (verify) keeps log lines whole above it and is gone when stopped.
func TestBenchProgressActivity(t *testing.T) {
	var buf bytes.Buffer
	x := newActivity(&buf, zerolog.InfoLevel, "verifying ./bundle", mpb.ForceTTY(), mpb.WithAutoRefresh(), mpb.WithWidth(120), mpb.WithRefreshRate(10*time.Millisecond))
	time.Sleep(40 * time.Millisecond)
	x.log.Info().Str("file", "requests.jsonl.zst").Msg("records checked")
	time.Sleep(40 * time.Millisecond)
	x.stop()
	out := buf.String()
	if !strings.Contains(out, "verifying ./bundle") {
		t.Errorf("no spinner line: %q", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "records checked") && strings.Contains(l, "verifying") {
			t.Errorf("log line shares the spinner's line: %q", l)
		}
	}
	if !strings.Contains(out, "records checked") {
		t.Errorf("log line missing: %q", out)
	}
	quiet := startActivity(&buf, zerolog.Nop(), "x")
	quiet.stop() // not a terminal: nothing to stop
}
