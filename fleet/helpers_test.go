package fleet

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/agentwatt/agentwatt/queue"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testCtx is a context that ends with the test, with a generous deadline:
// the box running tests is small and shared.
func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newTestFleet opens a Fleet on a fresh in-process NATS server.
func newTestFleet(t testing.TB, cfg Config) *Fleet {
	t.Helper()
	f, _ := newTestFleetServer(t, cfg)
	return f
}

// newTestFleetServer is newTestFleet that also returns its NATS server.
func newTestFleetServer(t testing.TB, cfg Config) (*Fleet, *queue.Embedded) {
	t.Helper()
	e, err := queue.StartEmbedded(queue.EmbeddedConfig{Dir: t.TempDir()}, zerolog.Nop())
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	t.Cleanup(e.Shutdown)
	nc, err := e.Connect()
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(testCtx(t, time.Minute), js, cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return f, e
}
