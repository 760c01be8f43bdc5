package fleet

import (
	"errors"
	"testing"
	"time"
)

func TestRunnerLiveness(t *testing.T) {
	f := newTestFleet(t, Config{RunnerTTL: time.Second})
	ctx := testCtx(t, time.Minute)
	for _, id := range []string{"gpu-node-1.dc2", "gpu-node-2"} {
		if err := f.Register(ctx, Runner{ID: id, Pool: "h200x8", KeyName: "runner-1"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Register(ctx, Runner{ID: "bad id"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad id: got %v, want ErrInvalid", err)
	}
	rs, err := f.Runners(ctx)
	if err != nil || len(rs) != 2 || rs[0].ID != "gpu-node-1.dc2" || rs[0].SeenAt.IsZero() {
		t.Fatalf("Runners: %+v, %v", rs, err)
	}
	if err := f.Deregister(ctx, "gpu-node-2"); err != nil {
		t.Fatal(err)
	}
	// The other entry expires after RunnerTTL without a refresh.
	deadline := time.Now().Add(30 * time.Second)
	for {
		rs, err := f.Runners(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("runners still listed after their TTL: %+v", rs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
