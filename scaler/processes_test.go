package scaler

import (
	"context"
	"crypto/ed25519"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// TestProcessesScaleInSparesProtected: a scale-in of runner processes
// stops only unprotected ones; each started runner had its key enrolled
// under its own id first.
func TestProcessesScaleInSparesProtected(t *testing.T) {
	if _, err := exec.LookPath("sleep"); err != nil {
		t.Skip("no sleep(1)")
	}
	var mu sync.Mutex
	enrolled := map[string]ed25519.PublicKey{}
	p, err := NewProcesses(ProcessConfig{
		Pool: "sim", Dir: t.TempDir(), Grace: 5 * time.Second, Log: testLog(),
		Command: func(id, work string) *exec.Cmd { return exec.Command("sleep", "60") },
		Enrol: func(_ context.Context, id string, pub ed25519.PublicKey) error {
			mu.Lock()
			defer mu.Unlock()
			enrolled[id] = pub
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	ctx := context.Background()
	if err := p.SetDesired(ctx, 3); err != nil {
		t.Fatal(err)
	}
	g, _ := p.Describe(ctx)
	if g.Desired != 3 || len(g.Instances) != 3 || len(enrolled) != 3 {
		t.Fatalf("after SetDesired 3: %+v, %d enrolled", g, len(enrolled))
	}
	for _, in := range g.Instances {
		if enrolled[in.ID] == nil {
			t.Errorf("runner %s started without an enrolled key", in.ID)
		}
	}
	busy := g.Instances[0].ID
	if err := p.Protect(ctx, []string{busy}, true); err != nil {
		t.Fatal(err)
	}
	if err := p.SetDesired(ctx, 0); err != nil {
		t.Fatal(err)
	}
	g, _ = p.Describe(ctx)
	if len(g.Instances) != 1 || g.Instances[0].ID != busy || !g.Instances[0].Protected {
		t.Fatalf("after scale-in to 0: %+v, want only the protected %s", g, busy)
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.Live() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d processes alive, want the protected one", p.Live())
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.Close()
	if p.Live() != 0 {
		t.Fatalf("%d alive after Close", p.Live())
	}
	if ex := p.Exits(); ex[-1] != 3 || len(ex) != 1 {
		t.Errorf("exits %v, want three ended by signal", ex)
	}
}
