package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"

	"github.com/agentwatt/agentwatt/agentrunner"
	"github.com/agentwatt/agentwatt/agentrunner/replay"
	"github.com/agentwatt/agentwatt/queue"
)

// progressEvent is a runner's progress event of the load snapshot s, as
// status -f and demo read it from the job's events.
func progressEvent(t *testing.T, s replay.Progress) queue.Event {
	t.Helper()
	d := agentrunner.ProgressData{Phase: agentrunner.PhaseSearch, Agents: s.Agents, Probe: s.Probe, LoadPhase: s.Phase,
		Requests: s.Requests, MinRequests: s.MinRequests, InFlight: s.InFlight, ProbesDone: s.ProbesDone,
		WindowElapsedS: s.WindowElapsed.Seconds(), WindowMinS: s.WindowMin.Seconds(), ElapsedS: s.Elapsed.Seconds(),
		ETAS: s.ETA.Seconds(), ETAReason: s.ETAReason}
	for _, tp := range s.Tiers {
		d.Tiers = append(d.Tiers, agentrunner.TierData{Tier: tp.Tier, State: tp.State, Lo: tp.Lo, Hi: tp.Hi,
			MaxAgents: tp.MaxAgents, Confirmed: tp.Confirmed, PassShare: tp.PassShare})
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return queue.Event{Time: time.Now(), Kind: queue.EventProgress, Message: s.String(), Data: b}
}

// TestJobBars: demo and status -f on a terminal draw every tier of the
// job's progress events with bench's bars, print the other events above
// them whole, and drop the bars when the load's phase ends.
func TestJobBars(t *testing.T) {
	var buf bytes.Buffer
	jb := newJobBarsOn(&buf, mpb.ForceTTY(), mpb.WithAutoRefresh(), mpb.WithWidth(200), mpb.WithRefreshRate(10*time.Millisecond))
	phase := queue.Event{Kind: queue.EventProgress, Message: "search", Data: []byte(`{"phase":"search"}`)}
	if jb.show(phase) {
		t.Error("a phase event was taken for the bars")
	}
	fmt.Fprintln(jb.w, "    12:00:00  progress search")
	if !jb.show(progressEvent(t, benchSnapshot())) {
		t.Fatal("the load's progress event did not reach the bars")
	}
	time.Sleep(50 * time.Millisecond)
	if jb.show(queue.Event{Kind: queue.EventProbe, Message: "probe 3: N=16 search"}) {
		t.Error("a probe event was taken for the bars")
	}
	fmt.Fprintln(jb.w, "    12:00:40  probe    probe 3: N=16 search")
	time.Sleep(50 * time.Millisecond)
	jb.show(queue.Event{Kind: queue.EventProgress, Message: "stop", Data: []byte(`{"phase":"stop"}`)})
	jb.done()
	out := buf.String()
	for _, want := range []string{"t20: 8 ≤ N_max < 12 searching pass 97.3%", "t50: 0 ≤ N_max < 12 waiting",
		"t100: N_max = 4 (confirmed) done", "ETA 2m34s", "requests 140/100"} {
		if !strings.Contains(out, want) {
			t.Errorf("the bars do not show %q:\n%q", want, out)
		}
	}
	for _, msg := range []string{"progress search", "probe 3: N=16 search"} {
		found := false
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, msg) {
				found = true
				if strings.Contains(l, "N_max") || strings.Contains(l, "ETA") {
					t.Errorf("an event line shares its line with a bar: %q", l)
				}
			}
		}
		if !found {
			t.Errorf("the line %q is missing:\n%q", msg, out)
		}
	}
}

// TestJobBarsHostileRunner: a runner's progress event is untrusted; its
// tier names, states and phase reach the terminal escaped.
func TestJobBarsHostileRunner(t *testing.T) {
	s := benchSnapshot()
	s.Phase = "window\033[2J"
	s.ETAReason = "x\033]0;owned\007"
	s.Tiers[0].Tier = "t20\033[31m"
	s.Tiers[1].State = "waiting\r\033[1A"
	ev := progressEvent(t, s)
	var buf bytes.Buffer
	jb := newJobBarsOn(&buf, mpb.ForceTTY(), mpb.WithAutoRefresh(), mpb.WithWidth(300), mpb.WithRefreshRate(10*time.Millisecond))
	jb.show(ev)
	time.Sleep(50 * time.Millisecond)
	jb.done()
	var d agentrunner.ProgressData
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{buf.String(), progressLine(d.Progress())} {
		for _, bad := range []string{"\033[2J", "\033]0;", "\033[31m", "\r\033[1A", "\007"} {
			if strings.Contains(text, bad) {
				t.Errorf("a runner's %q reached the terminal: %q", bad, text)
			}
		}
	}
	if !strings.Contains(progressLine(d.Progress()), `t20\x1b[31m: 8 ≤ N_max < 12`) {
		t.Errorf("the hostile tier is not shown escaped: %q", progressLine(d.Progress()))
	}
}

// TestJobBarsLastLine: the line printed just before the display ends (the
// job's last state, with no bars left) is written, not dropped.
func TestJobBarsLastLine(t *testing.T) {
	var buf bytes.Buffer
	jb := newJobBarsOn(&buf, mpb.ForceTTY(), mpb.WithAutoRefresh(), mpb.WithWidth(200), mpb.WithRefreshRate(time.Hour))
	fmt.Fprintln(jb.w, "12:00:41 uploaded → verified")
	jb.done()
	if !strings.Contains(buf.String(), "uploaded → verified") {
		t.Errorf("the last line was dropped: %q", buf.String())
	}
}
