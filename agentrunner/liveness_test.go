package agentrunner

import (
	"context"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/spec"
)

// TestRunnerLiveness: a running runner keeps its entry in the fleet (pool,
// version, the key name it signs with) and removes it when it stops.
func TestRunnerLiveness(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, stop := e.startRunner(e.config("runner-live"))
	ctx := context.Background()
	var got []fleet.Runner
	deadline := time.Now().Add(30 * time.Second)
	for len(got) == 0 {
		rs, err := e.fl.Runners(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = rs
		if len(got) == 0 && time.Now().After(deadline) {
			t.Fatal("the runner never registered in the fleet")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := got[0]; len(got) != 1 || r.ID != "runner-live" || r.Pool != spec.Sim || r.KeyName != "runner-live" || r.Version != "test" || r.SeenAt.IsZero() {
		t.Fatalf("registered: %+v", got)
	}
	stop()
	if rs, err := e.fl.Runners(ctx); err != nil || len(rs) != 0 {
		t.Errorf("after stop: %+v, %v; want no entry", rs, err)
	}
}
