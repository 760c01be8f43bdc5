package main

import (
	"strings"
	"testing"
)

// TestCompletion asks the binary for completions as the shell scripts do
// (cobra's hidden __complete command): job ids from the queue, filtered by
// what the command can act on and by the prefix typed, and flag values.
func TestCompletion(t *testing.T) {
	f := newQueueFixture(t)
	a, b := f.enqueue(t, 1), f.enqueue(t, 2)
	complete := func(args ...string) []string {
		t.Helper()
		out, _, code := runChild(t, append([]string{"__complete"}, args...)...)
		if code != 0 {
			t.Fatalf("__complete %v: exit %d", args, code)
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasPrefix(l, ":") { // the directive
				lines = append(lines, l)
			}
		}
		return lines
	}
	got := complete("cancel", "--nats", f.url, "")
	if len(got) != 2 || !strings.HasPrefix(got[0], a.ID+"\tqueued acme/cfg-1") || !strings.HasPrefix(got[1], b.ID+"\tqueued acme/cfg-2") {
		t.Errorf("cancel completes %q, want both queued jobs", got)
	}
	if got := complete("status", "--nats", f.url, a.ID[:6]); len(got) != 1 || !strings.HasPrefix(got[0], a.ID) {
		t.Errorf("status %s<TAB> completes %q, want %s", a.ID[:6], got, a.ID)
	}
	if got := complete("retry", "--nats", f.url, ""); len(got) != 0 {
		t.Errorf("retry completes %q, want nothing (no job failed or canceled)", got)
	}
	if got := complete("status", "--state", ""); !strings.Contains(strings.Join(got, " "), "verified") {
		t.Errorf("--state completes %q", got)
	}
	if got := complete("version", "-o", ""); strings.Join(got, " ") != "text json" {
		t.Errorf("-o completes %q", got)
	}
	// No queue: nothing, and no hang.
	if got := complete("cancel", "--nats", "nats://127.0.0.1:1", ""); len(got) != 0 {
		t.Errorf("without a queue, cancel completes %q", got)
	}
}
