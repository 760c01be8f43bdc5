package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/agentrunner/replay"
	"github.com/agentwatt/agentwatt/queue"
)

// TestDemoTooBusy: a demo job whose fixed-N window the runner could not
// measure twice (replay.Fixed retried it once; the job failed with
// ErrMeasurementInvalid) ends the demo with its own exit status and advice,
// not as a failed pipeline; any other failure stays exit 1.
func TestDemoTooBusy(t *testing.T) {
	busy := &queue.Job{ID: "j1", State: queue.Failed, Reason: "search: " + fmt.Sprintf("%v", fmt.Errorf(
		"%w: 2 windows at N=12 could not be measured (probe 0: client scheduling lag p99 812ms above 50ms; probe 1: window holds 31 requests, fewer than 50)",
		replay.ErrMeasurementInvalid))}
	err := demoJobError(busy)
	if code := exitCode(err); code != exitTooBusy {
		t.Errorf("exit status %d, want %d", code, exitTooBusy)
	}
	for _, want := range []string{"measurement invalid: the machine was too busy", "job j1", "scheduling lag", "--fixed-agents"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	other := &queue.Job{ID: "j2", State: queue.Failed, Reason: "launch: engine exited"}
	if code := exitCode(demoJobError(other)); code != 1 {
		t.Errorf("a failed launch: exit status %d, want 1", code)
	}
}
