package queue

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Restarting the embedded server on the same dir keeps jobs and messages. The
// clients use TCP: an in-process connection cannot reconnect.
func TestEmbeddedRestartKeepsJobs(t *testing.T) {
	dir := t.TempDir()
	start := func() *Embedded {
		e, err := StartEmbedded(EmbeddedConfig{Dir: dir, Listen: "127.0.0.1:0"}, testLog())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(e.ClientURL(), "nats://127.0.0.1:") || strings.HasSuffix(e.ClientURL(), ":-1") {
			t.Fatalf("ClientURL %q", e.ClientURL())
		}
		return e
	}
	e := start()
	nc, err := Connect(e.ClientURL(), "", testLog())
	if err != nil {
		t.Fatal(err)
	}
	q, err := Open(testCtx(t, time.Minute), nc, Config{Replicas: 1}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	queued := mustEnqueue(t, q, newJob("sim"))
	nc.Close()
	e.Shutdown()

	e = start()
	t.Cleanup(e.Shutdown)
	nc, err = Connect(e.ClientURL(), "", testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	q, err = Open(testCtx(t, time.Minute), nc, Config{Replicas: 1}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	got, err := q.Get(testCtx(t, time.Minute), queued.ID)
	if err != nil || got.State != Queued || got.Seq != queued.Seq {
		t.Fatalf("after restart: %+v, %v", got, err)
	}
	l := next(t, newWorker(t, q, "sim", "r1"), 30*time.Second)
	if l.Job().ID != queued.ID {
		t.Errorf("after restart the worker got %s, want %s", l.Job().ID, queued.ID)
	}
}

func TestEmbeddedInProcess(t *testing.T) {
	e := startEmbedded(t)
	if got := e.ClientURL(); got != "" {
		t.Errorf("ClientURL of an in-process server = %q, want empty", got)
	}
	nc, err := e.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if !nc.IsConnected() {
		t.Error("in-process connection is not connected")
	}
}

func TestEmbeddedAndConnectRejectBadInput(t *testing.T) {
	tests := []struct {
		name string
		cfg  EmbeddedConfig
	}{
		{"no dir", EmbeddedConfig{}},
		{"bad listen", EmbeddedConfig{Dir: t.TempDir(), Listen: "localhost"}},
		{"bad port", EmbeddedConfig{Dir: t.TempDir(), Listen: "127.0.0.1:http"}},
	}
	for _, tt := range tests {
		if e, err := StartEmbedded(tt.cfg, testLog()); !errors.Is(err, ErrInvalid) {
			if e != nil {
				e.Shutdown()
			}
			t.Errorf("%s: got %v, want ErrInvalid", tt.name, err)
		}
	}
	if _, err := Connect("", "", testLog()); !errors.Is(err, ErrInvalid) {
		t.Errorf("Connect(\"\"): got %v, want ErrInvalid", err)
	}
	// Nothing listens on port 1 of loopback: the first connect fails fast.
	start := time.Now()
	if nc, err := Connect("nats://127.0.0.1:1", "", testLog()); err == nil {
		nc.Close()
		t.Error("Connect to a closed port succeeded")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("failed connect took %s", d)
	}
}

func TestReconnectDelay(t *testing.T) {
	for attempts, want := range map[int][2]time.Duration{
		1:   {reconnectMin * 3 / 4, reconnectMin * 5 / 4},
		3:   {reconnectMin * 4 * 3 / 4, reconnectMin * 4 * 5 / 4},
		100: {reconnectMax * 3 / 4, reconnectMax * 5 / 4},
	} {
		for range 20 {
			if got := reconnectDelay(attempts); got < want[0] || got > want[1] {
				t.Errorf("reconnectDelay(%d) = %s, want within %v", attempts, got, want)
			}
		}
	}
}
