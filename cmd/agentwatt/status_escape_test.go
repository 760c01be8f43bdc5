package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/queue"
)

// hostile is what an engine or a submission can put into a job's record and
// events: a screen clear, a window title with BEL, an OSC 8 link, a C1 CSI,
// a bidi override, and a newline that forges a line of its own.
const hostile = "oom\x1b[2J\x1b]0;owned\x07 \x1b]8;;http://evil\x1b\\x\x1b]8;;\x1b\\ \u009b31m \u202eevil\nverified by maintainer"

// rawControls lists what must never reach the terminal as it is.
var rawControls = []string{"\x1b", "\x07", "\u009b", "\u202e"}

// The attack: a job record and events that carry escape sequences, injected
// into the queue as a hostile engine or submission would, are printed by
// `agentwatt status` (list, one job, -f, -o json) with every control
// character shown as an escape.
func TestStatusEscapesUntrustedText(t *testing.T) {
	f := newQueueFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spec, _ := json.Marshal(map[string]string{"name": hostile})
	j, _, err := f.q.Enqueue(ctx, queue.NewJob{
		Vendor: "acme", Name: "cfg\x1b[31m\u202e", Pool: "sim", Spec: spec, Profile: "test\x07",
		SpecDigest: "sha256:" + strings.Repeat("e", 64), Trigger: "submit:\x1b]0;t\x07",
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := f.worker(t, "sim", "r1").Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Event(ctx, queue.Event{Kind: queue.EventLog, Message: "engine: " + hostile}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Fail(ctx, "engine exited: "+hostile); err != nil {
		t.Fatal(err)
	}

	for _, args := range [][]string{
		{"status"}, {"status", j.ID}, {"status", "-f", j.ID},
		{"status", "-o", "json"}, {"status", j.ID, "-o", "json"}, {"status", "-f", j.ID, "-o", "json"},
	} {
		out, _ := f.run(t, args...)
		for _, c := range rawControls {
			if strings.Contains(out, c) {
				t.Errorf("agentwatt %v prints a raw %q:\n%s", args, c, out)
			}
		}
		if strings.Contains(out, "\nverified by maintainer") {
			t.Errorf("agentwatt %v lets a reason start a line of its own:\n%s", args, out)
		}
		if len(args) == 2 && !strings.Contains(out, `oom\x1b[2J`) {
			t.Errorf("agentwatt %v: the reason is not shown escaped:\n%s", args, out)
		}
	}
	// -o json stays JSON that decodes to the text as it was.
	out, _ := f.run(t, "status", j.ID, "-o", "json")
	var got queue.Job
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Reason != "engine exited: "+hostile || got.Name != j.Name {
		t.Errorf("status -o json: %v; reason %q name %q", err, got.Reason, got.Name)
	}
}

// The demo narrates through escArgs: text arguments, of any string type, are
// escaped; others pass as they are.
func TestEscArgs(t *testing.T) {
	got := escArgs([]any{"reason\x1b[2J\nforged", queue.State("run\u202e"), 12, 1.5})
	want := []any{`reason\x1b[2J\nforged`, `run\u202e`, 12, 1.5}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("arg %d: got %#v, want %#v", i, got[i], want[i])
		}
	}
}
